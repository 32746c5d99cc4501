// Verification, pure: does the problem an execution was for persist on this run's facts, and what does that make of it.
import type { ConditionResult, FactValue, Target } from '../model.js';
import type { Activation } from '../rules/context.js';
import { Explainer } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import type { VerificationRecord } from '../store/types.js';
import { formatDuration } from '../util/duration.js';

export type Look =
  | { fixed: true; facts: Record<string, FactValue | undefined> }
  | { fixed: false; still: string; facts: Record<string, FactValue | undefined> }
  | { fixed: 'unknown'; why: string };

const explainer = new Explainer({ factSources: {}, sourceProblems: {} });

function factsOf(cs: ConditionResult[]): Record<string, FactValue | undefined> {
  const out: Record<string, FactValue | undefined> = {};
  for (const c of cs) Object.assign(out, c.inputs ?? {});
  return out;
}

/**
 * Whether the rule's problem is gone for the target on this run's facts: `expect` holds, or (by default) the rule's
 * `when` no longer holds. Unknown facts judge nothing.
 */
export function look(rule: CompiledRule, t: Target, act: Activation): Look {
  const v = rule.verify;
  if (v?.expect) {
    const [c] = explainer.conditions({ ...rule, when: [{ name: 'expect', source: v.expectSource, expr: v.expect }], context: [] }, t, act);
    if (c!.result === 'unknown') return { fixed: 'unknown', why: `verify.expect is unknown: ${c!.unknown ?? 'unknown'}` };
    return c!.result
      ? { fixed: true, facts: factsOf([c!]) }
      : { fixed: false, still: `verify.expect (${v.expectSource}) still does not hold`, facts: factsOf([c!]) };
  }
  return whenHolds(rule, t, act);
}

/** The problem itself: the rule's `when` for the target (fixed when one of its conditions fails). */
export function whenHolds(rule: CompiledRule, t: Target, act: Activation): Look {
  const cs = explainer.conditions({ ...rule, context: [] }, t, act);
  const failed = cs.filter((c) => c.result === false);
  if (failed.length) return { fixed: true, facts: factsOf(failed) };
  const unknown = cs.find((c) => c.result === 'unknown');
  if (unknown) return { fixed: 'unknown', why: `"${unknown.name}" is unknown: ${unknown.unknown ?? 'unknown'}` };
  const [first, ...more] = cs.map((c) => c.name);
  return { fixed: false, still: `still ${first}${more.length ? ` (and ${more.join(', ')})` : ''}`, facts: factsOf(cs) };
}

/** `after 3 runs` / `after 10m` */
function after(v: VerificationRecord, now: number): string {
  return v.withinRuns !== null ? `after ${v.runsChecked} run${v.runsChecked === 1 ? '' : 's'}` : `after ${formatDuration(now - v.startedAt)}`;
}

const plain = (f: Record<string, FactValue | undefined>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(f).map(([k, x]) => [k, x === undefined ? null : x]));

/**
 * A pending verification after one more run's look: passed, still pending (one more run counted, if facts were
 * known), or ineffective once the problem persisted past `within`. Returns the new record (never mutates).
 */
export function judge(v: VerificationRecord, l: Look, now: number): VerificationRecord {
  const next: VerificationRecord = { ...v, checkedAt: now };
  if (l.fixed === 'unknown') return { ...next, detail: `not judged in this run: ${l.why}` };
  if (l.fixed === true) {
    next.runsChecked = v.runsChecked + 1;
    return {
      ...next,
      status: 'passed',
      settledAt: now,
      facts: plain(l.facts),
      detail: `${v.action} on ${v.target} helped: the problem was gone ${formatDuration(now - v.startedAt)} after it (run ${next.runsChecked} of ${v.withinRuns ?? `within ${formatDuration(v.withinMs!)}`})`,
    };
  }
  next.runsChecked = v.runsChecked + 1;
  const over = v.withinRuns !== null ? next.runsChecked >= v.withinRuns : now - v.startedAt >= v.withinMs!;
  if (!over) {
    const left = v.withinRuns !== null ? `${v.withinRuns - next.runsChecked} more run(s)` : `${formatDuration(v.startedAt + v.withinMs! - now)} more`;
    return { ...next, facts: plain(l.facts), detail: `${l.still} (${left} to clear)` };
  }
  return {
    ...next,
    status: 'ineffective',
    settledAt: now,
    facts: plain(l.facts),
    detail: `${v.action} of ${v.target} did not help: ${l.still} ${after(next, now)}`,
  };
}
