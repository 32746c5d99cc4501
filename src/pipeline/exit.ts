// What `reflex run` tells its scheduler (docs/exit-status.md): 0 when automation did its job, 1 when someone should
// look (it could not see, could not act, or stopped itself), whatever it managed to send. A CronJob's or a systemd
// unit's failed state then means something. Configuration, store and lease outcomes have their own codes (errors.ts).
import type { Decision } from '../rules/evaluate.js';
import { REASON, type Reason } from './reasons.js';
import type { RunContext, RunProblem } from './types.js';

/** Breakers: automation stopped itself because the world looked wrong. */
const BREAKERS: ReadonlySet<Reason> = new Set([REASON.BREAKER_WIDESPREAD, REASON.BREAKER_IMPLAUSIBLE, REASON.BREAKER_FAILURES, REASON.BREAKER_STORM]);

const stopOf = (d: Decision) => d.trace.filter((v) => v.stops).pop();

/** One problem per rule and breaker that stopped some of its decisions in this run (never one per target). */
export function breakerProblems(ctx: Pick<RunContext, 'decisions'>): RunProblem[] {
  const seen = new Map<string, RunProblem>();
  for (const d of ctx.decisions) {
    const v = stopOf(d);
    if (!v || !BREAKERS.has(v.reason as Reason)) continue;
    const key = `${d.rule.name}\u0000${v.reason}`;
    if (!seen.has(key)) seen.set(key, { stage: v.stage, reason: v.reason, detail: `rule ${d.rule.name}: ${v.detail}` });
  }
  return [...seen.values()];
}

/**
 * The exit code of a finished run: 1 (problems) when the run recorded a problem (a source failed or is stale, a
 * rule is blind, a breaker tripped, a guardrail could not read its state, an escalation could not be sent, an
 * execution was found interrupted) or an action failed; else 0, also when people switched automation off, limits,
 * cooldowns or the budget held decisions back, or rules are in dry-run (shadow) mode: those work as designed.
 */
export function runExitCode(res: { summary: { problems: readonly RunProblem[] }; decisions: readonly Decision[] }): 0 | 1 {
  return res.summary.problems.length > 0 || res.decisions.some((d) => d.outcome === 'failed') ? 1 : 0;
}
