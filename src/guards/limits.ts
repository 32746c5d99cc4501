// Limits: guardrails that count (blast radius, group limits, the min-healthy floor, the run's budget), applied together per decision.
import { REASON, type Reason } from '../pipeline/reasons.js';
import { actionOrder } from '../pipeline/decision.js';
import { stop, type RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import type { ExecutionRecord } from '../store/types.js';
import { parseDuration } from '../util/duration.js';
import { parseLimit, windowStart } from './numbers.js';
import { failClosed, isShadow, type Guard } from './types.js';

export interface LimitVerdict {
  reason: Reason;
  detail: string;
  /** `deferred` for the budget (the decision waits for the next run); `blocked` otherwise. */
  outcome: 'blocked' | 'deferred';
}

/** One limit's view of the run, loaded once: whether a decision fits, and counting it when it will act. */
export interface LimitState {
  check(d: Decision): LimitVerdict | null;
  admit(d: Decision): void;
}

export interface Limit {
  readonly name: string;
  /** Read what the limit counts (throws when its state cannot be read: the limits then fail closed). Null: the limit is off. */
  load(ctx: RunContext, live: Decision[]): Promise<LimitState | null>;
}

/** The earliest start of any limit's window: what the limits read from the journal. */
function earliestWindowStart(ctx: RunContext): number {
  const b = ctx.project.config.guardrails.blast_radius;
  const windows = [parseLimit(b.per_rule).windowMs, parseDuration(b.window)];
  if (b.per_action) windows.push(parseLimit(b.per_action).windowMs);
  for (const r of ctx.ruleSet.rules) if (r.limits.blastRadius) windows.push(r.limits.blastRadius.windowMs);
  return windowStart(ctx.now, Math.max(...windows));
}

/**
 * Executions recorded in any limit's window, and those still in intent or running whatever their age, read
 * once per run and shared by the limits (each keeps what its own window covers). The read is bounded; the
 * intent transaction counts exactly in any case.
 */
export async function recentExecutions(ctx: RunContext): Promise<ExecutionRecord[]> {
  let p = ctx.recentExecutions;
  if (!p) {
    p = ctx.recentExecutions = (async () => {
      const [windowed, unfinished] = await Promise.all([
        ctx.store.listExecutions({ since: earliestWindowStart(ctx), limit: 50_000 }),
        ctx.store.unfinishedExecutions(),
      ]);
      const seen = new Set(windowed.map((e) => e.id));
      return [...windowed, ...unfinished.filter((e) => !seen.has(e.id))];
    })();
  }
  return p;
}

/**
 * Applies every limit to each decision in the order actions run (highest severity first, then rule order,
 * then target id): a decision acts only if it fits every limit, and only then is it counted by all of them.
 * Enforced decisions go first; decisions of rules in dry-run (shadow) mode then share what is left, as they
 * would if promoted, and can never take anything from a real one.
 */
export function limitsGuard(limits: readonly Limit[]): Guard {
  return {
    name: 'limits',
    async check(ctx, live) {
      const states: LimitState[] = [];
      /** The approval guard each state answers to: a person's approval lets a decision past its limit (docs/approvals.md). */
      const approvable: ('limit' | 'budget')[] = [];
      for (const l of limits) {
        try {
          const s = await l.load(ctx, live);
          if (s) states.push(s), approvable.push(l.name === 'budget' ? 'budget' : 'limit');
        } catch (err) {
          failClosed(ctx, live, l.name, err);
          return;
        }
      }
      const ordered = [...live].sort(actionOrder);
      for (const shadow of [false, true]) {
        for (const d of ordered) {
          if (isShadow(ctx, d) !== shadow || d.outcome !== 'matched') continue;
          let hit: LimitVerdict | null = null;
          for (let i = 0; i < states.length; i++) {
            hit = states[i]!.check(d);
            if (hit && d.approval?.guard === approvable[i]) {
              d.trace.push({ stage: 'guard', reason: REASON.APPROVAL_APPROVED, detail: `${hit.detail}: approved by ${d.approval.by} (#${d.approval.id})` });
              hit = null;
              continue;
            }
            if (hit) break;
          }
          if (hit) stop(d, 'guard', hit.reason, hit.detail, hit.outcome);
          else for (const s of states) s.admit(d); // shadow ones too: they come after every enforced one
        }
      }
    },
  };
}
