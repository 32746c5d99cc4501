// The PostgreSQL store: the same contract as SQLite, for several runners sharing the work.
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { ExecutionOutcome, ExecutionStatus } from '../../model.js';
import { encodeBody, toJson } from '../codec.js';
import { Mutex } from '../mutex.js';
import { gzipSync } from 'node:zlib';
import { changesSince, decodeMeta, decodeOrder, encodeMeta, encodeOrder, inOrder, orderHash, snapshotJson } from '../snapshot.js';
import {
  auditFromRow,
  decisionFromRow,
  disableFromRow,
  escalationFromRow,
  executionFromRow,
  forStateFromRow,
  leaseFromRow,
  runFromRow,
  snapshotBytes,
  approvalFromRow,
  VERIFICATION_COLUMNS,
  verificationFromRow,
  verificationValues,
  type Row,
} from '../rows.js';
import {
  fenceList,
  labelsKey,
  STORE_SCOPE,
  type MetricPoint,
  type MetricSample,
  type MetricUpdate,
  JournalConflictError,
  LeaseLostError,
  StoreError,
  type ApprovalChange,
  type ApprovalInput,
  type ApprovalRecord,
  type ApprovalStatus,
  type AuditRecord,
  type DecisionRecord,
  type DisableRecord,
  type DisableScope,
  type EscalationRecord,
  type ExecutionRecord,
  type Fence,
  type Fences,
  type ForState,
  type IntentInput,
  type IntentTx,
  type LeaseInfo,
  type LeaseResult,
  type RunRecord,
  type SnapshotInput,
  type SnapshotParts,
  type Store,
  type StoreSize,
  type SwitchState,
  type VerificationRecord,
  type VerificationStatus,
} from '../types.js';
import { PG_MIGRATIONS, type PgMigration } from './migrations.js';

export interface PostgresStoreOptions {
  /** The schema holding Reflex's tables (default `public`); created by `migrate()` if missing. */
  schema?: string;
  /** Connections in the pool (default 4): a run needs few, and poolers in front count them all. */
  poolSize?: number;
  /** How long to wait for a connection, and for a lock another runner holds (default 10000 ms). */
  timeoutMs?: number;
  /** The clock for `IntentTx.now` and migration times (default Date.now). */
  now?: () => number;
  /** The migrations to apply (tests use a prefix to build an older store). */
  migrations?: readonly PgMigration[];
  /** Make a store in a schema that holds tables but no Reflex schema version, instead of refusing it (`reflex run --init-store`). */
  initialize?: boolean;
}

/** A query with no answer for this long fails (the connection is dropped); the URL's `query_timeout` overrides it. */
const DEFAULT_QUERY_TIMEOUT_MS = 60_000;

/** Tries of an idempotent journal write whose connection was lost (the pool holds up to 4, all maybe ended at once). */
const LOST_CONNECTION_ATTEMPTS = 4;
/** Target versions per INSERT … unnest(…) statement when a snapshot is stored by change. */
const SNAPSHOT_CHUNK = 10_000;

/** Decisions with their bodies (stored once per distinct body since migration 3). */
const PG_SELECT_DECISIONS = 'SELECT d.*, b.body AS body_text FROM {s}.decisions d LEFT JOIN {s}.decision_bodies b ON b.hash = d.body';

/** Decisions per INSERT … SELECT json_to_recordset(…) statement in finishRun. */
const DECISION_CHUNK = 2500;

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
  }
}

interface PgErr {
  code?: string;
  message?: string;
  errors?: PgErr[];
}

/** Errors that mean "the server cannot be used" (as opposed to a bug in a query). */
function unusable(err: unknown): boolean {
  const e = err as PgErr;
  const code = e?.code ?? e?.errors?.[0]?.code ?? '';
  if (/^(08|28|53|57P|3D000|55P03|57014|EAI_|E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|NOTFOUND|HOSTUNREACH|NETUNREACH|ADDRNOTAVAIL))/.test(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Client was closed and is not queryable/i.test(
    e?.message ?? '',
  );
}

/** The connection itself is gone (terminated by the server, reset): the statement may be tried on another one. */
function connectionLost(err: unknown): boolean {
  const e = err as PgErr;
  const code = e?.code ?? '';
  if (/^(57P0[123]|08)/.test(code) || code === 'ECONNRESET' || code === 'EPIPE') return true;
  return /Connection terminated|Client has encountered a connection error|Client was closed and is not queryable/i.test(e?.message ?? '');
}

function humanCause(err: unknown, timeoutMs: number): string {
  const e = err as PgErr;
  const code = e?.code ?? e?.errors?.[0]?.code ?? '';
  if (code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running and listening there?)';
  if (code === 'ENOTFOUND' || code.startsWith('EAI_')) return 'the host name does not resolve';
  if (/Query read timeout/.test(e?.message ?? '')) return 'the server stopped answering (query_timeout)';
  if (code === 'ETIMEDOUT' || /timeout/i.test(e?.message ?? '')) return `no answer within ${timeoutMs} ms`;
  if (code === '28P01' || code === '28000')
    return `authentication failed (${e.message}); give the password from the environment: \${REFLEX_PG_PASSWORD} (any variable) in the store URL, or PGPASSWORD, or ~/.pgpass`;
  if (code === '3D000') return `${e.message} (create it, or fix the URL)`;
  if (code === '55P03') return `another runner held a lock for more than ${timeoutMs} ms`;
  if (code === '57014') return 'a statement was cancelled (statement timeout)';
  if (code === '53300') return 'the server has too many connections';
  return e?.message || e?.errors?.[0]?.message || String(err);
}

/** PostgreSQL text cannot hold NUL; command output sometimes does. */
const text = (s: string): string => (s.includes('\u0000') ? s.replace(/\u0000/g, '\uFFFD') : s);
const textOrNull = (s: string | null | undefined): string | null => (s === undefined || s === null ? null : text(s));

/**
 * Connect to PostgreSQL at `url` (password from the URL, PGPASSWORD or ~/.pgpass). The `pg`
 * driver is imported here, so SQLite users never load it. Call `migrate()` before use.
 * Throws StoreError with the (password-free) URL and cause when the server cannot be reached.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const pg = (await import('pg')).default;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const where = redactUrl(url);
  // Times and ids are bigint columns: read them as numbers (ms since the epoch fit in 2^53).
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format),
  };
  let pool: Pool;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 4,
      connectionTimeoutMillis: timeoutMs,
      idleTimeoutMillis: 10_000,
      application_name: 'reflex',
      // A server that stops answering (a network partition, not a refused connection) must fail the
      // run rather than hang it: no answer to a query within this is an error (URL: ?query_timeout=ms).
      query_timeout: DEFAULT_QUERY_TIMEOUT_MS,
      keepAlive: true,
      types: types as never,
    } as import('pg').PoolConfig);
  } catch (err) {
    throw new StoreError(`cannot use the PostgreSQL store at ${where}: ${humanCause(err, timeoutMs)}`, { cause: err });
  }
  // An idle connection the server drops must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreError(`cannot connect to the PostgreSQL store at ${where}: ${humanCause(err, timeoutMs)}`, { cause: err });
  }
  return new PostgresStore(pool, where, opts.schema ?? 'public', timeoutMs, opts.now ?? Date.now, opts.migrations ?? PG_MIGRATIONS, opts.initialize ?? false);
}

/** A query's parameters, numbered as they are added. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /**
   * In-process, intent transactions run one at a time, so waiting for the advisory lock never
   * holds a pool connection that the holder of the lock might need.
   */
  private readonly intentMutex = new Mutex('a store method was called from inside intentTransaction: use the transaction object it passes (tx) instead');
  private readonly s: string;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly where: string,
    private readonly schema: string,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly migrations: readonly PgMigration[],
    private readonly initialize = false,
  ) {
    this.s = quoteIdent(schema);
  }

  // ---- plumbing

  private sql(text: string): string {
    return text.replaceAll('{s}', this.s);
  }

  /** Every public operation: refuses use after close or from inside an intent transaction, and words connection failures for people. */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.intentMutex.held()) throw new Error('a store method was called from inside intentTransaction: use the transaction object it passes (tx) instead');
    if (this.closed) throw new StoreError(`the PostgreSQL store at ${this.where} is closed`);
    try {
      return await fn();
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private wrap(err: unknown): unknown {
    if (err instanceof StoreError || err instanceof LeaseLostError || err instanceof JournalConflictError) return err;
    if (unusable(err)) return new StoreError(`cannot use the PostgreSQL store at ${this.where}: ${humanCause(err, this.timeoutMs)}`, { cause: err });
    // A table or column the migrations made is gone (dropped by hand, a partial restore): not a bug in a query.
    const code = (err as PgErr)?.code;
    if (code === '42P01' || code === '42703')
      return new StoreError(
        `the PostgreSQL store at ${this.where} (schema ${this.schema}) is damaged: ${(err as PgErr).message}, though its schema version says it exists; restore it from a backup`,
        { cause: err },
      );
    return err;
  }

  private async query<R extends QueryResultRow = Row>(text: string, values: unknown[] = [], client?: PoolClient): Promise<{ rows: R[]; rowCount: number }> {
    const r = await (client ?? this.pool).query<R>(this.sql(text), values);
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  }

  /** One transaction on one connection; ROLLBACK on any error (and drop the connection if even that fails). */
  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    // A connection the server ends while this transaction holds it (pg_terminate_backend, a failover, a
    // restart) emits 'error' on the client: without a listener that event kills the process with a stack
    // trace and the run is never closed. The query in progress fails with the same error, which ends the
    // transaction the usual way; the connection is then dropped from the pool.
    const onError = (err: Error) => {
      broken ??= err;
    };
    c.on('error', onError);
    try {
      // One round trip: a lock another runner holds too long fails this transaction instead of hanging it.
      await c.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.timeoutMs))}`);
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      c.removeListener('error', onError);
      c.release(broken);
    }
  }

  /**
   * Inside a transaction: refuse if any lease behind `fences` was taken over. FOR SHARE makes a
   * takeover wait for this transaction (one statement for all of a sharded run's leases).
   */
  private async checkFence(c: PoolClient, fences: Fences): Promise<void> {
    const list = fenceList(fences);
    if (list.length === 0) return;
    const { rows } = await this.query('SELECT name, token FROM {s}.leases WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE', [list.map((f) => f.name)], c);
    const tokens = new Map(rows.map((r) => [r.name as string, r.token as number]));
    for (const fence of list) {
      const token = tokens.get(fence.name);
      if (token !== fence.token) {
        throw new LeaseLostError(
          `the lease "${fence.name}" (token ${fence.token}) was taken over${token !== undefined ? ` (token ${token} now)` : ''}; nothing more is recorded by this run`,
        );
      }
    }
  }

  /** A transaction-level advisory lock (never session-level: those break behind poolers), per schema and purpose. */
  private async advisoryLock(c: PoolClient, purpose: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`reflex:${purpose}:${this.schema}`]);
  }

  // ---- schema

  migrate(): Promise<void> {
    return this.op(async () => {
      const latest = this.migrations.reduce((m, x) => Math.max(m, x.version), 0);
      if ((await this.schemaVersion()) === latest) return;
      await this.tx(async (c) => {
        await this.advisoryLock(c, 'migrate');
        await c.query(this.sql('CREATE SCHEMA IF NOT EXISTS {s}'));
        await c.query(this.sql('CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)'));
        const current = await this.schemaVersion(c);
        if (current === 0 && !this.initialize) {
          // Tables but no schema version: another application's schema, or a Reflex store whose version table is
          // gone. Creating Reflex's tables beside them would start from nothing (no off switch, disables, cooldowns).
          const { rows } = await this.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'schema_version' ORDER BY table_name LIMIT 6",
            [this.schema],
            c,
          );
          if (rows.length > 0) {
            const names = rows.map((r) => r.table_name as string);
            throw new StoreError(
              `the PostgreSQL store at ${this.where}: schema ${this.schema} holds tables but is not a Reflex store (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}; no schema_version): give Reflex a schema of its own (?schema=reflex in the URL), or, if it is Reflex's and meant to start afresh, run \`reflex run --init-store\``,
            );
          }
        }
        if (current > latest) {
          throw new StoreError(
            `the PostgreSQL store at ${this.where} (schema ${this.schema}) has schema version ${current}, newer than this Reflex knows (${latest}): upgrade Reflex`,
          );
        }
        for (const m of [...this.migrations].sort((a, b) => a.version - b.version)) {
          if (m.version <= current) continue;
          await c.query(this.sql(m.sql));
          await this.query('INSERT INTO {s}.schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, this.now()], c);
        }
      });
    });
  }

  private async schemaVersion(c?: PoolClient): Promise<number> {
    const t = await this.query('SELECT to_regclass($1) AS t', [`${this.s}.schema_version`], c);
    if (t.rows[0]?.t === null) return 0;
    const { rows } = await this.query('SELECT max(version) AS v FROM {s}.schema_version', [], c);
    return (rows[0]?.v as number | null) ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // ---- leases

  acquireLease(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseResult> {
    return this.op(() =>
      this.tx(async (c) => {
        // A row to lock even for a name never used; token 0 is never handed out.
        await this.query(
          "INSERT INTO {s}.leases (name, holder, token, acquired_at, expires_at) VALUES ($1, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING",
          [name],
          c,
        );
        const { rows } = await this.query('SELECT holder, token, expires_at FROM {s}.leases WHERE name = $1 FOR UPDATE', [name], c);
        const row = rows[0]!;
        const expiresAt = now + ttlMs;
        if (row.holder !== '' && row.expires_at > now) return { acquired: false, holder: row.holder, expiresAt: row.expires_at };
        const token = (row.token as number) + 1;
        await this.query(
          'UPDATE {s}.leases SET holder = $2, token = $3, acquired_at = $4, expires_at = $5 WHERE name = $1',
          [name, holder, token, now, expiresAt],
          c,
        );
        return { acquired: true, token, expiresAt };
      }),
    );
  }

  /**
   * Take up to `max` free, released or expired leases among `names`, the ones acquired longest
   * ago first, skipping rows another runner is claiming right now (SKIP LOCKED) instead of waiting.
   */
  acquireAnyLeases(names: string[], holder: string, ttlMs: number, now: number, max: number): Promise<(Fence & { expiresAt: number })[]> {
    return this.op(() =>
      this.tx(async (c) => {
        if (names.length === 0 || max <= 0) return [];
        await this.query(
          "INSERT INTO {s}.leases (name, holder, token, acquired_at, expires_at) SELECT n, '', 0, 0, 0 FROM unnest($1::text[]) AS n ON CONFLICT (name) DO NOTHING",
          [names],
          c,
        );
        const { rows } = await this.query(
          `SELECT name FROM {s}.leases WHERE name = ANY($1::text[]) AND (holder = '' OR expires_at <= $2)
           ORDER BY acquired_at, array_position($1::text[], name) LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [names, now, max],
          c,
        );
        if (rows.length === 0) return [];
        const taken = await this.query(
          `UPDATE {s}.leases SET holder = $2, token = token + 1, acquired_at = $3, expires_at = $4 WHERE name = ANY($1::text[])
           RETURNING name, token, expires_at`,
          [rows.map((r) => r.name), holder, now, now + ttlMs],
          c,
        );
        const order = new Map(names.map((n, i) => [n, i]));
        return taken.rows
          .map((r) => ({ name: r.name as string, token: r.token as number, expiresAt: r.expires_at as number }))
          .sort((a, b) => order.get(a.name)! - order.get(b.name)!);
      }),
    );
  }

  renewLease(fence: Fence, ttlMs: number, now: number): Promise<boolean> {
    return this.op(
      async () =>
        (await this.query("UPDATE {s}.leases SET expires_at = $3 WHERE name = $1 AND token = $2 AND holder <> ''", [fence.name, fence.token, now + ttlMs]))
          .rowCount > 0,
    );
  }

  releaseLease(fence: Fence): Promise<void> {
    return this.op(async () => {
      // The row stays so that the next token is still one more than this one.
      await this.query("UPDATE {s}.leases SET holder = '', expires_at = 0 WHERE name = $1 AND token = $2", [fence.name, fence.token]);
    });
  }

  listLeases(): Promise<LeaseInfo[]> {
    return this.op(async () => (await this.query("SELECT * FROM {s}.leases WHERE holder <> '' ORDER BY name")).rows.map(leaseFromRow));
  }

  // ---- runs

  beginRun(run: { startedAt: number; mode: 'dry-run' | 'enforce'; holder: string; ruleSetHash: string; shard?: string | null }): Promise<number> {
    return this.op(async () => {
      const { rows } = await this.query(
        "INSERT INTO {s}.runs (started_at, status, mode, holder, rule_set_hash, shard) VALUES ($1, 'running', $2, $3, $4, $5) RETURNING id",
        [run.startedAt, run.mode, run.holder, run.ruleSetHash, run.shard ?? null],
      );
      return rows[0]!.id as number;
    });
  }

  saveRuleSet(hash: string, texts: Record<string, string>): Promise<void> {
    return this.op(async () => {
      await this.query('INSERT INTO {s}.rule_sets (hash, texts) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [hash, toJson(texts)]);
    });
  }

  getRuleSet(hash: string): Promise<Record<string, string> | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT texts FROM {s}.rule_sets WHERE hash = $1', [hash])).rows[0];
      return r === undefined ? null : JSON.parse(r.texts);
    });
  }

  finishRun(
    runId: number,
    result: {
      finishedAt: number;
      status: string;
      summary: Record<string, unknown>;
      snapshot: Uint8Array | null;
      decisions: DecisionRecord[];
      ifUnfinished?: boolean;
    },
    fence: Fences,
  ): Promise<void> {
    return this.op(() =>
      this.tx(async (c) => {
        await this.checkFence(c, fence);
        const u = await this.query(
          `UPDATE {s}.runs SET finished_at = $1, status = $2, summary = $3 WHERE id = $4${result.ifUnfinished ? ' AND finished_at IS NULL' : ''}`,
          [result.finishedAt, result.status, text(toJson(result.summary)), runId],
          c,
        );
        if (u.rowCount === 0 && result.ifUnfinished) return;
        if (u.rowCount === 0) throw new Error(`finishRun: run ${runId} does not exist`);
        if (result.snapshot === null) await this.query('DELETE FROM {s}.run_snapshots WHERE run_id = $1', [runId], c);
        else if (!(result.snapshot instanceof Uint8Array)) await this.writeSnapshot(c, runId, result.snapshot);
        else {
          await this.query(
            'INSERT INTO {s}.run_snapshots (run_id, data) VALUES ($1, $2) ON CONFLICT (run_id) DO UPDATE SET data = excluded.data',
            [runId, Buffer.from(result.snapshot.buffer, result.snapshot.byteOffset, result.snapshot.byteLength)],
            c,
          );
        }
        await this.query('DELETE FROM {s}.decisions WHERE run_id = $1', [runId], c);
        // One JSON document per chunk, expanded by the server: about twice as fast as column arrays
        // with unnest, and far faster than a round trip per row.
        for (let i = 0; i < result.decisions.length; i += DECISION_CHUNK) {
          // The body (conditions, trace, actions) once per distinct body; the row refers to it.
          const bodies = new Map<string, string>();
          const chunk = result.decisions.slice(i, i + DECISION_CHUNK).map((d, n) => {
            const b = encodeBody(d, runId);
            bodies.set(b.hash, text(b.text));
            return { n, t: text(d.target), r: text(d.rule), o: d.outcome, s: text(d.severity), at: d.at, b: b.hash };
          });
          await this.query(
            `INSERT INTO {s}.decision_bodies (hash, body, last_run) SELECT x.h, x.b, $3 FROM unnest($1::text[], $2::text[]) AS x(h, b)
             ON CONFLICT (hash) DO UPDATE SET last_run = excluded.last_run WHERE excluded.last_run > {s}.decision_bodies.last_run`,
            [[...bodies.keys()], [...bodies.values()], runId],
            c,
          );
          await this.query(
            `INSERT INTO {s}.decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at, body)
             SELECT $1, x.t, x.r, x.o, x.s, '', '', NULL, x.at, x.b
             FROM json_to_recordset($2::json) AS x(n integer, t text, r text, o text, s text, at bigint, b text)
             ORDER BY x.n`,
            [runId, JSON.stringify(chunk)],
            c,
          );
        }
      }),
    );
  }

  /**
   * Inside finishRun's transaction: the targets that differ from the head get a new version under the
   * next sequence number (see the SQLite store). Taking the head row's lock first serializes
   * snapshot writers, so the head read with it is what every earlier snapshot left.
   */
  private async writeSnapshot(c: PoolClient, runId: number, snap: SnapshotInput): Promise<void> {
    // RETURNING gives the new row; the old order and digests are what the UPDATE left unchanged.
    const head = (await this.query('UPDATE {s}.snapshot_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, order_hash, digests', [], c)).rows[0]!;
    const seq = Number(head.seq);
    const order = orderHash(snap.ids);
    const headOrder = head.order_hash as string | null;
    const prevIds =
      headOrder === null || headOrder === order
        ? null
        : decodeOrder((await this.query('SELECT ids FROM {s}.snapshot_orders WHERE hash = $1', [headOrder], c)).rows[0]!.ids as Buffer);
    const { changed, gone } = changesSince(
      { order: headOrder, digests: head.digests === null ? null : snapshotBytes(head.digests), ids: () => prevIds ?? [] },
      snap,
      order,
    );
    for (let i = 0; i < changed.length; i += SNAPSHOT_CHUNK) {
      const part = changed.slice(i, i + SNAPSHOT_CHUNK);
      await this.query(
        `INSERT INTO {s}.snapshot_targets (target, seq, data) SELECT x.t, $3, x.d FROM unnest($1::text[], $2::text[]) AS x(t, d)
         ON CONFLICT (target, seq) DO UPDATE SET data = excluded.data`,
        [part.map((j) => text(snap.ids[j]!)), part.map((j) => snap.texts[j]!), seq],
        c,
      );
    }
    for (let i = 0; i < gone.length; i += SNAPSHOT_CHUNK) {
      await this.query(
        `INSERT INTO {s}.snapshot_targets (target, seq, data) SELECT x.t, $2, NULL FROM unnest($1::text[]) AS x(t)
         ON CONFLICT (target, seq) DO UPDATE SET data = NULL`,
        [gone.slice(i, i + SNAPSHOT_CHUNK).map(text), seq],
        c,
      );
    }
    if ((await this.query('SELECT 1 FROM {s}.snapshot_orders WHERE hash = $1', [order], c)).rowCount === 0) {
      await this.query('INSERT INTO {s}.snapshot_orders (hash, ids) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [order, encodeOrder(snap.ids)], c);
    }
    await this.query(
      'UPDATE {s}.snapshot_head SET order_hash = $1, digests = $2 WHERE id = 1',
      [order, Buffer.from(snap.digests.buffer, snap.digests.byteOffset, snap.digests.byteLength)],
      c,
    );
    await this.query(
      `INSERT INTO {s}.run_snapshots (run_id, data, seq, order_hash) VALUES ($1, $2, $3, $4)
       ON CONFLICT (run_id) DO UPDATE SET data = excluded.data, seq = excluded.seq, order_hash = excluded.order_hash`,
      [runId, encodeMeta(snap.meta), seq, order],
      c,
    );
  }

  /** Inside a transaction after runs were deleted: drop target versions and orders no retained snapshot reads (see the SQLite store). */
  private async collectVersions(c: PoolClient): Promise<void> {
    // The head's lock keeps snapshot writers out meanwhile.
    const counter = Number((await this.query('SELECT seq FROM {s}.snapshot_head WHERE id = 1 FOR UPDATE', [], c)).rows[0]!.seq);
    const oldest = (await this.query('SELECT min(seq) AS s FROM {s}.run_snapshots WHERE seq IS NOT NULL', [], c)).rows[0]!.s;
    const smin = oldest === null || oldest === undefined ? counter : Number(oldest);
    await this.query(
      `DELETE FROM {s}.snapshot_targets o WHERE o.seq < $1 AND EXISTS (
         SELECT 1 FROM {s}.snapshot_targets n WHERE n.target = o.target AND n.seq > o.seq AND n.seq <= $1)`,
      [smin],
      c,
    );
    await this.query('DELETE FROM {s}.snapshot_targets WHERE data IS NULL AND seq <= $1', [smin], c);
    // The head's order stays: the next snapshot compares with it.
    await this.query(
      `DELETE FROM {s}.snapshot_orders WHERE hash NOT IN (SELECT order_hash FROM {s}.run_snapshots WHERE order_hash IS NOT NULL)
       AND hash IS DISTINCT FROM (SELECT order_hash FROM {s}.snapshot_head WHERE id = 1)`,
      [],
      c,
    );
    // Bodies last used by runs older than every run kept (finished or not) are read by no one.
    await this.query('DELETE FROM {s}.decision_bodies WHERE last_run < (SELECT coalesce(min(id), 9007199254740991) FROM {s}.runs)', [], c);
  }

  getSnapshotParts(runId: number): Promise<SnapshotParts | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT data, seq, order_hash FROM {s}.run_snapshots WHERE run_id = $1', [runId])).rows[0];
      if (r === undefined) return null;
      if (r.seq === null) return { whole: snapshotBytes(r.data) };
      const o = (await this.query('SELECT ids FROM {s}.snapshot_orders WHERE hash = $1', [r.order_hash])).rows[0];
      if (o === undefined) throw new Error(`the snapshot of run ${runId} lacks its order of targets: the store is inconsistent`);
      const ids = decodeOrder(o.ids as Buffer);
      const byId = new Map<string, string>();
      const rows = (
        await this.pool.query({
          text: this.sql('SELECT DISTINCT ON (target) target, data FROM {s}.snapshot_targets WHERE seq <= $1 ORDER BY target, seq DESC'),
          values: [r.seq],
          rowMode: 'array',
        })
      ).rows as [string, string | null][];
      for (const [t, d] of rows) if (d !== null) byId.set(t, d);
      // Ids with NUL are stored with U+FFFD (see the README): look them up that way.
      const texts = inOrder(ids.map(text), byId, runId);
      return { meta: decodeMeta(r.data as Buffer), ids, texts };
    });
  }

  async getSnapshot(runId: number): Promise<Uint8Array | null> {
    const parts = await this.getSnapshotParts(runId);
    if (parts === null) return null;
    if ('whole' in parts) return parts.whole;
    const z = gzipSync(snapshotJson(parts), { level: 1 });
    return new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
  }

  size(): Promise<StoreSize> {
    return this.op(async () => {
      const tables: Record<string, number> = {};
      let bytes = 0;
      for (const r of (
        await this.query(
          `SELECT c.relname AS t, pg_total_relation_size(c.oid) AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [this.schema],
        )
      ).rows) {
        tables[r.t as string] = Number(r.b);
        bytes += Number(r.b);
      }
      const runs = (await this.query('SELECT count(*) AS n, min(started_at) AS oldest FROM {s}.runs')).rows[0]!;
      return { bytes, tables, runs: Number(runs.n), oldestRunAt: runs.oldest === null ? null : Number(runs.oldest) };
    });
  }

  getRun(id: number): Promise<RunRecord | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT * FROM {s}.runs WHERE id = $1', [id])).rows[0];
      return r === undefined ? null : runFromRow(r);
    });
  }

  listRuns(filter: { limit: number; since?: number; before?: number }): Promise<RunRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where: string[] = [];
      if (filter.since !== undefined) where.push(`started_at >= ${p.add(filter.since)}`);
      if (filter.before !== undefined) where.push(`started_at < ${p.add(filter.before)}`);
      const sql = `SELECT * FROM {s}.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ${p.add(filter.limit)}`;
      return (await this.query(sql, p.values)).rows.map(runFromRow);
    });
  }

  getDecisions(runId: number, filter: { target?: string; rule?: string } = {}): Promise<DecisionRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where = [`d.run_id = ${p.add(runId)}`];
      if (filter.target !== undefined) where.push(`d.target = ${p.add(filter.target)}`);
      if (filter.rule !== undefined) where.push(`d.rule = ${p.add(filter.rule)}`);
      return (await this.query(`${PG_SELECT_DECISIONS} WHERE ${where.join(' AND ')} ORDER BY d.id`, p.values)).rows.map(decisionFromRow);
    });
  }

  decisionHistory(filter: {
    target?: string;
    rule?: string;
    since?: number;
    limit: number;
    outcomes?: DecisionRecord['outcome'][];
  }): Promise<DecisionRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where: string[] = [];
      if (filter.target !== undefined) where.push(`d.target = ${p.add(filter.target)}`);
      if (filter.rule !== undefined) where.push(`d.rule = ${p.add(filter.rule)}`);
      if (filter.since !== undefined) where.push(`d.at >= ${p.add(filter.since)}`);
      if (filter.outcomes !== undefined) where.push(`d.outcome = ANY(${p.add(filter.outcomes)}::text[])`);
      const sql = `${PG_SELECT_DECISIONS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.at DESC, d.id DESC LIMIT ${p.add(filter.limit)}`;
      return (await this.query(sql, p.values)).rows.map(decisionFromRow);
    });
  }

  pruneRuns(before: number, opts: { keep?: number } = {}): Promise<number> {
    // Snapshots and decisions go with their run (ON DELETE CASCADE); the journal stays.
    return this.op(() =>
      this.tx(async (c) => {
        let n = (await this.query('DELETE FROM {s}.runs WHERE finished_at IS NOT NULL AND finished_at < $1', [before], c)).rowCount;
        if (opts.keep !== undefined) {
          n += (
            await this.query(
              `DELETE FROM {s}.runs WHERE finished_at IS NOT NULL AND id NOT IN (
                 SELECT id FROM {s}.runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT $1)`,
              [Math.max(0, opts.keep)],
              c,
            )
          ).rowCount;
        }
        if (n > 0) await this.collectVersions(c);
        return n;
      }),
    );
  }

  // ---- `for` state

  loadForState(): Promise<ForState[]> {
    return this.op(async () => (await this.query('SELECT * FROM {s}.for_state ORDER BY rule, target')).rows.map(forStateFromRow));
  }

  saveForState(upserts: ForState[], deletes: { rule: string; target: string }[], fence: Fences): Promise<void> {
    return this.op(() =>
      this.tx(async (c) => {
        await this.checkFence(c, fence);
        if (upserts.length > 0) {
          await this.query(
            `INSERT INTO {s}.for_state (rule, target, since, runs, last_run_id)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[])
             ON CONFLICT (rule, target) DO UPDATE SET since = excluded.since, runs = excluded.runs, last_run_id = excluded.last_run_id`,
            [
              upserts.map((u) => u.rule),
              upserts.map((u) => u.target),
              upserts.map((u) => u.since),
              upserts.map((u) => u.runs),
              upserts.map((u) => u.lastRunId),
            ],
            c,
          );
        }
        if (deletes.length > 0) {
          await this.query(
            'DELETE FROM {s}.for_state f USING unnest($1::text[], $2::text[]) AS d(rule, target) WHERE f.rule = d.rule AND f.target = d.target',
            [deletes.map((d) => d.rule), deletes.map((d) => d.target)],
            c,
          );
        }
      }),
    );
  }

  // ---- executions (the journal)

  intentTransaction<T>(fence: Fences, fn: (tx: IntentTx) => Promise<T>): Promise<T> {
    return this.op(() =>
      this.intentMutex.run(() =>
        this.tx(async (c) => {
          // Checks and the insert of every runner on this schema happen one transaction at a time.
          await this.advisoryLock(c, 'intent');
          await this.checkFence(c, fence);
          const state = { open: true };
          try {
            return await fn(this.intentTx(c, state));
          } finally {
            state.open = false;
          }
        }),
      ),
    );
  }

  private intentTx(c: PoolClient, state: { open: boolean }): IntentTx {
    const live =
      <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        if (!state.open) throw new Error('the intent transaction is over: use tx only inside the intentTransaction callback');
        return f(...a);
      };
    const now = this.now();
    const count = async (sql: string, values: unknown[]) => (await this.query(sql, values, c)).rows[0]!.n as number;
    return {
      now,
      getSwitch: live(() => this.readSwitch(c)),
      activeDisables: live(() => this.readDisables(now, c)),
      cooldown: live((key: string) => this.readCooldown(key, c)),
      countExecutions: live((f: { since: number; rule?: string; action?: string }) => {
        const p = new Params();
        const where = [`created_at >= ${p.add(f.since)}`];
        if (f.rule !== undefined) where.push(`rule = ${p.add(f.rule)}`);
        if (f.action !== undefined) where.push(`action = ${p.add(f.action)}`);
        return count(`SELECT count(*) AS n FROM {s}.executions WHERE ${where.join(' AND ')}`, p.values);
      }),
      countTargetsInGroup: live((group: string, since: number, f?: { rule?: string; except?: string }) =>
        count(
          `SELECT count(DISTINCT e.target) AS n FROM {s}.execution_groups g JOIN {s}.executions e ON e.id = g.execution_id
           WHERE g.grp = $1 AND e.created_at >= $2 AND ($3::text IS NULL OR e.rule = $3) AND ($4::text IS NULL OR e.target <> $4)`,
          [group, since, f?.rule ?? null, f?.except ?? null],
        ),
      ),
      countRunningInGroup: live((group: string) =>
        count(
          `SELECT count(*) AS n FROM {s}.execution_groups g JOIN {s}.executions e ON e.id = g.execution_id
           WHERE g.grp = $1 AND e.status IN ('intent', 'running')`,
          [group],
        ),
      ),
      insertIntent: live((i: IntentInput) => this.insertIntent(i, c)),
      useApproval: live(
        async (id: number, u: { runId: number; executionId: number; at: number }) =>
          (
            await this.query(
              `UPDATE {s}.approvals SET status = 'used', used_at = $1, used_run = $2, execution_id = $3, closed_at = $1
               WHERE id = $4 AND status = 'approved' AND expires_at > $1`,
              [u.at, u.runId, u.executionId, id],
              c,
            )
          ).rowCount > 0,
      ),
    };
  }

  private async insertIntent(i: IntentInput, c: PoolClient): Promise<{ inserted: true; id: number } | { inserted: false; existingId: number }> {
    const r = (
      await this.query(
        `INSERT INTO {s}.executions (key, run_id, rule, action, step, target, kind, describe, detail, cooldown_key, cooldown_ms, groups, created_at, shard, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'intent') ON CONFLICT (key) DO NOTHING RETURNING id`,
        [
          i.key,
          i.runId,
          i.rule,
          i.action,
          i.step,
          i.target,
          i.kind,
          text(i.describe),
          toJson(i.detail),
          i.cooldownKey,
          i.cooldownMs,
          toJson(i.groups),
          i.createdAt,
          i.shard ?? null,
        ],
        c,
      )
    ).rows[0];
    if (r === undefined) {
      const existing = (await this.query('SELECT id FROM {s}.executions WHERE key = $1', [i.key], c)).rows[0]!;
      return { inserted: false, existingId: existing.id };
    }
    if (i.groups.length > 0) {
      await this.query(
        'INSERT INTO {s}.execution_groups (grp, execution_id) SELECT DISTINCT g, $2::bigint FROM unnest($1::text[]) AS g ON CONFLICT DO NOTHING',
        [i.groups, r.id],
        c,
      );
    }
    await this.upsertCooldown(i.cooldownKey, i.createdAt, i.createdAt + i.cooldownMs, c);
    return { inserted: true, id: r.id };
  }

  markRunning(id: number, startedAt: number): Promise<void> {
    return this.op(() =>
      this.againOnLostConnection(async (again) => {
        const u = await this.query("UPDATE {s}.executions SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'intent'", [startedAt, id]);
        if (u.rowCount === 0 && !(again && (await this.already(id, 'running', 'started_at', startedAt)))) throw await this.conflict(id, 'cannot start it');
      }),
    );
  }

  finishExecution(id: number, outcome: ExecutionOutcome & { finishedAt: number }): Promise<void> {
    return this.op(() =>
      this.againOnLostConnection(async (again) => {
        // An execution another runner marked interrupted still gets its real outcome when it arrives.
        const u = await this.query(
          `UPDATE {s}.executions SET status = $1, finished_at = $2, exit_code = $3, http_status = $4, duration_ms = $5, output = $6, error = $7
         WHERE id = $8 AND status IN ('intent', 'running', 'interrupted')`,
          [
            outcome.status,
            outcome.finishedAt,
            outcome.exitCode ?? null,
            outcome.httpStatus ?? null,
            outcome.durationMs,
            text(outcome.output),
            textOrNull(outcome.error),
            id,
          ],
        );
        if (u.rowCount === 0 && !(again && (await this.already(id, outcome.status, 'finished_at', outcome.finishedAt))))
          throw await this.conflict(id, 'cannot record its outcome');
      }),
    );
  }

  /**
   * An idempotent write whose connection the server ended (pg_terminate_backend, a failover) is tried once more on
   * another connection (up to LOST_CONNECTION_ATTEMPTS in all): the outcome of an action that ran is worth more than
   * the run's speed. `again` tells a later try, which must accept that an earlier one committed before its answer was lost.
   */
  private async againOnLostConnection<T>(fn: (again: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt > 1);
      } catch (err) {
        if (!connectionLost(err) || attempt >= LOST_CONNECTION_ATTEMPTS) throw err;
        // The pool's other idle connections were likely ended too: a moment lets it hear of that and drop them.
        await new Promise((r) => setTimeout(r, 25 * attempt));
      }
    }
  }

  /** Whether execution `id` already has `status` and this time in `column` (a retried write that had committed). */
  private async already(id: number, status: string, column: 'started_at' | 'finished_at', at: number): Promise<boolean> {
    const r = (await this.query(`SELECT status, ${column} AS at FROM {s}.executions WHERE id = $1`, [id])).rows[0];
    return r !== undefined && r.status === status && Number(r.at) === at;
  }

  private async conflict(id: number, what: string): Promise<JournalConflictError> {
    const r = (await this.query('SELECT status FROM {s}.executions WHERE id = $1', [id])).rows[0];
    return new JournalConflictError(
      r === undefined ? `execution ${id} is not in the journal: ${what}` : `execution ${id} is ${r.status} in the journal: ${what}`,
    );
  }

  unfinishedExecutions(): Promise<ExecutionRecord[]> {
    return this.op(async () => (await this.query("SELECT * FROM {s}.executions WHERE status IN ('intent', 'running') ORDER BY id")).rows.map(executionFromRow));
  }

  markInterrupted(ids: number[], note: string, at: number): Promise<void> {
    return this.op(async () => {
      if (ids.length === 0) return;
      await this.query(
        "UPDATE {s}.executions SET status = 'interrupted', error = $1, finished_at = $2 WHERE id = ANY($3::bigint[]) AND status IN ('intent', 'running')",
        [text(note), at, ids],
      );
    });
  }

  getExecution(id: number): Promise<ExecutionRecord | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT * FROM {s}.executions WHERE id = $1', [id])).rows[0];
      return r === undefined ? null : executionFromRow(r);
    });
  }

  listExecutions(filter: { target?: string; rule?: string; runId?: number; since?: number; limit: number }): Promise<ExecutionRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where: string[] = [];
      if (filter.target !== undefined) where.push(`target = ${p.add(filter.target)}`);
      if (filter.rule !== undefined) where.push(`rule = ${p.add(filter.rule)}`);
      if (filter.runId !== undefined) where.push(`run_id = ${p.add(filter.runId)}`);
      if (filter.since !== undefined) where.push(`created_at >= ${p.add(filter.since)}`);
      const sql = `SELECT * FROM {s}.executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${p.add(filter.limit)}`;
      return (await this.query(sql, p.values)).rows.map(executionFromRow);
    });
  }

  recentOutcomes(rule: string, n: number): Promise<(ExecutionStatus | 'ineffective')[]> {
    return this.op(async () =>
      (
        await this.query(
          `SELECT CASE WHEN v.status = 'ineffective' THEN 'ineffective' ELSE e.status END AS status
           FROM {s}.executions e LEFT JOIN {s}.verifications v ON v.execution_id = e.id
           WHERE e.rule = $1 AND e.finished_at IS NOT NULL ORDER BY e.finished_at DESC, e.id DESC LIMIT $2`,
          [rule, n],
        )
      ).rows.map((r) => r.status),
    );
  }

  // ---- cooldowns and source cache

  private async readCooldown(key: string, c?: PoolClient): Promise<{ lastAt: number; until: number } | null> {
    const r = (await this.query('SELECT last_at, until FROM {s}.cooldowns WHERE key = $1', [key], c)).rows[0];
    return r === undefined ? null : { lastAt: r.last_at, until: r.until };
  }

  private async upsertCooldown(key: string, lastAt: number, until: number, c?: PoolClient): Promise<void> {
    await this.query(
      'INSERT INTO {s}.cooldowns (key, last_at, until) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at, until = excluded.until',
      [key, lastAt, until],
      c,
    );
  }

  getCooldown(key: string): Promise<{ lastAt: number; until: number } | null> {
    return this.op(() => this.readCooldown(key));
  }

  setCooldown(key: string, lastAt: number, until: number): Promise<void> {
    return this.op(() => this.upsertCooldown(key, lastAt, until));
  }

  listCooldowns(activeAt: number): Promise<{ key: string; lastAt: number; until: number }[]> {
    return this.op(async () =>
      (await this.query('SELECT key, last_at, until FROM {s}.cooldowns WHERE until > $1 ORDER BY key', [activeAt])).rows.map((r) => ({
        key: r.key,
        lastAt: r.last_at,
        until: r.until,
      })),
    );
  }

  getSourceCache(name: string): Promise<{ at: number; payload: Uint8Array } | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT at, payload FROM {s}.source_cache WHERE name = $1', [name])).rows[0];
      return r === undefined ? null : { at: r.at, payload: snapshotBytes(r.payload) };
    });
  }

  setSourceCache(name: string, at: number, payload: Uint8Array): Promise<void> {
    return this.op(async () => {
      await this.query(
        'INSERT INTO {s}.source_cache (name, at, payload) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET at = excluded.at, payload = excluded.payload',
        [name, at, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)],
      );
    });
  }

  // ---- switch, disables, audit

  private async readSwitch(c?: PoolClient): Promise<SwitchState> {
    const r = (await this.query('SELECT * FROM {s}.switch WHERE id = 1', [], c)).rows[0];
    if (r === undefined) return { off: false, by: null, reason: null, at: null, until: null };
    return { off: r.off === true, by: r.by, reason: r.reason, at: r.at, until: r.until };
  }

  getSwitch(): Promise<SwitchState> {
    return this.op(() => this.readSwitch());
  }

  setSwitch(st: { off: boolean; by: string; reason: string; at: number; until: number | null }): Promise<void> {
    return this.op(async () => {
      await this.query(
        `INSERT INTO {s}.switch (id, off, by, reason, at, until) VALUES (1, $1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET off = excluded.off, by = excluded.by, reason = excluded.reason, at = excluded.at, until = excluded.until`,
        [st.off, st.by, text(st.reason), st.at, st.until],
      );
    });
  }

  /** Active at `at`: not lifted, and no expiry or an expiry after `at` (until == at has expired). */
  private async readDisables(at: number, c?: PoolClient): Promise<DisableRecord[]> {
    return (await this.query('SELECT * FROM {s}.disables WHERE removed_at IS NULL AND (until IS NULL OR until > $1) ORDER BY id', [at], c)).rows.map(
      disableFromRow,
    );
  }

  addDisable(d: Omit<DisableRecord, 'id' | 'removedAt' | 'removedBy'>): Promise<number> {
    return this.op(async () => {
      const { rows } = await this.query(
        'INSERT INTO {s}.disables (scope, value, selector, by, reason, created_at, until) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
        [d.scope, d.value, d.selector === null ? null : toJson(d.selector), d.by, text(d.reason), d.createdAt, d.until],
      );
      return rows[0]!.id as number;
    });
  }

  removeDisables(match: { id?: number; scope?: DisableScope; value?: string }, by: string, at: number): Promise<DisableRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where = ['removed_at IS NULL', `(until IS NULL OR until > ${p.add(at)})`];
      if (match.id !== undefined) where.push(`id = ${p.add(match.id)}`);
      if (match.scope !== undefined) where.push(`scope = ${p.add(match.scope)}`);
      if (match.value !== undefined) where.push(`value = ${p.add(match.value)}`);
      if (where.length === 2) throw new Error('removeDisables needs an id, a scope or a value: an empty match would lift every disable');
      const sql = `UPDATE {s}.disables SET removed_at = ${p.add(at)}, removed_by = ${p.add(by)} WHERE ${where.join(' AND ')} RETURNING *`;
      return (await this.query(sql, p.values)).rows.map(disableFromRow).sort((a, b) => a.id - b.id);
    });
  }

  listDisables(filter: { activeAt?: number }): Promise<DisableRecord[]> {
    return this.op(async () =>
      filter.activeAt !== undefined
        ? this.readDisables(filter.activeAt)
        : (await this.query('SELECT * FROM {s}.disables ORDER BY id')).rows.map(disableFromRow),
    );
  }

  appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    return this.op(async () => {
      await this.query('INSERT INTO {s}.audit (at, by, action, detail) VALUES ($1, $2, $3, $4)', [entry.at, entry.by, entry.action, toJson(entry.detail)]);
    });
  }

  listAudit(limit: number): Promise<AuditRecord[]> {
    return this.op(async () => (await this.query('SELECT * FROM {s}.audit ORDER BY at DESC, id DESC LIMIT $1', [limit])).rows.map(auditFromRow));
  }

  // ---- escalations

  openEscalation(e: { dedupKey: string; channel: string; summary: string; at: number }): Promise<{ isNew: boolean }> {
    return this.op(async () => {
      // One statement: two runners opening the same key at once still page once.
      const { rows } = await this.query(
        `INSERT INTO {s}.escalations AS e (dedup_key, channel, status, summary, first_at, last_at, count) VALUES ($1, $2, 'open', $3, $4, $4, 1)
         ON CONFLICT (dedup_key) WHERE status = 'open'
         DO UPDATE SET last_at = GREATEST(e.last_at, excluded.last_at), count = e.count + 1, summary = excluded.summary, channel = excluded.channel
         RETURNING (xmax = 0) AS inserted`,
        [e.dedupKey, e.channel, text(e.summary), e.at],
      );
      return { isNew: rows[0]!.inserted === true };
    });
  }

  resolveEscalation(dedupKey: string, at: number): Promise<boolean> {
    return this.op(
      async () =>
        (await this.query("UPDATE {s}.escalations SET status = 'resolved', resolved_at = $1 WHERE dedup_key = $2 AND status = 'open'", [at, dedupKey]))
          .rowCount > 0,
    );
  }

  listEscalations(filter: { status?: 'open' | 'resolved'; limit: number }): Promise<EscalationRecord[]> {
    return this.op(async () => {
      const r =
        filter.status !== undefined
          ? await this.query('SELECT * FROM {s}.escalations WHERE status = $1 ORDER BY last_at DESC, id DESC LIMIT $2', [filter.status, filter.limit])
          : await this.query('SELECT * FROM {s}.escalations ORDER BY last_at DESC, id DESC LIMIT $1', [filter.limit]);
      return r.rows.map(escalationFromRow);
    });
  }

  // ---- metrics

  recordMetrics(u: MetricUpdate): Promise<void> {
    return this.op(() =>
      this.tx(async (c) => {
        // Sorted rows: two runners adding to the same counters lock them in the same order (no deadlock).
        const sorted = (l: MetricPoint[]) => l.map((p) => ({ ...p, key: labelsKey(p.labels) })).sort((a, b) => (a.name + a.key < b.name + b.key ? -1 : 1));
        for (const p of sorted(u.add)) {
          await this.query(
            `INSERT INTO {s}.metrics AS m (scope, name, labels, value, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, name, labels) DO UPDATE SET value = m.value + excluded.value, updated_at = excluded.updated_at`,
            [STORE_SCOPE, p.name, p.key, p.value, u.at],
            c,
          );
        }
        for (const p of sorted(u.max)) {
          await this.query(
            `INSERT INTO {s}.metrics AS m (scope, name, labels, value, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, name, labels) DO UPDATE SET value = GREATEST(m.value, excluded.value), updated_at = excluded.updated_at`,
            [STORE_SCOPE, p.name, p.key, p.value, u.at],
            c,
          );
        }
        if (u.replace) {
          await this.query('DELETE FROM {s}.metrics WHERE scope = $1', [u.replace.scope], c);
          for (const p of sorted(u.replace.samples)) {
            await this.query(
              `INSERT INTO {s}.metrics (scope, name, labels, value, updated_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (scope, name, labels) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
              [u.replace.scope, p.name, p.key, p.value, u.at],
              c,
            );
          }
        }
        if (u.dropBefore !== undefined) await this.query('DELETE FROM {s}.metrics WHERE scope <> $1 AND updated_at < $2', [STORE_SCOPE, u.dropBefore], c);
      }),
    );
  }

  listMetrics(): Promise<MetricSample[]> {
    return this.op(async () =>
      (await this.query('SELECT scope, name, labels, value, updated_at FROM {s}.metrics ORDER BY name, scope, labels')).rows.map((r) => ({
        scope: r.scope,
        name: r.name,
        labels: JSON.parse(r.labels),
        value: Number(r.value),
        updatedAt: Number(r.updated_at),
      })),
    );
  }

  // ---- verifications

  saveVerifications(v: VerificationRecord[], fence: Fences): Promise<void> {
    return this.op(async () => {
      if (v.length === 0) return;
      await this.tx(async (c) => {
        await this.checkFence(c, fence);
        const cols = VERIFICATION_COLUMNS.join(', ');
        const set = VERIFICATION_COLUMNS.slice(1)
          .map((x) => `${x} = excluded.${x}`)
          .join(', ');
        for (const x of v) {
          const values = verificationValues(x).map((y) => (typeof y === 'string' ? text(y) : y));
          await this.query(
            `INSERT INTO {s}.verifications (${cols}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (execution_id) DO UPDATE SET ${set}`,
            values,
            c,
          );
        }
      });
    });
  }

  listVerifications(filter: {
    rule?: string;
    target?: string;
    status?: VerificationStatus;
    open?: boolean;
    executionIds?: number[];
    limit: number;
  }): Promise<VerificationRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where: string[] = [];
      if (filter.rule !== undefined) where.push(`rule = ${p.add(filter.rule)}`);
      if (filter.target !== undefined) where.push(`target = ${p.add(filter.target)}`);
      if (filter.status !== undefined) where.push(`status = ${p.add(filter.status)}`);
      if (filter.open) where.push("(status = 'pending' OR (status = 'ineffective' AND cleared_at IS NULL))");
      if (filter.executionIds !== undefined) where.push(`execution_id = ANY(${p.add(filter.executionIds)}::bigint[])`);
      const sql = `SELECT * FROM {s}.verifications ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, execution_id DESC LIMIT ${p.add(filter.limit)}`;
      return (await this.query(sql, p.values)).rows.map(verificationFromRow);
    });
  }

  clearVerifications(match: { rule?: string; target?: string }, by: string, at: number): Promise<VerificationRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where = ["status = 'ineffective'", 'cleared_at IS NULL'];
      const set = `cleared_at = ${p.add(at)}, cleared_by = ${p.add(by)}`;
      if (match.rule !== undefined) where.push(`rule = ${p.add(match.rule)}`);
      if (match.target !== undefined) where.push(`target = ${p.add(match.target)}`);
      if (where.length === 2) throw new Error('clearVerifications needs a rule or a target');
      return (await this.query(`UPDATE {s}.verifications SET ${set} WHERE ${where.join(' AND ')} RETURNING *`, p.values)).rows.map(verificationFromRow);
    });
  }

  // ---- approvals

  askApproval(a: ApprovalInput, fence: Fences): Promise<{ created: boolean; approval: ApprovalRecord }> {
    return this.op(() =>
      this.tx(async (c) => {
        await this.checkFence(c, fence);
        const liveOne = async () =>
          (await this.query("SELECT * FROM {s}.approvals WHERE rule = $1 AND target = $2 AND status IN ('pending', 'approved')", [a.rule, a.target], c))
            .rows[0];
        // Read first (a refused insert would still use up an id), then insert against the partial unique index:
        // two runners asking at once make one approval.
        const had = await liveOne();
        if (had !== undefined) return { created: false, approval: approvalFromRow(had) };
        const ins = (
          await this.query(
            `INSERT INTO {s}.approvals (rule, target, guard, why, severity, actions, fingerprint, facts, asked_at, asked_run, expires_ms, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending')
             ON CONFLICT (rule, target) WHERE status IN ('pending', 'approved') DO NOTHING RETURNING *`,
            [
              a.rule,
              a.target,
              a.guard,
              text(a.why),
              a.severity,
              text(toJson(a.actions)),
              a.fingerprint,
              text(toJson(a.facts)),
              a.askedAt,
              a.askedRun,
              a.expiresMs,
            ],
            c,
          )
        ).rows[0];
        if (ins !== undefined) return { created: true, approval: approvalFromRow(ins) };
        return { created: false, approval: approvalFromRow((await liveOne())!) };
      }),
    );
  }

  changeApproval(ch: ApprovalChange, fence: Fences): Promise<ApprovalRecord | null> {
    return this.op(() =>
      this.tx(async (c) => {
        await this.checkFence(c, fence);
        const r = ch.clear
          ? await this.query(
              'UPDATE {s}.approvals SET cleared_at = $1 WHERE id = $2 AND status = ANY($3::text[]) AND cleared_at IS NULL RETURNING *',
              [ch.at, ch.id, ch.from],
              c,
            )
          : await this.query(
              `UPDATE {s}.approvals SET status = $1::text,
                 by = coalesce($2::text, by), reason = coalesce($3::text, reason),
                 decided_at = CASE WHEN $2::text IS NULL THEN decided_at ELSE $4::bigint END,
                 expires_at = coalesce($5::bigint, expires_at), note = coalesce($6::text, note),
                 closed_at = CASE WHEN $1::text IN ('pending', 'approved') THEN NULL ELSE $4::bigint END
               WHERE id = $7 AND status = ANY($8::text[]) RETURNING *`,
              [ch.to, textOrNull(ch.by), textOrNull(ch.reason), ch.at, ch.expiresAt ?? null, textOrNull(ch.note), ch.id, ch.from],
              c,
            );
        const row = r.rows[0];
        return row === undefined ? null : approvalFromRow(row);
      }),
    );
  }

  getApproval(id: number): Promise<ApprovalRecord | null> {
    return this.op(async () => {
      const r = (await this.query('SELECT * FROM {s}.approvals WHERE id = $1', [id])).rows[0];
      return r === undefined ? null : approvalFromRow(r);
    });
  }

  listApprovals(filter: { status?: ApprovalStatus[]; rule?: string; target?: string; uncleared?: boolean; limit: number }): Promise<ApprovalRecord[]> {
    return this.op(async () => {
      const p = new Params();
      const where: string[] = [];
      if (filter.status !== undefined) where.push(`status = ANY(${p.add(filter.status)}::text[])`);
      if (filter.rule !== undefined) where.push(`rule = ${p.add(filter.rule)}`);
      if (filter.target !== undefined) where.push(`target = ${p.add(filter.target)}`);
      if (filter.uncleared) where.push('cleared_at IS NULL');
      const sql = `SELECT * FROM {s}.approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${p.add(filter.limit)}`;
      return (await this.query(sql, p.values)).rows.map(approvalFromRow);
    });
  }
}
