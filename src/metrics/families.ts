// Every series Reflex exposes about itself, named once (Prometheus conventions: reflex_ prefix, base units, _total on
// counters, _seconds on durations and timestamps). docs/observability.md lists the same table for people.
import type { Family } from './exposition.js';

const f = (name: string, type: Family['type'], help: string): Family => ({ name, type, help });

export const FAMILIES = {
  buildInfo: f('reflex_build_info', 'gauge', 'Always 1; the version label is the Reflex that wrote these metrics.'),

  // The whole store (every runner, every shard): counters and what people set.
  lastSuccess: f(
    'reflex_run_last_success_timestamp_seconds',
    'gauge',
    'When a run last completed (status ok or problems), as a Unix time. Alert on time() minus this.',
  ),
  runs: f(
    'reflex_runs_total',
    'counter',
    'Runs that ended, by status: ok, problems (a source, an action or a message failed) or failed (the run itself failed).',
  ),
  skipped: f('reflex_runs_skipped_total', 'counter', 'Runs that did nothing, by reason: lease_held (another run held the lease or every shard).'),
  executions: f('reflex_executions_total', 'counter', 'Actions that ended, by rule, action and status (succeeded, failed, timed_out, refused, interrupted).'),
  escalations: f('reflex_escalations_total', 'counter', 'Messages to people Reflex tried to send, by channel and result (sent or failed).'),
  offSwitch: f('reflex_off_switch_on', 'gauge', '1 while the global off switch is on (reflex disable --all): automation acts on nothing.'),
  offSwitchChanged: f(
    'reflex_off_switch_changed_timestamp_seconds',
    'gauge',
    'When the global off switch was last turned on or off, as a Unix time (absent if it never was).',
  ),
  disables: f('reflex_disables_active', 'gauge', 'Disables in force, by scope (rule, action, target, selector).'),
  breakers: f(
    'reflex_breaker_open',
    'gauge',
    'Breakers open, by breaker and rule: failures (a rule disabled for failing actions, until enabled), or widespread, implausible and storm as seen by the last run.',
  ),

  // The last run of one runner (labelled shard when the layout is sharded).
  lastRun: f('reflex_last_run_timestamp_seconds', 'gauge', 'When the last run ended, whatever its status, as a Unix time.'),
  lastRunDuration: f('reflex_last_run_duration_seconds', 'gauge', 'How long the last run took, from its lease to its record.'),
  stageDuration: f('reflex_run_duration_seconds', 'gauge', 'How long each stage of the last run took, by stage.'),
  targets: f('reflex_last_run_targets', 'gauge', 'Targets the last run collected.'),
  decisions: f('reflex_last_run_decisions', 'gauge', 'Decisions of the last run, by rule and outcome (not_matched, unknown, pending, executed, blocked, ...).'),
  sourceUp: f('reflex_source_up', 'gauge', '1 when the source answered in the last run (or its cooldown reused an answer), 0 when it failed or timed out.'),
  sourceDuration: f('reflex_source_duration_seconds', 'gauge', 'How long each source took in the last run.'),
  blind: f(
    'reflex_rule_blind',
    'gauge',
    '1 when a rule could not see in the last run: its decisions were unknown for too many of its targets (guardrails.blind).',
  ),
} as const satisfies Record<string, Family>;

export type FamilyKey = keyof typeof FAMILIES;

/** Families by series name (what the store keeps). */
export const BY_NAME: ReadonlyMap<string, Family> = new Map(Object.values(FAMILIES).map((x) => [x.name, x]));
