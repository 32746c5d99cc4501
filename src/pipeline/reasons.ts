// Every reason a stage can give, named once: used in traces, logs, the run summary, metrics and `reflex why`.
export const REASON = {
  // evaluate
  NOT_MATCHED: 'not_matched',
  UNKNOWN: 'unknown',
  PENDING_FOR: 'pending:for',
  CONTEXT: 'context',
  DERIVED: 'derived',
  // guards
  SWITCH_OFF: 'switch:off',
  SWITCH_UNREADABLE: 'switch:unreadable',
  /** A guardrail could not read its own state (store error): it fails closed. */
  GUARD_UNREADABLE: 'guard:unreadable',
  DISABLED_RULE: 'disabled:rule',
  DISABLED_ACTION: 'disabled:action',
  DISABLED_TARGET: 'disabled:target',
  DISABLED_SELECTOR: 'disabled:selector',
  SEVERITY: 'severity',
  BREAKER_WIDESPREAD: 'breaker:widespread',
  BREAKER_IMPLAUSIBLE: 'breaker:implausible',
  BREAKER_FAILURES: 'breaker:failures',
  BREAKER_STORM: 'breaker:storm',
  SLOW_START: 'slow-start',
  BLAST_RULE: 'blast-radius:rule',
  BLAST_ACTION: 'blast-radius:action',
  BLAST_GROUP: 'blast-radius:group',
  MIN_HEALTHY: 'blast-radius:min-healthy',
  BUDGET: 'budget',
  COOLDOWN: 'cooldown',
  UNTESTED: 'untested',
  /** An earlier action on this target did not help (verify:): the rule waits until the problem clears or `reflex enable`. */
  VERIFY_INEFFECTIVE: 'verify:ineffective',
  // verification of what was done (docs/verification.md)
  VERIFY_PENDING: 'verify:pending',
  VERIFY_PASSED: 'verify:passed',
  // approvals (docs/approvals.md)
  /** The decision waits for a person: `reflex approve ID`. */
  APPROVAL_PENDING: 'approval:pending',
  /** A person approved it: the decision goes past the guard the approval was asked for. */
  APPROVAL_APPROVED: 'approval:approved',
  APPROVAL_REJECTED: 'approval:rejected',
  /** The approval no longer fits the decision (fresh facts, other parameters): it is not used. */
  APPROVAL_REFUSED: 'approval:refused',
  /** The approval was used or expired before this run could use it. */
  APPROVAL_GONE: 'approval:gone',
  // acting
  DRY_RUN: 'dry-run',
  SHADOW: 'shadow',
  PLAN_INVALID: 'plan:invalid',
  DUPLICATE: 'journal:duplicate',
  LEASE_LOST: 'lease:lost',
  /** The run passed its deadline (defaults.run_timeout): no action starts after it. */
  DEADLINE: 'run:deadline',
  /** The process was asked to stop (SIGTERM, SIGINT): no action starts after it. */
  STOPPED: 'run:stopped',
  STORE_ERROR: 'store:error',
  EXECUTED: 'executed',
  FAILED: 'failed',
  TIMED_OUT: 'timed-out',
  INTERRUPTED: 'interrupted',
  ESCALATED: 'escalated',
  ESCALATION_DEDUP: 'escalation:dedup',
  ESCALATION_FAILED: 'escalation:failed',
  /** A rule could not decide for all (or guardrails.blind.fraction) of its targets. */
  BLIND: 'blind',
} as const;

export type Reason = (typeof REASON)[keyof typeof REASON];

/**
 * Reasons of guardrails that stop decisions as a group (breakers) or by counting (limits): what `reflex status` and
 * the console list as "breakers and limits that stopped decisions".
 */
export const GUARDRAIL_REASONS: ReadonlySet<string> = new Set<Reason>([
  REASON.BREAKER_WIDESPREAD,
  REASON.BREAKER_IMPLAUSIBLE,
  REASON.BREAKER_FAILURES,
  REASON.BREAKER_STORM,
  REASON.BLAST_RULE,
  REASON.BLAST_ACTION,
  REASON.BLAST_GROUP,
  REASON.MIN_HEALTHY,
  REASON.BUDGET,
  REASON.GUARD_UNREADABLE,
  REASON.SWITCH_UNREADABLE,
]);
