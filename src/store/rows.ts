// Database rows (snake_case columns, the same in SQLite and PostgreSQL) turned into the store's records.
import { bytes, decodeBody, decodeConditions } from './codec.js';
import type { ApprovalRecord, DecisionRecord, DisableRecord, EscalationRecord, ExecutionRecord, RunRecord, VerificationRecord } from './types.js';

export type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** JSON columns arrive as text from both drivers (PostgreSQL stores them as text, see sql/migrations.ts). */
const json = (v: unknown): any => (typeof v === 'string' ? JSON.parse(v) : v); // eslint-disable-line @typescript-eslint/no-explicit-any

export const runFromRow = (r: Row): RunRecord => ({
  id: r.id,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  status: r.status,
  mode: r.mode,
  holder: r.holder,
  ruleSetHash: r.rule_set_hash,
  summary: json(r.summary),
  shard: r.shard,
});

/** A decision row; its body is in `body_text` (joined from decision_bodies) or, for rows written before migration 3, in its own columns. */
export const decisionFromRow = (r: Row): DecisionRecord => {
  const base = { runId: Number(r.run_id), target: r.target, rule: r.rule, outcome: r.outcome, severity: r.severity };
  if (typeof r.body_text === 'string') return { ...base, ...decodeBody(r.body_text, base.runId, Number(r.at)), at: Number(r.at) } as DecisionRecord;
  const d: DecisionRecord = { ...base, conditions: decodeConditions(r.conditions), trace: json(r.trace), at: r.at };
  if (r.actions !== null) d.actions = json(r.actions);
  return d;
};

export const executionFromRow = (r: Row): ExecutionRecord => ({
  // Only sharded runs record a shard; other executions read back exactly as they were written.
  ...(r.shard !== null && r.shard !== undefined ? { shard: r.shard as string } : {}),
  id: r.id,
  key: r.key,
  runId: r.run_id,
  rule: r.rule,
  action: r.action,
  step: r.step,
  target: r.target,
  kind: r.kind,
  describe: r.describe,
  detail: json(r.detail),
  cooldownKey: r.cooldown_key,
  cooldownMs: r.cooldown_ms,
  groups: json(r.groups),
  createdAt: r.created_at,
  status: r.status,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  exitCode: r.exit_code,
  httpStatus: r.http_status,
  durationMs: r.duration_ms,
  output: r.output,
  error: r.error,
});

export const disableFromRow = (r: Row): DisableRecord => ({
  id: r.id,
  scope: r.scope,
  value: r.value,
  selector: r.selector === null ? null : json(r.selector),
  by: r.by,
  reason: r.reason,
  createdAt: r.created_at,
  until: r.until,
  removedAt: r.removed_at,
  removedBy: r.removed_by,
});

export const escalationFromRow = (r: Row): EscalationRecord => ({
  dedupKey: r.dedup_key,
  channel: r.channel,
  status: r.status,
  summary: r.summary,
  firstAt: r.first_at,
  lastAt: r.last_at,
  count: r.count,
  resolvedAt: r.resolved_at,
});

export const leaseFromRow = (r: Row) => ({
  name: r.name as string,
  holder: r.holder as string,
  token: r.token as number,
  acquiredAt: r.acquired_at as number,
  expiresAt: r.expires_at as number,
});

export const forStateFromRow = (r: Row) => ({
  rule: r.rule as string,
  target: r.target as string,
  since: r.since as number,
  runs: r.runs as number,
  lastRunId: r.last_run_id as number,
});

export const auditFromRow = (r: Row) => ({
  id: r.id as number,
  at: r.at as number,
  by: r.by as string,
  action: r.action as string,
  detail: json(r.detail) as Record<string, unknown>,
});

export const snapshotBytes = (v: unknown): Uint8Array => bytes(v as Uint8Array)!;

export const verificationFromRow = (r: Row): VerificationRecord => ({
  executionId: r.execution_id,
  runId: r.run_id,
  rule: r.rule,
  target: r.target,
  action: r.action,
  describe: r.describe,
  startedAt: r.started_at,
  withinRuns: r.within_runs,
  withinMs: r.within_ms,
  expect: r.expect,
  status: r.status,
  runsChecked: r.runs_checked,
  checkedAt: r.checked_at,
  settledAt: r.settled_at,
  detail: r.detail,
  facts: r.facts === null ? null : json(r.facts),
  clearedAt: r.cleared_at,
  clearedBy: r.cleared_by,
});

/** A verification's columns in table order (both drivers insert them in this order). */
export const verificationValues = (v: VerificationRecord): unknown[] => [
  v.executionId,
  v.runId,
  v.rule,
  v.target,
  v.action,
  v.describe,
  v.startedAt,
  v.withinRuns,
  v.withinMs,
  v.expect,
  v.status,
  v.runsChecked,
  v.checkedAt,
  v.settledAt,
  v.detail,
  v.facts === null ? null : JSON.stringify(v.facts),
  v.clearedAt,
  v.clearedBy,
];

export const VERIFICATION_COLUMNS = [
  'execution_id',
  'run_id',
  'rule',
  'target',
  'action',
  'describe',
  'started_at',
  'within_runs',
  'within_ms',
  'expect',
  'status',
  'runs_checked',
  'checked_at',
  'settled_at',
  'detail',
  'facts',
  'cleared_at',
  'cleared_by',
] as const;

export const approvalFromRow = (r: Row): ApprovalRecord => ({
  id: r.id,
  rule: r.rule,
  target: r.target,
  guard: r.guard,
  why: r.why,
  severity: r.severity,
  actions: json(r.actions),
  fingerprint: r.fingerprint,
  facts: json(r.facts),
  askedAt: r.asked_at,
  askedRun: r.asked_run,
  expiresMs: r.expires_ms,
  status: r.status,
  by: r.by,
  decidedAt: r.decided_at,
  reason: r.reason,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  usedRun: r.used_run,
  executionId: r.execution_id,
  note: r.note,
  closedAt: r.closed_at,
  clearedAt: r.cleared_at,
});
