// Guardrail commands end to end: reflex disable / enable / status (text and --json) on a real project and SQLite file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

function project(budget = 1): string {
  const dir = fixture({
    'reflex.yaml': `
store: state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.json }]
actions:
  fix: { kind: exec, argv: [node, -e, "require('fs').appendFileSync('ran', process.argv[1] + '\\\\n')", "{{ target.id }}"], cooldown: 1h }
channels: { humans: { kind: log, path: escalations.jsonl } }
defaults: { escalate_to: humans }
guardrails:
  budget_per_run: ${budget}
  widespread: { min_targets: 1000 }
  blast_radius: { group_by: [] }
`,
    'rules.yaml': `rules:
  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, mode: enforce, do: [{ action: fix }] }
  - { name: shadow-repair, target: { kind: box }, when: { broken: facts.broken }, do: [{ action: fix }] }
`,
  });
  setInventory(dir, ['a', 'b', 'c']);
  return dir;
}

function setInventory(dir: string, broken: string[]): void {
  const t = (id: string, customer: string) => ({ id, kind: 'box', labels: { customer, region: 'eu' }, facts: { broken: broken.includes(id) } });
  writeFileSync(join(dir, 'inv.json'), JSON.stringify({ targets: [t('a', 'acme'), t('b', 'acme'), t('c', 'globex')] }));
}

const ran = (dir: string) => (existsSync(join(dir, 'ran')) ? readFileSync(join(dir, 'ran'), 'utf8').trim().split('\n') : []);
const status = (dir: string) => JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);

describe('reflex disable and enable', () => {
  let dir: string;
  beforeAll(() => {
    dir = project();
  });

  it('refuses a target or selector that matches no known target, before any run (from the sources) and after (from the latest run)', () => {
    const t = reflex(['disable', '--target', 'aa', '--reason', 'x'], { cwd: dir });
    expect(t.status).toBe(2);
    expect(t.stderr).toContain(
      'no target "aa" in the sources (no run recorded yet), 3 targets, did you mean "a"?; a disable that matches nothing protects nothing',
    );
    expect(reflex(['run', '--dry-run'], { cwd: dir }).status).toBe(0);
    const v = reflex(['disable', '--selector', 'customer=acmee', '--reason', 'x'], { cwd: dir });
    expect(v.status).toBe(2);
    expect(v.stderr).toContain(
      'no target of the latest run (#1), 3 targets, has customer=acmee: customer=acmee matches no target, did you mean "acme"? (customer: acme, globex)',
    );
    const k = reflex(['disable', '--selector', 'custmer=acme', '--reason', 'x'], { cwd: dir });
    expect(k.stderr).toContain('no target has a label "custmer", did you mean "customer"? (labels: customer, region)');
    const both = reflex(['disable', '--selector', 'customer=globex,region=us', '--reason', 'x'], { cwd: dir });
    expect(both.stderr).toContain('region=us matches no target');
    expect(status(dir).disables).toEqual([]);
  });

  it('refuses an empty target or selector (it would mean everything)', () => {
    for (const args of [
      ['--selector', ''],
      ['--selector', 'customer='],
      ['--selector', ','],
      ['--target', ' '],
    ]) {
      const r = reflex(['disable', ...args, '--reason', 'x'], { cwd: dir });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/needs a value|empty|invalid selector/);
    }
  });

  it('a selector disable with who, why and expiry is listed by status, stops those targets, and is audited', () => {
    const d = reflex(['disable', '--selector', 'customer=acme', '--reason', 'maintenance window', '--until', '2h'], { cwd: dir, env: { REFLEX_USER: 'ann' } });
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/^disabled targets with customer=acme \(by ann: "maintenance window", for 2h, until .*\)\n$/);
    const s = status(dir);
    expect(s.disables).toHaveLength(1);
    expect(s.disables[0]).toMatchObject({ scope: 'selector', value: 'customer=acme', by: 'ann', reason: 'maintenance window' });
    expect(s.disables[0].until - s.disables[0].createdAt).toBe(2 * 3_600_000);
    expect(reflex(['status'], { cwd: dir }).stdout).toMatch(
      /disables: \n {2}#1 targets with customer=acme disabled by ann: "maintenance window", for 1h59m5\ds more/,
    );

    setInventory(dir, ['a', 'c']);
    const r = reflex(['run'], { cwd: dir });
    expect(r.stdout).toContain('BLOCKED     repair  a  targets with customer=acme disabled by ann: "maintenance window"');
    expect(ran(dir)).toEqual(['c']);

    const e = reflex(['enable', '--selector', 'customer=acme', '--by', 'bob', '--reason', 'done'], { cwd: dir });
    expect(e.stdout).toContain('enabled targets with customer=acme (disable #1 by ann: "maintenance window")');
    expect(status(dir).audit.map((a: { by: string; action: string }) => `${a.by} ${a.action}`)).toEqual(['bob enable:selector', 'ann disable:selector']);
  });

  it('the global off switch: disable --all stops every action, status says who and why, enable --all lifts it', () => {
    setInventory(dir, ['b']);
    expect(reflex(['disable', '--all', '--reason', 'incident 7', '--by', 'carol'], { cwd: dir }).status).toBe(0);
    expect(reflex(['status'], { cwd: dir }).stdout).toContain('automation: OFF — automation is switched off by carol: "incident 7"');
    const r = reflex(['run'], { cwd: dir });
    expect(r.stdout).toContain('BLOCKED     repair  b  automation is switched off by carol: "incident 7"');
    expect(ran(dir)).toEqual(['c']);
    const e = reflex(['enable', '--all', '--by', 'carol'], { cwd: dir });
    expect(e.stdout).toBe('automation is on again\n');
    expect(status(dir).automation).toBe('on');
    reflex(['run'], { cwd: dir });
    expect(ran(dir)).toEqual(['c', 'b']);
  });
});

describe('reflex status', () => {
  it('shows the breakers and limits that stopped decisions in the latest run with their numbers, cooldowns in force, and shadow-mode results', () => {
    // A budget of 3: the enforced rule repairs a and b; the shadow rule gets what is left, 1, for a.
    const dir = project(3);
    setInventory(dir, ['a', 'b']);
    reflex(['run'], { cwd: dir });
    expect(ran(dir).sort()).toEqual(['a', 'b']);
    const text = reflex(['status'], { cwd: dir }).stdout;
    expect(text).toContain(
      "breakers and limits in run #1: \n  budget stopped 1 decision (shadow-repair on b): budget: 3 of the run's budget of 3 actions used: deferred to the next run (actions are taken highest severity first, then in rule order, then by target id)",
    );
    expect(text).toMatch(/cooldowns in force: \n {2}action:repair:fix:a: 59m5\ds left .*\n {2}action:repair:fix:b: 59m5\ds left/);
    expect(text).toContain('shadow mode (dry-run rules) in run #1 would have:\n  shadow-repair on a: exec ["node","-e"');
    const j = status(dir);
    expect(j.guardrails).toMatchObject({ run: 1, stopped: [{ reason: 'budget', count: 1, examples: ['shadow-repair on b'] }] });
    expect(j.cooldowns.map((c: { key: string }) => c.key)).toEqual(['action:repair:fix:a', 'action:repair:fix:b']);
    expect(j.shadow.decisions.map((d: { rule: string; target: string }) => `${d.rule} ${d.target}`)).toEqual(['shadow-repair a']);
  });
});
