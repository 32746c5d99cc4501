// The SQLite store: one file in WAL mode, the default state of a Reflex project (choices explained in ../README.md).
import { randomBytes } from 'node:crypto';
import { linkSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { type Expression, Kysely, SqliteDialect, type SqlBool, sql } from 'kysely';
import { toJson } from '../codec.js';
import { Mutex, Reentry } from '../mutex.js';
import { type DecisionRows, REENTRY, SqlStore } from '../sql/store.js';
import type { Database as Tables, Q } from '../sql/tables.js';
import { type ForState, type Store, StoreError, type StoreSize } from '../types.js';
import { type Migration, SQLITE_MIGRATIONS } from '../sql/migrations.js';
import { makeDirs, sqlitePathProblems, storeFileState } from './path.js';

export interface SqliteStoreOptions {
  /** How long a write waits for another process's write lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** The clock for `IntentTx.now` and migration times (default Date.now). */
  now?: () => number;
  /** The migrations to apply (tests use a prefix to build an older store). */
  migrations?: readonly Migration[];
  /** Make a store of an existing empty file or table-less database instead of refusing it (`reflex run --init-store`). */
  initialize?: boolean;
}

/** SQLite error codes that mean "the store cannot be used", as opposed to a bug in a query. */
const UNUSABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|NOTADB|CORRUPT|FULL|IOERR|READONLY|PERM|AUTH)/;

/** A message for people: what failed and what to look at. */
function humanCause(err: unknown, busyTimeoutMs: number): string {
  const e = err as { code?: string; message?: string };
  const code = e?.code ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `the database is locked by another process (waited ${busyTimeoutMs} ms); is another reflex command writing to it?`;
  }
  if (code === 'SQLITE_NOTADB') return 'the file exists but is not a SQLite database';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'unable to open the database file (does its directory exist, and may this user write to it?)';
  if (code.startsWith('SQLITE_READONLY')) return 'the database is read-only for this user';
  if (code === 'SQLITE_FULL') return 'the disk is full';
  if (code.startsWith('SQLITE_CORRUPT')) return 'the database file is corrupt';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${e.message ?? code})`;
  if (code === 'ENOTDIR' || code === 'EEXIST') return `a path component is not a directory (${e.message ?? code})`;
  return e?.message ?? String(err);
}

/**
 * Open the SQLite store at `path`, or an in-memory one for ':memory:'. Where no file exists, a new store is made
 * whole (migrated under a temporary name, then linked into place), so a file at the path is a Reflex store or
 * was put there by something else: an empty file, a database without Reflex's tables or anything that is not
 * SQLite is refused (the off switch, disables and cooldowns would silently vanish otherwise), unless
 * `initialize` says to make a store of an empty one (`reflex run --init-store`).
 * Call `migrate()` before use. Throws StoreError with the path and cause when it cannot be opened.
 */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  const memory = path === ':memory:';
  const where = memory ? ':memory:' : resolve(path);
  const now = opts.now ?? Date.now;
  const migrations = opts.migrations ?? SQLITE_MIGRATIONS;
  const refuse = (why: string, cause?: unknown) =>
    new StoreError(`cannot open the SQLite store at ${where}: ${why}`, cause === undefined ? undefined : { cause });
  if (!memory) {
    const problem = sqlitePathProblems(where).find((p) => p.severity === 'error');
    if (problem) throw refuse(problem.message);
    let state: ReturnType<typeof storeFileState>;
    try {
      state = storeFileState(where);
      if (state.kind === 'missing') {
        makeDirs(dirname(where));
        createStoreFile(where, busyTimeoutMs, now, migrations);
        state = storeFileState(where);
      }
    } catch (err) {
      throw refuse(humanCause(err, busyTimeoutMs), err);
    }
    if (state.kind === 'empty' && !opts.initialize)
      throw refuse(
        'the file is empty (0 bytes), so it is not a Reflex store: its off switch, disables and cooldowns would be lost without a word. Restore it from a backup; or, to start afresh on purpose, run `reflex run --init-store` (or remove the file)',
      );
    if (state.kind === 'not-sqlite') throw refuse('the file exists but is not a SQLite database');
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(where, { timeout: busyTimeoutMs });
    // Reading the header here turns "not a database" into an open error, not a later surprise.
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
      .map((r) => r.name)
      // SQLite's own (sqlite_sequence stays behind when every table is dropped)
      .filter((n) => !n.startsWith('sqlite_'));
    if (!memory && !tables.includes('schema_version')) {
      if (tables.length > 0)
        throw refuse(
          `the file is a SQLite database of something else, not a Reflex store (its tables: ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''}): give Reflex a file of its own`,
        );
      if (!opts.initialize)
        throw refuse(
          "the file is a SQLite database without Reflex's tables, so it is not a Reflex store: its off switch, disables and cooldowns would be lost without a word. Restore it from a backup; or, to start afresh on purpose, run `reflex run --init-store` (or remove the file)",
        );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // A 30 MB run leaves a 30 MB WAL file behind after the checkpoint; keep it from staying larger than this.
    db.pragma('journal_size_limit = 67108864');
  } catch (err) {
    try {
      db?.close();
    } catch {
      // the open error is the one worth reporting
    }
    if (err instanceof StoreError) throw err;
    throw refuse(humanCause(err, busyTimeoutMs), err);
  }
  const file = memory ? null : statSync(where);
  return new SqliteStore(db, where, busyTimeoutMs, now, migrations, file && { dev: file.dev, ino: file.ino });
}

/**
 * Make a new store at `where`: migrated under a temporary name, then hard-linked into place, so that no run ever
 * finds a half-made store there (a crash leaves only the temporary file). If another process made one meanwhile,
 * its store is kept and this one dropped.
 */
function createStoreFile(where: string, busyTimeoutMs: number, now: () => number, migrations: readonly Migration[]): void {
  const tmp = `${where}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  try {
    const db = new Database(tmp, { timeout: busyTimeoutMs });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      new SqliteStore(db, tmp, busyTimeoutMs, now, migrations, null).migrateNow();
    } finally {
      // Checkpoints the WAL into the file and removes it: the file alone is the whole store.
      db.close();
    }
    try {
      linkSync(tmp, where);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  }
}

// The body (conditions, trace, actions) is stored once in decision_bodies; the row refers to it.
const INSERT_DECISION = `INSERT INTO decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at, body)
  VALUES (?, ?, ?, ?, ?, '', '', NULL, ?, ?)`;
const UPSERT_BODY = `INSERT INTO decision_bodies (hash, body, last_run) VALUES (?, ?, ?)
  ON CONFLICT (hash) DO UPDATE SET last_run = excluded.last_run WHERE excluded.last_run > decision_bodies.last_run`;

/**
 * SQLite's part of the store (the logic is in ../sql/store.ts): one connection, every operation alone behind an
 * in-process mutex, every write transaction `BEGIN IMMEDIATE` (the file's write lock at once, so no transaction
 * fails half-way on a lock upgrade and the intent transaction's checks see what no other runner can change), the
 * file watched for being deleted or replaced, and the bulk writes of a run on cached prepared statements.
 */
/**
 * What the store objects of one database file in this process share: their operations queue on one mutex, and a
 * call from inside any one's intent callback is refused. A write transaction awaits kysely's (synchronously
 * settled) promises, so another store object's write could otherwise start between two of its statements: its
 * BEGIN IMMEDIATE would then wait for the lock in the busy handler, which blocks the event loop and so the very
 * transaction it waits for, until the busy timeout.
 */
interface FileQueue {
  mutex: Mutex;
  reentry: Reentry;
  stores: number;
}
const FILE_QUEUES = new Map<string, FileQueue>();

function fileQueue(key: string | null): FileQueue {
  if (key === null) return { mutex: new Mutex(), reentry: new Reentry(REENTRY), stores: 1 };
  let q = FILE_QUEUES.get(key);
  if (q === undefined) FILE_QUEUES.set(key, (q = { mutex: new Mutex(), reentry: new Reentry(REENTRY), stores: 0 }));
  q.stores++;
  return q;
}

class SqliteStore extends SqlStore {
  readonly kind = 'sqlite' as const;
  private readonly mutex: Mutex;
  private readonly queueKey: string | null;
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(
    private readonly raw: Database.Database,
    private readonly where: string,
    private readonly busyTimeoutMs: number,
    now: () => number,
    private readonly migrations: readonly Migration[],
    /** The file this store opened (device and inode), to notice it being deleted or replaced under a run; null in memory. */
    private readonly file: { dev: number; ino: number } | null,
  ) {
    // kysely prepares every query it runs: through this cache each distinct text is prepared once.
    const prepare = (sql: string) => this.stmt(sql);
    const key = file === null ? null : `${file.dev}:${file.ino}`;
    const queue = fileQueue(key);
    super(new Kysely<Tables>({ dialect: new SqliteDialect({ database: { prepare, close: () => {} } }) }), now, false, queue.reentry);
    this.mutex = queue.mutex;
    this.queueKey = key;
  }

  // ---- plumbing

  /** A cached prepared statement (tables must exist, so statements are prepared on first use). */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.raw.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Every operation runs alone: nothing joins an open intent transaction. */
  protected async op<T>(fn: () => Promise<T>): Promise<T> {
    this.reentry.refuse();
    return this.mutex.run(async () => {
      if (this.closed) throw new StoreError(`the SQLite store at ${this.where} is closed`);
      this.checkFile();
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        throw this.wrap(err);
      }
      // What was just written went to the file this store opened: if that is no longer the store's file, the
      // caller must not go on as if it were recorded (an intent there would not stop the next run).
      this.checkFile();
      return result;
    });
  }

  /**
   * Refuse to go on when the store's file was deleted or replaced (a restore, a `mv`) while this process had it
   * open: SQLite would go on writing to the old file, which nobody will read again.
   */
  private checkFile(): void {
    if (this.file === null) return;
    const now = statSync(this.where, { throwIfNoEntry: false });
    if (now === undefined)
      throw new StoreError(
        `the SQLite store file ${this.where} was deleted while this command was using it: nothing more is recorded and no further action starts (what was written since is lost with it; the next command finds no store and starts a new, empty one)`,
      );
    if (now.ino !== this.file.ino || now.dev !== this.file.dev)
      throw new StoreError(
        `the SQLite store file ${this.where} was replaced by another file while this command was using it: nothing more is recorded and no further action starts (the next command uses the new file)`,
      );
  }

  private wrap(err: unknown): unknown {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && UNUSABLE.test(code)) {
      return new StoreError(`cannot use the SQLite store at ${this.where}: ${humanCause(err, this.busyTimeoutMs)}`, { cause: err });
    }
    // A table or column the migrations made is gone: the file was edited by hand or damaged, not a bug in a query.
    const message = (err as { message?: unknown })?.message;
    if (code === 'SQLITE_ERROR' && typeof message === 'string' && /^no such (table|column)/.test(message)) {
      return new StoreError(
        `the SQLite store at ${this.where} is damaged: ${message}, though its schema version (${this.schemaVersionOrUnknown()}) says it exists; restore the file from a backup`,
        { cause: err },
      );
    }
    return err;
  }

  /** A write transaction that takes the write lock at BEGIN, so it never fails half-way on a lock upgrade. */
  protected async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    this.raw.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this.db);
      this.raw.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
      throw err;
    }
  }

  protected write<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  /** BEGIN IMMEDIATE already keeps every other writer (runner or not) out until it ends. */
  protected intentTx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  protected journalWrite<T>(fn: (q: Q, again: boolean) => Promise<T>): Promise<T> {
    return this.tx((q) => fn(q, false));
  }

  protected inList(column: string, values: readonly (string | number)[]): Expression<SqlBool> {
    return sql<SqlBool>`${sql.ref(column)} IN (SELECT value FROM json_each(${toJson(values)}))`;
  }

  protected greatest(a: Expression<number>, b: Expression<number>): Expression<number> {
    return sql<number>`max(${a}, ${b})`;
  }

  // ---- bulk writes: one cached statement run per row (better-sqlite3 is synchronous, so a row costs a few microseconds)

  protected async insertDecisions(_q: Q, runId: number, d: DecisionRows): Promise<void> {
    const upsertBody = this.stmt(UPSERT_BODY);
    for (const [hash, text] of d.bodies) upsertBody.run(hash, text, runId);
    const insert = this.stmt(INSERT_DECISION);
    for (const r of d.rows) insert.run(runId, r.target, r.rule, r.outcome, r.severity, r.at, r.body);
  }

  protected async insertVersions(_q: Q, seq: number, versions: { target: string; data: string | null }[]): Promise<void> {
    const version = this.stmt('INSERT INTO snapshot_targets (target, seq, data) VALUES (?, ?, ?) ON CONFLICT (target, seq) DO UPDATE SET data = excluded.data');
    for (const v of versions) version.run(v.target, seq, v.data);
  }

  protected async latestVersions(_q: Q, seq: number): Promise<Map<string, string>> {
    const byId = new Map<string, string>();
    // SQLite: the bare column `data` comes from the row of max(seq).
    for (const [t, , d] of this.stmt('SELECT target, max(seq), data FROM snapshot_targets WHERE seq <= ? GROUP BY target')
      .raw(true)
      .iterate(seq) as IterableIterator<[string, number, string | null]>) {
      if (d !== null) byId.set(t, d);
    }
    return byId;
  }

  protected async writeForState(_q: Q, upserts: ForState[], deletes: { rule: string; target: string }[]): Promise<void> {
    const up = this.stmt(`INSERT INTO for_state (rule, target, since, runs, last_run_id) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (rule, target) DO UPDATE SET since = excluded.since, runs = excluded.runs, last_run_id = excluded.last_run_id`);
    for (const s of upserts) up.run(s.rule, s.target, s.since, s.runs, s.lastRunId);
    const del = this.stmt('DELETE FROM for_state WHERE rule = ? AND target = ?');
    for (const d of deletes) del.run(d.rule, d.target);
  }

  // ---- schema

  migrate(): Promise<void> {
    return this.op(async () => this.migrateNow());
  }

  /** Apply the migrations this store lacks, in one write transaction (also how a new store file is made). */
  migrateNow(): void {
    const latest = this.migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (this.schemaVersion() === latest) return;
    this.raw
      .transaction(() => {
        this.raw.exec(`CREATE TABLE IF NOT EXISTS schema_version (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
        // Read again under the write lock: another process may have migrated meanwhile.
        const current = this.schemaVersion();
        if (current > latest) {
          throw new StoreError(`the SQLite store at ${this.where} has schema version ${current}, newer than this Reflex knows (${latest}): upgrade Reflex`);
        }
        for (const m of [...this.migrations].sort((a, b) => a.version - b.version)) {
          if (m.version <= current) continue;
          this.raw.exec(m.sql);
          this.raw.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, this.now());
        }
      })
      .immediate();
    this.statements.clear();
  }

  private schemaVersionOrUnknown(): string {
    try {
      return String(this.schemaVersion());
    } catch {
      return 'unknown';
    }
  }

  private schemaVersion(): number {
    const t = this.raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (t === undefined) return 0;
    return ((this.raw.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v as number | null) ?? 0;
  }

  async close(): Promise<void> {
    this.reentry.refuse();
    await this.mutex.run(() => {
      if (this.closed) return;
      this.closed = true;
      this.raw.close();
      if (this.queueKey !== null) {
        const q = FILE_QUEUES.get(this.queueKey);
        if (q !== undefined && --q.stores === 0) FILE_QUEUES.delete(this.queueKey);
      }
    });
  }

  size(): Promise<StoreSize> {
    return this.op(async () => {
      const pages = (this.raw.pragma('page_count', { simple: true }) as number) * (this.raw.pragma('page_size', { simple: true }) as number);
      let bytes = pages;
      if (this.where !== ':memory:') {
        bytes = 0;
        for (const f of [this.where, `${this.where}-wal`]) {
          try {
            bytes += statSync(f).size;
          } catch {
            // no WAL file right now
          }
        }
      }
      const tables: Record<string, number> = {};
      try {
        // Indexes are counted with their table.
        for (const row of this.raw
          .prepare(`SELECT coalesce(m.tbl_name, d.name) AS t, sum(d.pgsize) AS b FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY t`)
          .all() as { t: string; b: number }[]) {
          tables[row.t] = row.b;
        }
      } catch {
        // SQLite built without the dbstat table: the total only
      }
      const runs = this.stmt('SELECT count(*) AS n, min(started_at) AS oldest FROM runs').get() as { n: number; oldest: number | null };
      return { bytes, tables, runs: runs.n, oldestRunAt: runs.oldest ?? null };
    });
  }
}
