// The one plain sentence that opens every explanation of a decision: what Reflex did (or did not do), and why.
// Pure: the decision's recorded shape in, a sentence out. `reflex why`, escalation messages and the console share it.
import type { ConditionResult, DecisionOutcome, FactValue, Verdict } from '../model.js';
import { REASON } from '../pipeline/reasons.js';

/** What a sentence needs to know about one decision (live or recorded). */
export interface VerdictInput {
  rule: string;
  target: string;
  outcome: DecisionOutcome;
  conditions: readonly ConditionResult[];
  trace: readonly Verdict[];
  /** The rule's action names, in step order (empty for a rule that only escalates or derives). */
  actions: readonly string[];
  /** The fact a derive rule sets, if it is one. */
  derive?: string | null;
  /** Whether a derive rule has `value:` (without it, a rule that does not match sets the fact to false). */
  deriveValue?: boolean;
  /** The channel the rule escalates to, if any. */
  escalateTo?: string | null;
  /** The decision's value of a derived fact (`derived` outcome). */
  value?: FactValue;
  run: { id: number; at: number; dryRun: boolean };
  /** For a time in the sentence: the clock of the reader; a run of that same UTC day is shown by its time only. */
  asOf?: number;
  /**
   * Where a derived input came from, by the input's key (`facts.stalled`, `depends_on[db-main].facts.storage_slow`):
   * `derived by worker-stalled: backlog (queue_depth = 1840)`. Undefined for inputs a source reported.
   */
  provenance?: (input: string) => string | undefined;
  /**
   * For a message, which carries its run and time itself: the sentence names neither, so the same decision in the
   * next run reads the same (a message's words are stored with the decision, once while they do not change).
   */
  timeless?: boolean;
}

/** How many inputs a sentence names per condition before `...`. */
const INPUTS_PER_CONDITION = 3;

/** One sentence about one decision. */
export function verdictSentence(v: VerdictInput): string {
  const t = v.target;
  const what = v.actions.length ? v.actions.join(' then ') : null;
  const stop = lastStop(v.trace);
  const when = v.conditions.filter((c) => !c.name.startsWith('context.'));
  const because = holding(when, v.provenance);
  const becauseText = because ? ` because ${because}` : '';
  const at = v.timeless ? '' : ` at ${timeOf(v.run.at, v.asOf)} (run ${v.run.id})`;
  const told = toldWhom(v);

  if (v.derive) return derivedSentence(v, when, because);

  switch (v.outcome) {
    case 'executed':
      return `ran ${what ?? 'its actions'} on ${t}${at}${becauseText}${told}`;
    case 'failed':
      if (stop && (stop.reason === REASON.FAILED || stop.reason === REASON.TIMED_OUT))
        return `ran ${what ?? 'its actions'} on ${t}${at} and it ${stop.reason === REASON.TIMED_OUT ? 'timed out' : 'failed'}: ${stopDetail(stop)}${because ? `; it ran because ${because}` : ''}${told}`;
      return `did not run ${what ?? 'its actions'} on ${t}${at}: ${stop ? stopDetail(stop) : 'it failed'}${told}`;
    case 'interrupted':
      return `${what ?? 'an action'} on ${t} was interrupted${at}: ${stop ? stopDetail(stop) : 'its runner stopped'}; a person must check whether it took effect`;
    case 'dry_run': {
      const why = dryRunWhy(v.trace, v.run, v.timeless);
      if (!what) return `would page ${v.escalateTo ?? 'a person'} about ${t} (${why}: nothing was sent)${becauseText}`;
      return `would run ${what} on ${t} (${why}: nothing ran)${becauseText}`;
    }
    case 'escalated':
      if (!what) {
        const dedup = v.trace.some((x) => x.reason === REASON.ESCALATION_DEDUP);
        return dedup
          ? `${v.escalateTo ?? 'a person'} was already paged about ${t} (still open${at})${becauseText}`
          : `paged ${v.escalateTo ?? 'a person'} about ${t}${at}${becauseText}`;
      }
      return `did not run ${what} on ${t}: ${stop ? stopPhrase(stop, v) : 'a guardrail stopped it'}${told || `; ${v.escalateTo ?? 'a person'} was told`}`;
    case 'blocked':
    case 'cooled_down':
      return `did not run ${what ?? 'its actions'} on ${t}: ${stop ? stopPhrase(stop, v) : 'a guardrail stopped it'}${told}`;
    case 'deferred':
      return `did not run ${what ?? 'its actions'} on ${t} yet: ${stop ? stopDetail(stop) : 'deferred to the next run'}`;
    case 'pending':
      return `${what ? `${what} on ${t}` : `paging about ${t}`} is pending: ${pendingText(stop, v.run.dryRun)}`;
    case 'unknown':
      return `could not decide about ${t}: ${stop ? stopDetail(stop) : 'a condition is unknown'}; ${what ? `${what} did not run` : 'nobody was paged'}`;
    case 'not_matched': {
      const f = v.conditions.find((c) => c.result === false);
      return `nothing to do for ${t}: ${f ? failing(f, v.provenance) : 'its conditions do not hold'}`;
    }
    case 'matched':
      return `${what ? `${what} on ${t}` : `paging about ${t}`}: the conditions hold${at}${becauseText}`;
    default:
      return `${v.outcome} for ${t}${at}`;
  }
}

/** Why a rule does not apply to a target at all (it was never evaluated for it). */
export function exclusionSentence(e: { target: string; kind: string; ruleKind: string; misses: readonly { clause: string; seen: string }[] }): string {
  if (e.kind !== e.ruleKind) return `does not apply to ${e.target}: the rule is for targets of kind ${e.ruleKind}, and ${e.target} is of kind ${e.kind}`;
  return `does not apply to ${e.target}: its target selector ${e.misses.map((m) => m.clause).join(', ')} excludes it (${e.misses.map((m) => m.seen).join(', ')})`;
}

function derivedSentence(v: VerdictInput, when: readonly ConditionResult[], because: string): string {
  const t = v.target;
  const fact = v.derive!;
  const stop = lastStop(v.trace);
  switch (v.outcome) {
    case 'derived':
      return `set ${fact} = ${short(v.value)} on ${t}${because ? ` because ${because}` : ''}`;
    case 'not_matched': {
      const f = when.find((c) => c.result === false);
      const why = f ? failing(f, v.provenance) : 'its conditions do not hold';
      return v.deriveValue ? `did not set ${fact} on ${t}: ${why}` : `set ${fact} = false on ${t}: ${why}`;
    }
    case 'unknown':
      return `${fact} is unknown for ${t}: ${stop ? stopDetail(stop) : 'a condition is unknown'}`;
    default:
      return `${fact} on ${t}: ${v.outcome}`;
  }
}

/** `unhealthy (healthy = false) and few_restarts (restarts_1h = 1)`: the conditions that held, with what they saw. */
function holding(conds: readonly ConditionResult[], provenance: VerdictInput['provenance']): string {
  const parts = conds.filter((c) => c.result === true).map((c) => withInputs(c, provenance));
  return joinAnd(parts);
}

/** `database_ok does not hold (db-main storage_slow = true, derived by storage-slow: ...)` */
function failing(c: ConditionResult, provenance: VerdictInput['provenance']): string {
  const name = c.name.startsWith('context.') ? c.name.slice(8) : c.name;
  const ins = inputList(c, provenance);
  return `${name} does not hold${ins ? ` (${ins})` : ` (${c.expr})`}`;
}

function withInputs(c: ConditionResult, provenance: VerdictInput['provenance']): string {
  const ins = inputList(c, provenance);
  return ins ? `${c.name} (${ins})` : c.name;
}

function inputList(c: ConditionResult, provenance: VerdictInput['provenance']): string {
  const entries = Object.entries(c.inputs ?? {});
  const out: string[] = [];
  for (const [k, val] of entries.slice(0, INPUTS_PER_CONDITION)) {
    const p = provenance?.(k);
    out.push(`${inputName(k)} = ${short(val)}${p ? `, ${p}` : ''}`);
  }
  if (entries.length > INPUTS_PER_CONDITION) out.push('...');
  return out.join(', ');
}

/** The readable name of a condition input: `facts.cpu` -> `cpu`, `depends_on[db-main].facts.slow` -> `db-main slow`. */
export function inputName(key: string): string {
  if (key.startsWith('facts.')) return key.slice(6);
  if (key.startsWith('labels.')) return `label ${key.slice(7)}`;
  const m = /^[a-z_]+\[(.*)\]\.facts\.(.+)$/.exec(key);
  if (m) return `${m[1]} ${m[2]}`;
  return key;
}

function short(v: FactValue | undefined): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function joinAnd(parts: string[]): string {
  if (parts.length <= 1) return parts[0] ?? '';
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function lastStop(trace: readonly Verdict[]): Verdict | undefined {
  for (let i = trace.length - 1; i >= 0; i--) if (trace[i]!.stops) return trace[i];
  return undefined;
}

function stopDetail(v: Verdict): string {
  return v.detail;
}

/** A stopping verdict as a phrase: the failed context condition with its inputs, or the guardrail's own words. */
function stopPhrase(stop: Verdict, v: VerdictInput): string {
  if (stop.reason === REASON.CONTEXT) {
    const f = v.conditions.find((c) => c.name.startsWith('context.') && c.result === false);
    if (f) return failing(f, v.provenance);
  }
  // Guardrails word their details for people, numbers included (`blast radius: 3 of a limit of 3 ...`).
  return stop.detail;
}

/** `; paged oncall` when a message about this decision went out (or `; oncall was already paged`). */
function toldWhom(v: VerdictInput): string {
  if (!v.actions.length) return '';
  const to = v.escalateTo ?? 'a person';
  for (let i = v.trace.length - 1; i >= 0; i--) {
    const r = v.trace[i]!.reason;
    if (r === REASON.ESCALATED) return `; paged ${to}`;
    if (r === REASON.ESCALATION_DEDUP) return `; ${to} was already paged`;
    if (r === REASON.ESCALATION_FAILED) return `; telling ${to} failed: ${v.trace[i]!.detail}`;
  }
  return '';
}

/** A dry run stops everything; otherwise only a rule in shadow mode would have acted without acting. */
function dryRunWhy(trace: readonly Verdict[], run: { id: number; dryRun: boolean }, timeless = false): string {
  const which = timeless ? 'the run' : `run ${run.id}`;
  if (run.dryRun && !trace.some((x) => x.reason === REASON.SHADOW)) return `${which} was a dry run`;
  return timeless ? 'the rule is in shadow mode' : `${which}; the rule is in shadow mode`;
}

// The `for` verdict of the evaluate stage (rules/evaluate.ts) gives its numbers in these two shapes; a unit test pins them.
const FOR_RUNS = /held for (\d+) of the required (\d+) consecutive runs/;
const FOR_TIME = /held for (\S+) of the required (\S+)$/;

/** `1 of 2 runs so far; dry runs do not count`. */
export function pendingText(stop: Verdict | undefined, dryRun: boolean): string {
  const tail = dryRun ? '; dry runs do not count' : '';
  const d = stop?.detail ?? '';
  const runs = FOR_RUNS.exec(d);
  if (runs) return `${runs[1]} of ${runs[2]} runs so far${tail}`;
  const time = FOR_TIME.exec(d);
  if (time) return `held ${time[1]} of ${time[2]} so far${tail}`;
  return `${d || 'the conditions have not held long enough'}${tail}`;
}

/** `10:04 UTC` for a time on the reader's day, `2026-12-01 10:04 UTC` otherwise. */
export function timeOf(at: number, asOf?: number): string {
  const iso = new Date(at).toISOString();
  const day = iso.slice(0, 10);
  const hm = iso.slice(11, 16);
  if (asOf !== undefined && new Date(asOf).toISOString().slice(0, 10) === day) return `${hm} UTC`;
  return `${day} ${hm} UTC`;
}
