// The human half end to end: reflex approvals / approve / reject, reflex enable after an ineffective action, and what
// why, history and status show, on a real project, SQLite file and real child processes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

function project(rules: string): string {
  const dir = fixture({
    'reflex.yaml': `
store: state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.json }]
actions:
  fix: { kind: exec, argv: [node, -e, "require('fs').appendFileSync('ran', process.argv[1] + '\\\\n')", "{{ target.id }}"], cooldown: 1s }
channels: { humans: { kind: log, path: escalations.jsonl } }
defaults: { escalate_to: humans }
guardrails:
  widespread: { min_targets: 1000 }
  blast_radius: { group_by: [] }
`,
    'rules.yaml': `rules:\n${rules}`,
  });
  broken(dir, ['a']);
  return dir;
}

function broken(dir: string, ids: string[]): void {
  writeFileSync(join(dir, 'inv.json'), JSON.stringify({ targets: ['a', 'b'].map((id) => ({ id, kind: 'box', facts: { broken: ids.includes(id) } })) }));
}

const ran = (dir: string) => (existsSync(join(dir, 'ran')) ? readFileSync(join(dir, 'ran'), 'utf8').trim().split('\n') : []);
const messages = (dir: string) =>
  existsSync(join(dir, 'escalations.jsonl'))
    ? readFileSync(join(dir, 'escalations.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; dedupKey: string; summary: string })
    : [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reflex approvals, approve and reject', () => {
  it('lists the pending decision with its action and facts, approves it once with an audit entry, and the next run acts once', () => {
    const dir = project('  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, mode: approve, do: [{ action: fix }] }\n');
    const first = reflex(['run'], { cwd: dir });
    expect(first.stdout, first.out).toContain('AWAITING APPROVAL');
    expect(first.stdout).toContain('reflex approve 1 --reason');
    expect(ran(dir)).toEqual([]);
    expect(messages(dir).map((m) => m.dedupKey)).toEqual(['reflex-approval/1']);

    const list = reflex(['approvals'], { cwd: dir });
    expect(list.status, list.out).toBe(0);
    expect(list.stdout).toMatch(/^#1 {2}pending {3}repair {2}a {2}asked \d+(ms|s) ago \(run #1, warning\)$/m);
    expect(list.stdout).toContain('action: exec ["node","-e"');
    expect(list.stdout).toContain('facts: facts.broken = true');
    expect(list.stdout).toContain('approve: reflex approve 1 --reason "..."');
    const json = JSON.parse(reflex(['approvals', '--json'], { cwd: dir }).stdout);
    expect(json).toMatchObject([
      { id: 1, rule: 'repair', target: 'a', status: 'pending', facts: { 'facts.broken': true }, approve: 'reflex approve 1 --reason "..."' },
    ]);
    expect(json[0].ageMs).toBeGreaterThanOrEqual(0);

    const noReason = reflex(['approve', '1'], { cwd: dir });
    expect(noReason.status).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");
    const bad = reflex(['approve', 'x1', '--reason', 'r'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('give the approval\'s id (a number, see reflex approvals), not "x1"');
    expect(bad.stderr).not.toContain('    at ');

    const ok = reflex(['approve', '1', '--reason', 'looked at it', '--by', 'alice'], { cwd: dir });
    expect(ok.status, ok.out).toBe(0);
    expect(ok.stdout).toContain('approved #1: repair may run exec');
    const again = reflex(['approve', '1', '--reason', 'twice', '--by', 'bob'], { cwd: dir });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/approval #1 is not pending: it is approved by alice .* \("looked at it"\), expires in (29m\d+s|30m)/);

    const run = reflex(['run'], { cwd: dir });
    expect(run.stdout, run.out).toContain('EXECUTED');
    expect(ran(dir)).toEqual(['a']);
    expect(
      messages(dir)
        .filter((m) => m.event === 'resolve')
        .map((m) => m.dedupKey),
    ).toEqual(['reflex-approval/1']);
    const all = reflex(['approvals', '--all'], { cwd: dir }).stdout;
    expect(all).toMatch(/#1 {2}used/);
    expect(all).toContain('used by run #2');
    const status = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(status.audit.find((a: { action: string }) => a.action === 'approve')).toMatchObject({ by: 'alice', detail: { id: 1, reason: 'looked at it' } });
    const why = reflex(['why', 'a'], { cwd: dir }).stdout;
    expect(why).toContain('approved by alice (#1)');
    expect(why).toMatch(/approval #1 \(rule repair on a, .*\): USED by run #2/);
  });

  it('reject refuses one, audited; the rule does not ask again while the problem lasts', () => {
    const dir = project('  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, mode: approve, do: [{ action: fix }] }\n');
    reflex(['run'], { cwd: dir });
    const r = reflex(['reject', '1', '--reason', 'not during the sale', '--by', 'bob'], { cwd: dir });
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain('rejected #1');
    const run = reflex(['run'], { cwd: dir });
    expect(run.stdout).toContain('rejected by bob (#1): "not during the sale"');
    expect(ran(dir)).toEqual([]);
    expect(reflex(['approvals'], { cwd: dir }).stdout).toBe('no decision is awaiting approval\n');
    expect(messages(dir).map((m) => `${m.event} ${m.dedupKey}`)).toEqual(['trigger reflex-approval/1', 'resolve reflex-approval/1']);
  });
});

describe('an ineffective action, end to end', () => {
  it('is shown by why, history and status, pages once, and reflex enable --rule R --target T lets the rule act again', async () => {
    const dir = project(
      '  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, mode: enforce, do: [{ action: fix }], verify: { within: "1 run" } }\n',
    );
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    expect(ran(dir)).toEqual(['a']);
    expect(reflex(['status'], { cwd: dir }).stdout).toMatch(
      /verifications: 0 ineffective \(stopping their rule\), 1 pending\n {2}verification of execution #1 .*: PENDING/,
    );
    await sleep(1100);
    const second = reflex(['run'], { cwd: dir });
    expect(second.stdout, second.out).toContain('did not help: still broken after 1 run');
    expect(ran(dir)).toEqual(['a']);
    const verifyMsgs = messages(dir).filter((m) => m.dedupKey === 'reflex-verify/repair/a/1');
    expect(verifyMsgs).toHaveLength(1);
    expect(verifyMsgs[0]!.summary).toContain('reflex enable --rule repair --target a');
    const status = reflex(['status'], { cwd: dir }).stdout;
    expect(status).toContain('verifications: 1 ineffective (stopping their rule), 0 pending');
    expect(status).toContain('INEFFECTIVE: fix of a did not help: still broken after 1 run; the rule does not act on a until');
    expect(reflex(['history', '--target', 'a'], { cwd: dir }).stdout).toContain('verification of execution #1 (fix on a, rule repair): INEFFECTIVE');
    expect(reflex(['why', 'a'], { cwd: dir }).stdout).toContain('verify:ineffective');
    const hist = JSON.parse(reflex(['history', '--target', 'a', '--json'], { cwd: dir }).stdout);
    expect(hist.executions[0].verification).toMatchObject({ status: 'ineffective', executionId: 1 });

    await sleep(1100);
    reflex(['run'], { cwd: dir });
    expect(ran(dir)).toEqual(['a']);
    expect(messages(dir).filter((m) => m.dedupKey === 'reflex-verify/repair/a/1')).toHaveLength(1);

    const en = reflex(['enable', '--rule', 'repair', '--target', 'a', '--reason', 'replaced the disk', '--by', 'carol'], { cwd: dir });
    expect(en.status, en.out).toBe(0);
    expect(en.stdout).toContain('rule "repair" may act on a again (execution #1 did not help)');
    const none = reflex(['enable', '--rule', 'repair', '--target', 'a'], { cwd: dir });
    expect(none.status).toBe(1);
    reflex(['run'], { cwd: dir });
    expect(ran(dir)).toEqual(['a', 'a']);
    expect(messages(dir).some((m) => m.event === 'resolve' && m.dedupKey === 'reflex-verify/repair/a/1')).toBe(true);
    const audit = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout).audit;
    expect(audit.find((a: { action: string }) => a.action === 'enable:verification')).toMatchObject({
      by: 'carol',
      detail: { rule: 'repair', target: 'a', execution: 1 },
    });
  }, 30_000);
});
