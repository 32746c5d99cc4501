// Crash tests with real processes: `reflex run` is SIGKILLed at each point of acting, many times; no action ever runs twice, no intent is lost.
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  actionLines,
  crashProject,
  escalations,
  executions,
  HAS_PROC,
  openJournal,
  processState,
  reflexAsync,
  seededRandom,
  setAction,
  setBroken,
  sleep,
  start,
  until,
  waitLeaseExpiry,
  waitQuiet,
  type Exit,
} from './harness.js';
import { removedAfterAll } from '../harness/project.js';

/** Iterations per kill point. CI's default keeps the file well under a minute; raise it locally (REFLEX_CRASH_ITERATIONS=40). */
const N = Math.max(1, Math.min(Number(process.env.REFLEX_CRASH_ITERATIONS) || 8, 200));
/** A bound against hanging, generous for a loaded machine: each iteration is two or three short runs. */
const LOOP_TIMEOUT = 60_000 + N * 10_000;

const project = removedAfterAll(crashProject);

/** Decisions the store recorded for one run, by target. */
function decisionsOf(dir: string, runId: number): Record<string, string> {
  const db = openJournal(dir);
  try {
    const rows = db.prepare('SELECT target, outcome FROM decisions WHERE run_id = ?').all(runId) as { target: string; outcome: string }[];
    return Object.fromEntries(rows.map((r) => [r.target, r.outcome]));
  } finally {
    db.close();
  }
}

const runIdOf = (e: Exit) => Number(/^run #(\d+)/m.exec(e.stdout)?.[1] ?? NaN);

/**
 * The run after a crash: it must report the interrupted execution (exit 1, "interrupted"),
 * mark it interrupted, escalate it once, not run it again, and count its cooldown.
 */
async function recoverAfterCrash(dir: string, target: string, targets: string[]): Promise<void> {
  const before = executions(dir).filter((e) => e.target === target);
  const linesBefore = actionLines(dir).length;
  await waitLeaseExpiry(dir);
  const next = await reflexAsync(dir, ['run']);
  const unfinished = before.filter((e) => e.status === 'intent' || e.status === 'running');
  if (unfinished.length) {
    expect(next.code, next.out).toBe(1);
    for (const e of unfinished) expect(next.stdout).toContain(`interrupted: execution #${e.id} (append on ${target}`);
  } else {
    expect(next.code, next.out).toBe(0);
  }
  // Nothing ran again: not the interrupted action, and no action on an earlier target either.
  const after = executions(dir).filter((e) => e.target === target);
  if (before.length) expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
  else expect(after).toHaveLength(1);
  if (before.length) expect(actionLines(dir).length).toBe(linesBefore);
  for (const e of after) expect(['interrupted', 'succeeded']).toContain(e.status);
  // The cooldown of the interrupted execution still counts: every target is cooled down, none acted on.
  const decided = decisionsOf(dir, runIdOf(next));
  for (const t of targets) {
    if (t === target && before.length === 0) expect(decided[t]).toBe('executed');
    else expect(decided[t], `${t} in run ${runIdOf(next)}`).toBe('cooled_down');
  }
  // Each interrupted execution was handed to a human once.
  const esc = escalations(dir);
  for (const e of unfinished) expect(esc.filter((m) => m.dedupKey === `reflex-interrupted/${e.id}`)).toHaveLength(1);
}

/** What must hold across all iterations: one execution per target, at most one action per target, every action journaled before it ran. */
function checkInvariants(dir: string, targets: string[]): void {
  const ex = executions(dir);
  const lines = actionLines(dir);
  for (const t of targets) {
    const mine = ex.filter((e) => e.target === t);
    expect(mine, `executions of ${t}`).toHaveLength(1);
    const ran = lines.filter((l) => l.target === t);
    expect(ran.length, `times the action ran for ${t}`).toBeLessThanOrEqual(1);
    if (mine[0]!.status === 'succeeded') expect(ran).toHaveLength(1);
    // the intent was committed (and marked running) before the action started, under that execution's id
    for (const l of ran) expect([l.execution, l.journal]).toEqual([String(mine[0]!.id), 'running']);
  }
  expect(ex.filter((e) => e.status === 'intent' || e.status === 'running')).toEqual([]);
  expect(lines.every((l) => targets.includes(l.target))).toBe(true);
}

describe.concurrent.each(['after-intent', 'after-running', 'before-outcome'] as const)('crash at failpoint %s', (point) => {
  it(
    `SIGKILLed ${N} times there: the next run reports the execution interrupted, never re-runs it, and its cooldown counts`,
    async () => {
      const dir = project();
      const targets: string[] = [];
      for (let i = 1; i <= N; i++) {
        const t = `box-${i}`;
        targets.push(t);
        setBroken(dir, targets); // earlier targets stay broken: they must stay cooled down, run after run
        const crashed = await reflexAsync(dir, ['run'], { REFLEX_FAILPOINT: point });
        expect(crashed.signal, crashed.out).toBe('SIGKILL');
        // Just after the crash: the intent is there, with its cooldown, whatever the point.
        const mine = executions(dir).filter((e) => e.target === t);
        expect(mine.map((e) => e.status)).toEqual([point === 'after-intent' ? 'intent' : 'running']);
        expect(actionLines(dir).filter((l) => l.target === t)).toHaveLength(point === 'before-outcome' ? 1 : 0);
        await recoverAfterCrash(dir, t, targets);
        expect(executions(dir).find((e) => e.target === t)!.status).toBe('interrupted');
      }
      checkInvariants(dir, targets);
      expect(actionLines(dir)).toHaveLength(point === 'before-outcome' ? N : 0);
    },
    LOOP_TIMEOUT,
  );
});

describe.concurrent('crash from outside', () => {
  it(
    `SIGKILLed at a random moment while a slow action runs, ${N} times: the action ran once, the next run reports it interrupted`,
    async () => {
      const dir = project();
      // The action waits for a gate that opens only after the kill, so the kill always lands while it runs.
      setAction(dir, { gate: true });
      const random = seededRandom('crash while an action runs');
      const targets: string[] = [];
      for (let i = 1; i <= N; i++) {
        const t = `box-${i}`;
        targets.push(t);
        setBroken(dir, targets);
        const run = start(dir, ['run']);
        const line = await until(() => actionLines(dir).find((l) => l.target === t), `the action on ${t} to start`);
        await sleep(Math.floor(random() * 250));
        run.child.kill('SIGKILL');
        const crashed = await run.exited;
        expect(crashed.signal, crashed.out).toBe('SIGKILL');
        expect(executions(dir).find((e) => e.target === t)!.status).toBe('running');
        // The orphaned action goes on running: let it end, then see that nothing starts it again.
        writeFileSync(join(dir, 'gate'), '');
        await until(() => processState(line.pid) === null || processState(line.pid) === 'Z', `the orphaned action ${line.pid} to end`);
        unlinkSync(join(dir, 'gate'));
        await recoverAfterCrash(dir, t, targets);
      }
      checkInvariants(dir, targets);
      expect(actionLines(dir)).toHaveLength(N);
    },
    LOOP_TIMEOUT,
  );

  // Skipped only where /proc is missing (not Linux): the test reads process states there. CI runs on Linux.
  it.skipIf(!HAS_PROC)(
    `SIGKILLed at a random moment anywhere in the run, ${N} times: at most one action per target, each journaled first`,
    async () => {
      const dir = project();
      setAction(dir, { holdMs: 50 });
      // How long a whole run takes here, so the kills spread over all of it (start-up, recover, collect, journal, action, record).
      setBroken(dir, ['box-0']);
      const t0 = Date.now();
      expect((await reflexAsync(dir, ['run'])).code).toBe(0);
      const span = Math.max(200, Date.now() - t0);
      const targets = ['box-0'];
      const seen = new Set<string>();
      const random = seededRandom('crash anywhere');
      for (let i = 1; i <= N; i++) {
        const t = `box-${i}`;
        targets.push(t);
        setBroken(dir, targets);
        const run = start(dir, ['run']);
        await sleep(Math.floor(random() * span * 1.2));
        run.child.kill('SIGKILL');
        await run.exited;
        // An action the killed runner had just started may still be starting: wait until nothing of this project runs.
        await waitQuiet(dir);
        const mine = executions(dir).filter((e) => e.target === t);
        seen.add(mine.length ? mine[0]!.status : 'no intent yet');
        await recoverAfterCrash(dir, t, targets);
        await waitQuiet(dir);
      }
      checkInvariants(dir, targets);
      // how the kills landed (for the record; random by design)
      console.log(`crash anywhere: states found after the kill: ${[...seen].sort().join(', ')}`);
    },
    LOOP_TIMEOUT,
  );
});

describe('an orderly stop', () => {
  it('SIGTERM while an action runs: no further action starts, the one in flight is cancelled and recorded, and nothing is left to recover', async () => {
    const dir = project({ lease: '5s' });
    setAction(dir, { gate: true });
    setBroken(dir, ['box-1', 'box-2']);
    const run = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the first action to start');
    run.child.kill('SIGTERM');
    const stopped = await run.exited;
    expect(stopped.code, stopped.out).toBe(1);
    expect(stopped.stderr).toContain('SIGTERM: stopping; no new action will start');
    expect(stopped.stdout).toMatch(/FAILED\s+repair\s+box-1\s+execution #1 append failed: cancelled; process group killed/);
    expect(executions(dir).map((e) => [e.target, e.status])).toEqual([['box-1', 'failed']]);
    expect(actionLines(dir).map((l) => l.target)).toEqual(['box-1']);
    // The run released its lease and recorded itself: the next run starts at once, finds nothing unfinished, and does not repeat box-1.
    setAction(dir, {});
    const next = await reflexAsync(dir, ['run']);
    expect(next.code, next.out).toBe(0);
    expect(next.stdout).not.toContain('interrupted');
    expect(decisionsOf(dir, runIdOf(next))).toEqual({ 'box-1': 'cooled_down', 'box-2': 'executed' });
    expect(actionLines(dir).map((l) => l.target)).toEqual(['box-1', 'box-2']);
  });
});
