// min and max over versions end to end: reflex check refuses what cannot work, a dry run decides on the version
// itself, and reflex why shows the aggregate's value (issue 15, point 3b).
import { describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

const FILES = {
  'reflex.yaml': `
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
channels: { oncall: { kind: log, path: esc.log } }
defaults: { escalate_to: oncall }
`,
  'inv.yaml': `targets:
  - { id: web, kind: service, labels: { service: web } }
  - { id: api, kind: service, labels: { service: api } }
  - { id: w-1, kind: instance, labels: { service: web }, facts: { version: "1.9.3" } }
  - { id: w-2, kind: instance, labels: { service: web }, facts: { version: "1.10.0" } }
  - { id: w-3, kind: instance, labels: { service: web }, facts: { version: "1.10.0-rc.1" } }
  - { id: a-1, kind: instance, labels: { service: api }, facts: { version: "2.13.4" } }
  - { id: a-2, kind: instance, labels: { service: api }, facts: { version: "2.13.4" } }
`,
  'rules.yaml': `aggregates:
  - { name: newest, of: instance, group_by: [service], function: max, compare: version, value: facts.version }
  - { name: oldest, of: instance, group_by: [service], function: min, compare: version, value: facts.version }
rules:
  - name: mixed-versions
    target: { kind: service }
    when: { behind: agg.oldest != agg.newest }
    escalate: oncall
`,
};

describe('aggregates over versions, through the CLI', () => {
  it('check passes, a dry run escalates the mixed service only, and why shows the versions chosen', () => {
    const dir = fixture(FILES);
    const check = reflex(['check'], { cwd: dir });
    expect(check.out).toContain('ok');
    expect(check.status).toBe(0);

    const run = reflex(['run', '--dry-run', '--json'], { cwd: dir });
    expect(run.status, run.out).toBe(0);
    const decisions = (JSON.parse(run.stdout) as { decisions: { rule: string; target: string; outcome: string }[] }).decisions;
    expect(decisions.filter((d) => d.rule === 'mixed-versions').map((d) => [d.target, d.outcome])).toEqual([['web', 'dry_run']]);

    const why = reflex(['why', 'web'], { cwd: dir });
    expect(why.status, why.out).toBe(0);
    expect(why.out).toContain('agg.oldest = "1.9.3" (min (compare: version) over the instance targets with service=web: 3 members, 0 unknown)');
    expect(why.out).toContain('agg.newest = "1.10.0" (max (compare: version) over the instance targets with service=web: 3 members, 0 unknown)');
    const api = reflex(['why', 'api', '--rule', 'mixed-versions'], { cwd: dir });
    expect(api.out).toContain('agg.newest = "2.13.4"');
  });

  it('check refuses compare: version with sum, and a version compared with a number, at their positions', () => {
    const dir = fixture({
      ...FILES,
      'rules.yaml': `aggregates:
  - { name: newest, of: instance, group_by: [service], function: max, compare: version, value: facts.version }
  - { name: total, of: instance, group_by: [service], function: sum, compare: version, value: facts.version }
rules:
  - name: too-new
    target: { kind: service }
    when: { newer: agg.newest > 2 }
    escalate: oncall
`,
    });
    const check = reflex(['check'], { cwd: dir });
    expect(check.status).toBe(2);
    expect(check.out).toMatch(/rules\.yaml:3:79: .*aggregate "total": compare: version orders values for min and max; sum adds numbers/);
    expect(check.out).toMatch(/rules\.yaml:7:20: .*no such overload: string > int; agg\.newest is text/);
    expect(check.out).not.toMatch(/at .*\.js:\d+/);
  });
});
