// End to end: the compiled CLI on a copy of the webshop example, and on a generated 10,000-target fleet.
import { cpSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, reflex, ROOT } from './helpers.js';

function copyExample(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `reflex-${name}-`));
  cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !src.includes('.reflex') });
  return dir;
}
const demo = (dir: string, ...args: string[]) => spawnSync(process.execPath, ['demo/service.mjs', ...args], { cwd: dir, encoding: 'utf8' });

describe('the webshop example, end to end', () => {
  let dir: string;
  beforeAll(() => {
    dir = copyExample('webshop');
  });

  it('check passes and a dry run on a healthy fleet only shows the shadow-mode scale-out', () => {
    expect(reflex(['check'], { cwd: dir }).status).toBe(0);
    const r = reflex(['run', '--dry-run'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('DRY-RUN     scale-out-hot-service  webshop  --dry-run: would run exec ["node","demo/service.mjs","scale-out","webshop"]');
    expect(r.stdout).not.toContain('restart-unhealthy-instance');
  });

  it('a broken instance is restarted once, then the cooldown holds the second restart back', () => {
    demo(dir, 'break', 'web-2');
    const dry = reflex(['run', '--dry-run'], { cwd: dir });
    expect(dry.stdout).toContain('DRY-RUN     restart-unhealthy-instance  web-2  --dry-run: would run exec ["node","demo/service.mjs","restart","web-2"]');
    expect(existsSync(join(dir, '.reflex/demo/actions.log'))).toBe(false);

    const run = reflex(['run'], { cwd: dir });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/EXECUTED {4}restart-unhealthy-instance {2}web-2 {2}execution #1 restart-instance succeeded \(exit 0\)/);
    expect(readFileSync(join(dir, '.reflex/demo/actions.log'), 'utf8')).toMatch(/restart web-2\n$/);

    demo(dir, 'break', 'web-2');
    const again = reflex(['run'], { cwd: dir });
    expect(again.stdout).toMatch(/COOLDOWN {4}restart-unhealthy-instance {2}web-2 {2}cooling down: restart-instance ran on web-2 .* ago; cooldown 30m/);
    expect(readFileSync(join(dir, '.reflex/demo/actions.log'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('why explains the decision: conditions with values and sources, the trace, and the execution journal', () => {
    const r = reflex(['why', 'web-2', '--run', '3'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('healthy = false  (from source "health")');
    expect(r.stdout).toContain('holds   unhealthy: !facts.healthy');
    expect(r.stdout).toContain('depends_on[db-main].facts.storage_slow = false');
    const svc = reflex(['why', 'webshop', '--run', '3'], { cwd: dir });
    expect(svc.stdout).toContain('holds   context.healthy_enough: agg.unhealthy_fraction < 0.5');
    expect(svc.stdout).toContain('agg.unhealthy_fraction = 0.25');
    expect(r.stdout).toMatch(/execution #1: succeeded; intent .*, started .*, finished .*, exit 0/);
    expect(r.stdout).toContain('rule clean-full-disk (severity warning): NOT MATCHED');
    expect(r.stdout).toContain('facts.disk_used_pct = 41 (from source "health")');
  });

  it('why --json is a stable document, and an unknown target gets a suggestion', () => {
    const j = JSON.parse(reflex(['why', 'web-2', '--json'], { cwd: dir }).stdout);
    expect(j.target.id).toBe('web-2');
    expect(j.decisions.find((d: { rule: string }) => d.rule === 'restart-unhealthy-instance').outcome).toBe('cooled_down');
    const bad = reflex(['why', 'web-22'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('target "web-22" was not seen in run #4, did you mean "web-2"?');
  });

  it('history lists decisions and executions with their journal entries; replay shows no difference with unchanged rules', () => {
    const h = reflex(['history', '--target', 'web-2'], { cwd: dir });
    expect(h.stdout).toMatch(/#1 .* succeeded {3}restart-unhealthy-instance {2}restart-instance on web-2 exit 0/);
    expect(h.stdout).toMatch(/intent .* -> started .* -> finished /);
    expect(reflex(['replay', '3'], { cwd: dir }).stdout).toContain('no decision would differ');
  });

  it("replay shows what today's rules would decide differently about a recorded run", () => {
    const rules = join(dir, 'rules/webshop.yaml');
    const text = readFileSync(rules, 'utf8');
    writeFileSync(rules, text.replace('facts.restarts_1h < 3 ', 'facts.restarts_1h < 0 '));
    try {
      const r = reflex(['replay', '3'], { cwd: dir });
      expect(r.stdout).toContain('restart-unhealthy-instance  web-2: matched -> not matched');
      // the recorded run is still explained with the rules it ran with
      const w = reflex(['why', 'web-2', '--run', '3'], { cwd: dir });
      expect(w.stdout).toContain('note: the rules have changed since this run');
      expect(w.stdout).toContain('holds   few_restarts: facts.restarts_1h < 3');
    } finally {
      writeFileSync(rules, text);
    }
  });
});

describe('a failing source', () => {
  it('makes its facts unknown, is reported, and the rule does not act (exit 1, the run still recorded)', () => {
    const dir = fixture({
      'reflex.yaml': `
rules: [rules.yaml]
sources:
  - { name: inv, kind: inventory, path: inv.yaml }
  - { name: health, kind: command, argv: [node, -e, "process.exit(3)"], facts: [healthy] }
actions:
  restart: { kind: exec, argv: [node, -e, "require('fs').appendFileSync('ran', 'x')"] }
`,
      'inv.yaml': 'targets: [{ id: a, kind: instance }]\n',
      'rules.yaml': 'rules:\n  - { name: restart, target: { kind: instance }, when: { down: "!facts.healthy" }, mode: enforce, do: [{ action: restart }] }\n',
    });
    const r = reflex(['run'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('source health (command): FAILED');
    expect(r.stdout).toContain('UNKNOWN     restart  a  "down" is unknown: fact "healthy" is unknown: source "health" failed');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(reflex(['why', 'a'], { cwd: dir }).stdout).toContain('why unknown: fact "healthy" is unknown: source "health" failed');
  });
});

describe('a generated fleet of 10,000 targets and 20 rules', () => {
  it('completes a dry run, and why explains any target of it', () => {
    const targets: unknown[] = [];
    for (let s = 0; s < 50; s++) {
      targets.push({ id: `db-${s}`, kind: 'datastore', labels: { service: `svc-${s}` }, facts: { p99_ms: s === 7 ? 900 : 20 } });
      targets.push({ id: `svc-${s}`, kind: 'service', labels: { service: `svc-${s}` }, depends_on: [`db-${s}`], facts: { replicas: 4 } });
    }
    for (let i = 0; targets.length < 10_000; i++) {
      const s = i % 50;
      targets.push({
        id: `i-${i}`,
        kind: 'instance',
        labels: { service: `svc-${s}`, zone: `z${i % 3}` },
        depends_on: [`db-${s}`],
        facts: { up: s === 3 || i % 97 === 0 ? 0 : 1, cpu: (i % 100) / 100, disk: (i * 7) % 100, restarts: i % 5 },
      });
    }
    const rules: string[] = [
      '  - { name: slow-db, target: { kind: datastore }, derive: slow, when: { s: facts.p99_ms > 500.0 } }',
      '  - { name: page-slow-db, target: { kind: datastore }, when: { s: facts.slow }, escalate: oncall }',
    ];
    for (let k = 0; k < 18; k++) {
      rules.push(
        `  - name: r${k}\n    target: { kind: instance }\n    when: { a: facts.cpu > ${(0.5 + k / 40).toFixed(3)}, b: facts.disk > ${k * 4}.0 }\n    context: { db: "depends_on.all(d, !d.facts.slow)", few: agg.down < 0.5 }\n    do: [{ action: noop }]`,
      );
    }
    const dir = fixture({
      // The guardrails' limits and breakers (on by default) would rightly stop most of this preview; opened wide, it shows every decision.
      'reflex.yaml': `rules: [rules.yaml]\nsources: [{ name: inv, kind: inventory, path: inv.json }]\nactions: { noop: { kind: exec, argv: ["true"] } }\nchannels: { oncall: { kind: log, path: esc.log } }\nguardrails: { budget_per_run: 1000000, widespread: { min_targets: 1000000 }, blast_radius: { per_rule: "1000000 per 10m", group_fraction: 1 } }\n`,
      'inv.json': JSON.stringify({ targets }),
      'rules.yaml': `aggregates:\n  - { name: down, of: instance, group_by: [service], function: fraction, where: facts.up == 0.0 }\nrules:\n${rules.join('\n')}\n`,
    });
    const r = reflex(['run', '--dry-run', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(doc.problems).toEqual([]);
    expect(doc.decisions.filter((d: { outcome: string }) => d.outcome === 'failed')).toEqual([]);
    expect(r.status).toBe(0);
    expect(doc.targets).toBe(10_000);
    const evaluated = Object.values(doc.rules as Record<string, { evaluated: number }>).reduce((n, c) => n + c.evaluated, 0);
    expect(evaluated).toBe(18 * 9_900 + 2 * 50);
    expect(doc.outcomes.dry_run).toBeGreaterThan(1000);
    expect(doc.outcomes.blocked).toBeGreaterThan(0); // svc-3 is down (widespread) and svc-7's database is slow
    for (const id of ['i-0', 'i-4321', 'i-9899', 'db-7', 'svc-3']) {
      const w = reflex(['why', id, '--json'], { cwd: dir });
      expect(w.status).toBe(0);
      const j = JSON.parse(w.stdout);
      expect(j.target.id).toBe(id);
      if (id.startsWith('i-')) expect(j.decisions).toHaveLength(18);
    }
    const w7 = reflex(['why', 'i-57', '--rule', 'r0'], { cwd: dir });
    expect(w7.stdout).toContain('depends_on[db-7].facts.slow = true');
  });
});

describe('retention', () => {
  it('prunes runs older than retention.runs, keeping the executions journal', () => {
    const dir = fixture({
      'reflex.yaml': `
rules: [rules.yaml]
retention: { runs: 1ms }
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
actions:
  touch: { kind: exec, argv: [node, -e, "1"] }
`,
      'inv.yaml': 'targets: [{ id: a, kind: instance, facts: { up: 0 } }]\n',
      'rules.yaml': 'rules:\n  - { name: r, target: { kind: instance }, when: { down: facts.up == 0.0 }, mode: enforce, do: [{ action: touch }] }\n',
    });
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    const runs = JSON.parse(reflex(['history', '--runs', '--json'], { cwd: dir }).stdout) as { id: number }[];
    expect(runs.map((r) => r.id)).toEqual([2]);
    const h = JSON.parse(reflex(['history', '--json'], { cwd: dir }).stdout);
    expect(h.executions).toHaveLength(1);
  });
});
