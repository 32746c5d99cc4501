// Cooldown: a decision whose action ran on this target too recently (in any earlier run, crashed or not) waits.
import type { Decision } from '../../rules/evaluate.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { REASON } from '../reasons.js';
import { live, stop, type RunContext, type Stage } from '../types.js';

/** One cooldown per rule, action and target; its length comes from the step, the action, or the default. */
export function cooldownOf(ctx: Pick<RunContext, 'project'>, d: Decision, step: number): { key: string; ms: number } {
  const s = d.rule.steps[step]!;
  const cfg = ctx.project.config.actions[s.action];
  const ms = parseDuration(s.cooldown ?? cfg?.cooldown ?? ctx.project.config.defaults.cooldown);
  return { key: `action:${d.rule.name}:${s.action}:${d.target.id}`, ms };
}

export const cooldownStage: Stage = {
  name: 'cooldown',
  async run(ctx) {
    for (const d of live(ctx)) {
      for (let i = 0; i < d.rule.steps.length; i++) {
        const { key, ms } = cooldownOf(ctx, d, i);
        const c = await ctx.store.getCooldown(key);
        if (c && c.until > ctx.now) {
          stop(
            d,
            'cooldown',
            REASON.COOLDOWN,
            `cooling down: ${d.rule.steps[i]!.action} ran on ${d.target.id} ${formatDuration(ctx.now - c.lastAt)} ago; cooldown ${formatDuration(ms)}, ${formatDuration(c.until - ctx.now)} left`,
            'cooled_down',
          );
          break;
        }
      }
    }
  },
};
