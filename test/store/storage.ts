// Storage that follows change (issue 15), written once and run against SQLite and PostgreSQL: snapshots
// stored by change read back whole, decision bodies stored once, retention by age and count, and the
// migration of a store that recorded runs the old way.
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSnapshot, snapshotInput } from '../../src/store/snapshot.js';
import type { SnapshotParts, Store } from '../../src/store/types.js';
import { decision } from './contract.js';

interface T {
  id: string;
  kind: string;
  labels: Record<string, string>;
  depends_on: string[];
  facts: Record<string, unknown>;
}
const target = (id: string, facts: Record<string, unknown> = {}): T => ({ id, kind: 'instance', labels: { service: 'web' }, depends_on: [], facts });
const meta = (now: number) => ({ v: 1, now, factSources: { up: 'prom' }, sources: [{ name: 'prom', status: 'ok' }] });

/** Record one finished run with these targets (and decisions); returns its id. */
async function record(s: Store, at: number, targets: T[], decisions = [decision()]): Promise<number> {
  const id = await s.beginRun({ startedAt: at, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
  await s.finishRun(
    id,
    {
      finishedAt: at + 1,
      status: 'ok',
      summary: {},
      snapshot: snapshotInput(meta(at), targets, (x) => x),
      decisions: decisions.map((d) => ({ ...d, runId: id, at })),
    },
    null,
  );
  return id;
}

const targetsOf = (p: SnapshotParts | null) => (parseSnapshot(p!) as { targets: T[] }).targets;

/**
 * `makeStore(old)`: a new store (not migrated), or with `old` one that reopens the same database
 * with only the migrations before snapshots were stored by change (then `reopen` opens it current).
 */
export function storageContract(
  name: string,
  makeStore: () => Promise<Store>,
  makeOld: () => Promise<{
    old: Store;
    /** Finish a run as Reflex did before migration 3 (raw SQL: today's code writes the new shape). */
    finishWhole: (runId: number, snapshot: Uint8Array, decisions: { rule: string; outcome: string }[]) => Promise<void>;
    reopen: () => Promise<Store>;
  }>,
): void {
  describe(`${name} store: storage follows change`, () => {
    const open: Store[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => undefined);
    });
    async function fresh(): Promise<Store> {
      const s = await makeStore();
      open.push(s);
      await s.migrate();
      return s;
    }

    it('reads back every run of a changing fleet exactly, in its order: changed, added, removed, reordered and returning targets', async () => {
      const s = await fresh();
      const fleets: T[][] = [
        [target('a', { up: true }), target('b', { up: true }), target('c', { up: 1 })],
        [target('a', { up: true }), target('b', { up: false }), target('c', { up: 1 })], // b changed
        [target('a', { up: true }), target('c', { up: 1 }), target('d', { n: 'x\u0000y' })], // b left, d came
        [target('d', { n: 'x\u0000y' }), target('a', { up: true }), target('c', { up: 2 })], // reordered, c changed
        [target('b', { up: false }), target('d', { n: 'x\u0000y' })], // b back as it was, a and c left
        [],
      ];
      const ids: number[] = [];
      for (const [i, f] of fleets.entries()) ids.push(await record(s, 1000 * (i + 1), f));
      for (const [i, id] of ids.entries()) {
        const p = await s.getSnapshotParts(id);
        expect(p && 'ids' in p ? p.ids : null).toEqual(fleets[i]!.map((t) => t.id));
        expect(targetsOf(p)).toEqual(fleets[i]);
        expect(parseSnapshot(p!)).toMatchObject(meta(1000 * (i + 1)));
        // getSnapshot is the same document, compressed
        expect(parseSnapshot({ whole: (await s.getSnapshot(id))! })).toEqual(parseSnapshot(p!));
      }
    });

    it('an unchanged fleet adds no target version: the store grows by far less than a copy of the fleet per run', async () => {
      const s = await fresh();
      const fleet = Array.from({ length: 2000 }, (_, i) => target(`t-${i}`, { up: true, load: i / 7, note: 'x'.repeat(200) }));
      await record(s, 1000, fleet, []);
      const before = await s.size();
      for (let r = 0; r < 5; r++) await record(s, 2000 + r * 1000, fleet, []);
      const after = await s.size();
      const copy = fleet.reduce((n, t) => n + JSON.stringify(t).length, 0);
      expect(after.runs).toBe(6);
      // 5 runs of a 540 kB fleet: a copy each would be 2.7 MB; by change it is the runs' own rows.
      expect(after.bytes - before.bytes).toBeLessThan(copy / 2);
      const last = await s.listRuns({ limit: 1 });
      expect(targetsOf(await s.getSnapshotParts(last[0]!.id))).toEqual(fleet);
    });

    it('a run that kept only the texts that differ from the head reads back whole, even when another snapshot came in between', async () => {
      const s = await fresh();
      const fleet = (v: Record<string, number>) => ['a', 'b', 'c', 'd'].map((id) => target(id, { v: v[id] ?? 0 }));
      await record(s, 1000, fleet({}));
      const leanOf = async (targets: T[], at: number) => {
        const head = await s.snapshotHead();
        return snapshotInput(meta(at), targets, (x) => x, { ...head, ids: await head.ids() });
      };
      // Collected against the head: only b's text is kept.
      const mine = fleet({ b: 1 });
      const lean = await leanOf(mine, 2000);
      expect(lean.texts.map((t) => t !== undefined)).toEqual([false, true, false, false]);
      // Another run (another lease on this store) records meanwhile, changing a and c.
      await record(s, 2500, fleet({ a: 5, c: 5 }));
      const id = await s.beginRun({ startedAt: 2000, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
      await s.finishRun(id, { finishedAt: 3000, status: 'ok', summary: {}, snapshot: lean, decisions: [] }, null);
      // a and c differ from the new head: their texts were left out and are copied from the base's versions.
      expect(targetsOf(await s.getSnapshotParts(id))).toEqual(mine);
      // And the next run compares with this one.
      const next = await leanOf(fleet({ b: 1 }), 4000);
      expect(next.texts.every((t) => t === undefined)).toBe(true);
      const id2 = await s.beginRun({ startedAt: 4000, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
      await s.finishRun(id2, { finishedAt: 4001, status: 'ok', summary: {}, snapshot: next, decisions: [] }, null);
      expect(targetsOf(await s.getSnapshotParts(id2))).toEqual(mine);
      // In another order, the head's ids say which target is which.
      const reordered = [...fleet({ b: 1, d: 9 })].reverse();
      const moved = await leanOf(reordered, 5000);
      expect(moved.texts.filter((t) => t !== undefined).map((t) => JSON.parse(t!).id)).toEqual(['d']);
      const id3 = await s.beginRun({ startedAt: 5000, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
      await s.finishRun(id3, { finishedAt: 5001, status: 'ok', summary: {}, snapshot: moved, decisions: [] }, null);
      expect(targetsOf(await s.getSnapshotParts(id3))).toEqual(reordered);
    });

    it('runs that finish out of order still read back their own facts', async () => {
      const s = await fresh();
      await record(s, 500, [target('a', { v: 0 })]);
      const first = await s.beginRun({ startedAt: 1000, mode: 'enforce', holder: 'h1', ruleSetHash: 'r' });
      const second = await s.beginRun({ startedAt: 1001, mode: 'enforce', holder: 'h2', ruleSetHash: 'r' });
      const finish = (id: number, v: number) =>
        s.finishRun(id, { finishedAt: 2000, status: 'ok', summary: {}, snapshot: snapshotInput(meta(1), [target('a', { v })], (x) => x), decisions: [] }, null);
      await finish(second, 2);
      await finish(first, 1);
      expect(targetsOf(await s.getSnapshotParts(first))[0]!.facts.v).toBe(1);
      expect(targetsOf(await s.getSnapshotParts(second))[0]!.facts.v).toBe(2);
      // The next run compares with what was written last.
      const third = await record(s, 3000, [target('a', { v: 2 })]);
      expect(targetsOf(await s.getSnapshotParts(third))[0]!.facts.v).toBe(2);
    });

    it('pruning by age and by count keeps every retained run readable and drops what only pruned runs read', async () => {
      const s = await fresh();
      const f = (i: number) => [target('stable', { up: true }), target('moving', { n: i }), ...(i < 3 ? [target(`gone-${i}`)] : [])];
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) ids.push(await record(s, 1000 * (i + 1), f(i)));
      // age: runs finished before 2500 (the first two) go
      expect(await s.pruneRuns(2500)).toBe(2);
      // count: of the four left, the newest two stay
      expect(await s.pruneRuns(0, { keep: 2 })).toBe(2);
      for (const id of ids.slice(0, 4)) expect(await s.getSnapshotParts(id)).toBeNull();
      expect(targetsOf(await s.getSnapshotParts(ids[4]!))).toEqual(f(4));
      expect(targetsOf(await s.getSnapshotParts(ids[5]!))).toEqual(f(5));
      expect((await s.size()).runs).toBe(2);
      expect((await s.getDecisions(ids[5]!))[0]).toEqual({ ...decision(), runId: ids[5], at: 6000 });
      // The store still diffs against what it kept: the next run reads back whole.
      const next = await record(s, 9000, f(6));
      expect(targetsOf(await s.getSnapshotParts(next))).toEqual(f(6));
      // Pruning everything keeps what the next run compares with.
      await s.pruneRuns(100_000);
      const after = await record(s, 200_000, f(7));
      expect(targetsOf(await s.getSnapshotParts(after))).toEqual(f(7));
    });

    it('stores a decision body once for the runs that repeat it, and every run reads its decisions back whole', async () => {
      const s = await fresh();
      const ds = [
        decision(),
        decision({ target: 'web-2', outcome: 'blocked', actions: undefined, trace: [{ stage: 'guard', reason: 'cooldown', detail: 'd', stops: true }] }),
      ];
      const a = await record(s, 1000, [target('web-1'), target('web-2')], ds);
      const b = await record(s, 2000, [target('web-1'), target('web-2')], ds);
      for (const [id, at] of [
        [a, 1000],
        [b, 2000],
      ] as const) {
        expect(await s.getDecisions(id)).toEqual(ds.map((d) => ({ ...d, runId: id, at })));
      }
      const h = await s.decisionHistory({ target: 'web-2', limit: 10 });
      expect(h.map((d) => [d.runId, d.outcome, d.trace[0]!.reason])).toEqual([
        [b, 'blocked', 'cooldown'],
        [a, 'blocked', 'cooldown'],
      ]);
      await s.pruneRuns(1500);
      expect(await s.getDecisions(b)).toEqual(ds.map((d) => ({ ...d, runId: b, at: 2000 })));
    });

    it("a decision that names its own run and time (a would-be message) reads back with each run's own, and shares one body", async () => {
      const s = await fresh();
      const named = (id: number, at: number) =>
        decision({
          trace: [
            {
              stage: 'notify',
              reason: 'dry-run',
              detail: `would trigger: {"at":${at},"details":{"run":${id},"more":"reflex why web-1 --run ${id}"}} run ${id}3 at ${at}0 \u0001 "run":${id}`,
            },
          ],
        });
      const ids: number[] = [];
      for (const at of [1000, 2000, 3000]) {
        const id = await s.beginRun({ startedAt: at, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
        ids.push(id);
        await s.finishRun(
          id,
          {
            finishedAt: at + 1,
            status: 'ok',
            summary: {},
            snapshot: snapshotInput(meta(at), [target('web-1')], (x) => x),
            decisions: [{ ...named(id, at), runId: id, at }],
          },
          null,
        );
      }
      for (const [i, id] of ids.entries()) {
        const at = 1000 * (i + 1);
        expect(await s.getDecisions(id)).toEqual([{ ...named(id, at), runId: id, at }]);
      }
    });

    it('reports its size in bytes, per table where it can, with the runs it keeps', async () => {
      const s = await fresh();
      await record(s, 1000, [target('a')]);
      const z = await s.size();
      expect(z.bytes).toBeGreaterThan(0);
      expect(z.runs).toBe(1);
      expect(z.oldestRunAt).toBe(1000);
      if (Object.keys(z.tables).length) expect(Object.keys(z.tables)).toContain('snapshot_targets');
    });

    it('migrates a store that recorded runs whole: its snapshots stay readable, its derived and not-matched decisions go, the rest stay', async () => {
      const { old, finishWhole, reopen } = await makeOld();
      const whole = { v: 1, now: 1000, factSources: {}, sources: [], targets: [target('a', { up: false })] };
      const id = await old.beginRun({ startedAt: 1000, mode: 'enforce', holder: 'h', ruleSetHash: 'r' });
      await finishWhole(id, new Uint8Array(gzipSync(JSON.stringify(whole))), [
        { rule: 'restart-unhealthy', outcome: 'blocked' },
        { rule: 'derive-x', outcome: 'derived' },
        { rule: 'other', outcome: 'not_matched' },
      ]);
      await old.close();
      const s = await reopen();
      open.push(s);
      await s.migrate();
      expect(parseSnapshot((await s.getSnapshotParts(id))!)).toEqual(whole);
      expect((await s.getDecisions(id)).map((d) => [d.rule, d.outcome, d.trace])).toEqual([
        ['restart-unhealthy', 'blocked', [{ stage: 'guard', reason: 'x', detail: 'y' }]],
      ]);
      // The first run after the migration stores its fleet, the next ones what changed.
      const next = await record(s, 2000, [target('a', { up: true })]);
      expect(targetsOf(await s.getSnapshotParts(next))).toEqual([target('a', { up: true })]);
    });
  });
}
