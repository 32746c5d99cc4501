// One runner at a time per store: overlapping runs, a killed holder, and a stale holder that wakes up after its lease was taken.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  actionLines,
  crashProject,
  escalations,
  executions,
  HAS_PROC,
  lease,
  openJournal,
  processState,
  reflexAsync,
  runs,
  setAction,
  setBroken,
  setTargets,
  start,
  until,
  waitLeaseExpiry,
  type Exit,
} from './harness.js';
import { removedAfterAll } from '../harness/project.js';

const project = removedAfterAll(crashProject);

const LEASE_HELD = /^reflex: another run holds the lease "run" \((.+), until (\S+)\): this run did nothing$/m;

describe('two runs at once', () => {
  it('started together, one acts and the other exits with code 4 and says who holds the lease; the action runs once', async () => {
    const dir = project({ lease: '2s' });
    // The action waits for a gate the test opens only after the loser has exited, so the runs overlap for certain.
    setAction(dir, { gate: true });
    for (let i = 1; i <= 3; i++) {
      const t = `box-${i}`;
      setBroken(dir, [t]);
      const runsBefore = lease(dir) ? runs(dir).length : 0;
      const a = start(dir, ['run']);
      const b = start(dir, ['run']);
      const first = await Promise.race([a.exited.then((e) => ['a', e] as const), b.exited.then((e) => ['b', e] as const)]);
      const [who, loser] = first;
      expect(loser.code, loser.out).toBe(4);
      expect(loser.stderr).toMatch(LEASE_HELD);
      expect(loser.stdout).toBe('');
      writeFileSync(join(dir, 'gate'), '');
      const winner: Exit = await (who === 'a' ? b : a).exited;
      unlinkSync(join(dir, 'gate'));
      expect(winner.code, winner.out).toBe(0);
      expect(winner.stdout).toContain(`EXECUTED    repair  ${t}`);
      expect(actionLines(dir).filter((l) => l.target === t)).toHaveLength(1);
      // the loser recorded nothing: one more run, not two
      expect(runs(dir)).toHaveLength(runsBefore + 1);
    }
    expect(actionLines(dir)).toHaveLength(3);
  });
});

describe('a killed holder', () => {
  it('holds the lease until it expires: a run meanwhile exits 4 naming the expiry; the next run after it proceeds and reports the interrupted action', async () => {
    // Long enough that the run started right after the kill finds it held even on a loaded machine.
    const dir = project({ lease: '5s' });
    setAction(dir, { gate: true });
    setBroken(dir, ['box-1']);
    const a = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const held = lease(dir)!;
    expect(held.holder).toMatch(/:\d+$/);

    const b = await reflexAsync(dir, ['run']);
    expect(b.code, b.out).toBe(4);
    const m = LEASE_HELD.exec(b.stderr)!;
    expect(m[1]).toBe(held.holder);
    expect(Date.parse(m[2]!)).toBe(held.expires_at);
    expect(runs(dir)).toHaveLength(1);

    // Wait the lease out for real, as the next scheduled run would.
    await waitLeaseExpiry(dir);
    const c = await reflexAsync(dir, ['run']);
    expect(c.code, c.out).toBe(1);
    expect(c.stdout).toContain('interrupted: execution #1 (append on box-1');
    expect(lease(dir)!.token).toBe(held.token + 1);
    expect(executions(dir).map((e) => [e.target, e.status])).toEqual([['box-1', 'interrupted']]);
    writeFileSync(join(dir, 'gate'), ''); // let the orphaned action end
    expect(actionLines(dir)).toHaveLength(1);
  });
});

// Skipped only where /proc is missing (not Linux): the test reads process states there. CI runs on Linux.
describe.skipIf(!HAS_PROC)('a stale holder', () => {
  it('frozen while its action ran, it wakes after its lease was taken: it starts nothing more and cannot record its run', async () => {
    const dir = project({ lease: '500ms' });
    setAction(dir, { gate: true });
    setBroken(dir, ['box-1', 'box-2']);
    const a = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    const pid = a.child.pid!;
    process.kill(pid, 'SIGSTOP');
    await until(() => processState(pid) === 'T', 'the runner to stop');
    const [stale] = runs(dir);
    await waitLeaseExpiry(dir);

    // The next run takes over: box-1's execution is interrupted, box-2 acted on by the new run.
    writeFileSync(join(dir, 'gate'), '');
    const c = await reflexAsync(dir, ['run']);
    expect(c.code, c.out).toBe(1);
    expect(c.stdout).toContain('interrupted: execution #1 (append on box-1');
    const newer = runs(dir).at(-1)!;
    expect(newer.status).toBe('problems');

    // The stale runner wakes up.
    process.kill(pid, 'SIGCONT');
    const woke = await a.exited;
    expect(woke.code, woke.out).toBe(3);
    expect(woke.stderr).toMatch(/lease "run" \(token \d+\) was taken over/);
    expect(woke.stderr).not.toMatch(/internal error/);

    const ex = executions(dir);
    // box-2 ran once, from the newer run; the stale runner started nothing after waking.
    expect(ex.filter((e) => e.target === 'box-2').map((e) => [e.run_id, e.status])).toEqual([[newer.id, 'succeeded']]);
    expect(ex.filter((e) => e.run_id === stale!.id)).toHaveLength(1);
    expect(
      actionLines(dir)
        .map((l) => l.target)
        .sort(),
    ).toEqual(['box-1', 'box-2']);
    // The newer run closed the stale run as interrupted; the stale runner could not record over that, nor over the newer run.
    const after = runs(dir);
    expect(after.find((r) => r.id === stale!.id)!.status).toBe('interrupted');
    expect(after.find((r) => r.id === newer.id)!.status).toBe('problems');
    expect(escalations(dir).filter((e) => e.dedupKey === 'reflex-interrupted/1')).toHaveLength(1);
  });

  it('frozen while its action ran, it wakes after the next run paged a human: it neither resolves nor re-sends that page', async () => {
    const dir = project({
      lease: '500ms',
      rules: `  - name: page-on-alarm
    target: { kind: alarm }
    when: { firing: facts.firing }
    mode: enforce
    escalate: { to: humans, on: [matched] }
`,
    });
    setAction(dir, { gate: true });
    // The stale runner sees a quiet alarm...
    setTargets(dir, [
      { id: 'box-1', kind: 'box', facts: { broken: true } },
      { id: 'alarm-1', kind: 'alarm', facts: { firing: false } },
    ]);
    const a = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    const pid = a.child.pid!;
    process.kill(pid, 'SIGSTOP');
    await until(() => processState(pid) === 'T', 'the runner to stop');
    await waitLeaseExpiry(dir);
    // ...the run that takes over sees it firing and pages.
    setTargets(dir, [
      { id: 'box-1', kind: 'box', facts: { broken: true } },
      { id: 'alarm-1', kind: 'alarm', facts: { firing: true } },
    ]);
    writeFileSync(join(dir, 'gate'), '');
    const c = await reflexAsync(dir, ['run']);
    expect(c.code, c.out).toBe(1);
    const page = (e: { dedupKey: string }) => e.dedupKey === 'reflex/page-on-alarm/alarm-1';
    expect(
      escalations(dir)
        .filter(page)
        .map((e) => e.event),
    ).toEqual(['trigger']);

    process.kill(pid, 'SIGCONT');
    const woke = await a.exited;
    expect(woke.code, woke.out).toBe(3);
    expect(woke.stderr).toMatch(/lease "run" \(token \d+\) was taken over/);
    // The stale runner's facts said the alarm was quiet: had it gone on to notify, it would have resolved the page.
    expect(
      escalations(dir)
        .filter(page)
        .map((e) => e.event),
    ).toEqual(['trigger']);
    const db = openJournal(dir);
    try {
      expect(db.prepare("SELECT status FROM escalations WHERE dedup_key = 'reflex/page-on-alarm/alarm-1'").all()).toEqual([{ status: 'open' }]);
    } finally {
      db.close();
    }
  });

  it('frozen after its guards tripped the failure breaker, it wakes after the next run took over: it writes no disable or audit record and sends no page', async () => {
    const dir = project({
      lease: '500ms',
      rules: `  - name: flaky
    target: { kind: crate }
    when: { broken: facts.broken }
    mode: enforce
    do: [{ action: fail }]
`,
    });
    // One failure trips the breaker at the rule's next decision.
    const cfg = join(dir, 'reflex.yaml');
    writeFileSync(
      cfg,
      readFileSync(cfg, 'utf8')
        .replace('failure_breaker: { failures: 1000, of_last: 1000 }', 'failure_breaker: { failures: 1, of_last: 5 }')
        .replace('channels:\n', '  fail: { kind: exec, argv: ["false"], cooldown: 1s }\nchannels:\n'),
    );
    setTargets(dir, [{ id: 'crate-1', kind: 'crate', facts: { broken: true } }]);
    const first = await reflexAsync(dir, ['run']);
    expect(first.stdout, first.out).toContain('FAILED      flaky  crate-1');

    // The stale run: its guard stage trips the breaker for flaky (a disable, an audit record and a page to come
    // after the fence), then it freezes while repair's action runs.
    await new Promise((r) => setTimeout(r, 1100)); // past the cooldown of the failing action
    setAction(dir, { gate: true });
    setTargets(dir, [
      { id: 'crate-1', kind: 'crate', facts: { broken: true } },
      { id: 'box-1', kind: 'box', facts: { broken: true } },
    ]);
    const a = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    const pid = a.child.pid!;
    process.kill(pid, 'SIGSTOP');
    await until(() => processState(pid) === 'T', 'the runner to stop');
    await waitLeaseExpiry(dir);

    // The run that takes over sees crate-1 healthy again: nothing for the breaker to do.
    setTargets(dir, [{ id: 'box-1', kind: 'box', facts: { broken: true } }]);
    writeFileSync(join(dir, 'gate'), '');
    const c = await reflexAsync(dir, ['run']);
    expect(c.code, c.out).toBe(1);
    expect(c.stdout).toContain('interrupted: execution #2 (append on box-1');

    process.kill(pid, 'SIGCONT');
    const woke = await a.exited;
    expect(woke.code, woke.out).toBe(3);
    expect(woke.stderr).toMatch(/lease "run" \(token \d+\) was taken over/);
    const db = openJournal(dir);
    try {
      expect(db.prepare('SELECT * FROM disables').all()).toEqual([]);
      expect(db.prepare('SELECT * FROM audit').all()).toEqual([]);
    } finally {
      db.close();
    }
    expect(escalations(dir).filter((e) => e.dedupKey.startsWith('reflex-breaker/'))).toEqual([]);

    // The control: a live run with crate-1 broken trips the breaker, writes the disable and pages once.
    setTargets(dir, [{ id: 'crate-1', kind: 'crate', facts: { broken: true } }]);
    const d = await reflexAsync(dir, ['run']);
    expect(d.stdout, d.out).toContain('ESCALATED   flaky  crate-1');
    const after = openJournal(dir);
    try {
      expect(after.prepare('SELECT scope, value FROM disables').all()).toEqual([{ scope: 'rule', value: 'flaky' }]);
    } finally {
      after.close();
    }
    expect(escalations(dir).filter((e) => e.dedupKey === 'reflex-breaker/failures/flaky')).toHaveLength(1);
  });

  it('frozen just after journaling an intent, it wakes after the next run marked it interrupted: the action never starts', async () => {
    const dir = project({ lease: '500ms' });
    setBroken(dir, ['box-1', 'box-2']);
    const a = start(dir, ['run'], { REFLEX_FAILPOINT: 'after-intent:stop' });
    const pid = a.child.pid!;
    await until(() => processState(pid) === 'T', 'the runner to stop itself after the intent');
    expect(executions(dir).map((e) => [e.target, e.status])).toEqual([['box-1', 'intent']]);
    await waitLeaseExpiry(dir);

    const c = await reflexAsync(dir, ['run']);
    expect(c.code, c.out).toBe(1);
    expect(c.stdout).toContain('interrupted: execution #1 (append on box-1');

    process.kill(pid, 'SIGCONT');
    const woke = await a.exited;
    expect(woke.code, woke.out).toBe(3);
    expect(woke.stderr).not.toMatch(/internal error/);
    // box-1 never ran (its intent was interrupted before it started); box-2 ran once, by the newer run
    expect(actionLines(dir).map((l) => l.target)).toEqual(['box-2']);
    expect(executions(dir).map((e) => [e.target, e.status])).toEqual([
      ['box-1', 'interrupted'],
      ['box-2', 'succeeded'],
    ]);
  });
});
