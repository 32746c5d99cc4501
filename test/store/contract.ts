// The store's behaviour, written once and run against every implementation (SQLite, PostgreSQL).
import { afterEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, IntentInput, Store } from '../../src/store/types.js';
import { JournalConflictError, LeaseLostError } from '../../src/store/types.js';

export function intent(over: Partial<IntentInput> & { key: string }): IntentInput {
  return {
    runId: 1,
    rule: 'restart-unhealthy',
    action: 'restart',
    step: 0,
    target: 'web-1',
    kind: 'instance',
    describe: 'systemctl restart web',
    detail: { argv: ['systemctl', 'restart', 'web'] },
    cooldownKey: `cd:${over.key}`,
    cooldownMs: 60_000,
    groups: ['service=web'],
    createdAt: 1_000,
    ...over,
  };
}

export function decision(over: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    runId: 0,
    target: 'web-1',
    rule: 'restart-unhealthy',
    outcome: 'executed',
    severity: 'warning',
    conditions: [
      { name: 'unhealthy', expr: 'healthy == false', result: true, inputs: { healthy: false } },
      { name: 'db_ok', expr: 'db.up', result: 'unknown', inputs: { 'db.up': undefined }, unknown: 'source prometheus timed out' },
    ],
    trace: [{ stage: 'guard', reason: 'ok', detail: 'within limits' }],
    actions: [{ action: 'restart', describe: 'systemctl restart web', executionId: 7 }],
    at: 5_000,
    ...over,
  };
}

const run = { mode: 'enforce' as const, holder: 'host:1', ruleSetHash: 'abc' };

/**
 * Run the contract against a store factory. `makeStore` returns a new, empty store that has
 * not been migrated yet; each test gets its own and closes it.
 */
export function storeContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    const open: Store[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    async function fresh(): Promise<Store> {
      const s = await makeStore();
      open.push(s);
      await s.migrate();
      return s;
    }

    describe('schema', () => {
      it('migrates twice without error and keeps the data', async () => {
        const s = await fresh();
        await s.setCooldown('k', 1, 2);
        await s.migrate();
        await s.migrate();
        expect(await s.getCooldown('k')).toEqual({ lastAt: 1, until: 2 });
      });
    });

    describe('leases', () => {
      it('acquires a free lease with token 1 and refuses a second holder while it is live', async () => {
        const s = await fresh();
        expect(await s.acquireLease('run', 'a', 1000, 10_000)).toEqual({ acquired: true, token: 1, expiresAt: 11_000 });
        expect(await s.acquireLease('run', 'b', 1000, 10_500)).toEqual({ acquired: false, holder: 'a', expiresAt: 11_000 });
        // not even its own holder takes a live lease twice: it must renew
        expect(await s.acquireLease('run', 'a', 1000, 10_500)).toMatchObject({ acquired: false, holder: 'a' });
        expect(await s.listLeases()).toEqual([{ name: 'run', holder: 'a', token: 1, acquiredAt: 10_000, expiresAt: 11_000 }]);
      });

      it('lets another holder take an expired lease (expiresAt == now is expired) with a larger token', async () => {
        const s = await fresh();
        await s.acquireLease('run', 'a', 1000, 10_000);
        expect(await s.acquireLease('run', 'b', 1000, 10_999)).toMatchObject({ acquired: false });
        expect(await s.acquireLease('run', 'b', 1000, 11_000)).toEqual({ acquired: true, token: 2, expiresAt: 12_000 });
      });

      it('renews while current, refuses renewal after a takeover, renews an expired lease nobody took', async () => {
        const s = await fresh();
        const a = await s.acquireLease('run', 'a', 1000, 0);
        if (!a.acquired) throw new Error('not acquired');
        expect(await s.renewLease({ name: 'run', token: a.token }, 1000, 500)).toBe(true);
        expect((await s.listLeases())[0]!.expiresAt).toBe(1500);
        expect(await s.renewLease({ name: 'run', token: a.token }, 1000, 1600)).toBe(true); // expired, still ours
        const b = await s.acquireLease('run', 'b', 1000, 2600);
        expect(b).toMatchObject({ acquired: true, token: 2 });
        expect(await s.renewLease({ name: 'run', token: a.token }, 1000, 2700)).toBe(false);
        expect(await s.listLeases()).toEqual([{ name: 'run', holder: 'b', token: 2, acquiredAt: 2600, expiresAt: 3600 }]);
      });

      it('never reuses a token: release then acquire gives the next one', async () => {
        const s = await fresh();
        const tokens: number[] = [];
        for (let i = 0; i < 4; i++) {
          const r = await s.acquireLease('shard:1', `h${i}`, 1000, i);
          if (!r.acquired) throw new Error('not acquired');
          tokens.push(r.token);
          await s.releaseLease({ name: 'shard:1', token: r.token });
        }
        expect(tokens).toEqual([1, 2, 3, 4]);
        expect(await s.listLeases()).toEqual([]);
        expect(await s.renewLease({ name: 'shard:1', token: 4 }, 1000, 10)).toBe(false);
      });

      it('releasing with a stale token does not free the new holder', async () => {
        const s = await fresh();
        await s.acquireLease('run', 'a', 1000, 0);
        await s.acquireLease('run', 'b', 1000, 2000);
        await s.releaseLease({ name: 'run', token: 1 });
        expect(await s.acquireLease('run', 'c', 1000, 2100)).toMatchObject({ acquired: false, holder: 'b' });
      });

      it('acquireAnyLeases claims up to max free or expired leases and skips live ones', async () => {
        const s = await fresh();
        if (!s.acquireAnyLeases) return;
        await s.acquireLease('shard:0', 'other', 10_000, 0);
        const got = await s.acquireAnyLeases(['shard:0', 'shard:1', 'shard:2', 'shard:3'], 'me', 1000, 100, 2);
        expect(got).toEqual([
          { name: 'shard:1', token: 1, expiresAt: 1100 },
          { name: 'shard:2', token: 1, expiresAt: 1100 },
        ]);
        const more = await s.acquireAnyLeases(['shard:0', 'shard:1', 'shard:2', 'shard:3'], 'you', 1000, 200, 5);
        expect(more.map((l) => l.name)).toEqual(['shard:3']);
        expect((await s.listLeases()).map((l) => `${l.name}=${l.holder}`)).toEqual(['shard:0=other', 'shard:1=me', 'shard:2=me', 'shard:3=you']);
      });

      it('acquireAnyLeases takes the leases acquired longest ago first, so a late runner does not redo a shard just released', async () => {
        const s = await fresh();
        const names = ['shard:0/4', 'shard:1/4', 'shard:2/4', 'shard:3/4'];
        // A round: two runners take two shards each, at different times, and release them.
        for (const [n, at] of [
          [0, 100],
          [1, 100],
          [2, 200],
          [3, 300],
        ] as const) {
          const r = await s.acquireLease(names[n]!, 'r', 1000, at);
          if (!r.acquired) throw new Error('not acquired');
          await s.releaseLease({ name: names[n]!, token: r.token });
        }
        // Whatever the order asked for, the oldest come first; results come back in the order of `names`.
        const got = await s.acquireAnyLeases!([...names].reverse(), 'late', 1000, 400, 2);
        expect(got.map((l) => l.name)).toEqual(['shard:1/4', 'shard:0/4']);
        // Never-used leases come before any used one.
        const fresh2 = await s.acquireAnyLeases!(['shard:3/4', 'shard:9/4', 'shard:2/4'], 'late2', 1000, 500, 1);
        expect(fresh2.map((l) => l.name)).toEqual(['shard:9/4']);
      });

      it('a write fenced by several leases happens only while every one of them is current', async () => {
        const s = await fresh();
        const a = await s.acquireLease('shard:0/2', 'me', 1000, 0);
        const b = await s.acquireLease('shard:1/2', 'me', 1000, 0);
        if (!a.acquired || !b.acquired) throw new Error('not acquired');
        const both = [
          { name: 'shard:0/2', token: a.token },
          { name: 'shard:1/2', token: b.token },
        ];
        await s.saveForState([{ rule: 'r', target: 't1', since: 1, runs: 1, lastRunId: 1 }], [], both);
        const id = await s.intentTransaction(both, (tx) => tx.insertIntent(intent({ key: 'k-both' })));
        expect(id.inserted).toBe(true);
        // Another runner takes one of them over after it expired: every write fenced by both is refused.
        await s.acquireLease('shard:1/2', 'other', 1000, 5000);
        await expect(s.saveForState([{ rule: 'r', target: 't2', since: 1, runs: 1, lastRunId: 1 }], [], both)).rejects.toBeInstanceOf(LeaseLostError);
        await expect(s.intentTransaction(both, (tx) => tx.insertIntent(intent({ key: 'k-late' })))).rejects.toBeInstanceOf(LeaseLostError);
        expect((await s.loadForState()).map((f) => f.target)).toEqual(['t1']);
        // The lease still held fences alone.
        await s.intentTransaction(both[0]!, (tx) => tx.insertIntent(intent({ key: 'k-one' })));
        expect((await s.listExecutions({ limit: 10 })).map((e) => e.key).sort()).toEqual(['k-both', 'k-one']);
        // An empty list fences nothing, like null.
        await s.saveForState([], [], []);
      });

      it('refuses writes with a stale fence with LeaseLostError and writes nothing', async () => {
        const s = await fresh();
        await s.acquireLease('run', 'a', 1000, 0);
        const stale = { name: 'run', token: 1 };
        await s.acquireLease('run', 'b', 1000, 5000);
        const id = await s.beginRun({ ...run, startedAt: 100 });

        await expect(
          s.finishRun(id, { finishedAt: 200, status: 'ok', summary: { n: 1 }, snapshot: new Uint8Array([1]), decisions: [decision()] }, stale),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect(await s.getRun(id)).toMatchObject({ status: 'running', finishedAt: null, summary: {} });
        expect(await s.getDecisions(id)).toEqual([]);
        expect(await s.getSnapshot(id)).toBeNull();

        await expect(s.saveForState([{ rule: 'r', target: 't', since: 1, runs: 1, lastRunId: id }], [], stale)).rejects.toBeInstanceOf(LeaseLostError);
        expect(await s.loadForState()).toEqual([]);

        let called = false;
        await expect(
          s.intentTransaction(stale, async (tx) => {
            called = true;
            return tx.insertIntent(intent({ key: 'k' }));
          }),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect(called).toBe(false);
        expect(await s.listExecutions({ limit: 10 })).toEqual([]);

        // a fence for a lease that never existed is stale too
        await expect(s.saveForState([], [], { name: 'nope', token: 1 })).rejects.toBeInstanceOf(LeaseLostError);
        // the current fence writes
        await s.saveForState([{ rule: 'r', target: 't', since: 1, runs: 1, lastRunId: id }], [], { name: 'run', token: 2 });
        expect(await s.loadForState()).toHaveLength(1);
      });
    });

    describe('runs and decisions', () => {
      it('closing a run ifUnfinished leaves a run that finished meanwhile as it recorded itself', async () => {
        const s = await fresh();
        const done = await s.beginRun({ ...run, startedAt: 100 });
        await s.finishRun(done, { finishedAt: 200, status: 'ok', summary: { n: 1 }, snapshot: new Uint8Array([1]), decisions: [decision()] }, null);
        const open = await s.beginRun({ ...run, startedAt: 150 });
        const close = { finishedAt: 300, status: 'interrupted', summary: { interruptedBy: 9 }, snapshot: null, decisions: [], ifUnfinished: true };
        await s.finishRun(done, close, null);
        await s.finishRun(open, close, null);
        await s.finishRun(424242, close, null); // gone (pruned): nothing to close
        expect(await s.getRun(done)).toMatchObject({ status: 'ok', finishedAt: 200, summary: { n: 1 } });
        expect(await s.getDecisions(done)).toHaveLength(1);
        expect(await s.getSnapshot(done)).toEqual(new Uint8Array([1]));
        expect(await s.getRun(open)).toMatchObject({ status: 'interrupted', finishedAt: 300 });
      });

      it('round-trips a run, its snapshot bytes, summary and decisions (unknown inputs included)', async () => {
        const s = await fresh();
        await s.acquireLease('run', 'host:1', 60_000, 0);
        const id = await s.beginRun({ ...run, startedAt: 1000, shard: 'shard:2' });
        expect(await s.getRun(id)).toEqual({
          id,
          startedAt: 1000,
          finishedAt: null,
          status: 'running',
          mode: 'enforce',
          holder: 'host:1',
          ruleSetHash: 'abc',
          summary: {},
          shard: 'shard:2',
        });
        const snapshot = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
        const ds = [
          decision(),
          decision({ target: 'web-2', outcome: 'blocked', trace: [{ stage: 'guard', reason: 'blast-radius', detail: '5 of 5', stops: true }] }),
          decision({ target: 'web-2', rule: 'page', outcome: 'escalated', actions: undefined }),
        ];
        await s.finishRun(
          id,
          { finishedAt: 2000, status: 'ok', summary: { decisions: 3, sources: { prom: 'ok' } }, snapshot, decisions: ds },
          { name: 'run', token: 1 },
        );
        expect(await s.getRun(id)).toMatchObject({ finishedAt: 2000, status: 'ok', summary: { decisions: 3, sources: { prom: 'ok' } } });
        expect(await s.getSnapshot(id)).toEqual(snapshot);
        const back = await s.getDecisions(id);
        expect(back).toEqual(ds.map((d) => ({ ...d, runId: id })));
        expect(back[0]!.conditions[1]!.inputs).toHaveProperty('db.up', undefined);
        expect('actions' in back[2]!).toBe(false);
        expect(await s.getDecisions(id, { target: 'web-2' })).toHaveLength(2);
        expect(await s.getDecisions(id, { rule: 'page' })).toHaveLength(1);
        expect(await s.getDecisions(id, { target: 'web-2', rule: 'restart-unhealthy' })).toMatchObject([{ outcome: 'blocked' }]);
        expect(await s.getDecisions(id, { target: 'nope' })).toEqual([]);
      });

      it('finishing a run twice replaces its decisions; a null snapshot stores none', async () => {
        const s = await fresh();
        const id = await s.beginRun({ ...run, startedAt: 1 });
        await s.finishRun(id, { finishedAt: 2, status: 'ok', summary: {}, snapshot: new Uint8Array([1, 2]), decisions: [decision(), decision()] }, null);
        await s.finishRun(id, { finishedAt: 3, status: 'failed', summary: {}, snapshot: null, decisions: [decision()] }, null);
        expect(await s.getDecisions(id)).toHaveLength(1);
        expect(await s.getSnapshot(id)).toBeNull();
        expect(await s.getRun(id)).toMatchObject({ status: 'failed', finishedAt: 3 });
      });

      it('lists runs newest first with since/before/limit; unknown run is null', async () => {
        const s = await fresh();
        const ids: number[] = [];
        for (const t of [100, 200, 300, 400]) ids.push(await s.beginRun({ ...run, startedAt: t }));
        expect((await s.listRuns({ limit: 10 })).map((r) => r.startedAt)).toEqual([400, 300, 200, 100]);
        expect((await s.listRuns({ limit: 2 })).map((r) => r.startedAt)).toEqual([400, 300]);
        expect((await s.listRuns({ limit: 10, since: 200, before: 400 })).map((r) => r.startedAt)).toEqual([300, 200]);
        expect(await s.getRun(9999)).toBeNull();
        expect(await s.getSnapshot(9999)).toBeNull();
        expect(ids[0]).toBeLessThan(ids[3]!);
      });

      it('decisionHistory filters by target, rule, since and outcomes, newest first', async () => {
        const s = await fresh();
        for (const [i, t] of [1000, 2000, 3000].entries()) {
          const id = await s.beginRun({ ...run, startedAt: t });
          await s.finishRun(
            id,
            {
              finishedAt: t + 1,
              status: 'ok',
              summary: {},
              snapshot: null,
              decisions: [
                decision({ target: 'web-1', rule: 'restart', outcome: i === 1 ? 'blocked' : 'executed', at: t }),
                decision({ target: 'web-2', rule: 'restart', outcome: 'cooled_down', at: t }),
                decision({ target: 'web-1', rule: 'page', outcome: 'escalated', at: t }),
              ],
            },
            null,
          );
        }
        const h = await s.decisionHistory({ target: 'web-1', limit: 10 });
        expect(h.map((d) => `${d.at}:${d.rule}`)).toEqual(['3000:page', '3000:restart', '2000:page', '2000:restart', '1000:page', '1000:restart']);
        expect((await s.decisionHistory({ rule: 'restart', target: 'web-1', limit: 10 })).map((d) => d.outcome)).toEqual(['executed', 'blocked', 'executed']);
        expect((await s.decisionHistory({ rule: 'restart', since: 2000, limit: 10 })).map((d) => `${d.at}:${d.target}`)).toEqual([
          '3000:web-2',
          '3000:web-1',
          '2000:web-2',
          '2000:web-1',
        ]);
        expect((await s.decisionHistory({ outcomes: ['blocked', 'escalated'], limit: 10 })).map((d) => d.outcome)).toEqual([
          'escalated',
          'escalated',
          'blocked',
          'escalated',
        ]);
        expect(await s.decisionHistory({ target: 'web-1', limit: 2 })).toHaveLength(2);
        expect(await s.decisionHistory({ outcomes: [], limit: 10 })).toEqual([]);
      });

      it('stores a rule set once per hash', async () => {
        const s = await fresh();
        await s.saveRuleSet('h1', { 'rules/a.yaml': 'rules: []\n' });
        await s.saveRuleSet('h1', { 'rules/a.yaml': 'changed' });
        expect(await s.getRuleSet('h1')).toEqual({ 'rules/a.yaml': 'rules: []\n' });
        expect(await s.getRuleSet('h2')).toBeNull();
      });

      it('pruneRuns deletes finished runs before the time with their decisions and snapshots, keeps the rest and the journal', async () => {
        const s = await fresh();
        const old = await s.beginRun({ ...run, startedAt: 100 });
        await s.finishRun(old, { finishedAt: 150, status: 'ok', summary: {}, snapshot: new Uint8Array([9]), decisions: [decision()] }, null);
        const edge = await s.beginRun({ ...run, startedAt: 190 });
        await s.finishRun(edge, { finishedAt: 200, status: 'ok', summary: {}, snapshot: null, decisions: [decision()] }, null);
        const unfinished = await s.beginRun({ ...run, startedAt: 120 });
        await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'k', runId: old })));
        expect(await s.pruneRuns(200)).toBe(1);
        expect(await s.getRun(old)).toBeNull();
        expect(await s.getSnapshot(old)).toBeNull();
        expect(await s.getDecisions(old)).toEqual([]);
        expect(await s.decisionHistory({ limit: 10 })).toHaveLength(1);
        expect(await s.getRun(edge)).not.toBeNull();
        expect(await s.getRun(unfinished)).not.toBeNull();
        expect(await s.listExecutions({ runId: old, limit: 10 })).toHaveLength(1);
        expect(await s.pruneRuns(200)).toBe(0);
      });
    });

    describe('for state', () => {
      it('upserts continuing streaks and deletes ended ones', async () => {
        const s = await fresh();
        await s.saveForState(
          [
            { rule: 'r1', target: 't1', since: 100, runs: 1, lastRunId: 1 },
            { rule: 'r1', target: 't2', since: 100, runs: 1, lastRunId: 1 },
          ],
          [],
          null,
        );
        await s.saveForState(
          [{ rule: 'r1', target: 't1', since: 100, runs: 2, lastRunId: 2 }],
          [
            { rule: 'r1', target: 't2' },
            { rule: 'x', target: 'y' },
          ],
          null,
        );
        expect(await s.loadForState()).toEqual([{ rule: 'r1', target: 't1', since: 100, runs: 2, lastRunId: 2 }]);
      });
    });

    describe('journal', () => {
      it('keeps the shard an intent was journaled under, and nothing for unsharded intents', async () => {
        const s = await fresh();
        const a = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'sharded', shard: 'shard:3/8' })));
        const b = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'plain' })));
        if (!a.inserted || !b.inserted) throw new Error('not inserted');
        expect((await s.getExecution(a.id))?.shard).toBe('shard:3/8');
        expect(await s.getExecution(b.id)).not.toHaveProperty('shard');
        expect((await s.unfinishedExecutions()).map((e) => e.shard ?? null)).toEqual(['shard:3/8', null]);
      });

      it('refuses a second intent with the same key and returns the existing id', async () => {
        const s = await fresh();
        const first = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'r/restart/web-1/w1' })));
        expect(first.inserted).toBe(true);
        const second = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'r/restart/web-1/w1', target: 'other', createdAt: 9_000 })));
        expect(second).toEqual({ inserted: false, existingId: (first as { id: number }).id });
        expect(await s.listExecutions({ limit: 10 })).toHaveLength(1);
        // the refused insert did not move the cooldown
        expect(await s.getCooldown('cd:r/restart/web-1/w1')).toEqual({ lastAt: 1_000, until: 61_000 });
      });

      it('records the intent with status intent, its fields, and sets its cooldown', async () => {
        const s = await fresh();
        const i = intent({ key: 'k1', cooldownKey: 'restart:web-1', cooldownMs: 300_000, createdAt: 50_000, groups: ['service=web', 'region=eu'] });
        const r = await s.intentTransaction(null, async (tx) => {
          expect(await tx.cooldown('restart:web-1')).toBeNull();
          const res = await tx.insertIntent(i);
          expect(await tx.cooldown('restart:web-1')).toEqual({ lastAt: 50_000, until: 350_000 });
          return res;
        });
        if (!r.inserted) throw new Error('not inserted');
        expect(await s.getExecution(r.id)).toEqual({
          ...i,
          id: r.id,
          status: 'intent',
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          httpStatus: null,
          durationMs: null,
          output: null,
          error: null,
        });
        expect(await s.getCooldown('restart:web-1')).toEqual({ lastAt: 50_000, until: 350_000 });
        expect(await s.getExecution(r.id + 1000)).toBeNull();
      });

      it('counts executions by time, rule and action, distinct targets per group, and running per group', async () => {
        const s = await fresh();
        const ids = await s.intentTransaction(null, async (tx) => {
          const out: number[] = [];
          const add = async (i: IntentInput) => {
            const r = await tx.insertIntent(i);
            if (r.inserted) out.push(r.id);
          };
          await add(intent({ key: 'a', target: 'web-1', createdAt: 1000, groups: ['service=web'] }));
          await add(intent({ key: 'b', target: 'web-1', createdAt: 2000, groups: ['service=web'], action: 'drain' }));
          await add(intent({ key: 'c', target: 'web-2', createdAt: 3000, groups: ['service=web', 'region=eu'] }));
          await add(intent({ key: 'd', target: 'db-1', createdAt: 3000, groups: ['service=db'], rule: 'other' }));
          return out;
        });
        await s.intentTransaction(null, async (tx) => {
          expect(await tx.countExecutions({ since: 0 })).toBe(4);
          expect(await tx.countExecutions({ since: 2000 })).toBe(3); // inclusive
          expect(await tx.countExecutions({ since: 0, rule: 'restart-unhealthy' })).toBe(3);
          expect(await tx.countExecutions({ since: 0, rule: 'restart-unhealthy', action: 'drain' })).toBe(1);
          expect(await tx.countTargetsInGroup('service=web', 0)).toBe(2);
          expect(await tx.countTargetsInGroup('service=web', 2500)).toBe(1);
          expect(await tx.countTargetsInGroup('region=eu', 0)).toBe(1);
          expect(await tx.countTargetsInGroup('nope', 0)).toBe(0);
          expect(await tx.countTargetsInGroup('service=web', 0, { rule: 'restart-unhealthy' })).toBe(2);
          expect(await tx.countTargetsInGroup('service=web', 0, { rule: 'other' })).toBe(0);
          expect(await tx.countTargetsInGroup('service=web', 0, { rule: 'restart-unhealthy', except: 'web-1' })).toBe(1);
          expect(await tx.countTargetsInGroup('service=web', 0, { except: 'web-2' })).toBe(1);
          expect(await tx.countRunningInGroup('service=web')).toBe(3);
        });
        await s.markRunning(ids[0]!, 4000);
        await s.finishExecution(ids[1]!, { status: 'succeeded', durationMs: 5, output: 'ok', finishedAt: 4001 });
        await s.intentTransaction(null, async (tx) => {
          expect(await tx.countRunningInGroup('service=web')).toBe(2); // one intent, one running
          expect(await tx.countExecutions({ since: 0 })).toBe(4); // finished ones still count
        });
      });

      it('runs, finishes and lists executions; recentOutcomes are newest finished first', async () => {
        const s = await fresh();
        const ids: number[] = [];
        for (let k = 0; k < 5; k++) {
          const r = await s.intentTransaction(null, (tx) =>
            tx.insertIntent(intent({ key: `k${k}`, createdAt: 100 + k, target: `t${k % 2}`, runId: 1 + (k % 2) })),
          );
          if (r.inserted) ids.push(r.id);
        }
        await s.markRunning(ids[0]!, 200);
        await s.finishExecution(ids[0]!, { status: 'failed', exitCode: 1, durationMs: 12, output: 'boom\n', error: 'exit 1', finishedAt: 300 });
        await s.finishExecution(ids[1]!, { status: 'succeeded', exitCode: 0, durationMs: 3, output: '', finishedAt: 250 });
        await s.finishExecution(ids[2]!, { status: 'timed_out', durationMs: 3, output: '', finishedAt: 400 });
        await s.finishExecution(ids[3]!, { status: 'succeeded', httpStatus: 204, durationMs: 3, output: '', finishedAt: 400 });
        expect(await s.recentOutcomes('restart-unhealthy', 10)).toEqual(['succeeded', 'timed_out', 'failed', 'succeeded']);
        expect(await s.recentOutcomes('restart-unhealthy', 2)).toEqual(['succeeded', 'timed_out']);
        expect(await s.recentOutcomes('other', 2)).toEqual([]);
        expect(await s.getExecution(ids[0]!)).toMatchObject({
          status: 'failed',
          startedAt: 200,
          finishedAt: 300,
          exitCode: 1,
          durationMs: 12,
          output: 'boom\n',
          error: 'exit 1',
        });
        expect(await s.getExecution(ids[3]!)).toMatchObject({ status: 'succeeded', httpStatus: 204, exitCode: null });
        expect((await s.listExecutions({ limit: 10 })).map((e) => e.key)).toEqual(['k4', 'k3', 'k2', 'k1', 'k0']);
        expect((await s.listExecutions({ target: 't0', limit: 10 })).map((e) => e.key)).toEqual(['k4', 'k2', 'k0']);
        expect((await s.listExecutions({ runId: 2, limit: 10 })).map((e) => e.key)).toEqual(['k3', 'k1']);
        expect((await s.listExecutions({ since: 103, limit: 1 })).map((e) => e.key)).toEqual(['k4']);
        expect(await s.listExecutions({ rule: 'nope', limit: 10 })).toEqual([]);
        await expect(s.finishExecution(ids[0]!, { status: 'succeeded', durationMs: 1, output: '', finishedAt: 500 })).rejects.toBeInstanceOf(
          JournalConflictError,
        );
        await expect(s.markRunning(9999, 1)).rejects.toBeInstanceOf(JournalConflictError);
      });

      it('lists unfinished executions and marks them interrupted; an interrupted one cannot start but can still record its real outcome', async () => {
        const s = await fresh();
        const [a, b, c] = await s.intentTransaction(null, async (tx) => {
          const out: number[] = [];
          for (const key of ['a', 'b', 'c']) {
            const r = await tx.insertIntent(intent({ key }));
            if (r.inserted) out.push(r.id);
          }
          return out;
        });
        await s.markRunning(b!, 10);
        await s.finishExecution(c!, { status: 'succeeded', durationMs: 1, output: '', finishedAt: 11 });
        expect((await s.unfinishedExecutions()).map((e) => [e.key, e.status])).toEqual([
          ['a', 'intent'],
          ['b', 'running'],
        ]);
        await s.markInterrupted([a!, b!, c!], 'runner crashed; outcome unknown', 20);
        expect(await s.unfinishedExecutions()).toEqual([]);
        expect(await s.getExecution(a!)).toMatchObject({ status: 'interrupted', error: 'runner crashed; outcome unknown', finishedAt: 20 });
        expect(await s.getExecution(c!)).toMatchObject({ status: 'succeeded', finishedAt: 11 }); // finished ones untouched
        await expect(s.markRunning(a!, 30)).rejects.toBeInstanceOf(JournalConflictError);
        await s.finishExecution(b!, { status: 'succeeded', durationMs: 20, output: 'done', finishedAt: 31 });
        expect(await s.getExecution(b!)).toMatchObject({ status: 'succeeded', finishedAt: 31, output: 'done' });
        // the interrupted intent's cooldown still counts
        expect(await s.getCooldown('cd:a')).not.toBeNull();
        await s.markInterrupted([], 'nothing', 40);
      });

      it('keeps nothing when the intent transaction callback throws', async () => {
        const s = await fresh();
        await expect(
          s.intentTransaction(null, async (tx) => {
            await tx.insertIntent(intent({ key: 'k' }));
            throw new Error('guard failed');
          }),
        ).rejects.toThrow('guard failed');
        expect(await s.listExecutions({ limit: 10 })).toEqual([]);
        expect(await s.getCooldown('cd:k')).toBeNull();
        // the store is usable afterwards and the key is free
        expect(await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'k' })))).toMatchObject({ inserted: true });
      });

      it('refuses the tx object after the transaction and store calls from inside it, without hanging', async () => {
        const s = await fresh();
        let kept: Parameters<Parameters<Store['intentTransaction']>[1]>[0] | undefined;
        await s.intentTransaction(null, async (tx) => {
          kept = tx;
        });
        await expect(kept!.getSwitch()).rejects.toThrow(/over/);
        await expect(s.intentTransaction(null, async () => s.getSwitch())).rejects.toThrow(/tx/);
        expect(await s.getSwitch()).toMatchObject({ off: false });
      });

      it('serializes concurrent intent transactions of one store object: a shared limit holds', async () => {
        const s = await fresh();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            s.intentTransaction(null, async (tx) => {
              const n = await tx.countExecutions({ since: 0 });
              await new Promise((r) => setTimeout(r, 1));
              if (n >= 5) return false;
              return (await tx.insertIntent(intent({ key: `k${i}` }))).inserted;
            }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(5);
        expect(await s.listExecutions({ limit: 100 })).toHaveLength(5);
      });

      it('exposes switch, active disables and the store clock inside the transaction', async () => {
        const s = await fresh();
        await s.setSwitch({ off: true, by: 'ann', reason: 'incident', at: 1, until: null });
        await s.addDisable({ scope: 'rule', value: 'r', selector: null, by: 'ann', reason: 'x', createdAt: 1, until: null });
        await s.addDisable({ scope: 'rule', value: 'old', selector: null, by: 'ann', reason: 'x', createdAt: 1, until: 2 });
        await s.intentTransaction(null, async (tx) => {
          expect(typeof tx.now).toBe('number');
          expect(await tx.getSwitch()).toMatchObject({ off: true, by: 'ann' });
          expect((await tx.activeDisables()).map((d) => d.value)).toEqual(['r']);
        });
      });
    });

    describe('cooldowns and source cache', () => {
      it('sets, overwrites and lists active cooldowns (until == activeAt has ended)', async () => {
        const s = await fresh();
        await s.setCooldown('a', 100, 200);
        await s.setCooldown('b', 100, 300);
        await s.setCooldown('a', 150, 250);
        expect(await s.getCooldown('a')).toEqual({ lastAt: 150, until: 250 });
        expect(await s.getCooldown('zzz')).toBeNull();
        expect(await s.listCooldowns(250)).toEqual([{ key: 'b', lastAt: 100, until: 300 }]);
        expect((await s.listCooldowns(0)).map((c) => c.key)).toEqual(['a', 'b']);
      });

      it('caches source payloads as bytes', async () => {
        const s = await fresh();
        expect(await s.getSourceCache('prom')).toBeNull();
        const payload = new TextEncoder().encode('{"x":1}\u0000\u00ff');
        await s.setSourceCache('prom', 10, payload);
        await s.setSourceCache('prom', 20, payload);
        expect(await s.getSourceCache('prom')).toEqual({ at: 20, payload });
      });
    });

    describe('switch, disables, audit', () => {
      it('the switch is on until set off, and records who, why and until', async () => {
        const s = await fresh();
        expect(await s.getSwitch()).toEqual({ off: false, by: null, reason: null, at: null, until: null });
        await s.setSwitch({ off: true, by: 'ann', reason: 'incident 42', at: 100, until: 1000 });
        expect(await s.getSwitch()).toEqual({ off: true, by: 'ann', reason: 'incident 42', at: 100, until: 1000 });
        await s.setSwitch({ off: false, by: 'bob', reason: 'over', at: 200, until: null });
        expect(await s.getSwitch()).toEqual({ off: false, by: 'bob', reason: 'over', at: 200, until: null });
      });

      it('a disable is active until its expiry (until == now is expired) or its removal', async () => {
        const s = await fresh();
        const id1 = await s.addDisable({ scope: 'rule', value: 'restart', selector: null, by: 'ann', reason: 'flaky', createdAt: 100, until: 1000 });
        const id2 = await s.addDisable({
          scope: 'selector',
          value: 'customer=acme,tier=gold',
          selector: { customer: 'acme', tier: 'gold' },
          by: 'bob',
          reason: 'migration',
          createdAt: 100,
          until: null,
        });
        expect((await s.listDisables({ activeAt: 999 })).map((d) => d.id)).toEqual([id1, id2]);
        expect((await s.listDisables({ activeAt: 1000 })).map((d) => d.id)).toEqual([id2]);
        expect((await s.listDisables({ activeAt: 1000 }))[0]).toEqual({
          id: id2,
          scope: 'selector',
          value: 'customer=acme,tier=gold',
          selector: { customer: 'acme', tier: 'gold' },
          by: 'bob',
          reason: 'migration',
          createdAt: 100,
          until: null,
          removedAt: null,
          removedBy: null,
        });
        const lifted = await s.removeDisables({ scope: 'selector', value: 'customer=acme,tier=gold' }, 'carol', 500);
        expect(lifted).toMatchObject([{ id: id2, removedAt: 500, removedBy: 'carol' }]);
        expect(await s.removeDisables({ id: id2 }, 'carol', 501)).toEqual([]); // already lifted
        expect(await s.removeDisables({ id: id1 }, 'carol', 1000)).toEqual([]); // already expired
        expect((await s.listDisables({ activeAt: 600 })).map((d) => d.id)).toEqual([id1]);
        expect(await s.listDisables({})).toHaveLength(2);
        await expect(s.removeDisables({}, 'carol', 1)).rejects.toThrow(/empty match/);
      });

      it('appends audit entries and lists them newest first', async () => {
        const s = await fresh();
        await s.appendAudit({ at: 100, by: 'ann', action: 'disable', detail: { scope: 'rule', value: 'r' } });
        await s.appendAudit({ at: 200, by: 'bob', action: 'switch-off', detail: {} });
        await s.appendAudit({ at: 200, by: 'bob', action: 'switch-on', detail: { why: 'ok' } });
        const a = await s.listAudit(10);
        expect(a.map((e) => e.action)).toEqual(['switch-on', 'switch-off', 'disable']);
        expect(a[2]).toMatchObject({ at: 100, by: 'ann', detail: { scope: 'rule', value: 'r' } });
        expect(await s.listAudit(1)).toHaveLength(1);
      });
    });

    describe('escalations', () => {
      it('deduplicates while open, and a new open after resolve is new again', async () => {
        const s = await fresh();
        expect(await s.openEscalation({ dedupKey: 'svc:web', channel: 'pager', summary: 'web down', at: 100 })).toEqual({ isNew: true });
        expect(await s.openEscalation({ dedupKey: 'svc:web', channel: 'pager', summary: 'web still down', at: 200 })).toEqual({ isNew: false });
        expect(await s.openEscalation({ dedupKey: 'svc:db', channel: 'pager', summary: 'db', at: 150 })).toEqual({ isNew: true });
        expect(await s.listEscalations({ status: 'open', limit: 10 })).toEqual([
          { dedupKey: 'svc:web', channel: 'pager', status: 'open', summary: 'web still down', firstAt: 100, lastAt: 200, count: 2, resolvedAt: null },
          { dedupKey: 'svc:db', channel: 'pager', status: 'open', summary: 'db', firstAt: 150, lastAt: 150, count: 1, resolvedAt: null },
        ]);
        expect(await s.resolveEscalation('svc:web', 300)).toBe(true);
        expect(await s.resolveEscalation('svc:web', 301)).toBe(false);
        expect(await s.resolveEscalation('never', 301)).toBe(false);
        expect(await s.openEscalation({ dedupKey: 'svc:web', channel: 'pager', summary: 'again', at: 400 })).toEqual({ isNew: true });
        expect((await s.listEscalations({ status: 'resolved', limit: 10 })).map((e) => [e.dedupKey, e.resolvedAt, e.count])).toEqual([['svc:web', 300, 2]]);
        expect((await s.listEscalations({ limit: 10 })).map((e) => `${e.dedupKey}:${e.status}`)).toEqual(['svc:web:open', 'svc:web:resolved', 'svc:db:open']);
        expect(await s.listEscalations({ limit: 1 })).toHaveLength(1);
      });
    });

    it('a closed store refuses further use', async () => {
      const s = await makeStore();
      await s.migrate();
      await s.close();
      await expect(s.getSwitch()).rejects.toThrow(/closed/);
      await s.close(); // closing twice is harmless
    });
  });
}
