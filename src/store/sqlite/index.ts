// The SQLite store: one file in WAL mode, the default state of a Reflex project (choices explained in ../README.md).
import { randomBytes } from 'node:crypto';
import { linkSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { ExecutionOutcome, ExecutionStatus } from '../../model.js';
import { bytes, encodeBody, toJson } from '../codec.js';
import { Mutex } from '../mutex.js';
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
import { MIGRATIONS, type Migration } from './migrations.js';
import { makeDirs, sqlitePathProblems, storeFileState } from './path.js';
import { gzipSync } from 'node:zlib';

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
  const migrations = opts.migrations ?? MIGRATIONS;
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

/** better-sqlite3 binds Buffers, not plain Uint8Arrays; this is a view, not a copy. */
const blob = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

// The body (conditions, trace, actions) is stored once in decision_bodies; the row refers to it.
const INSERT_DECISION = `INSERT INTO decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at, body)
  VALUES (?, ?, ?, ?, ?, '', '', NULL, ?, ?)`;
const UPSERT_BODY = `INSERT INTO decision_bodies (hash, body, last_run) VALUES (?, ?, ?)
  ON CONFLICT (hash) DO UPDATE SET last_run = excluded.last_run WHERE excluded.last_run > decision_bodies.last_run`;
const SELECT_DECISIONS = 'SELECT d.*, b.body AS body_text FROM decisions d LEFT JOIN decision_bodies b ON b.hash = d.body';

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly mutex = new Mutex('a store method was called from inside intentTransaction: use the transaction object it passes (tx) instead');
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly where: string,
    private readonly busyTimeoutMs: number,
    private readonly now: () => number,
    private readonly migrations: readonly Migration[],
    /** The file this store opened (device and inode), to notice it being deleted or replaced under a run; null in memory. */
    private readonly file: { dev: number; ino: number } | null,
  ) {}

  // ---- plumbing

  /** A cached prepared statement (tables must exist, so statements are prepared on first use). */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Every operation runs alone: nothing joins an open intent transaction. */
  private op<T>(fn: () => T | Promise<T>): Promise<T> {
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
  private writeTx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Inside a write transaction: refuse if any lease behind `fences` was taken over. */
  private checkFence(fences: Fences): void {
    for (const fence of fenceList(fences)) {
      const row = this.stmt('SELECT token FROM leases WHERE name = ?').get(fence.name) as Row | undefined;
      if (row === undefined || row.token !== fence.token) {
        throw new LeaseLostError(
          `the lease "${fence.name}" (token ${fence.token}) was taken over${row ? ` (token ${row.token} now)` : ''}; nothing more is recorded by this run`,
        );
      }
    }
  }

  // ---- schema

  migrate(): Promise<void> {
    return this.op(() => this.migrateNow());
  }

  /** Apply the migrations this store lacks, in one write transaction (also how a new store file is made). */
  migrateNow(): void {
    {
      const latest = this.migrations.reduce((m, x) => Math.max(m, x.version), 0);
      if (this.schemaVersion() === latest) return;
      this.writeTx(() => {
        this.db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
        // Read again under the write lock: another process may have migrated meanwhile.
        const current = this.schemaVersion();
        if (current > latest) {
          throw new StoreError(`the SQLite store at ${this.where} has schema version ${current}, newer than this Reflex knows (${latest}): upgrade Reflex`);
        }
        for (const m of [...this.migrations].sort((a, b) => a.version - b.version)) {
          if (m.version <= current) continue;
          this.db.exec(m.sql);
          this.db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, this.now());
        }
      });
      this.statements.clear();
    }
  }

  private schemaVersionOrUnknown(): string {
    try {
      return String(this.schemaVersion());
    } catch {
      return 'unknown';
    }
  }

  private schemaVersion(): number {
    const t = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (t === undefined) return 0;
    return ((this.db.prepare('SELECT max(version) AS v FROM schema_version').get() as Row).v as number | null) ?? 0;
  }

  async close(): Promise<void> {
    await this.mutex.run(() => {
      if (this.closed) return;
      this.closed = true;
      this.db.close();
    });
  }

  // ---- leases

  acquireLease(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseResult> {
    return this.op(() => this.writeTx(() => this.takeLease(name, holder, ttlMs, now)));
  }

  /** Take `name` if it is free, released or expired (expires_at <= now); a live lease is never shared, not even with its own holder. */
  private takeLease(name: string, holder: string, ttlMs: number, now: number): LeaseResult {
    const row = this.stmt('SELECT holder, token, expires_at FROM leases WHERE name = ?').get(name) as Row | undefined;
    const expiresAt = now + ttlMs;
    if (row === undefined) {
      this.stmt('INSERT INTO leases (name, holder, token, acquired_at, expires_at) VALUES (?, ?, 1, ?, ?)').run(name, holder, now, expiresAt);
      return { acquired: true, token: 1, expiresAt };
    }
    if (row.holder === '' || row.expires_at <= now) {
      const token = (row.token as number) + 1;
      this.stmt('UPDATE leases SET holder = ?, token = ?, acquired_at = ?, expires_at = ? WHERE name = ?').run(holder, token, now, expiresAt, name);
      return { acquired: true, token, expiresAt };
    }
    return { acquired: false, holder: row.holder, expiresAt: row.expires_at };
  }

  /**
   * Take up to `max` of the named leases that are free or expired (for shards): one transaction,
   * the ones acquired longest ago first (never-used ones first of all), then in the order given
   * (shuffle `names` to spread runners over shards of equal age).
   */
  acquireAnyLeases(names: string[], holder: string, ttlMs: number, now: number, max: number): Promise<(Fence & { expiresAt: number })[]> {
    return this.op(() =>
      this.writeTx(() => {
        const got: (Fence & { expiresAt: number })[] = [];
        const age = this.stmt('SELECT acquired_at FROM leases WHERE name = ?');
        const order = names.map((name, i) => ({ name, i, at: ((age.get(name) as Row | undefined)?.acquired_at as number | undefined) ?? 0 }));
        order.sort((a, b) => a.at - b.at || a.i - b.i);
        for (const { name } of order) {
          if (got.length >= max) break;
          const r = this.takeLease(name, holder, ttlMs, now);
          if (r.acquired) got.push({ name, token: r.token, expiresAt: r.expiresAt });
        }
        const index = new Map(names.map((n, i) => [n, i]));
        return got.sort((a, b) => index.get(a.name)! - index.get(b.name)!);
      }),
    );
  }

  renewLease(fence: Fence, ttlMs: number, now: number): Promise<boolean> {
    return this.op(() =>
      this.writeTx(
        () => this.stmt("UPDATE leases SET expires_at = ? WHERE name = ? AND token = ? AND holder <> ''").run(now + ttlMs, fence.name, fence.token).changes > 0,
      ),
    );
  }

  releaseLease(fence: Fence): Promise<void> {
    return this.op(() => {
      // The row stays so that the next token is still one more than this one.
      this.writeTx(() => this.stmt("UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND token = ?").run(fence.name, fence.token));
    });
  }

  listLeases(): Promise<LeaseInfo[]> {
    return this.op(() => (this.stmt("SELECT * FROM leases WHERE holder <> '' ORDER BY name").all() as Row[]).map(leaseFromRow));
  }

  // ---- runs

  beginRun(run: { startedAt: number; mode: 'dry-run' | 'enforce'; holder: string; ruleSetHash: string; shard?: string | null }): Promise<number> {
    return this.op(() =>
      this.writeTx(() => {
        const r = this.stmt("INSERT INTO runs (started_at, status, mode, holder, rule_set_hash, shard) VALUES (?, 'running', ?, ?, ?, ?) RETURNING id").get(
          run.startedAt,
          run.mode,
          run.holder,
          run.ruleSetHash,
          run.shard ?? null,
        ) as Row;
        return r.id as number;
      }),
    );
  }

  saveRuleSet(hash: string, texts: Record<string, string>): Promise<void> {
    return this.op(() => {
      this.writeTx(() => this.stmt('INSERT INTO rule_sets (hash, texts) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING').run(hash, toJson(texts)));
    });
  }

  getRuleSet(hash: string): Promise<Record<string, string> | null> {
    return this.op(() => {
      const r = this.stmt('SELECT texts FROM rule_sets WHERE hash = ?').get(hash) as Row | undefined;
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
    return this.op(() => {
      this.writeTx(() => {
        this.checkFence(fence);
        const u = this.stmt(
          `UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?${result.ifUnfinished ? ' AND finished_at IS NULL' : ''}`,
        ).run(result.finishedAt, result.status, toJson(result.summary), runId);
        if (u.changes === 0 && result.ifUnfinished) return;
        if (u.changes === 0) throw new Error(`finishRun: run ${runId} does not exist`);
        if (result.snapshot === null) this.stmt('DELETE FROM run_snapshots WHERE run_id = ?').run(runId);
        else if (result.snapshot instanceof Uint8Array)
          this.stmt('INSERT OR REPLACE INTO run_snapshots (run_id, data) VALUES (?, ?)').run(runId, blob(result.snapshot));
        else this.writeSnapshot(runId, result.snapshot);
        // Finishing twice replaces the decisions rather than doubling them.
        this.stmt('DELETE FROM decisions WHERE run_id = ?').run(runId);
        const insert = this.stmt(INSERT_DECISION);
        const upsertBody = this.stmt(UPSERT_BODY);
        const bodies = new Set<string>();
        for (const d of result.decisions) {
          const b = encodeBody(d, runId);
          if (!bodies.has(b.hash)) {
            bodies.add(b.hash);
            upsertBody.run(b.hash, b.text, runId);
          }
          insert.run(runId, d.target, d.rule, d.outcome, d.severity, d.at, b.hash);
        }
      });
    });
  }

  /**
   * Inside finishRun's transaction: the targets that differ from the newest stored snapshot (the head)
   * get a new version under the next sequence number; targets that left get an empty one. Under the
   * write lock, so the head is what every earlier snapshot left (docs/performance.md).
   */
  private writeSnapshot(runId: number, snap: SnapshotInput): void {
    const head = this.stmt('UPDATE snapshot_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, order_hash, digests').get() as Row;
    const seq = head.seq as number;
    const order = orderHash(snap.ids);
    const { changed, gone } = changesSince(
      {
        order: head.order_hash as string | null,
        digests: head.digests === null ? null : bytes(head.digests as Buffer),
        ids: () => decodeOrder((this.stmt('SELECT ids FROM snapshot_orders WHERE hash = ?').get(head.order_hash) as Row).ids as Buffer),
      },
      snap,
      order,
    );
    const version = this.stmt('INSERT INTO snapshot_targets (target, seq, data) VALUES (?, ?, ?) ON CONFLICT (target, seq) DO UPDATE SET data = excluded.data');
    for (const i of changed) version.run(snap.ids[i]!, seq, snap.texts[i]!);
    for (const id of gone) version.run(id, seq, null);
    if (this.stmt('SELECT 1 FROM snapshot_orders WHERE hash = ?').get(order) === undefined) {
      this.stmt('INSERT INTO snapshot_orders (hash, ids) VALUES (?, ?)').run(order, encodeOrder(snap.ids));
    }
    this.stmt('UPDATE snapshot_head SET order_hash = ?, digests = ? WHERE id = 1').run(order, blob(snap.digests));
    this.stmt('INSERT OR REPLACE INTO run_snapshots (run_id, data, seq, order_hash) VALUES (?, ?, ?, ?)').run(runId, encodeMeta(snap.meta), seq, order);
  }

  /** Inside a write transaction after runs were deleted: drop target versions and orders no retained snapshot reads. */
  private collectVersions(): void {
    const oldest = (this.stmt('SELECT min(seq) AS s FROM run_snapshots WHERE seq IS NOT NULL').get() as Row).s as number | null;
    // Without a retained snapshot, only the head matters (the next run compares with it).
    const smin = oldest ?? ((this.stmt('SELECT seq FROM snapshot_head WHERE id = 1').get() as Row).seq as number);
    // A version older than the oldest retained snapshot that a newer one (at or before it) replaces is read by no one.
    this.stmt(`DELETE FROM snapshot_targets WHERE seq < ? AND EXISTS (
      SELECT 1 FROM snapshot_targets n WHERE n.target = snapshot_targets.target AND n.seq > snapshot_targets.seq AND n.seq <= ?)`).run(smin, smin);
    // "Left the fleet" matters only to snapshots after it, which do not list the target.
    this.stmt('DELETE FROM snapshot_targets WHERE data IS NULL AND seq <= ?').run(smin);
    // The head's order stays: the next snapshot compares with it.
    this.stmt(`DELETE FROM snapshot_orders WHERE hash NOT IN (SELECT order_hash FROM run_snapshots WHERE order_hash IS NOT NULL)
      AND hash IS NOT (SELECT order_hash FROM snapshot_head WHERE id = 1)`).run();
    // Bodies last used by runs older than every run kept (finished or not) are read by no one.
    this.stmt('DELETE FROM decision_bodies WHERE last_run < (SELECT coalesce(min(id), 9007199254740991) FROM runs)').run();
  }

  getSnapshotParts(runId: number): Promise<SnapshotParts | null> {
    return this.op(() => {
      const r = this.stmt('SELECT data, seq, order_hash FROM run_snapshots WHERE run_id = ?').get(runId) as Row | undefined;
      if (r === undefined) return null;
      if (r.seq === null) return { whole: bytes(r.data as Buffer)! };
      const o = this.stmt('SELECT ids FROM snapshot_orders WHERE hash = ?').get(r.order_hash) as Row | undefined;
      if (o === undefined) throw new Error(`the snapshot of run ${runId} lacks its order of targets: the store is inconsistent`);
      const ids = decodeOrder(o.ids as Buffer);
      const byId = new Map<string, string>();
      // SQLite: the bare column `data` comes from the row of max(seq).
      for (const [t, , d] of this.stmt('SELECT target, max(seq), data FROM snapshot_targets WHERE seq <= ? GROUP BY target')
        .raw(true)
        .iterate(r.seq) as IterableIterator<[string, number, string | null]>) {
        if (d !== null) byId.set(t, d);
      }
      return { meta: decodeMeta(r.data as Buffer), ids, texts: inOrder(ids, byId, runId) };
    });
  }

  async getSnapshot(runId: number): Promise<Uint8Array | null> {
    const parts = await this.getSnapshotParts(runId);
    if (parts === null) return null;
    if ('whole' in parts) return parts.whole;
    return bytes(gzipSync(snapshotJson(parts), { level: 1 }));
  }

  size(): Promise<StoreSize> {
    return this.op(() => {
      const pages = (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
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
        for (const row of this.db
          .prepare(`SELECT coalesce(m.tbl_name, d.name) AS t, sum(d.pgsize) AS b FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY t`)
          .all() as Row[]) {
          tables[row.t as string] = row.b as number;
        }
      } catch {
        // SQLite built without the dbstat table: the total only
      }
      const runs = this.stmt('SELECT count(*) AS n, min(started_at) AS oldest FROM runs').get() as Row;
      return { bytes, tables, runs: runs.n as number, oldestRunAt: (runs.oldest as number | null) ?? null };
    });
  }

  getRun(id: number): Promise<RunRecord | null> {
    return this.op(() => {
      const r = this.stmt('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
      return r === undefined ? null : runFromRow(r);
    });
  }

  listRuns(filter: { limit: number; since?: number; before?: number }): Promise<RunRecord[]> {
    return this.op(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.since !== undefined) where.push('started_at >= ?'), args.push(filter.since);
      if (filter.before !== undefined) where.push('started_at < ?'), args.push(filter.before);
      const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`;
      return (this.stmt(sql).all(...args, filter.limit) as Row[]).map(runFromRow);
    });
  }

  getDecisions(runId: number, filter: { target?: string; rule?: string } = {}): Promise<DecisionRecord[]> {
    return this.op(() => {
      const where = ['d.run_id = ?'];
      const args: unknown[] = [runId];
      if (filter.target !== undefined) where.push('d.target = ?'), args.push(filter.target);
      if (filter.rule !== undefined) where.push('d.rule = ?'), args.push(filter.rule);
      return (this.stmt(`${SELECT_DECISIONS} WHERE ${where.join(' AND ')} ORDER BY d.id`).all(...args) as Row[]).map(decisionFromRow);
    });
  }

  decisionHistory(filter: {
    target?: string;
    rule?: string;
    since?: number;
    limit: number;
    outcomes?: DecisionRecord['outcome'][];
  }): Promise<DecisionRecord[]> {
    return this.op(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.target !== undefined) where.push('d.target = ?'), args.push(filter.target);
      if (filter.rule !== undefined) where.push('d.rule = ?'), args.push(filter.rule);
      if (filter.since !== undefined) where.push('d.at >= ?'), args.push(filter.since);
      if (filter.outcomes !== undefined) where.push('d.outcome IN (SELECT value FROM json_each(?))'), args.push(toJson(filter.outcomes));
      const sql = `${SELECT_DECISIONS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.at DESC, d.id DESC LIMIT ?`;
      return (this.stmt(sql).all(...args, filter.limit) as Row[]).map(decisionFromRow);
    });
  }

  pruneRuns(before: number, opts: { keep?: number } = {}): Promise<number> {
    return this.op(() =>
      // Snapshots and decisions go with their run (ON DELETE CASCADE); the journal stays.
      this.writeTx(() => {
        let n = this.stmt('DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?').run(before).changes;
        if (opts.keep !== undefined) {
          n += this.stmt(`DELETE FROM runs WHERE finished_at IS NOT NULL AND id NOT IN (
            SELECT id FROM runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT ?)`).run(Math.max(0, opts.keep)).changes;
        }
        if (n > 0) this.collectVersions();
        return n;
      }),
    );
  }

  // ---- `for` state

  loadForState(): Promise<ForState[]> {
    return this.op(() => (this.stmt('SELECT * FROM for_state ORDER BY rule, target').all() as Row[]).map(forStateFromRow));
  }

  saveForState(upserts: ForState[], deletes: { rule: string; target: string }[], fence: Fences): Promise<void> {
    return this.op(() => {
      this.writeTx(() => {
        this.checkFence(fence);
        const up = this.stmt(`INSERT INTO for_state (rule, target, since, runs, last_run_id) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (rule, target) DO UPDATE SET since = excluded.since, runs = excluded.runs, last_run_id = excluded.last_run_id`);
        for (const s of upserts) up.run(s.rule, s.target, s.since, s.runs, s.lastRunId);
        const del = this.stmt('DELETE FROM for_state WHERE rule = ? AND target = ?');
        for (const d of deletes) del.run(d.rule, d.target);
      });
    });
  }

  // ---- executions (the journal)

  intentTransaction<T>(fence: Fences, fn: (tx: IntentTx) => Promise<T>): Promise<T> {
    return this.op(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      const state = { open: true };
      try {
        this.checkFence(fence);
        const result = await fn(this.intentTx(state));
        state.open = false;
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        state.open = false;
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  private intentTx(state: { open: boolean }): IntentTx {
    const live =
      <A extends unknown[], R>(f: (...a: A) => R) =>
      async (...a: A): Promise<R> => {
        if (!state.open) throw new Error('the intent transaction is over: use tx only inside the intentTransaction callback');
        return f(...a);
      };
    return {
      now: this.now(),
      getSwitch: live(() => this.readSwitch()),
      activeDisables: live(() => this.readDisables(this.now())),
      cooldown: live((key: string) => this.readCooldown(key)),
      countExecutions: live((f: { since: number; rule?: string; action?: string }) => {
        const where = ['created_at >= ?'];
        const args: unknown[] = [f.since];
        if (f.rule !== undefined) where.push('rule = ?'), args.push(f.rule);
        if (f.action !== undefined) where.push('action = ?'), args.push(f.action);
        return (this.stmt(`SELECT count(*) AS n FROM executions WHERE ${where.join(' AND ')}`).get(...args) as Row).n as number;
      }),
      countTargetsInGroup: live(
        (group: string, since: number, f?: { rule?: string; except?: string }) =>
          (
            this.stmt(`SELECT count(DISTINCT e.target) AS n FROM execution_groups g JOIN executions e ON e.id = g.execution_id
              WHERE g.grp = ? AND e.created_at >= ? AND (? IS NULL OR e.rule = ?) AND (? IS NULL OR e.target <> ?)`).get(
              group,
              since,
              f?.rule ?? null,
              f?.rule ?? null,
              f?.except ?? null,
              f?.except ?? null,
            ) as Row
          ).n as number,
      ),
      countRunningInGroup: live(
        (group: string) =>
          (
            this.stmt(`SELECT count(*) AS n FROM execution_groups g JOIN executions e ON e.id = g.execution_id
              WHERE g.grp = ? AND e.status IN ('intent', 'running')`).get(group) as Row
          ).n as number,
      ),
      insertIntent: live((i: IntentInput) => this.insertIntent(i)),
      useApproval: live(
        (id: number, u: { runId: number; executionId: number; at: number }) =>
          this.stmt(`UPDATE approvals SET status = 'used', used_at = ?, used_run = ?, execution_id = ?, closed_at = ?
            WHERE id = ? AND status = 'approved' AND expires_at > ?`).run(u.at, u.runId, u.executionId, u.at, id, u.at).changes > 0,
      ),
    };
  }

  private insertIntent(i: IntentInput): { inserted: true; id: number } | { inserted: false; existingId: number } {
    const r =
      this.stmt(`INSERT INTO executions (key, run_id, rule, action, step, target, kind, describe, detail, cooldown_key, cooldown_ms, groups, created_at, shard, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent') ON CONFLICT (key) DO NOTHING RETURNING id`).get(
        i.key,
        i.runId,
        i.rule,
        i.action,
        i.step,
        i.target,
        i.kind,
        i.describe,
        toJson(i.detail),
        i.cooldownKey,
        i.cooldownMs,
        toJson(i.groups),
        i.createdAt,
        i.shard ?? null,
      ) as Row | undefined;
    if (r === undefined) {
      const existing = this.stmt('SELECT id FROM executions WHERE key = ?').get(i.key) as Row;
      return { inserted: false, existingId: existing.id };
    }
    const g = this.stmt('INSERT OR IGNORE INTO execution_groups (grp, execution_id) VALUES (?, ?)');
    for (const grp of i.groups) g.run(grp, r.id);
    this.upsertCooldown(i.cooldownKey, i.createdAt, i.createdAt + i.cooldownMs);
    return { inserted: true, id: r.id };
  }

  markRunning(id: number, startedAt: number): Promise<void> {
    return this.op(() => {
      this.writeTx(() => {
        const u = this.stmt("UPDATE executions SET status = 'running', started_at = ? WHERE id = ? AND status = 'intent'").run(startedAt, id);
        if (u.changes === 0) throw this.conflict(id, 'cannot start it');
      });
    });
  }

  finishExecution(id: number, outcome: ExecutionOutcome & { finishedAt: number }): Promise<void> {
    return this.op(() => {
      this.writeTx(() => {
        // An execution another runner marked interrupted still gets its real outcome when it arrives.
        const u = this.stmt(`UPDATE executions SET status = ?, finished_at = ?, exit_code = ?, http_status = ?, duration_ms = ?, output = ?, error = ?
          WHERE id = ? AND status IN ('intent', 'running', 'interrupted')`).run(
          outcome.status,
          outcome.finishedAt,
          outcome.exitCode ?? null,
          outcome.httpStatus ?? null,
          outcome.durationMs,
          outcome.output,
          outcome.error ?? null,
          id,
        );
        if (u.changes === 0) throw this.conflict(id, 'cannot record its outcome');
      });
    });
  }

  private conflict(id: number, what: string): JournalConflictError {
    const r = this.stmt('SELECT status FROM executions WHERE id = ?').get(id) as Row | undefined;
    return new JournalConflictError(
      r === undefined ? `execution ${id} is not in the journal: ${what}` : `execution ${id} is ${r.status} in the journal: ${what}`,
    );
  }

  unfinishedExecutions(): Promise<ExecutionRecord[]> {
    return this.op(() => (this.stmt("SELECT * FROM executions WHERE status IN ('intent', 'running') ORDER BY id").all() as Row[]).map(executionFromRow));
  }

  markInterrupted(ids: number[], note: string, at: number): Promise<void> {
    return this.op(() => {
      this.writeTx(() =>
        this.stmt(`UPDATE executions SET status = 'interrupted', error = ?, finished_at = ?
          WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('intent', 'running')`).run(note, at, toJson(ids)),
      );
    });
  }

  getExecution(id: number): Promise<ExecutionRecord | null> {
    return this.op(() => {
      const r = this.stmt('SELECT * FROM executions WHERE id = ?').get(id) as Row | undefined;
      return r === undefined ? null : executionFromRow(r);
    });
  }

  listExecutions(filter: { target?: string; rule?: string; runId?: number; since?: number; limit: number }): Promise<ExecutionRecord[]> {
    return this.op(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.target !== undefined) where.push('target = ?'), args.push(filter.target);
      if (filter.rule !== undefined) where.push('rule = ?'), args.push(filter.rule);
      if (filter.runId !== undefined) where.push('run_id = ?'), args.push(filter.runId);
      if (filter.since !== undefined) where.push('created_at >= ?'), args.push(filter.since);
      const sql = `SELECT * FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
      return (this.stmt(sql).all(...args, filter.limit) as Row[]).map(executionFromRow);
    });
  }

  recentOutcomes(rule: string, n: number): Promise<(ExecutionStatus | 'ineffective')[]> {
    return this.op(() =>
      (
        this.stmt(`SELECT CASE WHEN v.status = 'ineffective' THEN 'ineffective' ELSE e.status END AS status
          FROM executions e LEFT JOIN verifications v ON v.execution_id = e.id
          WHERE e.rule = ? AND e.finished_at IS NOT NULL ORDER BY e.finished_at DESC, e.id DESC LIMIT ?`).all(rule, n) as Row[]
      ).map((r) => r.status),
    );
  }

  // ---- cooldowns and source cache

  private readCooldown(key: string): { lastAt: number; until: number } | null {
    const r = this.stmt('SELECT last_at, until FROM cooldowns WHERE key = ?').get(key) as Row | undefined;
    return r === undefined ? null : { lastAt: r.last_at, until: r.until };
  }

  private upsertCooldown(key: string, lastAt: number, until: number): void {
    this.stmt(
      'INSERT INTO cooldowns (key, last_at, until) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at, until = excluded.until',
    ).run(key, lastAt, until);
  }

  getCooldown(key: string): Promise<{ lastAt: number; until: number } | null> {
    return this.op(() => this.readCooldown(key));
  }

  setCooldown(key: string, lastAt: number, until: number): Promise<void> {
    return this.op(() => this.writeTx(() => this.upsertCooldown(key, lastAt, until)));
  }

  listCooldowns(activeAt: number): Promise<{ key: string; lastAt: number; until: number }[]> {
    return this.op(() =>
      (this.stmt('SELECT key, last_at, until FROM cooldowns WHERE until > ? ORDER BY key').all(activeAt) as Row[]).map((r) => ({
        key: r.key,
        lastAt: r.last_at,
        until: r.until,
      })),
    );
  }

  getSourceCache(name: string): Promise<{ at: number; payload: Uint8Array } | null> {
    return this.op(() => {
      const r = this.stmt('SELECT at, payload FROM source_cache WHERE name = ?').get(name) as Row | undefined;
      return r === undefined ? null : { at: r.at, payload: bytes(r.payload as Buffer)! };
    });
  }

  setSourceCache(name: string, at: number, payload: Uint8Array): Promise<void> {
    return this.op(() => {
      this.writeTx(() =>
        this.stmt(
          'INSERT INTO source_cache (name, at, payload) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at, payload = excluded.payload',
        ).run(name, at, blob(payload)),
      );
    });
  }

  // ---- switch, disables, audit

  private readSwitch(): SwitchState {
    const r = this.stmt('SELECT * FROM switch WHERE id = 1').get() as Row | undefined;
    if (r === undefined) return { off: false, by: null, reason: null, at: null, until: null };
    return { off: r.off === 1, by: r.by, reason: r.reason, at: r.at, until: r.until };
  }

  getSwitch(): Promise<SwitchState> {
    return this.op(() => this.readSwitch());
  }

  setSwitch(s: { off: boolean; by: string; reason: string; at: number; until: number | null }): Promise<void> {
    return this.op(() => {
      this.writeTx(() =>
        this.stmt(`INSERT INTO switch (id, off, by, reason, at, until) VALUES (1, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET off = excluded.off, by = excluded.by, reason = excluded.reason, at = excluded.at, until = excluded.until`).run(
          s.off ? 1 : 0,
          s.by,
          s.reason,
          s.at,
          s.until,
        ),
      );
    });
  }

  /** Active at `at`: not lifted, and no expiry or an expiry after `at` (until == at has expired). */
  private readDisables(at: number): DisableRecord[] {
    return (this.stmt('SELECT * FROM disables WHERE removed_at IS NULL AND (until IS NULL OR until > ?) ORDER BY id').all(at) as Row[]).map(disableFromRow);
  }

  addDisable(d: Omit<DisableRecord, 'id' | 'removedAt' | 'removedBy'>): Promise<number> {
    return this.op(() =>
      this.writeTx(
        () =>
          (
            this.stmt('INSERT INTO disables (scope, value, selector, by, reason, created_at, until) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id').get(
              d.scope,
              d.value,
              d.selector === null ? null : toJson(d.selector),
              d.by,
              d.reason,
              d.createdAt,
              d.until,
            ) as Row
          ).id as number,
      ),
    );
  }

  removeDisables(match: { id?: number; scope?: DisableScope; value?: string }, by: string, at: number): Promise<DisableRecord[]> {
    return this.op(() => {
      const where = ['removed_at IS NULL', '(until IS NULL OR until > ?)'];
      const args: unknown[] = [at];
      if (match.id !== undefined) where.push('id = ?'), args.push(match.id);
      if (match.scope !== undefined) where.push('scope = ?'), args.push(match.scope);
      if (match.value !== undefined) where.push('value = ?'), args.push(match.value);
      if (where.length === 2) throw new Error('removeDisables needs an id, a scope or a value: an empty match would lift every disable');
      return this.writeTx(() =>
        (this.stmt(`UPDATE disables SET removed_at = ?, removed_by = ? WHERE ${where.join(' AND ')} RETURNING *`).all(at, by, ...args) as Row[])
          .map(disableFromRow)
          .sort((a, b) => a.id - b.id),
      );
    });
  }

  listDisables(filter: { activeAt?: number }): Promise<DisableRecord[]> {
    return this.op(() =>
      filter.activeAt !== undefined ? this.readDisables(filter.activeAt) : (this.stmt('SELECT * FROM disables ORDER BY id').all() as Row[]).map(disableFromRow),
    );
  }

  appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    return this.op(() => {
      this.writeTx(() =>
        this.stmt('INSERT INTO audit (at, by, action, detail) VALUES (?, ?, ?, ?)').run(entry.at, entry.by, entry.action, toJson(entry.detail)),
      );
    });
  }

  listAudit(limit: number): Promise<AuditRecord[]> {
    return this.op(() => (this.stmt('SELECT * FROM audit ORDER BY at DESC, id DESC LIMIT ?').all(limit) as Row[]).map(auditFromRow));
  }

  // ---- escalations

  openEscalation(e: { dedupKey: string; channel: string; summary: string; at: number }): Promise<{ isNew: boolean }> {
    return this.op(() =>
      this.writeTx(() => {
        const u = this.stmt(`UPDATE escalations SET last_at = max(last_at, ?), count = count + 1, summary = ?, channel = ?
          WHERE dedup_key = ? AND status = 'open'`).run(e.at, e.summary, e.channel, e.dedupKey);
        if (u.changes > 0) return { isNew: false };
        this.stmt(`INSERT INTO escalations (dedup_key, channel, status, summary, first_at, last_at, count) VALUES (?, ?, 'open', ?, ?, ?, 1)`).run(
          e.dedupKey,
          e.channel,
          e.summary,
          e.at,
          e.at,
        );
        return { isNew: true };
      }),
    );
  }

  resolveEscalation(dedupKey: string, at: number): Promise<boolean> {
    return this.op(() =>
      this.writeTx(
        () => this.stmt("UPDATE escalations SET status = 'resolved', resolved_at = ? WHERE dedup_key = ? AND status = 'open'").run(at, dedupKey).changes > 0,
      ),
    );
  }

  listEscalations(filter: { status?: 'open' | 'resolved'; limit: number }): Promise<EscalationRecord[]> {
    return this.op(() => {
      const rows =
        filter.status !== undefined
          ? this.stmt('SELECT * FROM escalations WHERE status = ? ORDER BY last_at DESC, id DESC LIMIT ?').all(filter.status, filter.limit)
          : this.stmt('SELECT * FROM escalations ORDER BY last_at DESC, id DESC LIMIT ?').all(filter.limit);
      return (rows as Row[]).map(escalationFromRow);
    });
  }

  // ---- metrics

  recordMetrics(u: MetricUpdate): Promise<void> {
    return this.op(() => {
      this.writeTx(() => {
        for (const p of u.add) {
          this.stmt(`INSERT INTO metrics (scope, name, labels, value, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (scope, name, labels) DO UPDATE SET value = value + excluded.value, updated_at = excluded.updated_at`).run(
            STORE_SCOPE,
            p.name,
            labelsKey(p.labels),
            p.value,
            u.at,
          );
        }
        for (const p of u.max) {
          this.stmt(`INSERT INTO metrics (scope, name, labels, value, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (scope, name, labels) DO UPDATE SET value = max(value, excluded.value), updated_at = excluded.updated_at`).run(
            STORE_SCOPE,
            p.name,
            labelsKey(p.labels),
            p.value,
            u.at,
          );
        }
        if (u.replace) {
          this.stmt('DELETE FROM metrics WHERE scope = ?').run(u.replace.scope);
          for (const p of u.replace.samples) {
            this.stmt('INSERT OR REPLACE INTO metrics (scope, name, labels, value, updated_at) VALUES (?, ?, ?, ?, ?)').run(
              u.replace.scope,
              p.name,
              labelsKey(p.labels),
              p.value,
              u.at,
            );
          }
        }
        if (u.dropBefore !== undefined) this.stmt('DELETE FROM metrics WHERE scope <> ? AND updated_at < ?').run(STORE_SCOPE, u.dropBefore);
      });
    });
  }

  listMetrics(): Promise<MetricSample[]> {
    return this.op(() =>
      (this.stmt('SELECT scope, name, labels, value, updated_at FROM metrics ORDER BY name, scope, labels').all() as Row[]).map((r) => ({
        scope: r.scope,
        name: r.name,
        labels: JSON.parse(r.labels),
        value: r.value,
        updatedAt: r.updated_at,
      })),
    );
  }

  // ---- verifications

  saveVerifications(v: VerificationRecord[], fence: Fences): Promise<void> {
    return this.op(() => {
      if (v.length === 0) return;
      this.writeTx(() => {
        this.checkFence(fence);
        const cols = VERIFICATION_COLUMNS.join(', ');
        const set = VERIFICATION_COLUMNS.slice(1)
          .map((c) => `${c} = excluded.${c}`)
          .join(', ');
        const up = this.stmt(
          `INSERT INTO verifications (${cols}) VALUES (${VERIFICATION_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (execution_id) DO UPDATE SET ${set}`,
        );
        for (const x of v) up.run(...verificationValues(x));
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
    return this.op(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.rule !== undefined) where.push('rule = ?'), args.push(filter.rule);
      if (filter.target !== undefined) where.push('target = ?'), args.push(filter.target);
      if (filter.status !== undefined) where.push('status = ?'), args.push(filter.status);
      if (filter.open) where.push("(status = 'pending' OR (status = 'ineffective' AND cleared_at IS NULL))");
      if (filter.executionIds !== undefined) where.push('execution_id IN (SELECT value FROM json_each(?))'), args.push(toJson(filter.executionIds));
      const sql = `SELECT * FROM verifications ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, execution_id DESC LIMIT ?`;
      return (this.stmt(sql).all(...args, filter.limit) as Row[]).map(verificationFromRow);
    });
  }

  clearVerifications(match: { rule?: string; target?: string }, by: string, at: number): Promise<VerificationRecord[]> {
    return this.op(() => {
      const where = ["status = 'ineffective'", 'cleared_at IS NULL'];
      const args: unknown[] = [];
      if (match.rule !== undefined) where.push('rule = ?'), args.push(match.rule);
      if (match.target !== undefined) where.push('target = ?'), args.push(match.target);
      if (args.length === 0) throw new Error('clearVerifications needs a rule or a target');
      return this.writeTx(() =>
        (this.stmt(`UPDATE verifications SET cleared_at = ?, cleared_by = ? WHERE ${where.join(' AND ')} RETURNING *`).all(at, by, ...args) as Row[]).map(
          verificationFromRow,
        ),
      );
    });
  }

  // ---- approvals

  askApproval(a: ApprovalInput, fence: Fences): Promise<{ created: boolean; approval: ApprovalRecord }> {
    return this.op(() =>
      this.writeTx(() => {
        this.checkFence(fence);
        const live = this.stmt("SELECT * FROM approvals WHERE rule = ? AND target = ? AND status IN ('pending', 'approved')").get(a.rule, a.target) as
          | Row
          | undefined;
        if (live !== undefined) return { created: false, approval: approvalFromRow(live) };
        const r = this.stmt(`INSERT INTO approvals (rule, target, guard, why, severity, actions, fingerprint, facts, asked_at, asked_run, expires_ms, status)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') RETURNING *`).get(
          a.rule,
          a.target,
          a.guard,
          a.why,
          a.severity,
          toJson(a.actions),
          a.fingerprint,
          toJson(a.facts),
          a.askedAt,
          a.askedRun,
          a.expiresMs,
        ) as Row;
        return { created: true, approval: approvalFromRow(r) };
      }),
    );
  }

  changeApproval(c: ApprovalChange, fence: Fences): Promise<ApprovalRecord | null> {
    return this.op(() =>
      this.writeTx(() => {
        this.checkFence(fence);
        const from = toJson(c.from);
        const r = (
          c.clear
            ? this.stmt(
                'UPDATE approvals SET cleared_at = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?)) AND cleared_at IS NULL RETURNING *',
              ).get(c.at, c.id, from)
            : this.stmt(`UPDATE approvals SET status = ?,
                by = coalesce(?, by), reason = coalesce(?, reason), decided_at = CASE WHEN ? IS NULL THEN decided_at ELSE ? END,
                expires_at = coalesce(?, expires_at), note = coalesce(?, note),
                closed_at = CASE WHEN ? IN ('pending', 'approved') THEN NULL ELSE ? END
                WHERE id = ? AND status IN (SELECT value FROM json_each(?)) RETURNING *`).get(
                c.to,
                c.by ?? null,
                c.reason ?? null,
                c.by ?? null,
                c.at,
                c.expiresAt ?? null,
                c.note ?? null,
                c.to,
                c.at,
                c.id,
                from,
              )
        ) as Row | undefined;
        return r === undefined ? null : approvalFromRow(r);
      }),
    );
  }

  getApproval(id: number): Promise<ApprovalRecord | null> {
    return this.op(() => {
      const r = this.stmt('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
      return r === undefined ? null : approvalFromRow(r);
    });
  }

  listApprovals(filter: { status?: ApprovalStatus[]; rule?: string; target?: string; uncleared?: boolean; limit: number }): Promise<ApprovalRecord[]> {
    return this.op(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.status !== undefined) where.push('status IN (SELECT value FROM json_each(?))'), args.push(toJson(filter.status));
      if (filter.rule !== undefined) where.push('rule = ?'), args.push(filter.rule);
      if (filter.target !== undefined) where.push('target = ?'), args.push(filter.target);
      if (filter.uncleared) where.push('cleared_at IS NULL');
      const sql = `SELECT * FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return (this.stmt(sql).all(...args, filter.limit) as Row[]).map(approvalFromRow);
    });
  }
}
