// The store interface: everything Reflex remembers between runs. SQLite and PostgreSQL implement it alike.
import type { DecisionOutcome, ExecutionOutcome, ExecutionStatus, Verdict, ConditionResult } from '../model.js';

/** Proof of holding a lease; every state-changing write of a run carries it. */
export interface Fence {
  name: string;
  token: number;
}

/**
 * What a fenced write carries: one lease, several (a sharded run holds one lease per shard; the
 * write happens only if every one of them is still current), or none (tools outside a run).
 */
export type Fences = Fence | readonly Fence[] | null;

/** The leases behind a `Fences` value, as a list. */
export function fenceList(f: Fences): readonly Fence[] {
  if (f === null) return [];
  return Array.isArray(f) ? (f as readonly Fence[]) : [f as Fence];
}

export type LeaseResult = { acquired: true; token: number; expiresAt: number } | { acquired: false; holder: string; expiresAt: number };

export interface LeaseInfo {
  name: string;
  holder: string;
  token: number;
  acquiredAt: number;
  expiresAt: number;
}

export interface RunRecord {
  id: number;
  startedAt: number;
  finishedAt: number | null;
  /** running | ok | failed | interrupted */
  status: string;
  mode: 'dry-run' | 'enforce';
  holder: string;
  ruleSetHash: string;
  /** Free-form JSON summary (counts, sources, errors), stable for --json. */
  summary: Record<string, unknown>;
  shard?: string | null;
}

/**
 * A run's facts snapshot as `finishRun` stores it: by change (docs/performance.md, "Storage follows
 * change"). Each target is one JSON text with its digest; the store keeps a target's text once per
 * version and, per run, only the metadata and the order of the targets (itself stored once per
 * distinct order), so an unchanged target costs a run nothing.
 */
export interface SnapshotInput {
  /** Everything but the targets (time, fact sources, source reports), as one JSON object text. */
  meta: string;
  /** Target ids, in collection order (unique). */
  ids: string[];
  /**
   * Each target as JSON text, in the order of `ids`; undefined for a target the same as in the snapshot `base` (the
   * newest stored one when the run collected: store/snapshot.ts). Should another snapshot have been recorded since,
   * the store copies such a text from `base`'s version.
   */
  texts: (string | undefined)[];
  /** Each text's digest (store/snapshot.ts: DIGEST_BYTES each, equal digests mean equal texts), in the order of `ids`. */
  digests: Uint8Array;
  /** orderHash(ids), computed once. */
  order?: string;
  /** With texts left out: the sequence number of the snapshot they were compared with (the head when collected). */
  base?: number;
}

/** The newest stored snapshot, as the next one compares with it: its sequence number, order and digests. */
export interface SnapshotHead {
  seq: number;
  order: string | null;
  digests: Uint8Array | null;
  /** The ids in that order (read only when the new snapshot's order differs; null if the order is not kept). */
  ids: () => Promise<string[] | null>;
}

/**
 * A stored snapshot read back: `whole` is a snapshot stored in one piece (gzip-compressed JSON, as
 * given to `finishRun` as bytes, or recorded before migration 3); otherwise its metadata text and
 * its targets' JSON texts in order.
 */
export type SnapshotParts = { whole: Uint8Array } | { meta: string; ids: string[]; texts: string[] };

/** How much room the store takes, in bytes, and what takes it (`reflex status`). */
export interface StoreSize {
  /** Bytes on disk (SQLite: the file and its WAL) or in the database (PostgreSQL: the schema's tables and indexes). */
  bytes: number;
  /** Bytes per table where the database can tell (SQLite with dbstat, PostgreSQL); else empty. */
  tables: Record<string, number>;
  runs: number;
  oldestRunAt: number | null;
}

/**
 * One stored decision. A run stores the decisions that reached a stage after evaluate (guards,
 * cooldowns, acting, notify), pending ones (their `for` streak is state, not facts), blocked ones
 * and any with actions or an escalation. What the engine decides from the snapshot and the rules
 * alone (not matched, derived, and unknown decisions that went no further) is not stored: it is
 * recomputed when read (src/explain/recorded.ts).
 */
export interface DecisionRecord {
  runId: number;
  target: string;
  rule: string;
  outcome: DecisionOutcome;
  severity: string;
  conditions: ConditionResult[];
  trace: Verdict[];
  /** Planned actions, with their rendered form (what dry-run prints). */
  actions?: { action: string; describe: string; executionId?: number }[];
  at: number;
}

export interface ForState {
  rule: string;
  target: string;
  /** When the conditions first held in the current streak (ms). */
  since: number;
  /** Consecutive runs the conditions held. */
  runs: number;
  lastRunId: number;
}

export interface IntentInput {
  /** Deterministic: rule, action, target and window. Unique in the store: a second insert is refused. */
  key: string;
  runId: number;
  rule: string;
  action: string;
  step: number;
  target: string;
  kind: string;
  /** The rendered action (redacted): what will run. */
  describe: string;
  detail: Record<string, unknown>;
  /** Cooldown bookkeeping: this key's last time is set to `createdAt`. */
  cooldownKey: string;
  cooldownMs: number;
  /** Group keys this target belongs to (for blast-radius counting), e.g. ["service=checkout"]. */
  groups: string[];
  createdAt: number;
  /**
   * The shard lease the intent was journaled under (sharded runs, e.g. `shard:3/16`), so that an
   * execution left unfinished is recovered by whoever holds that shard next. Absent otherwise.
   */
  shard?: string | null;
}

export interface ExecutionRecord extends Omit<IntentInput, 'detail'> {
  id: number;
  status: ExecutionStatus;
  detail: Record<string, unknown>;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  httpStatus: number | null;
  durationMs: number | null;
  output: string | null;
  error: string | null;
}

export interface SwitchState {
  off: boolean;
  by: string | null;
  reason: string | null;
  at: number | null;
  until: number | null;
}

export type DisableScope = 'rule' | 'action' | 'target' | 'selector';

export interface DisableRecord {
  id: number;
  scope: DisableScope;
  /** rule name, action name, target id, or for `selector` the canonical `k=v,k2=v2` text. */
  value: string;
  /** For selector disables: label -> value. */
  selector: Record<string, string> | null;
  by: string;
  reason: string;
  createdAt: number;
  until: number | null;
  /** Set when lifted by `reflex enable`. */
  removedAt: number | null;
  removedBy: string | null;
}

export interface AuditRecord {
  id: number;
  at: number;
  by: string;
  action: string;
  detail: Record<string, unknown>;
}

export interface EscalationRecord {
  dedupKey: string;
  channel: string;
  status: 'open' | 'resolved';
  summary: string;
  firstAt: number;
  lastAt: number;
  count: number;
  /** When it was resolved (null while open). */
  resolvedAt?: number | null;
}

/**
 * What a guard may read and write inside the one transaction that records an intent.
 * Everything here sees a consistent state, and no other runner can record an
 * intent between the checks and the insert (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: a transaction-level advisory lock).
 */
export interface IntentTx {
  /** The store's clock when the transaction began; `activeDisables()` are the ones active then. */
  now: number;
  getSwitch(): Promise<SwitchState>;
  activeDisables(): Promise<DisableRecord[]>;
  /** Last time (ms) anything used this cooldown key, with its cooldown end, or null. */
  cooldown(key: string): Promise<{ lastAt: number; until: number } | null>;
  /** Executions (any status, intents included) created at or after `since`, optionally for one rule/action. */
  countExecutions(filter: { since: number; rule?: string; action?: string }): Promise<number>;
  /**
   * Distinct targets acted on at or after `since` within one group key (executions whose `groups` contain it),
   * optionally by one rule only and leaving one target out.
   */
  countTargetsInGroup(group: string, since: number, filter?: { rule?: string; except?: string }): Promise<number>;
  /** Executions in `intent` or `running` right now within one group key. */
  countRunningInGroup(group: string): Promise<number>;
  /** Insert the intent and set its cooldown key's last time; refused when its key exists already. */
  insertIntent(intent: IntentInput): Promise<{ inserted: true; id: number } | { inserted: false; existingId: number }>;
  /**
   * Use an approval for the execution just inserted: `approved` and not expired at `at` becomes `used`, with the
   * run and execution. False when it is no longer usable (used by another runner, expired, rejected): then the
   * caller rolls the whole transaction back, so one approval never makes two executions.
   */
  useApproval(id: number, use: { runId: number; executionId: number; at: number }): Promise<boolean>;
}

// ---- verification: did a succeeded execution fix the problem? (docs/verification.md)

export type VerificationStatus = 'pending' | 'passed' | 'ineffective';

export interface VerificationRecord {
  /** The decision's last execution (all its steps succeeded): the one the verification is about. */
  executionId: number;
  /** The run that acted. */
  runId: number;
  rule: string;
  target: string;
  action: string;
  describe: string;
  /** When the action finished: `within` counts from here. */
  startedAt: number;
  /** `within: "3 runs"`: the later runs that may check; or `within: 10m`. One of the two is set. */
  withinRuns: number | null;
  withinMs: number | null;
  /** The `expect` expression, or "" for the default (the rule's `when` no longer holds). */
  expect: string;
  status: VerificationStatus;
  /** Later runs that saw the problem still there. */
  runsChecked: number;
  checkedAt: number | null;
  /** When it passed or was found ineffective. */
  settledAt: number | null;
  /** What the verdict says, e.g. "still unhealthy after 3 runs". */
  detail: string | null;
  /** The facts the verdict saw (those its expression read). */
  facts: Record<string, unknown> | null;
  /** An ineffective one stops its rule on its target until this is set: the problem cleared, or `reflex enable`. */
  clearedAt: number | null;
  clearedBy: string | null;
}

// ---- approvals: a person says "yes, do it" (docs/approvals.md)

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'used' | 'expired' | 'refused' | 'withdrawn';
/** What an approval lets a decision past: the rule's own `mode: approve`, the severity gate, a limit, the budget. */
export type ApprovalGuard = 'mode' | 'severity' | 'limit' | 'budget';

export interface ApprovalRecord {
  id: number;
  rule: string;
  target: string;
  guard: ApprovalGuard;
  /** The verdict it was asked for (the guard's words), e.g. "severity critical is above the automation limit". */
  why: string;
  severity: string;
  /** The actions with their rendered parameters, in step order. */
  actions: { action: string; describe: string }[];
  /** Of the actions and their rendered parameters: an approval is used only for exactly these. */
  fingerprint: string;
  /** The facts the rule read when it asked (name -> value; absent = unknown). */
  facts: Record<string, unknown>;
  askedAt: number;
  askedRun: number;
  /** How long an approval lasts once given (the rule's `approval.expires`). */
  expiresMs: number;
  status: ApprovalStatus;
  /** Who approved or rejected it, when and why. */
  by: string | null;
  decidedAt: number | null;
  reason: string | null;
  /** Set when approved: unused after this, it expires. */
  expiresAt: number | null;
  usedAt: number | null;
  usedRun: number | null;
  executionId: number | null;
  /** Why a run refused, withdrew or expired it. */
  note: string | null;
  /** When it left `pending`/`approved` (any way). */
  closedAt: number | null;
  /** A rejection holds for its rule and target until the problem clears (set then). */
  clearedAt: number | null;
}

export type ApprovalInput = Pick<
  ApprovalRecord,
  'rule' | 'target' | 'guard' | 'why' | 'severity' | 'actions' | 'fingerprint' | 'facts' | 'askedAt' | 'askedRun' | 'expiresMs'
>;

/** One change of an approval's state, applied only if it is in one of the `from` states. */
export interface ApprovalChange {
  id: number;
  from: ApprovalStatus[];
  to: ApprovalStatus;
  at: number;
  by?: string;
  reason?: string;
  expiresAt?: number;
  note?: string;
  /** Only mark a rejection cleared (status unchanged). */
  clear?: boolean;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Create or upgrade the schema (idempotent, versioned). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // ---- leases (one runner per name; the name is "run" or "shard:I/N")
  /**
   * Take the lease if it is free, released or expired (`expiresAt <= now`); otherwise report its holder.
   * A live lease is never shared, not even with its own holder (renew it instead). Tokens grow by one
   * per acquisition of a name and are never reused, releases included.
   */
  acquireLease(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseResult>;
  /**
   * Take up to `max` of the named leases that are free, released or expired, in one transaction
   * (shards: each runner claims some of `shard:0/N..shard:N-1/N`). The leases acquired longest ago
   * come first (never-used ones first of all), then the order of `names`: a runner that starts late
   * takes the shards nobody has worked on lately, not the ones a runner just released. PostgreSQL
   * skips rows another runner is claiming at that moment (SKIP LOCKED) instead of waiting.
   * Shuffle `names` to spread runners over shards of equal age.
   */
  acquireAnyLeases?(names: string[], holder: string, ttlMs: number, now: number, max: number): Promise<(Fence & { expiresAt: number })[]>;
  /** False when the lease was lost (taken by someone else, or released). An expired lease nobody took renews. */
  renewLease(fence: Fence, ttlMs: number, now: number): Promise<boolean>;
  releaseLease(fence: Fence): Promise<void>;
  /** Leases currently held or expired but not yet taken over (released ones are left out). */
  listLeases(): Promise<LeaseInfo[]>;

  // ---- runs
  beginRun(run: { startedAt: number; mode: 'dry-run' | 'enforce'; holder: string; ruleSetHash: string; shard?: string | null }): Promise<number>;
  /** Store a rule set's file texts once per hash (for explaining old runs). */
  saveRuleSet(hash: string, texts: Record<string, string>): Promise<void>;
  getRuleSet(hash: string): Promise<Record<string, string> | null>;
  /**
   * Record the run's results in one transaction: its facts snapshot (compressed bytes),
   * its decisions and its summary. Throws LeaseLostError if `fence` (any of them) is no longer current.
   * With `ifUnfinished` (closing the run of a runner that died), nothing is written if the run has
   * finished meanwhile: its own record stays.
   */
  finishRun(
    runId: number,
    result: {
      finishedAt: number;
      status: string;
      summary: Record<string, unknown>;
      /** By change (SnapshotInput), or whole as opaque bytes (gzip-compressed JSON), or none. */
      snapshot: SnapshotInput | Uint8Array | null;
      decisions: DecisionRecord[];
      ifUnfinished?: boolean;
    },
    fence: Fences,
  ): Promise<void>;
  getRun(id: number): Promise<RunRecord | null>;
  /** Newest first. */
  listRuns(filter: { limit: number; since?: number; before?: number }): Promise<RunRecord[]>;
  /**
   * The run's snapshot as gzip-compressed JSON: the bytes given to `finishRun`, or a snapshot stored by
   * change put back together (`{"v":1,...meta,"targets":[...]}`). Prefer `getSnapshotParts` (no compression).
   */
  getSnapshot(runId: number): Promise<Uint8Array | null>;
  /** The run's snapshot as stored: whole, or its metadata and its targets' texts in order. */
  getSnapshotParts(runId: number): Promise<SnapshotParts | null>;
  /**
   * The newest stored snapshot as the next one is compared with it (its order and its targets' digests; null digests:
   * none yet). A run holding the only lease reads it while collecting and keeps only the texts that differ.
   */
  snapshotHead(): Promise<SnapshotHead>;
  /** The store's size and how many runs it keeps (`reflex status`). */
  size(): Promise<StoreSize>;
  getDecisions(runId: number, filter?: { target?: string; rule?: string }): Promise<DecisionRecord[]>;
  /** Decisions across runs, newest first. */
  decisionHistory(filter: { target?: string; rule?: string; since?: number; limit: number; outcomes?: DecisionOutcome[] }): Promise<DecisionRecord[]>;
  /**
   * Delete runs (and their snapshots and decisions) that finished before `before`, and with `keep`
   * all but the newest `keep` finished runs. Returns how many. Runs that never finished are kept, and
   * so is the journal (executions): cooldowns and limits read it. Target versions no retained run
   * reads any more go too.
   */
  pruneRuns(before: number, opts?: { keep?: number }): Promise<number>;

  // ---- `for` state
  loadForState(): Promise<ForState[]>;
  /** Upsert the streaks that continue or start; delete the ones that ended. */
  saveForState(upserts: ForState[], deletes: { rule: string; target: string }[], fence: Fences): Promise<void>;

  // ---- executions (the journal)
  /**
   * Run `fn` in the intent transaction (see IntentTx). If `fn` throws, nothing it wrote is kept.
   * Throws LeaseLostError (before calling fn) when `fence` (any of them) is no longer current.
   * Inside `fn`, use only `tx`: calling the store itself there throws (it would wait for this transaction).
   */
  intentTransaction<T>(fence: Fences, fn: (tx: IntentTx) => Promise<T>): Promise<T>;
  /** Throws JournalConflictError when the execution is no longer an intent (e.g. a recovering run marked it interrupted): do not start it. */
  markRunning(id: number, startedAt: number): Promise<void>;
  /**
   * Record the outcome of an intent, running or interrupted execution (a late real outcome replaces
   * `interrupted`). Throws JournalConflictError for an unknown or already finished execution.
   */
  finishExecution(id: number, outcome: ExecutionOutcome & { finishedAt: number }): Promise<void>;
  /** Executions left in `intent` or `running` (their runner crashed or is still at work). */
  unfinishedExecutions(): Promise<ExecutionRecord[]>;
  markInterrupted(ids: number[], note: string, at: number): Promise<void>;
  getExecution(id: number): Promise<ExecutionRecord | null>;
  listExecutions(filter: { target?: string; rule?: string; runId?: number; since?: number; limit: number }): Promise<ExecutionRecord[]>;
  /**
   * Statuses of the last `n` finished executions of a rule (any status but intent/running), newest by `finishedAt` first
   * (failure breaker); a succeeded one whose verification found it ineffective reads `ineffective`.
   */
  recentOutcomes(rule: string, n: number): Promise<(ExecutionStatus | 'ineffective')[]>;

  // ---- cooldowns (actions and expensive sources share them)
  getCooldown(key: string): Promise<{ lastAt: number; until: number } | null>;
  setCooldown(key: string, lastAt: number, until: number): Promise<void>;
  listCooldowns(activeAt: number): Promise<{ key: string; lastAt: number; until: number }[]>;
  /** Cached source results (for source cooldowns). */
  getSourceCache(name: string): Promise<{ at: number; payload: Uint8Array } | null>;
  setSourceCache(name: string, at: number, payload: Uint8Array): Promise<void>;

  // ---- switches, disables, audit
  getSwitch(): Promise<SwitchState>;
  setSwitch(state: { off: boolean; by: string; reason: string; at: number; until: number | null }): Promise<void>;
  addDisable(d: Omit<DisableRecord, 'id' | 'removedAt' | 'removedBy'>): Promise<number>;
  /**
   * Lift the disables active at `at` that match every given field; returns the ones lifted.
   * An empty match is refused (it would lift everything by accident).
   */
  removeDisables(match: { id?: number; scope?: DisableScope; value?: string }, by: string, at: number): Promise<DisableRecord[]>;
  /**
   * All disables, or with `activeAt` only the active ones: not removed, and `until` null or after
   * `activeAt` (a disable whose `until` equals `activeAt` has expired).
   */
  listDisables(filter: { activeAt?: number }): Promise<DisableRecord[]>;
  appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void>;
  listAudit(limit: number): Promise<AuditRecord[]>;

  // ---- escalations (dedup)
  /** Open (or refresh) an escalation; `isNew` is false when it was already open (do not page again). */
  openEscalation(e: { dedupKey: string; channel: string; summary: string; at: number }): Promise<{ isNew: boolean }>;
  /** Resolve an open escalation; true when it was open. */
  resolveEscalation(dedupKey: string, at: number): Promise<boolean>;
  listEscalations(filter: { status?: 'open' | 'resolved'; limit: number }): Promise<EscalationRecord[]>;

  // ---- verifications (docs/verification.md)
  /** Insert or update verifications (by execution id) in one transaction; refused (LeaseLostError) when `fence` is stale. */
  saveVerifications(v: VerificationRecord[], fence: Fences): Promise<void>;
  /**
   * Newest first. `open`: the ones a run still looks at (pending, or ineffective and not cleared).
   */
  listVerifications(filter: {
    rule?: string;
    target?: string;
    status?: VerificationStatus;
    open?: boolean;
    executionIds?: number[];
    limit: number;
  }): Promise<VerificationRecord[]>;
  /** Clear the ineffective verifications (not yet cleared) that match every given field; returns them. An empty match is refused. */
  clearVerifications(match: { rule?: string; target?: string }, by: string, at: number): Promise<VerificationRecord[]>;

  // ---- approvals (docs/approvals.md)
  /**
   * Ask for an approval: a new `pending` one, unless the rule and target have a live one (`pending` or `approved`)
   * already, which is returned instead (`created` false). Refused (LeaseLostError) when `fence` is stale.
   */
  askApproval(a: ApprovalInput, fence: Fences): Promise<{ created: boolean; approval: ApprovalRecord }>;
  /** Apply one change if the approval is in a `from` state; the updated approval, or null (the caller reads why). */
  changeApproval(c: ApprovalChange, fence: Fences): Promise<ApprovalRecord | null>;
  getApproval(id: number): Promise<ApprovalRecord | null>;
  /** Newest first. */
  listApprovals(filter: { status?: ApprovalStatus[]; rule?: string; target?: string; uncleared?: boolean; limit: number }): Promise<ApprovalRecord[]>;
  // ---- metrics (src/metrics: what the textfile, the Pushgateway and `reflex serve` expose)
  /** Apply one run's metric changes in one transaction (see MetricUpdate). Not fenced: metrics describe, they never decide. */
  recordMetrics(update: MetricUpdate): Promise<void>;
  /** Every stored metric sample. */
  listMetrics(): Promise<MetricSample[]>;
}

/** Samples that are not a runner's own (counters and gauges of the whole store) have this scope. */
export const STORE_SCOPE = '*';

/** One stored metric sample: a series name, its labels and its value. */
export interface MetricSample {
  /** STORE_SCOPE, or the scope of the runner whose last run it describes ('' unsharded, the shard leases otherwise). */
  scope: string;
  name: string;
  labels: Record<string, string>;
  value: number;
  updatedAt: number;
}

/** The stored form of a sample's labels: JSON with sorted keys, so one series is one row. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export type MetricPoint = Pick<MetricSample, 'name' | 'labels' | 'value'>;

/** What one run changes in the stored metrics. */
export interface MetricUpdate {
  at: number;
  /** Added to store-wide counters (created at 0). */
  add: MetricPoint[];
  /** Store-wide gauges that only grow (timestamps): the larger of the stored and the given value is kept. */
  max: MetricPoint[];
  /** Replace every sample of this scope: the last run of one runner. */
  replace?: { scope: string; samples: MetricPoint[] };
  /** Drop the samples of runner scopes (never STORE_SCOPE) not updated since this time. */
  dropBefore?: number;
}

/** A write was refused because the writer's lease was taken over by another runner. */
export class LeaseLostError extends Error {
  constructor(message = 'the run lease was lost to another runner; nothing more is recorded by this run') {
    super(message);
    this.name = 'LeaseLostError';
  }
}

/**
 * The journal refused a state change of an execution: it is not in the state the caller
 * expected (another runner marked it interrupted, or it finished already).
 */
export class JournalConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalConflictError';
  }
}

/** The store cannot be reached or used; the run does nothing it cannot record. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}
