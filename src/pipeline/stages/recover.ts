// Recover: executions a crashed run left in `intent` or `running` become `interrupted`, are never re-run, and go to a human.
import type { EscalationMessage } from '../../actions/types.js';
import { REASON } from '../reasons.js';
import type { Stage } from '../types.js';
import { Channels } from './notify.js';

export const recoverStage: Stage = {
  name: 'recover',
  async run(ctx) {
    const left = await ctx.store.unfinishedExecutions();
    if (left.length === 0) return;
    // We hold the lease, so no live runner owns these: their runner died (or lost its lease) mid-way.
    const ids = left.map((e) => e.id);
    if (!ctx.dryRun) await ctx.store.markInterrupted(ids, `found unfinished by run #${ctx.runId}: its runner stopped before recording an outcome; not re-run`, ctx.now);
    ctx.interrupted = ids;
    const channels = new Channels(ctx);
    const to = ctx.project.config.defaults.escalate_to;
    for (const e of left) {
      const detail = `interrupted: execution #${e.id} (${e.action} on ${e.target}, rule ${e.rule}, run #${e.runId}) was ${e.status === 'intent' ? 'about to start' : 'running'} when its run stopped; its outcome is unknown and it will not be re-run automatically`;
      ctx.problems.push({ stage: 'recover', reason: REASON.INTERRUPTED, detail });
      ctx.log.warn(detail);
      if (!to) continue;
      const msg: EscalationMessage = {
        dedupKey: `reflex/interrupted/${e.id}`,
        event: 'trigger',
        summary: `Reflex: outcome unknown for ${e.action} on ${e.target} (execution #${e.id}); check it by hand`,
        severity: 'warning',
        source: 'reflex',
        rule: e.rule,
        target: e.target,
        details: { execution: e.id, status: e.status, describe: e.describe, intentAt: new Date(e.createdAt).toISOString() },
      };
      await channels.send(to, msg);
    }
  },
};
