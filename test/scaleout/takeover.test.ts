// A runner killed, or frozen, mid-run: its shards go to another runner once its leases expire; what it left unfinished is reported, never re-run.
import { afterAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/pipeline/shards.js';
import { reflex } from '../helpers.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';
import { actionLines, boxes, executions, journal, leases, processState, reflexAsync, scaleProject, start, until, waitExpiry } from './harness.js';

const schemas = schemaFactory('scaleout_takeover');
afterAll(() => schemas.dropAll());

const COUNT = 4;
const TARGETS = boxes(16, 2);
const shardOfId = (id: string) => shardOf({ id, labels: {} }, { count: COUNT });
const inShards = (shards: number[]) => TARGETS.filter((t) => shards.includes(shardOfId(t.id))).map((t) => t.id);

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason)('scale-out: a runner that dies or freezes mid-run', () => {
  const url = pgSkipReason ? '' : requirePgUrl();

  it('a killed runner keeps its shards until its leases expire; then another takes them over, reports its interrupted execution and never re-runs it', async () => {
    const schema = schemas.next();
    const p = scaleProject({ url, schema, targets: TARGETS, shards: `{ count: ${COUNT}, lease: 8s }`, maxConcurrency: 1 });
    const c = await journal(url, schema);
    try {
      // Runner A holds shards 0 and 1 and is killed after its first action ran, before recording how it ended.
      const a = await reflexAsync(p.dir, ['run', '--shard', '0,1'], { REFLEX_FAILPOINT: 'before-outcome' });
      expect(a.signal).toBe('SIGKILL');
      const [left] = await executions(c);
      expect(left).toMatchObject({ status: 'running' });
      expect(inShards([0, 1])).toContain(left!.target);
      expect(left!.shard).toBe(`shard:${shardOfId(left!.target)}/${COUNT}`);
      expect(actionLines(p.dir).map((l) => l.target)).toEqual([left!.target]);

      // Runner B works on shards 2 and 3 meanwhile: A's execution is not its to recover, whatever the time.
      const b = await reflexAsync(p.dir, ['run', '--shard', '2,3']);
      expect(b.code, b.stdout + b.stderr).toBe(0);
      expect(b.stdout).not.toContain('interrupted');
      expect((await executions(c)).find((e) => e.id === left!.id)).toMatchObject({ status: 'running' });
      expect(new Set(actionLines(p.dir).map((l) => l.target))).toEqual(new Set([left!.target, ...inShards([2, 3])]));

      // While A's leases live, a runner asking for one of its shards is turned away (exit 4) and does nothing.
      const lease0 = (await leases(c)).find((l) => l.name === `shard:0/${COUNT}`)!;
      const early = await reflexAsync(p.dir, ['run', '--shard', '0']);
      const outputs = [early.stdout];
      if (Date.now() < lease0.expires_at) {
        expect(early.code, early.stderr).toBe(4);
        expect(early.stderr).toMatch(/another run holds shard:0\/4 \(.*:\d+, until .*\): this run did nothing/);
      } // else the machine was slow enough for the lease to lapse: that run took shard 0 over, as D does below

      // After expiry, the next runner claims every free shard, A's among them.
      await waitExpiry(url, schema, [0, 1], COUNT);
      const d = await reflexAsync(p.dir, ['run']);
      outputs.push(d.stdout);
      expect([0, 1], d.stdout + d.stderr).toContain(d.code);
      expect(d.stdout).toMatch(/shards (0, )?1, 2, 3 of 4/);
      const after = await executions(c);
      const settled = after.find((e) => e.id === left!.id)!;
      expect(settled).toMatchObject({ status: 'interrupted' });
      expect(settled.error).toMatch(/found unfinished by run #\d+: its runner stopped before recording an outcome; not re-run/);
      // The run that recovered it reported it as a problem for a human (exit code 1).
      expect(outputs.join('\n')).toContain(`problem: interrupted: execution #${left!.id} (act-repair on ${left!.target}, rule repair`);
      // Never re-run: one line for A's target (from A), and every other target of A's shards acted on once.
      const lines = actionLines(p.dir);
      expect(lines.filter((l) => l.target === left!.target)).toHaveLength(1);
      for (const t of inShards([0, 1]))
        expect(
          lines.filter((l) => l.target === t),
          t,
        ).toHaveLength(1);
      expect(lines.every((l) => l.journal === 'running')).toBe(true);
      // reflex status reports it for a human, with the shards and who worked on them.
      const st = reflex(['-c', `${p.dir}/reflex.yaml`, 'status']);
      expect(st.status, st.out).toBe(0);
      expect(st.stdout).toContain(`#${left!.id} act-repair on ${left!.target} (rule repair`);
      expect(st.stdout).toMatch(/shards: 4 by target id, at most 4 per run, lease 8s; 0 held now/);
      expect(st.stdout).toMatch(
        /runners \(hosts with runs in the last 24h\): 1\n {2}.+: last run #\d+ .* ago, (ok|problems) \(shard:0\/4,shard:1\/4,shard:2\/4,shard:3\/4\); \d+ run\(s\)/,
      );
      expect(st.stdout).toMatch(/shard 1: free; last run #\d+ .* ago by .*:\d+, (ok|problems)/);
    } finally {
      await c.end();
    }
  });

  it('a runner frozen past its lease wakes up fenced: the intent it journaled was settled by the runner that took over, and nothing more starts', async () => {
    const schema = schemas.next();
    const p = scaleProject({ url, schema, targets: TARGETS, shards: `{ count: ${COUNT}, lease: 2s }`, maxConcurrency: 1 });
    const c = await journal(url, schema);
    try {
      // A journals its first intent in shard 1, then stops (SIGSTOP) before marking it running.
      const a = start(p.dir, ['run', '--shard', '1'], { REFLEX_FAILPOINT: 'after-intent:stop' });
      await until(() => processState(a.pid) === 'T', 'runner A to stop itself');
      const [frozen] = await executions(c);
      expect(frozen).toMatchObject({ status: 'intent', shard: `shard:1/${COUNT}` });

      // Its lease expires; another runner takes shard 1 over and settles the intent as interrupted.
      await waitExpiry(url, schema, [1], COUNT);
      const d = await reflexAsync(p.dir, ['run', '--shard', '1']);
      expect(d.code, d.stdout + d.stderr).toBe(1);
      expect(d.stdout).toContain(`problem: interrupted: execution #${frozen!.id}`);
      const byD = actionLines(p.dir);
      expect(byD.map((l) => l.target).sort()).toEqual(
        inShards([1])
          .filter((t) => t !== frozen!.target)
          .sort(),
      );

      // A wakes up: its intent is no longer its own, and its lease is gone, so it starts nothing and fails.
      a.kill('SIGCONT');
      const woke = await a.exited;
      expect(woke.code, woke.stdout + woke.stderr).toBe(3);
      expect(woke.stderr + woke.stdout).toMatch(/lease "shard:1\/4" \(token \d+\) was taken over/);
      expect(actionLines(p.dir)).toEqual(byD);
      expect((await executions(c)).find((e) => e.id === frozen!.id)).toMatchObject({ status: 'interrupted' });
    } finally {
      await c.end();
    }
  });
});
