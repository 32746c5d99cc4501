// The store's logic, written once over kysely for SQLite and PostgreSQL; each dialect adds only what truly differs.
import { gzipSync } from 'node:zlib';
import { type Expression, type SqlBool, sql } from 'kysely';
import type { ExecutionOutcome, ExecutionStatus } from '../../model.js';
import { bytes, encodeBody, toJson } from '../codec.js';
import { Reentry } from '../mutex.js';
import {
  approvalFromRow,
  auditFromRow,
  decisionFromRow,
  disableFromRow,
  escalationFromRow,
  executionFromRow,
  forStateFromRow,
  leaseFromRow,
  runFromRow,
  VERIFICATION_COLUMNS,
  verificationFromRow,
  verificationValues,
} from '../rows.js';
import { changesSince, decodeMeta, decodeOrder, encodeMeta, encodeOrder, inOrder, orderHash, snapshotJson } from '../snapshot.js';
import {
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
  fenceList,
  type IntentInput,
  type IntentTx,
  JournalConflictError,
  type LeaseInfo,
  type LeaseResult,
  LeaseLostError,
  StoreError,
  labelsKey,
  type MetricPoint,
  type MetricSample,
  type MetricUpdate,
  type RunRecord,
  STORE_SCOPE,
  type SnapshotInput,
  type SnapshotParts,
  type SnapshotHead,
  type Store,
  type StoreSize,
  type SwitchState,
  type VerificationRecord,
  type VerificationStatus,
} from '../types.js';
import type { Q } from './tables.js';

/** A decision row as the bulk insert of `finishRun` writes it; its body is stored once per distinct body. */
export interface DecisionRow {
  target: string;
  rule: string;
  outcome: string;
  severity: string;
  at: number;
  body: string;
}

/** What `finishRun` gives the dialect's bulk insert: the run's decision rows and the distinct bodies they refer to (hash -> text). */
export interface DecisionRows {
  rows: DecisionRow[];
  bodies: Map<string, string>;
}

type RunResult = Parameters<Store['finishRun']>[1];

const affected = (r: { numUpdatedRows?: bigint; numDeletedRows?: bigint; numInsertedOrUpdatedRows?: bigint }): number =>
  Number(r.numUpdatedRows ?? r.numDeletedRows ?? r.numInsertedOrUpdatedRows ?? 0n);

/** What a store call from inside the intent transaction's callback is told. */
export const REENTRY = 'a store method was called from inside intentTransaction: use the transaction object it passes (tx) instead';

const LIVE_APPROVAL = sql<SqlBool>`status IN ('pending', 'approved')`;
const OPEN_ESCALATION = sql<SqlBool>`status = 'open'`;

/**
 * The Store over a `Kysely<Database>`: every query, every transaction's shape and every error text is here once.
 * A dialect (sqlite/index.ts, postgres/index.ts) says how an operation runs (its locks, its transactions, how its
 * errors read), the few expressions that are spelled differently, and the bulk writes of a run, kept raw where the
 * benchmark showed it matters (docs/architecture.md, "The store").
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres';

  constructor(
    /** The store's database, outside any transaction. */
    protected readonly db: Q,
    /** The clock for `IntentTx.now` and migration times. */
    protected readonly now: () => number,
    /** PostgreSQL locks rows it reads to decide a write (FOR SHARE, FOR UPDATE); SQLite's write transaction holds the whole file. */
    private readonly rowLocks: boolean,
    /** Inside `intentTransaction`'s callback only `tx` may be used: each dialect's `op` calls `refuse()` first. */
    protected readonly reentry: Reentry = new Reentry(REENTRY),
  ) {}

  // ---- what each dialect provides

  abstract migrate(): Promise<void>;
  abstract close(): Promise<void>;
  abstract size(): Promise<StoreSize>;

  /** Every public operation runs in this: refused after close and inside an intent transaction, failures worded for people. */
  protected abstract op<T>(fn: () => Promise<T>): Promise<T>;
  /** A write transaction (SQLite: BEGIN IMMEDIATE, the write lock at once; PostgreSQL: one connection, a lock timeout). */
  protected abstract tx<T>(fn: (q: Q) => Promise<T>): Promise<T>;
  /** One write statement: SQLite takes the write lock for it as for a transaction; PostgreSQL runs it on its own. */
  protected abstract write<T>(fn: (q: Q) => Promise<T>): Promise<T>;
  /** The intent transaction: a write transaction that no other runner's intent transaction overlaps. */
  protected abstract intentTx<T>(fn: (q: Q) => Promise<T>): Promise<T>;
  /**
   * A write of the journal that is safe to repeat: PostgreSQL tries it again on another connection when the server
   * ended its own (`again` says an earlier try may have committed); SQLite runs it once, in a write transaction.
   */
  protected abstract journalWrite<T>(fn: (q: Q, again: boolean) => Promise<T>): Promise<T>;
  /** `column IN (values)` as one statement text whatever the number of values (the statement stays cached). */
  protected abstract inList(column: string, values: readonly (string | number)[], type: 'text' | 'bigint'): Expression<SqlBool>;
  /** The larger of two numbers (SQLite's two-argument max, PostgreSQL's GREATEST). */
  protected abstract greatest(a: Expression<number>, b: Expression<number>): Expression<number>;
  /** Text as the database can hold it (PostgreSQL text cannot hold NUL). */
  protected text(s: string): string {
    return s;
  }

  /** Insert the run's decisions and upsert their bodies (finishRun's transaction; the decisions of the run were deleted). */
  protected abstract insertDecisions(q: Q, runId: number, d: DecisionRows): Promise<void>;
  /** Insert or replace target versions under `seq` (a null text: the target left the fleet). */
  protected abstract insertVersions(q: Q, seq: number, versions: { target: string; data: string | null }[]): Promise<void>;
  /** The newest version at or before `seq` of every target that has one (id -> text; left-the-fleet ones leave out). */
  protected abstract latestVersions(q: Q, seq: number): Promise<Map<string, string>>;
  /** Upsert and delete `for` streaks (saveForState's transaction). */
  protected abstract writeForState(q: Q, upserts: ForState[], deletes: { rule: string; target: string }[]): Promise<void>;

  private textOrNull(s: string | null | undefined): string | null {
    return s === undefined || s === null ? null : this.text(s);
  }

  /** Inside a write transaction: refuse if any lease behind `fences` was taken over (PostgreSQL: FOR SHARE makes a takeover wait for it). */
  protected async checkFence(q: Q, fences: Fences): Promise<void> {
    const list = fenceList(fences);
    if (list.length === 0) return;
    const rows = await q
      .selectFrom('leases')
      .select(['name', 'token'])
      // One lease (every unsharded run) is the common case: a plain comparison, the cheapest plan.
      .where(list.length === 1 ? sql<SqlBool>`name = ${list[0]!.name}` : this.inList('name', [...new Set(list.map((f) => f.name))], 'text'))
      .orderBy('name')
      .$if(this.rowLocks, (b) => b.forShare())
      .execute();
    const tokens = new Map(rows.map((r) => [r.name, Number(r.token)]));
    for (const fence of list) {
      const token = tokens.get(fence.name);
      if (token !== fence.token) {
        throw new LeaseLostError(
          `the lease "${fence.name}" (token ${fence.token}) was taken over${token !== undefined ? ` (token ${token} now)` : ''}; nothing more is recorded by this run`,
        );
      }
    }
  }

  // ---- leases

  acquireLease(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseResult> {
    return this.op(() =>
      this.tx(async (q) => {
        // A row to lock even for a name never used; token 0 is never handed out.
        await this.placeholderLeases(q, [name]);
        const row = (await q
          .selectFrom('leases')
          .select(['holder', 'token', 'expires_at'])
          .where('name', '=', name)
          .$if(this.rowLocks, (b) => b.forUpdate())
          .executeTakeFirst())!;
        const expiresAt = now + ttlMs;
        // A live lease is never shared, not even with its own holder.
        if (row.holder !== '' && row.expires_at > now) return { acquired: false, holder: row.holder, expiresAt: Number(row.expires_at) };
        const token = Number(row.token) + 1;
        await q.updateTable('leases').set({ holder, token, acquired_at: now, expires_at: expiresAt }).where('name', '=', name).execute();
        return { acquired: true, token, expiresAt };
      }),
    );
  }

  private async placeholderLeases(q: Q, names: string[]): Promise<void> {
    await q
      .insertInto('leases')
      .values(names.map((name) => ({ name, holder: '', token: 0, acquired_at: 0, expires_at: 0 })))
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  /**
   * Take up to `max` free, released or expired leases among `names`, the ones acquired longest ago first (never-used
   * ones first of all), then in the order given; PostgreSQL skips rows another runner is claiming right now (SKIP LOCKED)
   * instead of waiting.
   */
  acquireAnyLeases(names: string[], holder: string, ttlMs: number, now: number, max: number): Promise<(Fence & { expiresAt: number })[]> {
    return this.op(() =>
      this.tx(async (q) => {
        if (names.length === 0 || max <= 0) return [];
        const unique = [...new Set(names)];
        await this.placeholderLeases(q, unique);
        const position = sql<number>`CASE ${sql.ref('name')} ${sql.join(
          unique.map((n, i) => sql`WHEN ${n} THEN ${sql.lit(i)}`),
          sql` `,
        )} END`;
        const free = await q
          .selectFrom('leases')
          .select('name')
          .where(this.inList('name', unique, 'text'))
          .where((eb) => eb.or([eb('holder', '=', ''), eb('expires_at', '<=', now)]))
          .orderBy('acquired_at')
          .orderBy(position)
          .limit(max)
          .$if(this.rowLocks, (b) => b.forUpdate().skipLocked())
          .execute();
        if (free.length === 0) return [];
        const taken = await q
          .updateTable('leases')
          .set((eb) => ({ holder, token: eb('token', '+', 1), acquired_at: now, expires_at: now + ttlMs }))
          .where(
            this.inList(
              'name',
              free.map((r) => r.name),
              'text',
            ),
          )
          .returning(['name', 'token', 'expires_at'])
          .execute();
        const order = new Map(names.map((n, i) => [n, i]));
        return taken
          .map((r) => ({ name: r.name, token: Number(r.token), expiresAt: Number(r.expires_at) }))
          .sort((a, b) => order.get(a.name)! - order.get(b.name)!);
      }),
    );
  }

  renewLease(fence: Fence, ttlMs: number, now: number): Promise<boolean> {
    return this.op(() =>
      this.write(
        async (q) =>
          affected(
            await q
              .updateTable('leases')
              .set({ expires_at: now + ttlMs })
              .where('name', '=', fence.name)
              .where('token', '=', fence.token)
              .where('holder', '<>', '')
              .executeTakeFirst(),
          ) > 0,
      ),
    );
  }

  releaseLease(fence: Fence): Promise<void> {
    return this.op(() =>
      this.write(async (q) => {
        // The row stays so that the next token is still one more than this one.
        await q.updateTable('leases').set({ holder: '', expires_at: 0 }).where('name', '=', fence.name).where('token', '=', fence.token).execute();
      }),
    );
  }

  listLeases(): Promise<LeaseInfo[]> {
    return this.op(async () => (await this.db.selectFrom('leases').selectAll().where('holder', '<>', '').orderBy('name').execute()).map(leaseFromRow));
  }

  // ---- runs

  beginRun(run: { startedAt: number; mode: 'dry-run' | 'enforce'; holder: string; ruleSetHash: string; shard?: string | null }): Promise<number> {
    return this.op(() =>
      this.write(async (q) => {
        const r = await q
          .insertInto('runs')
          .values({
            started_at: run.startedAt,
            status: 'running',
            mode: run.mode,
            holder: run.holder,
            rule_set_hash: run.ruleSetHash,
            shard: run.shard ?? null,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return Number(r.id);
      }),
    );
  }

  saveRuleSet(hash: string, texts: Record<string, string>): Promise<void> {
    return this.op(() =>
      this.write(async (q) => {
        await q
          .insertInto('rule_sets')
          .values({ hash, texts: toJson(texts) })
          .onConflict((oc) => oc.column('hash').doNothing())
          .execute();
      }),
    );
  }

  getRuleSet(hash: string): Promise<Record<string, string> | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('rule_sets').select('texts').where('hash', '=', hash).executeTakeFirst();
      return r === undefined ? null : JSON.parse(r.texts);
    });
  }

  finishRun(runId: number, result: RunResult, fence: Fences): Promise<void> {
    return this.op(() =>
      this.tx(async (q) => {
        await this.checkFence(q, fence);
        const u = await q
          .updateTable('runs')
          .set({ finished_at: result.finishedAt, status: result.status, summary: this.text(toJson(result.summary)) })
          .where('id', '=', runId)
          .$if(result.ifUnfinished === true, (b) => b.where('finished_at', 'is', null))
          .executeTakeFirst();
        if (affected(u) === 0 && result.ifUnfinished) return;
        if (affected(u) === 0) throw new Error(`finishRun: run ${runId} does not exist`);
        if (result.snapshot === null) await q.deleteFrom('run_snapshots').where('run_id', '=', runId).execute();
        else if (result.snapshot instanceof Uint8Array) await this.putSnapshot(q, runId, buffer(result.snapshot), null, null);
        else await this.writeSnapshot(q, runId, result.snapshot);
        // Finishing twice replaces the decisions rather than doubling them.
        await q.deleteFrom('decisions').where('run_id', '=', runId).execute();
        if (result.decisions.length > 0) await this.insertDecisions(q, runId, this.decisionRows(result.decisions, runId));
      }),
    );
  }

  /** The rows of a run's decisions, each body (conditions, trace, actions) encoded once per distinct body. */
  private decisionRows(decisions: DecisionRecord[], runId: number): DecisionRows {
    const bodies = new Map<string, string>();
    const rows = new Array<DecisionRow>(decisions.length);
    for (let i = 0; i < decisions.length; i++) {
      const d = decisions[i]!;
      const b = encodeBody(d, runId);
      if (!bodies.has(b.hash)) bodies.set(b.hash, this.text(b.text));
      rows[i] = { target: this.text(d.target), rule: this.text(d.rule), outcome: d.outcome, severity: this.text(d.severity), at: d.at, body: b.hash };
    }
    return { rows, bodies };
  }

  private async putSnapshot(q: Q, runId: number, data: Buffer, seq: number | null, order: string | null): Promise<void> {
    await q
      .insertInto('run_snapshots')
      .values({ run_id: runId, data, seq, order_hash: order })
      .onConflict((oc) =>
        oc.column('run_id').doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), seq: eb.ref('excluded.seq'), order_hash: eb.ref('excluded.order_hash') })),
      )
      .execute();
  }

  /**
   * Inside finishRun's transaction: the targets that differ from the newest stored snapshot (the head) get a new
   * version under the next sequence number; targets that left get an empty one. Taking the head's write (SQLite: the
   * file's write lock; PostgreSQL: the head row's lock) first serializes snapshot writers, so the head read with it
   * is what every earlier snapshot left (docs/performance.md).
   */
  private async writeSnapshot(q: Q, runId: number, snap: SnapshotInput): Promise<void> {
    // RETURNING gives the new row; the old order and digests are what the UPDATE left unchanged.
    const head = await q
      .updateTable('snapshot_head')
      .set((eb) => ({ seq: eb('seq', '+', 1) }))
      .where('id', '=', 1)
      .returning(['seq', 'order_hash', 'digests'])
      .executeTakeFirstOrThrow();
    const seq = Number(head.seq);
    const order = snap.order ?? orderHash(snap.ids);
    const headOrder = head.order_hash;
    const prevIds = headOrder === null || headOrder === order ? null : await this.orderIds(q, headOrder);
    const { changed, gone } = changesSince(
      { order: headOrder, digests: head.digests === null ? null : bytes(head.digests), ids: () => prevIds ?? [] },
      snap,
      order,
    );
    const versions = new Array<{ target: string; data: string | null }>(changed.length + gone.length);
    let k = 0;
    // A text left out is the same as in the snapshot the run compared with; if another snapshot was recorded since
    // (runs of another lease on this store), that version is copied (it is kept: no newer snapshot replaced it there).
    const left = changed.filter((i) => snap.texts[i] === undefined).map((i) => snap.ids[i]!);
    const copied = left.length > 0 ? await this.versionsAt(q, snap.base ?? -1, left) : null;
    for (const i of changed) {
      const data = snap.texts[i] ?? copied?.get(snap.ids[i]!);
      if (data === undefined)
        throw new StoreError(`the snapshot of run ${runId} lacks target "${snap.ids[i]}", and no earlier version is kept: nothing was recorded`);
      versions[k++] = { target: this.text(snap.ids[i]!), data };
    }
    for (const id of gone) versions[k++] = { target: this.text(id), data: null };
    if (versions.length > 0) await this.insertVersions(q, seq, versions);
    if ((await q.selectFrom('snapshot_orders').select('hash').where('hash', '=', order).executeTakeFirst()) === undefined) {
      await q
        .insertInto('snapshot_orders')
        .values({ hash: order, ids: encodeOrder(snap.ids) })
        .onConflict((oc) => oc.column('hash').doNothing())
        .execute();
    }
    await q
      .updateTable('snapshot_head')
      .set({ order_hash: order, digests: buffer(snap.digests) })
      .where('id', '=', 1)
      .execute();
    await this.putSnapshot(q, runId, encodeMeta(snap.meta), seq, order);
  }

  /** The text of each target in the snapshot `seq` (its newest version up to it), by id. */
  private async versionsAt(q: Q, seq: number, ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const id of ids) {
      const v = await q
        .selectFrom('snapshot_targets')
        .select('data')
        .where('target', '=', this.text(id))
        .where('seq', '<=', seq)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (v?.data != null) out.set(id, v.data);
    }
    return out;
  }

  private async orderIds(q: Q, hash: string): Promise<string[] | undefined> {
    const o = await q.selectFrom('snapshot_orders').select('ids').where('hash', '=', hash).executeTakeFirst();
    return o === undefined ? undefined : decodeOrder(o.ids);
  }

  /** Inside a write transaction after runs were deleted: drop target versions and orders no retained snapshot reads. */
  private async collectVersions(q: Q): Promise<void> {
    // PostgreSQL: the head's lock keeps snapshot writers out meanwhile.
    const counter = Number(
      (
        await q
          .selectFrom('snapshot_head')
          .select('seq')
          .where('id', '=', 1)
          .$if(this.rowLocks, (b) => b.forUpdate())
          .executeTakeFirstOrThrow()
      ).seq,
    );
    const oldest = (
      await q
        .selectFrom('run_snapshots')
        .select((eb) => eb.fn.min('seq').as('s'))
        .where('seq', 'is not', null)
        .executeTakeFirst()
    )?.s;
    // Without a retained snapshot, only the head matters (the next run compares with it).
    const smin = oldest === null || oldest === undefined ? counter : Number(oldest);
    // A version older than the oldest retained snapshot that a newer one (at or before it) replaces is read by no one.
    await q
      .deleteFrom('snapshot_targets as o')
      .where('o.seq', '<', smin)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('snapshot_targets as n')
            .select(sql`1`.as('one'))
            .whereRef('n.target', '=', 'o.target')
            .whereRef('n.seq', '>', 'o.seq')
            .where('n.seq', '<=', smin),
        ),
      )
      .execute();
    // "Left the fleet" matters only to snapshots after it, which do not list the target.
    await q.deleteFrom('snapshot_targets').where('data', 'is', null).where('seq', '<=', smin).execute();
    // The head's order stays: the next snapshot compares with it.
    await q
      .deleteFrom('snapshot_orders')
      .where('hash', 'not in', (eb) => eb.selectFrom('run_snapshots').select('order_hash').where('order_hash', 'is not', null))
      .where('hash', 'is distinct from', (eb) => eb.selectFrom('snapshot_head').select('order_hash').where('id', '=', 1))
      .execute();
    // Bodies last used by runs older than every run kept (finished or not) are read by no one.
    await q
      .deleteFrom('decision_bodies')
      .where('last_run', '<', (eb) => eb.selectFrom('runs').select((e) => e.fn.coalesce(e.fn.min('id'), sql.lit(Number.MAX_SAFE_INTEGER)).as('m')))
      .execute();
  }

  getSnapshotParts(runId: number): Promise<SnapshotParts | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('run_snapshots').select(['data', 'seq', 'order_hash']).where('run_id', '=', runId).executeTakeFirst();
      if (r === undefined) return null;
      if (r.seq === null) return { whole: bytes(r.data)! };
      const ids = r.order_hash === null ? undefined : await this.orderIds(this.db, r.order_hash);
      if (ids === undefined) throw new Error(`the snapshot of run ${runId} lacks its order of targets: the store is inconsistent`);
      const byId = await this.latestVersions(this.db, Number(r.seq));
      // Ids with NUL are stored as the database can hold them (PostgreSQL: U+FFFD): look them up that way.
      return { meta: decodeMeta(r.data), ids, texts: inOrder(this.kind === 'postgres' ? ids.map((id) => this.text(id)) : ids, byId, runId) };
    });
  }

  snapshotHead(): Promise<SnapshotHead> {
    return this.op(async () => {
      const h = await this.db.selectFrom('snapshot_head').select(['seq', 'order_hash', 'digests']).where('id', '=', 1).executeTakeFirst();
      const order = h?.order_hash ?? null;
      return {
        seq: Number(h?.seq ?? 0),
        order,
        digests: h?.digests == null ? null : bytes(h.digests),
        ids: async () => (order === null ? null : ((await this.op(() => this.orderIds(this.db, order))) ?? null)),
      };
    });
  }

  async getSnapshot(runId: number): Promise<Uint8Array | null> {
    const parts = await this.getSnapshotParts(runId);
    if (parts === null) return null;
    if ('whole' in parts) return parts.whole;
    return bytes(gzipSync(snapshotJson(parts), { level: 1 }));
  }

  getRun(id: number): Promise<RunRecord | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
      return r === undefined ? null : runFromRow(r);
    });
  }

  listRuns(filter: { limit: number; since?: number; before?: number }): Promise<RunRecord[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('runs')
          .selectAll()
          .$if(filter.since !== undefined, (b) => b.where('started_at', '>=', filter.since!))
          .$if(filter.before !== undefined, (b) => b.where('started_at', '<', filter.before!))
          .orderBy('started_at', 'desc')
          .orderBy('id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(runFromRow),
    );
  }

  /** Decisions with their bodies (stored once per distinct body since migration 5). */
  private decisions() {
    return this.db.selectFrom('decisions as d').leftJoin('decision_bodies as b', 'b.hash', 'd.body').selectAll('d').select('b.body as body_text');
  }

  getDecisions(runId: number, filter: { target?: string; rule?: string } = {}): Promise<DecisionRecord[]> {
    return this.op(async () =>
      (
        await this.decisions()
          .where('d.run_id', '=', runId)
          .$if(filter.target !== undefined, (b) => b.where('d.target', '=', filter.target!))
          .$if(filter.rule !== undefined, (b) => b.where('d.rule', '=', filter.rule!))
          .orderBy('d.id')
          .execute()
      ).map(decisionFromRow),
    );
  }

  decisionHistory(filter: {
    target?: string;
    rule?: string;
    since?: number;
    limit: number;
    outcomes?: DecisionRecord['outcome'][];
  }): Promise<DecisionRecord[]> {
    return this.op(async () =>
      (
        await this.decisions()
          .$if(filter.target !== undefined, (b) => b.where('d.target', '=', filter.target!))
          .$if(filter.rule !== undefined, (b) => b.where('d.rule', '=', filter.rule!))
          .$if(filter.since !== undefined, (b) => b.where('d.at', '>=', filter.since!))
          .$if(filter.outcomes !== undefined, (b) => b.where(this.inList('d.outcome', filter.outcomes!, 'text')))
          .orderBy('d.at', 'desc')
          .orderBy('d.id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(decisionFromRow),
    );
  }

  pruneRuns(before: number, opts: { keep?: number } = {}): Promise<number> {
    // Snapshots and decisions go with their run (ON DELETE CASCADE); the journal stays.
    return this.op(() =>
      this.tx(async (q) => {
        let n = affected(await q.deleteFrom('runs').where('finished_at', 'is not', null).where('finished_at', '<', before).executeTakeFirst());
        if (opts.keep !== undefined) {
          const keep = Math.max(0, opts.keep);
          n += affected(
            await q
              .deleteFrom('runs')
              .where('finished_at', 'is not', null)
              .where('id', 'not in', (eb) =>
                eb.selectFrom('runs').select('id').where('finished_at', 'is not', null).orderBy('finished_at', 'desc').orderBy('id', 'desc').limit(keep),
              )
              .executeTakeFirst(),
          );
        }
        if (n > 0) await this.collectVersions(q);
        return n;
      }),
    );
  }

  // ---- `for` state

  loadForState(): Promise<ForState[]> {
    return this.op(async () => (await this.db.selectFrom('for_state').selectAll().orderBy('rule').orderBy('target').execute()).map(forStateFromRow));
  }

  saveForState(upserts: ForState[], deletes: { rule: string; target: string }[], fence: Fences): Promise<void> {
    return this.op(() =>
      this.tx(async (q) => {
        await this.checkFence(q, fence);
        if (upserts.length > 0 || deletes.length > 0) await this.writeForState(q, upserts, deletes);
      }),
    );
  }

  // ---- executions (the journal)

  intentTransaction<T>(fence: Fences, fn: (tx: IntentTx) => Promise<T>): Promise<T> {
    return this.op(() =>
      this.intentTx(async (q) => {
        await this.checkFence(q, fence);
        const state = { open: true };
        try {
          return await this.reentry.run(() => fn(this.intentApi(q, state)));
        } finally {
          state.open = false;
        }
      }),
    );
  }

  private intentApi(q: Q, state: { open: boolean }): IntentTx {
    const live =
      <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        if (!state.open) throw new Error('the intent transaction is over: use tx only inside the intentTransaction callback');
        return f(...a);
      };
    const now = this.now();
    return {
      now,
      getSwitch: live(() => this.readSwitch(q)),
      activeDisables: live(() => this.readDisables(q, now)),
      cooldown: live((key: string) => this.readCooldown(q, key)),
      countExecutions: live(async (f: { since: number; rule?: string; action?: string }) =>
        Number(
          (
            await q
              .selectFrom('executions')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('created_at', '>=', f.since)
              .$if(f.rule !== undefined, (b) => b.where('rule', '=', f.rule!))
              .$if(f.action !== undefined, (b) => b.where('action', '=', f.action!))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ),
      countTargetsInGroup: live(async (group: string, since: number, f?: { rule?: string; except?: string }) =>
        Number(
          (
            await q
              .selectFrom('execution_groups as g')
              .innerJoin('executions as e', 'e.id', 'g.execution_id')
              .select((eb) => eb.fn.count('e.target').distinct().as('n'))
              .where('g.grp', '=', group)
              .where('e.created_at', '>=', since)
              .$if(f?.rule !== undefined, (b) => b.where('e.rule', '=', f!.rule!))
              .$if(f?.except !== undefined, (b) => b.where('e.target', '<>', f!.except!))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ),
      countRunningInGroup: live(async (group: string) =>
        Number(
          (
            await q
              .selectFrom('execution_groups as g')
              .innerJoin('executions as e', 'e.id', 'g.execution_id')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('g.grp', '=', group)
              .where('e.status', 'in', ['intent', 'running'])
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ),
      insertIntent: live((i: IntentInput) => this.insertIntent(q, i)),
      useApproval: live(
        async (id: number, u: { runId: number; executionId: number; at: number }) =>
          affected(
            await q
              .updateTable('approvals')
              .set({ status: 'used', used_at: u.at, used_run: u.runId, execution_id: u.executionId, closed_at: u.at })
              .where('id', '=', id)
              .where('status', '=', 'approved')
              .where('expires_at', '>', u.at)
              .executeTakeFirst(),
          ) > 0,
      ),
    };
  }

  private async insertIntent(q: Q, i: IntentInput): Promise<{ inserted: true; id: number } | { inserted: false; existingId: number }> {
    const r = await q
      .insertInto('executions')
      .values({
        key: i.key,
        run_id: i.runId,
        rule: i.rule,
        action: i.action,
        step: i.step,
        target: i.target,
        kind: i.kind,
        describe: this.text(i.describe),
        detail: toJson(i.detail),
        cooldown_key: i.cooldownKey,
        cooldown_ms: i.cooldownMs,
        groups: toJson(i.groups),
        created_at: i.createdAt,
        shard: i.shard ?? null,
        status: 'intent',
      })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (r === undefined) {
      const existing = await q.selectFrom('executions').select('id').where('key', '=', i.key).executeTakeFirstOrThrow();
      return { inserted: false, existingId: Number(existing.id) };
    }
    const id = Number(r.id);
    const groups = [...new Set(i.groups)];
    if (groups.length > 0) {
      await q
        .insertInto('execution_groups')
        .values(groups.map((grp) => ({ grp, execution_id: id })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    await this.upsertCooldown(q, i.cooldownKey, i.createdAt, i.createdAt + i.cooldownMs);
    return { inserted: true, id };
  }

  markRunning(id: number, startedAt: number): Promise<void> {
    return this.op(() =>
      this.journalWrite(async (q, again) => {
        const u = await q
          .updateTable('executions')
          .set({ status: 'running', started_at: startedAt })
          .where('id', '=', id)
          .where('status', '=', 'intent')
          .executeTakeFirst();
        if (affected(u) === 0 && !(again && (await this.already(q, id, 'running', 'started_at', startedAt))))
          throw await this.conflict(q, id, 'cannot start it');
      }),
    );
  }

  finishExecution(id: number, outcome: ExecutionOutcome & { finishedAt: number }): Promise<void> {
    return this.op(() =>
      this.journalWrite(async (q, again) => {
        // An execution another runner marked interrupted still gets its real outcome when it arrives.
        const u = await q
          .updateTable('executions')
          .set({
            status: outcome.status,
            finished_at: outcome.finishedAt,
            exit_code: outcome.exitCode ?? null,
            http_status: outcome.httpStatus ?? null,
            duration_ms: outcome.durationMs,
            output: this.textOrNull(outcome.output),
            error: this.textOrNull(outcome.error),
          })
          .where('id', '=', id)
          .where('status', 'in', ['intent', 'running', 'interrupted'])
          .executeTakeFirst();
        if (affected(u) === 0 && !(again && (await this.already(q, id, outcome.status, 'finished_at', outcome.finishedAt))))
          throw await this.conflict(q, id, 'cannot record its outcome');
      }),
    );
  }

  /** Whether execution `id` already has `status` and this time in `column` (a retried write that had committed). */
  private async already(q: Q, id: number, status: string, column: 'started_at' | 'finished_at', at: number): Promise<boolean> {
    const r = await q
      .selectFrom('executions')
      .select(['status', `${column} as at`])
      .where('id', '=', id)
      .executeTakeFirst();
    return r !== undefined && r.status === status && Number(r.at) === at;
  }

  private async conflict(q: Q, id: number, what: string): Promise<JournalConflictError> {
    const r = await q.selectFrom('executions').select('status').where('id', '=', id).executeTakeFirst();
    return new JournalConflictError(
      r === undefined ? `execution ${id} is not in the journal: ${what}` : `execution ${id} is ${r.status} in the journal: ${what}`,
    );
  }

  unfinishedExecutions(): Promise<ExecutionRecord[]> {
    return this.op(async () =>
      (await this.db.selectFrom('executions').selectAll().where('status', 'in', ['intent', 'running']).orderBy('id').execute()).map(executionFromRow),
    );
  }

  markInterrupted(ids: number[], note: string, at: number): Promise<void> {
    return this.op(async () => {
      if (ids.length === 0) return;
      await this.write(async (q) => {
        await q
          .updateTable('executions')
          .set({ status: 'interrupted', error: this.text(note), finished_at: at })
          .where(this.inList('id', ids, 'bigint'))
          .where('status', 'in', ['intent', 'running'])
          .execute();
      });
    });
  }

  getExecution(id: number): Promise<ExecutionRecord | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
      return r === undefined ? null : executionFromRow(r);
    });
  }

  listExecutions(filter: { target?: string; rule?: string; runId?: number; since?: number; limit: number }): Promise<ExecutionRecord[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('executions')
          .selectAll()
          .$if(filter.target !== undefined, (b) => b.where('target', '=', filter.target!))
          .$if(filter.rule !== undefined, (b) => b.where('rule', '=', filter.rule!))
          .$if(filter.runId !== undefined, (b) => b.where('run_id', '=', filter.runId!))
          .$if(filter.since !== undefined, (b) => b.where('created_at', '>=', filter.since!))
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(executionFromRow),
    );
  }

  recentOutcomes(rule: string, n: number): Promise<(ExecutionStatus | 'ineffective')[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('executions as e')
          .leftJoin('verifications as v', 'v.execution_id', 'e.id')
          .select((eb) => eb.case().when('v.status', '=', 'ineffective').then(sql.lit('ineffective')).else(eb.ref('e.status')).end().as('status'))
          .where('e.rule', '=', rule)
          .where('e.finished_at', 'is not', null)
          .orderBy('e.finished_at', 'desc')
          .orderBy('e.id', 'desc')
          .limit(n)
          .execute()
      ).map((r) => r.status as ExecutionStatus | 'ineffective'),
    );
  }

  // ---- cooldowns and source cache

  private async readCooldown(q: Q, key: string): Promise<{ lastAt: number; until: number } | null> {
    const r = await q.selectFrom('cooldowns').select(['last_at', 'until']).where('key', '=', key).executeTakeFirst();
    return r === undefined ? null : { lastAt: Number(r.last_at), until: Number(r.until) };
  }

  private async upsertCooldown(q: Q, key: string, lastAt: number, until: number): Promise<void> {
    await q
      .insertInto('cooldowns')
      .values({ key, last_at: lastAt, until })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ last_at: eb.ref('excluded.last_at'), until: eb.ref('excluded.until') })))
      .execute();
  }

  getCooldown(key: string): Promise<{ lastAt: number; until: number } | null> {
    return this.op(() => this.readCooldown(this.db, key));
  }

  setCooldown(key: string, lastAt: number, until: number): Promise<void> {
    return this.op(() => this.write((q) => this.upsertCooldown(q, key, lastAt, until)));
  }

  listCooldowns(activeAt: number): Promise<{ key: string; lastAt: number; until: number }[]> {
    return this.op(async () =>
      (await this.db.selectFrom('cooldowns').select(['key', 'last_at', 'until']).where('until', '>', activeAt).orderBy('key').execute()).map((r) => ({
        key: r.key,
        lastAt: Number(r.last_at),
        until: Number(r.until),
      })),
    );
  }

  getSourceCache(name: string): Promise<{ at: number; payload: Uint8Array } | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('source_cache').select(['at', 'payload']).where('name', '=', name).executeTakeFirst();
      return r === undefined ? null : { at: Number(r.at), payload: bytes(r.payload)! };
    });
  }

  setSourceCache(name: string, at: number, payload: Uint8Array): Promise<void> {
    return this.op(() =>
      this.write(async (q) => {
        await q
          .insertInto('source_cache')
          .values({ name, at, payload: buffer(payload) })
          .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ at: eb.ref('excluded.at'), payload: eb.ref('excluded.payload') })))
          .execute();
      }),
    );
  }

  // ---- switch, disables, audit

  private async readSwitch(q: Q): Promise<SwitchState> {
    const r = await q.selectFrom('switch').selectAll().where('id', '=', 1).executeTakeFirst();
    if (r === undefined) return { off: false, by: null, reason: null, at: null, until: null };
    return { off: r.off === 1 || r.off === true, by: r.by, reason: r.reason, at: r.at, until: r.until };
  }

  getSwitch(): Promise<SwitchState> {
    return this.op(() => this.readSwitch(this.db));
  }

  setSwitch(s: { off: boolean; by: string; reason: string; at: number; until: number | null }): Promise<void> {
    return this.op(() =>
      this.write(async (q) => {
        await q
          .insertInto('switch')
          .values({ id: 1, off: s.off ? 1 : 0, by: s.by, reason: this.text(s.reason), at: s.at, until: s.until })
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              off: eb.ref('excluded.off'),
              by: eb.ref('excluded.by'),
              reason: eb.ref('excluded.reason'),
              at: eb.ref('excluded.at'),
              until: eb.ref('excluded.until'),
            })),
          )
          .execute();
      }),
    );
  }

  /** Active at `at`: not lifted, and no expiry or an expiry after `at` (until == at has expired). */
  private async readDisables(q: Q, at: number): Promise<DisableRecord[]> {
    return (await q.selectFrom('disables').selectAll().where('removed_at', 'is', null).where(activeAt(at)).orderBy('id').execute()).map(disableFromRow);
  }

  addDisable(d: Omit<DisableRecord, 'id' | 'removedAt' | 'removedBy'>): Promise<number> {
    return this.op(() =>
      this.write(async (q) => {
        const r = await q
          .insertInto('disables')
          .values({
            scope: d.scope,
            value: d.value,
            selector: d.selector === null ? null : toJson(d.selector),
            by: d.by,
            reason: this.text(d.reason),
            created_at: d.createdAt,
            until: d.until,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return Number(r.id);
      }),
    );
  }

  removeDisables(match: { id?: number; scope?: DisableScope; value?: string }, by: string, at: number): Promise<DisableRecord[]> {
    return this.op(async () => {
      if (match.id === undefined && match.scope === undefined && match.value === undefined)
        throw new Error('removeDisables needs an id, a scope or a value: an empty match would lift every disable');
      return this.write(async (q) =>
        (
          await q
            .updateTable('disables')
            .set({ removed_at: at, removed_by: by })
            .where('removed_at', 'is', null)
            .where(activeAt(at))
            .$if(match.id !== undefined, (b) => b.where('id', '=', match.id!))
            .$if(match.scope !== undefined, (b) => b.where('scope', '=', match.scope!))
            .$if(match.value !== undefined, (b) => b.where('value', '=', match.value!))
            .returningAll()
            .execute()
        )
          .map(disableFromRow)
          .sort((a, b) => a.id - b.id),
      );
    });
  }

  listDisables(filter: { activeAt?: number }): Promise<DisableRecord[]> {
    return this.op(async () =>
      filter.activeAt !== undefined
        ? this.readDisables(this.db, filter.activeAt)
        : (await this.db.selectFrom('disables').selectAll().orderBy('id').execute()).map(disableFromRow),
    );
  }

  appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    return this.op(() =>
      this.write(async (q) => {
        await q
          .insertInto('audit')
          .values({ at: entry.at, by: entry.by, action: entry.action, detail: toJson(entry.detail) })
          .execute();
      }),
    );
  }

  listAudit(limit: number): Promise<AuditRecord[]> {
    return this.op(async () =>
      (await this.db.selectFrom('audit').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(auditFromRow),
    );
  }

  // ---- escalations

  openEscalation(e: { dedupKey: string; channel: string; summary: string; at: number }): Promise<{ isNew: boolean }> {
    return this.op(() =>
      this.write(async (q) => {
        // One statement: two runners opening the same key at once still page once. A refreshed one counts 2 or more.
        const r = await q
          .insertInto('escalations')
          .values({ dedup_key: e.dedupKey, channel: e.channel, status: 'open', summary: this.text(e.summary), first_at: e.at, last_at: e.at, count: 1 })
          .onConflict((oc) =>
            oc
              .column('dedup_key')
              .where(OPEN_ESCALATION)
              .doUpdateSet((eb) => ({
                last_at: this.greatest(eb.ref('escalations.last_at'), eb.ref('excluded.last_at')),
                count: eb('escalations.count', '+', 1),
                summary: eb.ref('excluded.summary'),
                channel: eb.ref('excluded.channel'),
              })),
          )
          .returning('count')
          .executeTakeFirstOrThrow();
        return { isNew: Number(r.count) === 1 };
      }),
    );
  }

  resolveEscalation(dedupKey: string, at: number): Promise<boolean> {
    return this.op(() =>
      this.write(
        async (q) =>
          affected(
            await q
              .updateTable('escalations')
              .set({ status: 'resolved', resolved_at: at })
              .where('dedup_key', '=', dedupKey)
              .where('status', '=', 'open')
              .executeTakeFirst(),
          ) > 0,
      ),
    );
  }

  listEscalations(filter: { status?: 'open' | 'resolved'; limit: number }): Promise<EscalationRecord[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('escalations')
          .selectAll()
          .$if(filter.status !== undefined, (b) => b.where('status', '=', filter.status!))
          .orderBy('last_at', 'desc')
          .orderBy('id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(escalationFromRow),
    );
  }

  // ---- metrics

  recordMetrics(u: MetricUpdate): Promise<void> {
    return this.op(() =>
      this.tx(async (q) => {
        // Sorted rows: two runners adding to the same counters lock them in the same order (no deadlock).
        const sorted = (l: MetricPoint[]) => l.map((p) => ({ ...p, key: labelsKey(p.labels) })).sort((a, b) => (a.name + a.key < b.name + b.key ? -1 : 1));
        const upsert = async (scope: string, p: MetricPoint & { key: string }, value: 'add' | 'max' | 'set') => {
          await q
            .insertInto('metrics')
            .values({ scope, name: p.name, labels: p.key, value: p.value, updated_at: u.at })
            .onConflict((oc) =>
              oc.columns(['scope', 'name', 'labels']).doUpdateSet((eb) => ({
                value:
                  value === 'add'
                    ? eb(eb.ref('metrics.value'), '+', eb.ref('excluded.value'))
                    : value === 'max'
                      ? this.greatest(eb.ref('metrics.value'), eb.ref('excluded.value'))
                      : eb.ref('excluded.value'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        };
        for (const p of sorted(u.add)) await upsert(STORE_SCOPE, p, 'add');
        for (const p of sorted(u.max)) await upsert(STORE_SCOPE, p, 'max');
        if (u.replace) {
          await q.deleteFrom('metrics').where('scope', '=', u.replace.scope).execute();
          for (const p of sorted(u.replace.samples)) await upsert(u.replace.scope, p, 'set');
        }
        if (u.dropBefore !== undefined) await q.deleteFrom('metrics').where('scope', '<>', STORE_SCOPE).where('updated_at', '<', u.dropBefore).execute();
      }),
    );
  }

  listMetrics(): Promise<MetricSample[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('metrics')
          .select(['scope', 'name', 'labels', 'value', 'updated_at'])
          .orderBy('name')
          .orderBy('scope')
          .orderBy('labels')
          .execute()
      ).map((r) => ({ scope: r.scope, name: r.name, labels: JSON.parse(r.labels), value: Number(r.value), updatedAt: Number(r.updated_at) })),
    );
  }

  // ---- verifications

  saveVerifications(v: VerificationRecord[], fence: Fences): Promise<void> {
    return this.op(async () => {
      if (v.length === 0) return;
      await this.tx(async (q) => {
        await this.checkFence(q, fence);
        for (const x of v) {
          const values = verificationValues(x);
          const row = Object.fromEntries(VERIFICATION_COLUMNS.map((c, i) => [c, typeof values[i] === 'string' ? this.text(values[i] as string) : values[i]]));
          await q
            .insertInto('verifications')
            .values(row as never)
            .onConflict((oc) =>
              oc
                .column('execution_id')
                .doUpdateSet((eb) => Object.fromEntries(VERIFICATION_COLUMNS.slice(1).map((c) => [c, eb.ref(`excluded.${c}`)])) as never),
            )
            .execute();
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
    return this.op(async () =>
      (
        await this.db
          .selectFrom('verifications')
          .selectAll()
          .$if(filter.rule !== undefined, (b) => b.where('rule', '=', filter.rule!))
          .$if(filter.target !== undefined, (b) => b.where('target', '=', filter.target!))
          .$if(filter.status !== undefined, (b) => b.where('status', '=', filter.status!))
          .$if(filter.open === true, (b) =>
            b.where((eb) => eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'ineffective'), eb('cleared_at', 'is', null)])])),
          )
          .$if(filter.executionIds !== undefined, (b) => b.where(this.inList('execution_id', filter.executionIds!, 'bigint')))
          .orderBy('started_at', 'desc')
          .orderBy('execution_id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(verificationFromRow),
    );
  }

  clearVerifications(match: { rule?: string; target?: string }, by: string, at: number): Promise<VerificationRecord[]> {
    return this.op(async () => {
      if (match.rule === undefined && match.target === undefined) throw new Error('clearVerifications needs a rule or a target');
      return this.write(async (q) =>
        (
          await q
            .updateTable('verifications')
            .set({ cleared_at: at, cleared_by: by })
            .where('status', '=', 'ineffective')
            .where('cleared_at', 'is', null)
            .$if(match.rule !== undefined, (b) => b.where('rule', '=', match.rule!))
            .$if(match.target !== undefined, (b) => b.where('target', '=', match.target!))
            .returningAll()
            .execute()
        ).map(verificationFromRow),
      );
    });
  }

  // ---- approvals

  askApproval(a: ApprovalInput, fence: Fences): Promise<{ created: boolean; approval: ApprovalRecord }> {
    return this.op(() =>
      this.tx(async (q) => {
        await this.checkFence(q, fence);
        const liveOne = () =>
          q.selectFrom('approvals').selectAll().where('rule', '=', a.rule).where('target', '=', a.target).where(LIVE_APPROVAL).executeTakeFirst();
        // Read first (a refused insert would still use up an id), then insert against the partial unique index:
        // two runners asking at once make one approval.
        const had = await liveOne();
        if (had !== undefined) return { created: false, approval: approvalFromRow(had) };
        const ins = await q
          .insertInto('approvals')
          .values({
            rule: a.rule,
            target: a.target,
            guard: a.guard,
            why: this.text(a.why),
            severity: a.severity,
            actions: this.text(toJson(a.actions)),
            fingerprint: a.fingerprint,
            facts: this.text(toJson(a.facts)),
            asked_at: a.askedAt,
            asked_run: a.askedRun,
            expires_ms: a.expiresMs,
            status: 'pending',
          })
          .onConflict((oc) => oc.columns(['rule', 'target']).where(LIVE_APPROVAL).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (ins !== undefined) return { created: true, approval: approvalFromRow(ins) };
        return { created: false, approval: approvalFromRow((await liveOne())!) };
      }),
    );
  }

  changeApproval(c: ApprovalChange, fence: Fences): Promise<ApprovalRecord | null> {
    return this.op(() =>
      this.tx(async (q) => {
        await this.checkFence(q, fence);
        const base = q
          .updateTable('approvals')
          .where('id', '=', c.id)
          .where(this.inList('status', c.from, 'text'));
        const r = c.clear
          ? await base.set({ cleared_at: c.at }).where('cleared_at', 'is', null).returningAll().executeTakeFirst()
          : await base
              .set({
                status: c.to,
                // Who decided, and when: only a change that names someone.
                ...(c.by === undefined ? {} : { by: this.text(c.by), decided_at: c.at }),
                ...(c.reason === undefined ? {} : { reason: this.text(c.reason) }),
                ...(c.expiresAt === undefined ? {} : { expires_at: c.expiresAt }),
                ...(c.note === undefined ? {} : { note: this.text(c.note) }),
                closed_at: c.to === 'pending' || c.to === 'approved' ? null : c.at,
              })
              .returningAll()
              .executeTakeFirst();
        return r === undefined ? null : approvalFromRow(r);
      }),
    );
  }

  getApproval(id: number): Promise<ApprovalRecord | null> {
    return this.op(async () => {
      const r = await this.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
      return r === undefined ? null : approvalFromRow(r);
    });
  }

  listApprovals(filter: { status?: ApprovalStatus[]; rule?: string; target?: string; uncleared?: boolean; limit: number }): Promise<ApprovalRecord[]> {
    return this.op(async () =>
      (
        await this.db
          .selectFrom('approvals')
          .selectAll()
          .$if(filter.status !== undefined, (b) => b.where(this.inList('status', filter.status!, 'text')))
          .$if(filter.rule !== undefined, (b) => b.where('rule', '=', filter.rule!))
          .$if(filter.target !== undefined, (b) => b.where('target', '=', filter.target!))
          .$if(filter.uncleared === true, (b) => b.where('cleared_at', 'is', null))
          .orderBy('id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map(approvalFromRow),
    );
  }
}

/** Both drivers bind Buffers for bytes (better-sqlite3 refuses a plain Uint8Array); this is a view, not a copy. */
export const buffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/** A disable (or anything with `until`) in force at `at`: no expiry, or one after `at`. */
const activeAt =
  (at: number) =>
  (eb: import('kysely').ExpressionBuilder<import('./tables.js').Database, 'disables'>): Expression<SqlBool> =>
    eb.or([eb('until', 'is', null), eb('until', '>', at)]);
