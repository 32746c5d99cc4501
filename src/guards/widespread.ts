// Breakers on the state of the world: a widespread problem in a group, or facts that look implausible (a monitoring outage).
import type { Target } from '../model.js';
import { fleetDecisions } from '../pipeline/decision.js';
import { REASON } from '../pipeline/reasons.js';
import { stop, type RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import { BREAKER_KEY_PREFIX, queueBreakerMessage, queueResolve } from './escalate.js';
import { exceedsFraction, fractionText, percent } from './numbers.js';
import type { Guard } from './types.js';

/** A group of targets for the widespread breaker: one kind, and one label value (or all targets of the kind). */
export interface ProblemGroup {
  key: string;
  kind: string;
  /** `service=checkout`, or null for all targets of the kind. */
  label: string | null;
  size: number;
  problems: number;
}

/** Targets with a problem: the `when` conditions of an acting rule (not a derive rule) held for them in this run. */
export function problemTargets(decisions: Decision[]): Set<string> {
  const out = new Set<string>();
  for (const d of decisions) if (d.problem && !d.rule.derive) out.add(d.target.id);
  return out;
}

const groupKey = (kind: string, label: string | null) => `${kind}/${label ?? '*'}`;

/** The groups a target belongs to, most specific first: one per `widespread.group_by` label it has, then all of its kind. */
export function problemGroupKeys(ctx: Pick<RunContext, 'project'>, t: Target): string[] {
  const out: string[] = [];
  for (const l of ctx.project.config.guardrails.widespread.group_by) {
    const v = t.labels[l];
    if (v !== undefined) out.push(groupKey(t.kind, `${l}=${v}`));
  }
  out.push(groupKey(t.kind, null));
  return out;
}

/** Every group of this run with its size and how many of its targets have a problem. */
export function problemGroups(ctx: Pick<RunContext, 'project' | 'targets' | 'decisions'>): Map<string, ProblemGroup> {
  const problems = problemTargets(ctx.decisions);
  const labels = [...new Set(ctx.project.config.guardrails.widespread.group_by)];
  // kind -> its group of all, and label -> value -> group: no key text is built per target (a million of them, a
  // few groups). Groups are listed in the order problemGroupKeys gives them, first target first, as ever.
  const byKind = new Map<string, { all: ProblemGroup | null; by: Map<string, ProblemGroup>[] }>();
  const order: ProblemGroup[] = [];
  const group = (kind: string, label: string | null): ProblemGroup => {
    const g = { key: groupKey(kind, label), kind, label, size: 0, problems: 0 };
    order.push(g);
    return g;
  };
  for (const t of ctx.targets) {
    let k = byKind.get(t.kind);
    if (!k) byKind.set(t.kind, (k = { all: null, by: labels.map(() => new Map<string, ProblemGroup>()) }));
    const bad = problems.has(t.id);
    for (let i = 0; i < labels.length; i++) {
      const v = t.labels[labels[i]!];
      if (v === undefined) continue;
      const m = k.by[i]!;
      let g = m.get(v);
      if (!g) m.set(v, (g = group(t.kind, `${labels[i]}=${v}`)));
      g.size++;
      if (bad) g.problems++;
    }
    const all = (k.all ??= group(t.kind, null));
    all.size++;
    if (bad) all.problems++;
  }
  const groups = new Map<string, ProblemGroup>();
  for (const g of order) groups.set(g.key, g);
  return groups;
}

/** Whether a group trips the breaker: at least `min_targets` with a problem, and more than `fraction` of it (or than `max_targets`). */
export function tripped(ctx: Pick<RunContext, 'project'>, g: ProblemGroup): boolean {
  const w = ctx.project.config.guardrails.widespread;
  if (g.problems < w.min_targets) return false;
  return exceedsFraction(g.problems, g.size, w.fraction) || (w.max_targets !== undefined && g.problems > w.max_targets);
}

function groupText(g: ProblemGroup): string {
  return `${g.kind} targets ${g.label ? `with ${g.label}` : 'in total'}`;
}

export function widespreadDetail(ctx: Pick<RunContext, 'project'>, g: ProblemGroup): string {
  const w = ctx.project.config.guardrails.widespread;
  const over = exceedsFraction(g.problems, g.size, w.fraction)
    ? `more than the limit of ${fractionText(w.fraction)}`
    : `more than the limit of ${w.max_targets} targets`;
  return `widespread problem: ${g.problems} of ${g.size} ${groupText(g)} (${percent(g.problems, g.size)}) have a problem, ${over} (breaker trips from ${w.min_targets}): no individual action for this group, one escalation instead`;
}

const WIDESPREAD_PREFIX = `${BREAKER_KEY_PREFIX}widespread/`;

export const widespreadGuard: Guard = {
  name: 'breaker:widespread',
  always: true,
  async check(ctx, live) {
    // Over the whole fleet: a sharded run also counts the problems of other shards' targets (docs/scale-out.md).
    const groups = problemGroups({ ...ctx, decisions: fleetDecisions(ctx) });
    const trippedKeys = new Set<string>();
    for (const g of groups.values()) if (tripped(ctx, g)) trippedKeys.add(g.key);
    // Each stopped decision belongs to one message: its most specific tripped group.
    const byGroup = new Map<string, Decision[]>();
    const details = new Map<string, string>();
    if (trippedKeys.size) {
      for (const d of live) {
        const key = problemGroupKeys(ctx, d.target).find((k) => trippedKeys.has(k));
        if (!key) continue;
        let detail = details.get(key);
        if (detail === undefined) details.set(key, (detail = widespreadDetail(ctx, groups.get(key)!)));
        stop(d, 'guard', REASON.BREAKER_WIDESPREAD, detail, 'blocked');
        let list = byGroup.get(key);
        if (!list) byGroup.set(key, (list = []));
        list.push(d);
      }
    }
    for (const [key, decisions] of byGroup) {
      const g = groups.get(key)!;
      queueBreakerMessage(ctx, {
        dedupKey: WIDESPREAD_PREFIX + key,
        summary: `${percent(g.problems, g.size)} of ${groupText(g)} have a problem (${g.problems} of ${g.size}): not acting on them individually`,
        decisions,
        details: { breaker: REASON.BREAKER_WIDESPREAD, group: key, problems: g.problems, size: g.size },
      });
    }
    // A group this run saw that is no longer tripped: its open escalation resolves.
    queueResolve(ctx, WIDESPREAD_PREFIX, (k) => {
      const key = k.slice(WIDESPREAD_PREFIX.length);
      return groups.has(key) && !trippedKeys.has(key);
    });
  },
};

/** Targets that some acting rule applies to (kind and selector), counted up to `stopAt`. */
function targetsWithRules(ctx: Pick<RunContext, 'ruleSet' | 'targets'>, stopAt: number): number {
  let n = 0;
  for (const t of ctx.targets) {
    const rules = ctx.ruleSet.byKind.get(t.kind);
    if (!rules?.some((r) => !r.derive && (!r.selector || r.selector(t.labels)))) continue;
    if (++n > stopAt) return n;
  }
  return n;
}

const IMPLAUSIBLE_KEY = `${BREAKER_KEY_PREFIX}implausible`;

/**
 * Every target that rules apply to (at least `widespread.min_targets` of them) has a problem or an
 * unknown decision at once: more likely the monitoring is broken than the whole fleet. Nothing acts.
 */
export function implausible(ctx: Pick<RunContext, 'project' | 'ruleSet' | 'targets' | 'decisions'>): { troubled: number; total: number } | null {
  const w = ctx.project.config.guardrails.widespread;
  if (!w.implausible) return null;
  const troubled = new Set<string>();
  for (const d of ctx.decisions) if (!d.rule.derive && (d.problem || d.outcome === 'unknown')) troubled.add(d.target.id);
  if (troubled.size < w.min_targets) return null;
  const total = targetsWithRules(ctx, troubled.size);
  return total === troubled.size ? { troubled: troubled.size, total } : null;
}

export const implausibleGuard: Guard = {
  name: 'breaker:implausible',
  always: true,
  async check(ctx, live) {
    const hit = implausible({ ...ctx, decisions: fleetDecisions(ctx) });
    if (!hit) {
      queueResolve(ctx, IMPLAUSIBLE_KEY, () => ctx.targets.length > 0);
      return;
    }
    const detail = `implausible facts: all ${hit.total} targets that rules apply to have a problem or unknown facts at once (breaker trips from ${ctx.project.config.guardrails.widespread.min_targets}); more likely a monitoring outage than a fleet-wide failure: nothing acts, one escalation instead`;
    for (const d of live) stop(d, 'guard', REASON.BREAKER_IMPLAUSIBLE, detail, 'blocked');
    if (live.length === 0) return;
    queueBreakerMessage(ctx, {
      dedupKey: IMPLAUSIBLE_KEY,
      summary: `all ${hit.total} targets look broken or unknown at once: check the monitoring; Reflex is not acting`,
      decisions: live,
      details: { breaker: REASON.BREAKER_IMPLAUSIBLE, troubled: hit.troubled, total: hit.total },
    });
  },
};
