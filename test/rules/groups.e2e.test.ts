// Group targets end to end (issue 15, point 3a): a region per region, made from the instances' labels; a rule
// escalates once per region through the outbox; why, history and replay explain the regions from the snapshot.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

const inventory = (regions: Record<string, boolean[]>) =>
  `targets:\n${Object.entries(regions)
    .flatMap(([region, health], r) =>
      health.map((healthy, i) => `  - { id: i-${r}-${i}, kind: instance, labels: { region: ${region} }, facts: { healthy: ${healthy} } }`),
    )
    .join('\n')}\n  - { id: i-nowhere, kind: instance, facts: { healthy: false } }\n`;

const FILES = {
  'reflex.yaml': `
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
channels: { oncall: { kind: log, path: esc.log } }
defaults: { escalate_to: oncall }
`,
  // eu-west-1: 2 of 3 unhealthy (67%); us-east-1: 1 of 4 (25%); ap-south-1: 1 of 1. i-nowhere has no region.
  'inv.yaml': inventory({ 'eu-west-1': [false, false, true], 'us-east-1': [false, true, true, true], 'ap-south-1': [false] }),
  'rules.yaml': `groups:
  - kind: region
    of: instance
    by: [region]
aggregates:
  - name: unhealthy_fraction
    of: instance
    group_by: [region]
    function: fraction
    where: "!facts.healthy"
rules:
  - name: region-degraded
    target: { kind: region }
    when:
      many_unhealthy: agg.unhealthy_fraction > 0.3
    mode: enforce
    escalate: oncall
`,
};

interface RunJson {
  run: number;
  targets: number;
  decisions: { rule: string; target: string; outcome: string }[];
}

describe('group targets through the CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = fixture(FILES);
  });

  it('check passes; a dry run decides once per region, acting on the degraded ones only', () => {
    const check = reflex(['check'], { cwd: dir });
    expect(check.out).toMatch(/^ok: /);
    const r = reflex(['run', '--dry-run', '--json'], { cwd: dir });
    expect(r.status, r.out).toBe(0);
    const out = JSON.parse(r.stdout) as RunJson & { rules: Record<string, { evaluated: number; not_matched: number }> };
    expect(out.decisions.map((d) => [d.rule, d.target, d.outcome])).toEqual([
      ['region-degraded', 'region/ap-south-1', 'dry_run'],
      ['region-degraded', 'region/eu-west-1', 'dry_run'],
    ]);
    // Three regions evaluated, one not matched (us-east-1); 9 instances and 3 regions in the run.
    expect(out.rules['region-degraded']).toMatchObject({ evaluated: 3, not_matched: 1 });
    expect(out.targets).toBe(12);
    expect(existsLog(dir)).toBe(false);
  });

  it('an enforced run escalates once per degraded region through the outbox, and not again while it stays so', () => {
    const first = reflex(['run'], { cwd: dir });
    expect(first.status, first.out).toBe(0);
    expect(first.out).toMatch(/ESCALATED\s+region-degraded\s+region\/eu-west-1/);
    const second = reflex(['run'], { cwd: dir });
    expect(second.status, second.out).toBe(0);
    const triggers = readFileSync(join(dir, 'esc.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; target: string; dedupKey: string })
      .filter((m) => m.event === 'trigger');
    expect(triggers.map((m) => [m.target, m.dedupKey])).toEqual([
      ['region/ap-south-1', 'reflex/region-degraded/region/ap-south-1'],
      ['region/eu-west-1', 'reflex/region-degraded/region/eu-west-1'],
    ]);
  });

  it('why explains a region with its members aggregate, and lists the members counted', () => {
    const why = reflex(['why', 'region/eu-west-1', '--depth', '2'], { cwd: dir });
    expect(why.status, why.out).toBe(0);
    expect(why.out).toContain('target region/eu-west-1 (region)');
    expect(why.out).toContain('labels: region=eu-west-1');
    expect(why.out).toContain(
      'agg.unhealthy_fraction = 0.6666666666666666 (fraction over the instance targets with region=eu-west-1: 3 members, 0 unknown, 2 counted)',
    );
    expect(why.out).toContain('counted: i-0-0, i-0-1');
    const us = reflex(['why', 'region/us-east-1'], { cwd: dir });
    expect(us.out).toMatch(/many_unhealthy.*does not hold|FAILS\s+many_unhealthy/);
  });

  it("history, replay and why of an earlier run explain a region that is gone from today's fleet, from the snapshot", () => {
    writeFileSync(join(dir, 'inv.yaml'), inventory({ 'eu-west-1': [true, true, true], 'us-east-1': [true] }));
    const r = JSON.parse(reflex(['run', '--json'], { cwd: dir }).stdout) as RunJson;
    expect(r.targets).toBe(7); // 4 instances, i-nowhere, 2 regions: ap-south-1 has no member left, so no target
    const why = reflex(['why', 'region/ap-south-1', '--run', String(r.run - 1)], { cwd: dir });
    expect(why.status, why.out).toBe(0);
    expect(why.out).toContain('agg.unhealthy_fraction = 1 (fraction over the instance targets with region=ap-south-1: 1 members, 0 unknown, 1 counted)');
    const gone = reflex(['why', 'region/ap-south-1'], { cwd: dir });
    expect(gone.status).toBe(2);
    expect(gone.out).toContain(
      "region targets are made from the instance targets' region label: one exists only in a run where some instance carries its value",
    );
    expect(gone.out).toContain(`it was last decided about in run #${r.run - 1}`);
    expect(gone.out).not.toMatch(/\n\s+at .*\.js:\d+/);
    const history = reflex(['history', '--target', 'region/eu-west-1'], { cwd: dir });
    expect(history.out).toMatch(/ESCALATED\s+region-degraded\s+region\/eu-west-1/);
    const replay = reflex(['replay', String(r.run - 1)], { cwd: dir });
    expect(replay.status, replay.out).toBe(0);
    expect(replay.out).toContain('12 targets');
    expect(replay.out).toContain('no decision would differ');
  });
});

describe('reflex check of groups, through the CLI', () => {
  it('refuses a misspelt member kind and a kind the inventory reports, at their positions, and run refuses the same', () => {
    const dir = fixture({
      ...FILES,
      'rules.yaml': `groups:
  - { kind: region, of: instnace, by: [region] }
  - { kind: instance, of: instance, by: [zone] }
rules:
  - { name: page-region, target: { kind: region }, when: { x: "true" }, mode: enforce, escalate: oncall }
`,
    });
    const check = reflex(['check'], { cwd: dir });
    expect(check.status).toBe(2);
    expect(check.out).toContain('rules.yaml:2:25: group "region" has no members: no source reports targets of kind "instnace", did you mean "instance"?');
    expect(check.out).toContain('rules.yaml:3:13: group kind "instance" is a kind a source reports');
    expect(check.out).not.toMatch(/\n\s+at .*\.js:\d+/);
    const run = reflex(['run', '--dry-run'], { cwd: dir });
    expect(run.status).toBe(2);
    expect(run.out).toContain('rules.yaml:2:25:');
  });

  it('a run where a source reports a group target id does not make that target, and says so (exit 1)', () => {
    const dir = fixture({ ...FILES, 'inv.yaml': `${FILES['inv.yaml']}  - { id: region/eu-west-1, kind: datacenter }\n` });
    const r = reflex(['run', '--dry-run', '--json'], { cwd: dir });
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as RunJson & { problems: { reason: string; detail: string }[] };
    expect(out.problems).toEqual([
      { stage: 'collect', reason: 'group:id-taken', detail: 'group target "region/eu-west-1" was not made: a source reports a target with that id' },
    ]);
    expect(out.decisions.map((d) => d.target)).toEqual(['region/ap-south-1']);
  });
});

describe('group targets in reflex test scenarios', () => {
  it('a scenario names a region target the run makes, and its escalation is checked once per region', () => {
    const dir = fixture({
      ...FILES,
      'rules/region_test.yaml': `config: ../reflex.yaml
targets:
  - { id: i-1, kind: instance, labels: { region: eu }, facts: { healthy: true } }
  - { id: i-2, kind: instance, labels: { region: eu }, facts: { healthy: true } }
  - { id: i-3, kind: instance, labels: { region: us }, facts: { healthy: true } }
scenarios:
  - name: a degraded region pages once
    steps:
      - name: half of eu fails
        at: 0m
        facts: { i-1: { healthy: false } }
        expect:
          - { rule: region-degraded, target: region/eu, outcome: escalated }
        escalations:
          - { to: oncall, rule: region-degraded, target: region/eu }
      - name: still degraded, no second page
        at: 1m
        escalations: []
`,
      'reflex.yaml': `${FILES['reflex.yaml']}tests: [rules/*_test.yaml]\n`,
    });
    const r = reflex(['test'], { cwd: dir });
    expect(r.out).toContain('1 scenario: 1 passed, 0 failed');
    expect(r.status, r.out).toBe(0);
  });
});

function existsLog(dir: string): boolean {
  try {
    readFileSync(join(dir, 'esc.log'));
    return true;
  } catch {
    return false;
  }
}
