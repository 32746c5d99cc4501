// The guard interface: one guardrail, one module, one named reason. Guards run in a fixed order (guards/index.ts).
import type { Decision } from '../rules/evaluate.js';
import { REASON } from '../pipeline/reasons.js';
import { stop, type RunContext } from '../pipeline/types.js';

export interface Guard {
  readonly name: string;
  /**
   * Run even when no decision is on its way to acting (a breaker resolves its escalation when
   * its problem has gone away, whatever else the run found).
   */
  readonly always?: boolean;
  /**
   * Look at the decisions still on their way to acting (outcome `matched`) and stop the ones
   * this guardrail forbids, with a verdict that gives the numbers. Runs once per run, before
   * anything is journaled.
   */
  check(ctx: RunContext, live: Decision[]): Promise<void>;
}

/**
 * Fail closed: a guardrail that cannot read its own state lets nothing through. Every decision
 * it governs is blocked with the cause, and the run reports the problem.
 */
export function failClosed(ctx: RunContext, decisions: Decision[], guard: string, err: unknown): void {
  const detail = `${guard}: its state cannot be read (${ctx.redact((err as Error)?.message ?? String(err))}): nothing it governs acts in this run`;
  for (const d of decisions) stop(d, 'guard', REASON.GUARD_UNREADABLE, detail, 'blocked');
  if (decisions.length) ctx.problems.push({ stage: 'guard', reason: REASON.GUARD_UNREADABLE, detail });
  ctx.log.warn(detail);
}

/** A rule in dry-run (shadow) mode during an enforcing run: guarded and recorded, never executed. */
export function isShadow(ctx: Pick<RunContext, 'dryRun'>, d: Decision): boolean {
  return !ctx.dryRun && d.rule.mode === 'dry-run';
}
