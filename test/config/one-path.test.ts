// One validation path: `reflex run`, `reflex test` and every command that loads a project refuse what `reflex check`
// refuses, with the same file:line:col messages and exit code 2, and start nothing (no store, no action).
import { cpSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex, ROOT } from '../helpers.js';

const BROKEN = join(ROOT, 'test/fixtures/broken');

/** A copy of a fixture, so that a command that got further than it should would leave its store behind. */
function copyOf(dir: string): string {
  const to = mkdtempSync(join(tmpdir(), 'reflex-onepath-'));
  cpSync(dir, to, { recursive: true });
  return to;
}

const problemLines = (out: string) => out.split('\n').filter((l) => /^[^\s:]+:\d+:\d+: /.test(l));

describe('every broken fixture', () => {
  const cases = readdirSync(BROKEN).sort();
  it.each(cases)("%s: run, run --dry-run, why, history, status and test exit 2 with check's messages and start nothing", (name) => {
    const dir = copyOf(join(BROKEN, name));
    const check = reflex(['check'], { cwd: dir });
    expect(check.status, check.out).toBe(2);
    const expected = problemLines(check.stdout).filter((l) => !l.includes('warning'));
    for (const args of [['run'], ['run', '--dry-run'], ['why', 'web-1'], ['history'], ['status'], ['replay', '1'], ['test']]) {
      const r = reflex(args, { cwd: dir });
      expect(r.status, `${args.join(' ')}: ${r.out}`).toBe(2);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      for (const line of expected) expect(r.out, `${args.join(' ')} misses: ${line}`).toContain(line);
    }
    expect(existsSync(join(dir, '.reflex')), 'a store was created').toBe(false);
  });
});

/** A project whose one action appends the target id to a file, so a test sees whether anything ran. */
function project(rules: string, params = '{ instance: { pattern: "[a-z0-9-]+" } }') {
  return fixture({
    'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
actions:
  restart: { kind: exec, argv: [node, -e, "require('fs').appendFileSync('ran', process.argv[1] + '\\\\n')", "{{ params.instance }}"], params: ${params} }
`,
    'rules.yaml': rules,
    'inv.yaml': `targets:
  - { id: w-acme-1, kind: worker, labels: { customer: acme }, facts: { stalled: true } }
  - { id: w-globex-1, kind: worker, labels: { customer: globex }, facts: { stalled: true } }
`,
  });
}

describe('the reproductions', () => {
  it('a selector `customer: "!"` is refused by run as by check, and no customer is restarted', () => {
    const dir = project(`rules:
  - name: restart-stalled
    target: { kind: worker, labels: { customer: "!" } }
    when: { stalled: facts.stalled }
    mode: enforce
    do: [{ action: restart, with: { instance: "{{ target.id }}" } }]
`);
    const check = reflex(['check'], { cwd: dir });
    expect(check.status).toBe(2);
    const run = reflex(['run'], { cwd: dir });
    expect(run.status, run.out).toBe(2);
    expect(run.stderr).toContain(problemLines(check.stdout)[0]);
    expect(run.stderr).toContain('configuration error(s): nothing was started');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
  });

  it('a step whose param renders empty stops the whole project, not only its own rule', () => {
    const dir = project(`rules:
  - name: restart-stalled
    target: { kind: worker }
    when: { stalled: facts.stalled }
    mode: enforce
    do: [{ action: restart, with: { instance: "{{ target.id }}" } }]
  - name: restart-nothing
    target: { kind: worker }
    when: { stalled: facts.stalled }
    mode: enforce
    do: [{ action: restart, with: { instance: "" } }]
`);
    expect(reflex(['check'], { cwd: dir }).status).toBe(2);
    const run = reflex(['run'], { cwd: dir });
    expect(run.status, run.out).toBe(2);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('a 50,000-character param pattern is a check error at its position, and run refuses it (exit 2, not 70)', () => {
    const dir = project(
      `rules:
  - name: restart-stalled
    target: { kind: worker }
    when: { stalled: facts.stalled }
    mode: enforce
    do: [{ action: restart, with: { instance: "{{ target.id }}" } }]
`,
      `{ instance: { pattern: "${'(a|b)'.repeat(10_000)}" } }`,
    );
    const check = reflex(['check'], { cwd: dir });
    expect(check.status, check.out).toBe(2);
    expect(check.stdout).toMatch(/^reflex\.yaml:\d+:\d+: .*pattern is 50000 characters long; at most 1000 are allowed/m);
    expect(check.stdout.length).toBeLessThan(2000); // the pattern is never echoed whole
    const run = reflex(['run'], { cwd: dir });
    expect(run.status, run.out).toBe(2);
    expect(run.out).not.toContain('internal error');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('reflex test refuses a configuration check refuses, and runs no scenario', () => {
    const dir = project(`rules:
  - name: restart-stalled
    target: { kind: worker, labels: { customer: "!" } }
    when: { stalled: facts.stalled }
    mode: enforce
    do: [{ action: restart, with: { instance: "{{ target.id }}" } }]
`);
    writeFileSync(
      join(dir, 'rules_test.yaml'),
      `scenarios:
  - name: restarts
    steps:
      - at: 0m
        expect: [{ rule: restart-stalled, target: w-acme-1, outcome: executed }]
`,
    );
    const t = reflex(['test'], { cwd: dir });
    expect(t.status, t.out).toBe(2);
    expect(t.out).toContain('no scenario was run');
  });
});
