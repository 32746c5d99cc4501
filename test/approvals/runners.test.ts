// Two runners, one approval, one execution (PostgreSQL): both runs see the approved decision on fresh facts; one acts.
import { afterAll, describe, expect, it } from 'vitest';
import { approve } from '../../src/approvals/decide.js';
import { runOnce } from '../../src/pipeline/run.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/types.js';
import { harness, MIN, REPAIR } from '../guards/harness.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';

const schemas = schemaFactory('approvalruns');
afterAll(() => schemas.dropAll());

if (pgSkipReason !== null) {
  // Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
  // REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
  describe.skip(`two runners and one approval (skipped: ${pgSkipReason})`, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  describe('two runners and one approval (PostgreSQL)', () => {
    it('both runs find the approval usable; exactly one execution is journaled and the approval is used by it', async () => {
      const h = await harness({ rules: [{ ...REPAIR, mode: 'approve' }], targets: [{ id: 'b-1', broken: true }] });
      const schema = schemas.next();
      const a = await openPostgresStore(requirePgUrl(), { schema, now: h.clock });
      await a.migrate();
      const b = await openPostgresStore(requirePgUrl(), { schema, now: h.clock });
      const stores: Store[] = [a, b];
      try {
        const run = (store: Store, lease: string) =>
          runOnce({
            project: h.project,
            ruleSet: h.ruleSet,
            store,
            dryRun: false,
            clock: h.clock,
            executor: h.executor,
            channel: h.channel,
            holder: lease,
            lease,
          });
        const first = await run(a, 'runner-a');
        expect(first.decisions[0]!.outcome).toBe('awaiting_approval');
        await approve(a, 1, { by: 'alice', reason: 'go', now: h.now });
        h.advance(MIN);
        // Two runners that do not share a lease (two schedulers by mistake, or a lease too short): both decide, both try.
        const [ra, rb] = await Promise.all([run(a, 'runner-a'), run(b, 'runner-b')]);
        const outs = [ra, rb].map((r) => r.decisions[0]!.outcome);
        expect(outs.filter((o) => o === 'executed')).toHaveLength(1);
        expect(h.calls).toHaveLength(1);
        const execs = await a.listExecutions({ limit: 10 });
        expect(execs).toHaveLength(1);
        expect(await a.getApproval(1)).toMatchObject({ status: 'used', executionId: execs[0]!.id });
        const loser = [ra, rb].find((r) => r.decisions[0]!.outcome !== 'executed')!;
        expect(['blocked', 'cooled_down']).toContain(loser.decisions[0]!.outcome);
        expect(loser.decisions[0]!.trace.filter((v) => v.stops).pop()!.reason).toMatch(/^(journal:duplicate|cooldown|approval:gone)$/);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await h.store.close();
      }
    });
  });
}
