// Record: store the run's snapshot, its decisions and summary, and the `for` streaks, in one transaction each.
import { toRecord } from '../decision.js';
import type { Stage } from '../types.js';
import { summarize } from '../summary.js';
import { parseDuration } from '../../util/duration.js';

export const recordStage: Stage = {
  name: 'record',
  async run(ctx) {
    const snapshot = ctx.snapshot ? await ctx.snapshot : null;
    const records = ctx.decisions.map((d) => toRecord(ctx, d));
    const ev = ctx.evaluation;
    // --dry-run is a preview: it records the run for `why`, but moves no `for` streak.
    if (ev && !ctx.dryRun) await ctx.store.saveForState(ev.forUpserts, ev.forDeletes, ctx.fence);
    await ctx.store.finishRun(
      ctx.runId,
      { finishedAt: ctx.clock(), status: ctx.problems.length ? 'problems' : 'ok', summary: { ...summarize(ctx) }, snapshot, decisions: records },
      ctx.fence,
    );
    // Retention: runs (with their snapshots and decisions) older than `retention.runs` go.
    // The executions journal stays: cooldowns and limits read it.
    const keepMs = parseDuration(ctx.project.config.retention.runs);
    const pruned = await ctx.store.pruneRuns(ctx.now - keepMs);
    if (pruned) ctx.log.debug(`pruned ${pruned} run(s) older than ${ctx.project.config.retention.runs}`);
  },
};
