import { formatDuration } from '../util/duration.js';
import { cooldownOf } from '../pipeline/decision.js';
import { REASON } from '../pipeline/reasons.js';
import { stop } from '../pipeline/types.js';
import { failClosed, type Guard } from './types.js';

/** The verdict for a cooldown still in force (`until` after now), or null. A cooldown whose end equals now has ended. */
export function cooldownVerdict(action: string, target: string, c: { lastAt: number; until: number } | null, now: number): string | null {
  if (!c || c.until <= now) return null;
  return `cooling down: ${action} ran on ${target} ${formatDuration(now - c.lastAt)} ago; cooldown ${formatDuration(c.until - c.lastAt)}, ${formatDuration(c.until - now)} left`;
}

/** Above this many decisions, the cooldowns in force are read at once instead of one by one. */
const BATCH = 64;

export const cooldownGuard: Guard = {
  name: 'cooldown',
  async check(ctx, live) {
    let inForce: Map<string, { lastAt: number; until: number }> | null = null;
    if (live.length > BATCH) {
      try {
        inForce = new Map((await ctx.store.listCooldowns(ctx.now)).map((c) => [c.key, c]));
      } catch (err) {
        failClosed(ctx, live, 'cooldown', err);
        return;
      }
    }
    for (const d of live) {
      if (d.outcome !== 'matched') continue; // stopped already (the cooldown stage re-applies this guard)
      for (let i = 0; i < d.rule.steps.length; i++) {
        const { key } = cooldownOf(ctx, d, i);
        let c: { lastAt: number; until: number } | null;
        try {
          c = inForce ? (inForce.get(key) ?? null) : await ctx.store.getCooldown(key);
        } catch (err) {
          failClosed(ctx, [d], 'cooldown', err);
          break;
        }
        const v = cooldownVerdict(d.rule.steps[i]!.action, d.target.id, c, ctx.now);
        if (v) {
          stop(d, 'cooldown', REASON.COOLDOWN, v, 'cooled_down');
          break;
        }
      }
    }
  },
};
