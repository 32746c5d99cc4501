// The domain words of Reflex (target, fact, rule, decision, execution, run) as plain data types.
import type { Reason } from './pipeline/reasons.js';

/** A fact's value: anything JSON can carry. A fact that is absent from `Target.facts` is unknown. */
export type FactValue = string | number | boolean | null | FactValue[] | { [key: string]: FactValue };

/**
 * Something that can be remediated or observed. Targets are built once per run by
 * merging what every source reported; the engine never mutates `labels` or `relations`,
 * and only derive rules add to `facts`.
 */
export interface Target {
  id: string;
  kind: string;
  labels: Record<string, string>;
  /** Ids of the targets this one depends on (upstream). */
  depends_on: string[];
  /** Known facts only: a fact missing here is unknown. */
  facts: Record<string, FactValue>;
  /**
   * Why some facts are unknown for this target, when a source said so explicitly
   * (for example a stale Prometheus sample). Absent for most targets.
   */
  unknown?: Record<string, string>;
}

/** What a source reports about one target; sources may report partial targets that the collector merges by id. */
export interface TargetReport {
  id: string;
  kind?: string;
  labels?: Record<string, string>;
  depends_on?: string[];
  facts?: Record<string, FactValue>;
  /** fact name -> why it is unknown (stale sample, no value...) */
  unknown?: Record<string, string>;
}

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

export type Mode = 'dry-run' | 'enforce';
/** A rule's mode: `approve` decides and asks a person before each action (docs/approvals.md). */
export type RuleMode = Mode | 'approve';

/** Three-valued truth of a condition. */
export type Truth = true | false | 'unknown';

/** The value a condition saw, for explanations. */
export interface ConditionResult {
  name: string;
  expr: string;
  /** true / false / 'unknown' */
  result: Truth;
  /** facts (and aggregates) the expression referenced, with the values seen (undefined = unknown) */
  inputs?: Record<string, FactValue | undefined>;
  /** Why it is unknown: missing fact and its source, or an evaluation error. */
  unknown?: string;
}

/** Outcome of a rule on a target after evaluation, before later stages. */
export type EvalOutcome = 'not_matched' | 'unknown' | 'pending' | 'matched';

/** Final outcome once the pipeline's stages have passed over it. */
export type DecisionOutcome =
  | EvalOutcome
  | 'derived'
  | 'dry_run'
  | 'blocked'
  | 'cooled_down'
  | 'escalated'
  | 'deferred'
  | 'awaiting_approval'
  | 'executed'
  | 'failed'
  | 'interrupted';

/** One stage's word on a decision: the trace that `reflex why` prints. */
export interface Verdict {
  stage: string;
  /** A named reason from pipeline/reasons.ts, e.g. `cooldown`, `disabled:rule`, `breaker:widespread`. */
  reason: Reason;
  detail: string;
  /** true when this verdict stopped the decision from acting */
  stops?: boolean;
}

export type ExecutionStatus = 'intent' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'interrupted' | 'refused';

export interface ExecutionOutcome {
  status: 'succeeded' | 'failed' | 'timed_out' | 'refused';
  exitCode?: number;
  httpStatus?: number;
  durationMs: number;
  /** size-limited, secrets redacted */
  output: string;
  error?: string;
}
