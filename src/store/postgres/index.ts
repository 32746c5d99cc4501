// The PostgreSQL store: the same contract as SQLite, for several runners sharing the work.
import type { Pool } from 'pg';
import { CompiledQuery, type Expression, Kysely, PostgresDialect, type PostgresPool, type SqlBool, sql } from 'kysely';
import { Mutex } from '../mutex.js';
import type { Row } from '../rows.js';
import { type DecisionRows, SqlStore } from '../sql/store.js';
import type { Q, Database as Tables } from '../sql/tables.js';
import { type ForState, JournalConflictError, LeaseLostError, type Store, StoreError, type StoreSize } from '../types.js';
import { type Migration, PG_MIGRATIONS } from '../sql/migrations.js';

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
  migrations?: readonly Migration[];
  /** Make a store in a schema that holds tables but no Reflex schema version, instead of refusing it (`reflex run --init-store`). */
  initialize?: boolean;
}

/** A query with no answer for this long fails (the connection is dropped); the URL's `query_timeout` overrides it. */
const DEFAULT_QUERY_TIMEOUT_MS = 60_000;

/** Tries of an idempotent journal write whose connection was lost (the pool holds up to 4, all maybe ended at once). */
const LOST_CONNECTION_ATTEMPTS = 4;
/** Target versions per INSERT … unnest(…) statement when a snapshot is stored by change. */
const SNAPSHOT_CHUNK = 10_000;

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

/**
 * The pool as kysely takes it: every connection it hands out listens for the 'error' a connection that the server
 * ends (pg_terminate_backend, a failover, a restart) emits while checked out (without a listener, that event kills
 * the process with a stack trace and the run is never closed), and a connection that failed so, or whose ROLLBACK
 * failed, is dropped from the pool when released instead of being handed out again.
 */
function guardedPool(pool: Pool): PostgresPool {
  return {
    async connect() {
      const c = await pool.connect();
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken ??= err;
      };
      c.on('error', onError);
      return {
        query: async (text: string, values: unknown[]) => {
          try {
            return await c.query(text, values);
          } catch (err) {
            if (text === 'ROLLBACK' || connectionLost(err)) broken ??= err as Error;
            throw err;
          }
        },
        release: () => {
          c.removeListener('error', onError);
          c.release(broken);
        },
      } as never;
    },
    end: () => pool.end(),
  };
}

/**
 * PostgreSQL's part of the store (the logic is in ../sql/store.ts): a pool of connections, a transaction per write
 * with a lock timeout, transaction-level advisory locks for migrations and intents, row locks where a write decides
 * on what it read, failures of the server worded for people, journal writes tried again on another connection, and
 * the bulk writes of a run as a few statements over arrays and JSON (a round trip per row would cost far more).
 */
class PostgresStore extends SqlStore {
  readonly kind = 'postgres' as const;
  /**
   * In-process, intent transactions run one at a time, so waiting for the advisory lock never
   * holds a pool connection that the holder of the lock might need.
   */
  private readonly intentMutex = new Mutex();
  private readonly s: string;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly where: string,
    private readonly schema: string,
    private readonly timeoutMs: number,
    now: () => number,
    private readonly migrations: readonly Migration[],
    private readonly initialize = false,
  ) {
    super(new Kysely<Tables>({ dialect: new PostgresDialect({ pool: guardedPool(pool) }) }).withSchema(schema), now, true);
    this.s = quoteIdent(schema);
  }

  // ---- plumbing

  private sql(text: string): string {
    return text.replaceAll('{s}', this.s);
  }

  /** A statement of this dialect's own (`{s}` is the schema), on `q`: the pool, or a transaction's connection. */
  private async query(q: Q, text: string, values: unknown[] = []): Promise<Row[]> {
    return (await q.executeQuery<Row>(CompiledQuery.raw(this.sql(text), values))).rows;
  }

  /** Every public operation: refuses use after close or from inside an intent transaction, and words connection failures for people. */
  protected async op<T>(fn: () => Promise<T>): Promise<T> {
    this.reentry.refuse();
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

  /** One transaction on one connection; ROLLBACK on any error (the connection is dropped if even that fails). */
  protected tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.db.connection().execute(async (c) => {
      // One round trip: a lock another runner holds too long fails this transaction instead of hanging it.
      await c.executeQuery(CompiledQuery.raw(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.timeoutMs))}`));
      try {
        const result = await fn(c);
        await c.executeQuery(CompiledQuery.raw('COMMIT'));
        return result;
      } catch (err) {
        await c.executeQuery(CompiledQuery.raw('ROLLBACK')).catch(() => {});
        throw err;
      }
    });
  }

  protected write<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return fn(this.db);
  }

  protected intentTx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.intentMutex.run(() =>
      this.tx(async (q) => {
        // Checks and the insert of every runner on this schema happen one transaction at a time.
        await this.advisoryLock(q, 'intent');
        return fn(q);
      }),
    );
  }

  /**
   * An idempotent write whose connection the server ended (pg_terminate_backend, a failover) is tried once more on
   * another connection (up to LOST_CONNECTION_ATTEMPTS in all): the outcome of an action that ran is worth more than
   * the run's speed. `again` tells a later try, which must accept that an earlier one committed before its answer was lost.
   */
  protected async journalWrite<T>(fn: (q: Q, again: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.db, attempt > 1);
      } catch (err) {
        if (!connectionLost(err) || attempt >= LOST_CONNECTION_ATTEMPTS) throw err;
        // The pool's other idle connections were likely ended too: a moment lets it hear of that and drop them.
        await new Promise((r) => setTimeout(r, 25 * attempt));
      }
    }
  }

  protected inList(column: string, values: readonly (string | number)[], type: 'text' | 'bigint'): Expression<SqlBool> {
    return sql<SqlBool>`${sql.ref(column)} = ANY(${[...values]}::${sql.raw(type)}[])`;
  }

  protected greatest(a: Expression<number>, b: Expression<number>): Expression<number> {
    return sql<number>`GREATEST(${a}, ${b})`;
  }

  protected override text(s: string): string {
    return text(s);
  }

  /** A transaction-level advisory lock (never session-level: those break behind poolers), per schema and purpose. */
  private async advisoryLock(q: Q, purpose: string): Promise<void> {
    await this.query(q, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`reflex:${purpose}:${this.schema}`]);
  }

  // ---- bulk writes

  protected async insertDecisions(q: Q, runId: number, d: DecisionRows): Promise<void> {
    // The body (conditions, trace, actions) once per distinct body; the row refers to it.
    const hashes = [...d.bodies.keys()];
    for (let i = 0; i < hashes.length; i += DECISION_CHUNK) {
      const part = hashes.slice(i, i + DECISION_CHUNK);
      await this.query(
        q,
        `INSERT INTO {s}.decision_bodies (hash, body, last_run) SELECT x.h, x.b, $3 FROM unnest($1::text[], $2::text[]) AS x(h, b)
         ON CONFLICT (hash) DO UPDATE SET last_run = excluded.last_run WHERE excluded.last_run > {s}.decision_bodies.last_run`,
        [part, part.map((h) => d.bodies.get(h)!), runId],
      );
    }
    // One JSON document per chunk, expanded by the server: about twice as fast as column arrays
    // with unnest, and far faster than a round trip per row.
    for (let i = 0; i < d.rows.length; i += DECISION_CHUNK) {
      const chunk = d.rows.slice(i, i + DECISION_CHUNK).map((r, n) => ({ n, t: r.target, r: r.rule, o: r.outcome, s: r.severity, at: r.at, b: r.body }));
      await this.query(
        q,
        `INSERT INTO {s}.decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at, body)
         SELECT $1, x.t, x.r, x.o, x.s, '', '', NULL, x.at, x.b
         FROM json_to_recordset($2::json) AS x(n integer, t text, r text, o text, s text, at bigint, b text)
         ORDER BY x.n`,
        [runId, JSON.stringify(chunk)],
      );
    }
  }

  protected async insertVersions(q: Q, seq: number, versions: { target: string; data: string | null }[]): Promise<void> {
    for (let i = 0; i < versions.length; i += SNAPSHOT_CHUNK) {
      const part = versions.slice(i, i + SNAPSHOT_CHUNK);
      await this.query(
        q,
        `INSERT INTO {s}.snapshot_targets (target, seq, data) SELECT x.t, $3, x.d FROM unnest($1::text[], $2::text[]) AS x(t, d)
         ON CONFLICT (target, seq) DO UPDATE SET data = excluded.data`,
        [part.map((v) => v.target), part.map((v) => v.data), seq],
      );
    }
  }

  protected async latestVersions(_q: Q, seq: number): Promise<Map<string, string>> {
    const byId = new Map<string, string>();
    // Rows as arrays: a 100,000-target fleet reads back without an object per row.
    const rows = (
      await this.pool.query({
        text: this.sql('SELECT DISTINCT ON (target) target, data FROM {s}.snapshot_targets WHERE seq <= $1 ORDER BY target, seq DESC'),
        values: [seq],
        rowMode: 'array',
      })
    ).rows as [string, string | null][];
    for (const [t, d] of rows) if (d !== null) byId.set(t, d);
    return byId;
  }

  protected async writeForState(q: Q, upserts: ForState[], deletes: { rule: string; target: string }[]): Promise<void> {
    if (upserts.length > 0) {
      await this.query(
        q,
        `INSERT INTO {s}.for_state (rule, target, since, runs, last_run_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[])
         ON CONFLICT (rule, target) DO UPDATE SET since = excluded.since, runs = excluded.runs, last_run_id = excluded.last_run_id`,
        [upserts.map((u) => u.rule), upserts.map((u) => u.target), upserts.map((u) => u.since), upserts.map((u) => u.runs), upserts.map((u) => u.lastRunId)],
      );
    }
    if (deletes.length > 0) {
      await this.query(q, 'DELETE FROM {s}.for_state f USING unnest($1::text[], $2::text[]) AS d(rule, target) WHERE f.rule = d.rule AND f.target = d.target', [
        deletes.map((d) => d.rule),
        deletes.map((d) => d.target),
      ]);
    }
  }

  // ---- schema

  migrate(): Promise<void> {
    return this.op(async () => {
      const latest = this.migrations.reduce((m, x) => Math.max(m, x.version), 0);
      if ((await this.schemaVersion(this.db)) === latest) return;
      await this.tx(async (q) => {
        await this.advisoryLock(q, 'migrate');
        await this.query(q, 'CREATE SCHEMA IF NOT EXISTS {s}');
        await this.query(q, 'CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
        const current = await this.schemaVersion(q);
        if (current === 0 && !this.initialize) {
          // Tables but no schema version: another application's schema, or a Reflex store whose version table is
          // gone. Creating Reflex's tables beside them would start from nothing (no off switch, disables, cooldowns).
          const rows = await this.query(
            q,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'schema_version' ORDER BY table_name LIMIT 6",
            [this.schema],
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
          await this.query(q, m.sql);
          await this.query(q, 'INSERT INTO {s}.schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, this.now()]);
        }
      });
    });
  }

  private async schemaVersion(q: Q): Promise<number> {
    const t = await this.query(q, 'SELECT to_regclass($1) AS t', [`${this.s}.schema_version`]);
    if (t[0]?.t === null) return 0;
    const rows = await this.query(q, 'SELECT max(version) AS v FROM {s}.schema_version');
    return (rows[0]?.v as number | null) ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  size(): Promise<StoreSize> {
    return this.op(async () => {
      const tables: Record<string, number> = {};
      let bytes = 0;
      for (const r of await this.query(
        this.db,
        `SELECT c.relname AS t, pg_total_relation_size(c.oid) AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [this.schema],
      )) {
        tables[r.t as string] = Number(r.b);
        bytes += Number(r.b);
      }
      const runs = (await this.query(this.db, 'SELECT count(*) AS n, min(started_at) AS oldest FROM {s}.runs'))[0]!;
      return { bytes, tables, runs: Number(runs.n), oldestRunAt: runs.oldest === null ? null : Number(runs.oldest) };
    });
  }
}
