// Min-healthy floor: no action that would leave fewer than a fraction of a group's targets healthy while it runs.
import { REASON } from '../pipeline/reasons.js';
import { fleetDecisions, groupsOf } from '../pipeline/decision.js';
import type { Decision } from '../rules/evaluate.js';
import { groupSize, targetGroups } from './blast.js';
import { recentExecutions, type Limit, type LimitVerdict } from './limits.js';
import { fractionText, requiredByFraction } from './numbers.js';

/**
 * A target of a group is healthy in this run when no acting rule found a problem on it and none of its
 * decisions is unknown, and no action is running on it. Acting on a target takes it out of the healthy
 * ones until the action is over, so an action may start only if the others still make the floor:
 * healthy after = size − |targets with a problem, unknown or being acted on, and this one|.
 */
export function unavailableTargets(decisions: Decision[]): Set<string> {
  const out = new Set<string>();
  for (const d of decisions) if (!d.rule.derive && (d.problem || d.outcome === 'unknown')) out.add(d.target.id);
  return out;
}

export const minHealthyLimit: Limit = {
  name: 'min healthy',
  async load(ctx) {
    const b = ctx.project.config.guardrails.blast_radius;
    if (b.min_healthy === undefined || b.group_by.length === 0) return null;
    const floor = b.min_healthy;
    // Over the whole fleet: in a sharded run, other shards' targets of the group count too.
    const troubled = unavailableTargets(fleetDecisions(ctx));
    // group -> its targets out of service: troubled in this run, or being acted on
    const busy = new Map<string, Set<string>>();
    const mark = (g: string, target: string) => {
      let s = busy.get(g);
      if (!s) busy.set(g, (s = new Set()));
      s.add(target);
    };
    const present = new Set(ctx.targets.map((t) => t.id));
    for (const e of await recentExecutions(ctx)) {
      if ((e.status === 'intent' || e.status === 'running') && present.has(e.target)) for (const g of e.groups) mark(g, e.target);
    }
    for (const t of ctx.targets) if (troubled.has(t.id)) for (const g of targetGroups(ctx, t)) mark(g, t.id);
    // Out of service in a group if `target` is acted on: its troubled targets, the ones being acted on, and this one.
    const outOf = (g: string, target: string): number => {
      const s = busy.get(g);
      return (s?.size ?? 0) + (s?.has(target) ? 0 : 1);
    };
    return {
      check(d): LimitVerdict | null {
        for (const g of groupsOf(ctx, d)) {
          const size = groupSize(ctx, g);
          const required = requiredByFraction(floor, size);
          const healthy = size - outOf(g, d.target.id);
          if (healthy < required) {
            return {
              reason: REASON.MIN_HEALTHY,
              detail: `min healthy: acting on ${d.target.id} would leave ${Math.max(healthy, 0)} of ${size} targets with ${g} healthy, below the floor of ${fractionText(floor)} (${required})`,
              outcome: 'blocked',
            };
          }
        }
        return null;
      },
      admit(d) {
        for (const g of groupsOf(ctx, d)) mark(g, d.target.id);
      },
    };
  },
};
