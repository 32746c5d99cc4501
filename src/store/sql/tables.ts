// The store's tables as kysely sees them: one description for SQLite and PostgreSQL (the migrations make them alike).
import type { Generated, Kysely } from 'kysely';

/**
 * Column types as the store reads and writes them. Times and ids are numbers on both databases (PostgreSQL's
 * bigint is parsed as a number: milliseconds since the epoch fit in 2^53); JSON is text; bytes are Buffers.
 * A boolean is 0/1 in SQLite and a boolean in PostgreSQL: written as 0/1 (PostgreSQL takes that too), read as either.
 */
type Time = number;
type Bytes = Buffer;
type Flag = number | boolean;

export interface Database {
  schema_version: { version: number; name: string; applied_at: Time };
  leases: { name: string; holder: string; token: number; acquired_at: Time; expires_at: Time };
  rule_sets: { hash: string; texts: string };
  runs: {
    id: Generated<number>;
    started_at: Time;
    finished_at: Time | null;
    status: string;
    mode: string;
    holder: string;
    rule_set_hash: string;
    summary: Generated<string>;
    shard: string | null;
  };
  run_snapshots: { run_id: number; data: Bytes; seq: number | null; order_hash: string | null };
  decisions: {
    id: Generated<number>;
    run_id: number;
    target: string;
    rule: string;
    outcome: string;
    severity: string;
    conditions: string;
    trace: string;
    actions: string | null;
    at: Time;
    body: string | null;
  };
  decision_bodies: { hash: string; body: string; last_run: number };
  for_state: { rule: string; target: string; since: Time; runs: number; last_run_id: number };
  executions: {
    id: Generated<number>;
    key: string;
    run_id: number;
    rule: string;
    action: string;
    step: number;
    target: string;
    kind: string;
    describe: string;
    detail: string;
    cooldown_key: string;
    cooldown_ms: number;
    groups: string;
    created_at: Time;
    status: string;
    started_at: Time | null;
    finished_at: Time | null;
    exit_code: number | null;
    http_status: number | null;
    duration_ms: number | null;
    output: string | null;
    error: string | null;
    shard: string | null;
  };
  execution_groups: { grp: string; execution_id: number };
  cooldowns: { key: string; last_at: Time; until: Time };
  source_cache: { name: string; at: Time; payload: Bytes };
  switch: { id: number; off: Flag; by: string | null; reason: string | null; at: Time | null; until: Time | null };
  disables: {
    id: Generated<number>;
    scope: string;
    value: string;
    selector: string | null;
    by: string;
    reason: string;
    created_at: Time;
    until: Time | null;
    removed_at: Time | null;
    removed_by: string | null;
  };
  audit: { id: Generated<number>; at: Time; by: string; action: string; detail: string };
  escalations: {
    id: Generated<number>;
    dedup_key: string;
    channel: string;
    status: string;
    summary: string;
    first_at: Time;
    last_at: Time;
    count: number;
    resolved_at: Time | null;
  };
  metrics: { scope: string; name: string; labels: string; value: number; updated_at: Time };
  verifications: {
    execution_id: number;
    run_id: number;
    rule: string;
    target: string;
    action: string;
    describe: string;
    started_at: Time;
    within_runs: number | null;
    within_ms: number | null;
    expect: string;
    status: string;
    runs_checked: number;
    checked_at: Time | null;
    settled_at: Time | null;
    detail: string | null;
    facts: string | null;
    cleared_at: Time | null;
    cleared_by: string | null;
  };
  approvals: {
    id: Generated<number>;
    rule: string;
    target: string;
    guard: string;
    why: string;
    severity: string;
    actions: string;
    fingerprint: string;
    facts: string;
    asked_at: Time;
    asked_run: number;
    expires_ms: number;
    status: string;
    by: string | null;
    decided_at: Time | null;
    reason: string | null;
    expires_at: Time | null;
    used_at: Time | null;
    used_run: number | null;
    execution_id: number | null;
    note: string | null;
    closed_at: Time | null;
    cleared_at: Time | null;
  };
  snapshot_targets: { target: string; seq: number; data: string | null };
  snapshot_orders: { hash: string; ids: Bytes };
  snapshot_head: { id: number; seq: number; order_hash: string | null; digests: Bytes | null };
}

/** A handle to run queries on: the store's database, or the one connection of a transaction. */
export type Q = Kysely<Database>;
