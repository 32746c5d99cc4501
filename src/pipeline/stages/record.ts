// Record: store the run's snapshot (by change), the decisions it cannot recompute, its summary and the `for` streaks.
import type { Decision } from '../../rules/evaluate.js';
import { toRecord } from '../decision.js';
import type { Stage } from '../types.js';
import { summarize } from '../summary.js';
import { parseDuration } from '../../util/duration.js';

/**
 * What the engine alone decided from the snapshot and the rules, and nothing after it touched: not
 * matched, derived, and unknown decisions that no later stage spoke of. These are recomputed when
 * read (src/explain/recorded.ts), so a run does not store a copy of the fleet's decisions. Everything
 * else is stored: a decision that reached guards, cooldowns or acting, that has actions or an
 * escalation, a pending one (its `for` streak is state, not facts) and a blocked one (the breakers
 * read the troubled targets of earlier runs from the store).
 */
export function recomputable(d: Decision): boolean {
  if (d.outcome !== 'not_matched' && d.outcome !== 'derived' && d.outcome !== 'unknown') return false;
  if (d.actions.length > 0 || d.escalation !== undefined) return false;
  for (const v of d.trace) if (v.stage !== 'evaluate') return false;
  return true;
}

export const recordStage: Stage = {
  name: 'record',
  async run(ctx) {
    const records = [];
    for (const d of ctx.decisions) if (!recomputable(d)) records.push(toRecord(ctx, d));
    const ev = ctx.evaluation;
    // --dry-run is a preview: it records the run for `why`, but moves no `for` streak.
    if (ev && !ctx.dryRun) await ctx.store.saveForState(ev.forUpserts, ev.forDeletes, ctx.fence);
    await ctx.store.finishRun(
      ctx.runId,
      {
        finishedAt: ctx.clock(),
        status: ctx.problems.length ? 'problems' : 'ok',
        // `recorded` tells readers which decisions the run kept (docs/performance.md): the rest are recomputed.
        summary: { ...summarize(ctx), recorded: { decisions: records.length, recomputed: ctx.decisions.length - records.length } },
        snapshot: ctx.snapshot,
        decisions: records,
      },
      ctx.fence,
    );
    // Retention: runs (with their snapshots and decisions) older than `retention.runs`, or beyond the
    // newest `retention.max_runs`, go. The executions journal stays: cooldowns and limits read it.
    const { runs, max_runs } = ctx.project.config.retention;
    const pruned = await ctx.store.pruneRuns(ctx.now - parseDuration(runs), max_runs === undefined ? {} : { keep: max_runs });
    if (pruned) ctx.log.debug(`pruned ${pruned} run(s) (retention: ${runs}${max_runs === undefined ? '' : `, at most ${max_runs} runs`})`);
  },
};
