// The store's approvals and verifications, in both drivers: one live approval per rule and target, state changes only
// from the states named, an approval used at most once (PostgreSQL: by many runners at once), ineffective outcomes.
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { ApprovalInput, Store, VerificationRecord } from '../../src/store/types.js';
import { intent } from '../store/contract.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';

const schemas = schemaFactory('approvals');
afterAll(() => schemas.dropAll());

const ask = (over: Partial<ApprovalInput> = {}): ApprovalInput => ({
  rule: 'repair',
  target: 'b-1',
  guard: 'mode',
  why: 'the rule is in mode: approve',
  severity: 'warning',
  actions: [{ action: 'fix', describe: 'exec ["true"]' }],
  fingerprint: 'f1',
  facts: { 'facts.broken': true },
  askedAt: 1_000,
  askedRun: 1,
  expiresMs: 60_000,
  ...over,
});

const verification = (over: Partial<VerificationRecord> & { executionId: number }): VerificationRecord => ({
  runId: 1,
  rule: 'repair',
  target: 'b-1',
  action: 'fix',
  describe: 'exec ["true"]',
  startedAt: 1_000,
  withinRuns: 3,
  withinMs: null,
  expect: '',
  status: 'pending',
  runsChecked: 0,
  checkedAt: null,
  settledAt: null,
  detail: null,
  facts: null,
  clearedAt: null,
  clearedBy: null,
  ...over,
});

function contract(kind: string, open: () => Promise<Store>) {
  describe(`${kind}: approvals and verifications`, () => {
    it('keeps one live approval per rule and target, and changes state only from the states named', async () => {
      const s = await open();
      try {
        await s.migrate();
        const a = await s.askApproval(ask(), null);
        expect(a).toMatchObject({ created: true, approval: { id: 1, status: 'pending', facts: { 'facts.broken': true } } });
        expect(await s.askApproval(ask({ fingerprint: 'f2' }), null)).toMatchObject({ created: false, approval: { id: 1, fingerprint: 'f1' } });
        expect(await s.changeApproval({ id: 1, from: ['approved'], to: 'used', at: 2_000 }, null)).toBeNull();
        const ok = await s.changeApproval({ id: 1, from: ['pending'], to: 'approved', at: 2_000, by: 'alice', reason: 'ok', expiresAt: 62_000 }, null);
        expect(ok).toMatchObject({ status: 'approved', by: 'alice', reason: 'ok', decidedAt: 2_000, expiresAt: 62_000, closedAt: null });
        // A second live one for the same rule and target is refused while this one is approved.
        expect((await s.askApproval(ask(), null)).created).toBe(false);
        const gone = await s.changeApproval({ id: 1, from: ['approved'], to: 'refused', at: 3_000, note: 'facts changed' }, null);
        expect(gone).toMatchObject({ status: 'refused', note: 'facts changed', closedAt: 3_000, by: 'alice' });
        expect((await s.askApproval(ask({ askedAt: 4_000 }), null)).approval.id).toBe(2);
        expect((await s.listApprovals({ status: ['pending'], limit: 10 })).map((x) => x.id)).toEqual([2]);
        await s.changeApproval({ id: 2, from: ['pending'], to: 'rejected', at: 5_000, by: 'bob', reason: 'no' }, null);
        expect((await s.listApprovals({ status: ['rejected'], uncleared: true, limit: 10 })).map((x) => x.id)).toEqual([2]);
        await s.changeApproval({ id: 2, from: ['rejected'], to: 'rejected', at: 6_000, clear: true }, null);
        expect(await s.listApprovals({ status: ['rejected'], uncleared: true, limit: 10 })).toEqual([]);
      } finally {
        await s.close();
      }
    });

    it('uses an approval once, only while it is approved and not expired, in the intent transaction', async () => {
      const s = await open();
      try {
        await s.migrate();
        await s.askApproval(ask(), null);
        await s.changeApproval({ id: 1, from: ['pending'], to: 'approved', at: 2_000, by: 'alice', reason: 'ok', expiresAt: 10_000 }, null);
        const late = await s.intentTransaction(null, async (tx) => tx.useApproval(1, { runId: 2, executionId: 1, at: 10_000 }));
        expect(late).toBe(false);
        const first = await s.intentTransaction(null, async (tx) => {
          const ins = await tx.insertIntent(intent({ key: 'k1' }));
          return ins.inserted && (await tx.useApproval(1, { runId: 2, executionId: ins.id, at: 5_000 }));
        });
        expect(first).toBe(true);
        expect(await s.getApproval(1)).toMatchObject({ status: 'used', usedRun: 2, executionId: 1, usedAt: 5_000 });
        // A second use rolls its whole transaction back: no intent is kept.
        await expect(
          s.intentTransaction(null, async (tx) => {
            const ins = await tx.insertIntent(intent({ key: 'k2' }));
            if (ins.inserted && !(await tx.useApproval(1, { runId: 3, executionId: ins.id, at: 6_000 }))) throw new Error('gone');
          }),
        ).rejects.toThrow('gone');
        expect((await s.listExecutions({ limit: 10 })).map((e) => e.key)).toEqual(['k1']);
      } finally {
        await s.close();
      }
    });

    it('upserts verifications, lists the open ones, clears ineffective ones, and the failure breaker reads them as ineffective', async () => {
      const s = await open();
      try {
        await s.migrate();
        const id = await s.intentTransaction(null, async (tx) => {
          const ins = await tx.insertIntent(intent({ key: 'v1', rule: 'repair', target: 'b-1' }));
          return ins.inserted ? ins.id : 0;
        });
        await s.markRunning(id, 1_000);
        await s.finishExecution(id, { status: 'succeeded', durationMs: 1, output: '', finishedAt: 1_000 });
        await s.saveVerifications([verification({ executionId: id }), verification({ executionId: 99, target: 'b-2', status: 'passed' })], null);
        expect((await s.listVerifications({ open: true, limit: 10 })).map((v) => v.executionId)).toEqual([id]);
        expect(await s.recentOutcomes('repair', 5)).toEqual(['succeeded']);
        await s.saveVerifications([verification({ executionId: id, status: 'ineffective', runsChecked: 3, detail: 'did not help', facts: { x: 1 } })], null);
        expect(await s.recentOutcomes('repair', 5)).toEqual(['ineffective']);
        expect((await s.listVerifications({ executionIds: [id], limit: 1 }))[0]).toMatchObject({ status: 'ineffective', runsChecked: 3, facts: { x: 1 } });
        await expect(s.clearVerifications({}, 'alice', 2_000)).rejects.toThrow(/needs a rule or a target/);
        expect((await s.clearVerifications({ target: 'b-1' }, 'alice', 2_000)).map((v) => v.clearedBy)).toEqual(['alice']);
        expect(await s.listVerifications({ open: true, limit: 10 })).toEqual([]);
        // Cleared, it still counted: the breaker's count is about what happened.
        expect(await s.recentOutcomes('repair', 5)).toEqual(['ineffective']);
      } finally {
        await s.close();
      }
    });
  });
}

contract('sqlite', async () => openSqliteStore(':memory:'));

if (pgSkipReason !== null) {
  // Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
  // REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
  describe.skip(`postgres approvals (skipped: ${pgSkipReason})`, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  contract('postgres', () => openPostgresStore(requirePgUrl(), { schema: schemas.next() }));

  describe('postgres: many runners, one approval', () => {
    it('8 runners with separate pools race to use one approval, each with its own intent: exactly one execution is journaled', async () => {
      const schema = schemas.next();
      const first = await openPostgresStore(requirePgUrl(), { schema });
      await first.migrate();
      const stores: Store[] = [first];
      for (let i = 1; i < 8; i++) stores.push(await openPostgresStore(requirePgUrl(), { schema, poolSize: 2 }));
      try {
        await first.askApproval(ask(), null);
        await first.changeApproval({ id: 1, from: ['pending'], to: 'approved', at: 2_000, by: 'alice', reason: 'ok', expiresAt: 60_000 }, null);
        const used = await Promise.all(
          stores.map((s, r) =>
            s
              .intentTransaction(null, async (tx) => {
                const ins = await tx.insertIntent(intent({ key: `runner-${r}` }));
                await new Promise((res) => setTimeout(res, 1));
                if (ins.inserted && !(await tx.useApproval(1, { runId: r, executionId: ins.id, at: 3_000 }))) throw new Error('gone');
                return true;
              })
              .catch(() => false),
          ),
        );
        expect(used.filter(Boolean)).toHaveLength(1);
        const execs = await first.listExecutions({ limit: 100 });
        expect(execs).toHaveLength(1);
        expect(await first.getApproval(1)).toMatchObject({ status: 'used', executionId: execs[0]!.id });
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });
}
