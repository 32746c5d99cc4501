// Recover: executions a crashed run left in `intent` or `running` become `interrupted`, are never re-run, and go to a human.
import type { EscalationMessage } from '../../actions/types.js';
import type { ExecutionRecord } from '../../store/types.js';
import { REASON } from '../reasons.js';
import { recoverable, staleRuns } from '../shards.js';
import type { RunContext, Stage } from '../types.js';

/**
 * Where a run looks for interrupted executions whose escalation never reached a human: the newest
 * executions of the last week, as `reflex status` does (a bounded read on every run).
 */
const RETRY_LOOKBACK_MS = 7 * 86_400_000;
const RETRY_LOOKBACK_ROWS = 200;

const dedupKeyOf = (e: ExecutionRecord) => `reflex-interrupted/${e.id}`;

/** What the execution was doing when its run stopped (an interrupted one keeps its start time, if it had one). */
const stateWhenStopped = (e: ExecutionRecord) => (e.status === 'interrupted' ? (e.startedAt === null ? 'intent' : 'running') : e.status);

/**
 * Interrupted executions of the last week whose escalation is not open: the channel refused it
 * (a failed send is resolved so that it is tried again) or the recovering run died before sending.
 */
async function notYetEscalated(ctx: RunContext, skip: Set<number>): Promise<ExecutionRecord[]> {
  const recent = (await ctx.store.listExecutions({ since: ctx.now - RETRY_LOOKBACK_MS, limit: RETRY_LOOKBACK_ROWS })).filter(
    (e) => e.status === 'interrupted' && !skip.has(e.id),
  );
  if (recent.length === 0) return [];
  const open = new Set((await ctx.store.listEscalations({ status: 'open', limit: 10_000 })).map((x) => x.dedupKey));
  return recent.filter((e) => !open.has(dedupKeyOf(e))).sort((a, b) => a.id - b.id);
}

export const recoverStage: Stage = {
  name: 'recover',
  async run(ctx) {
    // Only executions whose runner is gone: a sharded run takes its own shards' (other shards' runners may be at
    // work), and nobody takes one journaled under a lease another runner still holds (pipeline/shards.ts).
    const left = await recoverable(ctx, await ctx.store.unfinishedExecutions());
    // We hold the lease, so no live runner owns these: their runner died (or lost its lease) mid-way.
    const ids = left.map((e) => e.id);
    if (ids.length && !ctx.dryRun)
      await ctx.store.markInterrupted(ids, `found unfinished by run #${ctx.runId}: its runner stopped before recording an outcome; not re-run`, ctx.now);
    ctx.interrupted = ids;
    // Runs whose runner died never finished: with the one run lease held, none of them is still at work; with shards,
    // those whose runner holds no lease any more (staleRuns).
    if (!ctx.dryRun) {
      const stale = await staleRuns(
        ctx,
        (await ctx.store.listRuns({ limit: 50 })).filter((r) => r.finishedAt === null),
      );
      for (const r of stale) {
        await ctx.store.finishRun(
          r.id,
          {
            finishedAt: ctx.now,
            status: 'interrupted',
            summary: { ...r.summary, interruptedBy: ctx.runId },
            snapshot: null,
            decisions: [],
            ifUnfinished: true,
          },
          null,
        );
      }
    }
    for (const e of left) {
      const detail = `interrupted: execution #${e.id} (${e.action} on ${e.target}, rule ${e.rule}, run #${e.runId}) was ${e.status === 'intent' ? 'about to start' : 'running'} when its run stopped; its outcome is unknown and it will not be re-run automatically`;
      ctx.problems.push({ stage: 'recover', reason: REASON.INTERRUPTED, detail });
      ctx.log.warn(detail);
    }
    const to = ctx.project.config.defaults.escalate_to;
    if (!to) return;
    // A human hears of every interrupted execution: the ones found now, and earlier ones whose escalation did not get through.
    const retry = await notYetEscalated(ctx, new Set(ids));
    for (const e of retry)
      ctx.log.warn(`execution #${e.id} (${e.action} on ${e.target}) was interrupted and its escalation did not reach ${to}: sending it again`);
    // Sent by the notify stage, after the fence (pipeline/outbox.ts).
    for (const e of [...left, ...retry]) {
      const msg: EscalationMessage = {
        dedupKey: dedupKeyOf(e),
        event: 'trigger',
        summary: `Reflex: outcome unknown for ${e.action} on ${e.target} (execution #${e.id}); check it by hand`,
        at: ctx.now,
        severity: 'warning',
        source: 'reflex',
        rule: e.rule,
        target: e.target,
        details: { execution: e.id, status: stateWhenStopped(e), describe: e.describe, intentAt: new Date(e.createdAt).toISOString() },
      };
      ctx.outbox.messages.push({ channel: to, message: msg, decisions: [], shadow: false });
    }
  },
};
