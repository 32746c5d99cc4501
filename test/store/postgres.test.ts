// The PostgreSQL store: the shared contract, plus several runners (separate pools) racing on one schema.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore, redactUrl } from '../../src/store/postgres/index.js';
import { PG_MIGRATIONS } from '../../src/store/sql/migrations.js';
import { openStore } from '../../src/store/index.js';
import { LeaseLostError, StoreError, type Store } from '../../src/store/types.js';
import { decision, intent, storeContract } from './contract.js';
import { storageContract } from './storage.js';
import { parseSnapshot, snapshotInput } from '../../src/store/snapshot.js';
import { PG_URL, pgSkipReason, requirePgUrl, schemaFactory } from './pg.js';

const schemas = schemaFactory('pgstore');
afterAll(() => schemas.dropAll());

if (pgSkipReason !== null) {
  // Skipped only on a developer machine without REFLEX_TEST_PG; CI sets it and REFLEX_REQUIRE_SERVICES, so there these tests always run.
  describe.skip(`postgres store (skipped: ${pgSkipReason})`, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  storeContract('postgres', () => openPostgresStore(requirePgUrl(), { schema: schemas.next() }));
  storageContract(
    'postgres',
    () => openPostgresStore(requirePgUrl(), { schema: schemas.next() }),
    async () => {
      const schema = schemas.next();
      const old = await openPostgresStore(requirePgUrl(), { schema, migrations: PG_MIGRATIONS.filter((m) => m.version < 3) });
      await old.migrate();
      const finishWhole = async (runId: number, snapshot: Uint8Array, decisions: { rule: string; outcome: string }[]) => {
        const c = new pg.Client({ connectionString: requirePgUrl() });
        await c.connect();
        try {
          await c.query(`UPDATE "${schema}".runs SET finished_at = 1001, status = 'ok' WHERE id = $1`, [runId]);
          await c.query(`INSERT INTO "${schema}".run_snapshots (run_id, data) VALUES ($1, $2)`, [runId, Buffer.from(snapshot)]);
          for (const d of decisions) {
            await c.query(
              `INSERT INTO "${schema}".decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at) VALUES ($1, 'a', $2, $3, 'warning', '[]', $4, NULL, 1000)`,
              [runId, d.rule, d.outcome, JSON.stringify([{ stage: 'guard', reason: 'x', detail: 'y' }])],
            );
          }
        } finally {
          await c.end();
        }
      };
      return { old, finishWhole, reopen: () => openPostgresStore(requirePgUrl(), { schema }) };
    },
  );

  describe('postgres store', () => {
    it('runners finishing runs at the same moment each read back their own facts (snapshot writers are serialized)', async () => {
      const schema = schemas.next();
      const stores = [await openPostgresStore(requirePgUrl(), { schema })];
      await stores[0]!.migrate();
      for (let i = 1; i < 4; i++) stores.push(await openPostgresStore(requirePgUrl(), { schema, poolSize: 2 }));
      try {
        const fleet = (v: number) =>
          Array.from({ length: 300 }, (_, i) => ({ id: `t-${i}`, kind: 'box', labels: {}, depends_on: [], facts: { v: i % 3 === 0 ? v : 0 } }));
        const ids = await Promise.all(stores.map((st, k) => st.beginRun({ startedAt: 1000 + k, mode: 'enforce', holder: `h${k}`, ruleSetHash: 'r' })));
        for (let round = 0; round < 3; round++) {
          await Promise.all(
            stores.map((st, k) =>
              st.finishRun(
                ids[k]!,
                { finishedAt: 2000, status: 'ok', summary: {}, snapshot: snapshotInput({ v: 1, now: k }, fleet(10 * round + k), (x) => x), decisions: [] },
                null,
              ),
            ),
          );
          for (const [k, id] of ids.entries()) {
            const doc = parseSnapshot((await stores[0]!.getSnapshotParts(id))!) as { targets: unknown[] };
            expect(doc.targets).toEqual(fleet(10 * round + k));
          }
        }
      } finally {
        for (const st of stores) await st.close();
      }
    });

    it('8 runners with separate pools: a shared limit is never exceeded and no key is journaled twice', async () => {
      const schema = schemas.next();
      const first = await openPostgresStore(requirePgUrl(), { schema });
      await first.migrate();
      const stores: Store[] = [first];
      for (let i = 1; i < 8; i++) stores.push(await openPostgresStore(requirePgUrl(), { schema, poolSize: 2 }));
      const LIMIT = 30;
      try {
        const per = await Promise.all(
          stores.map(async (s, r) => {
            let limited = 0;
            const shared: string[] = [];
            for (let i = 0; i < 20; i++) {
              const ok = await s.intentTransaction(null, async (tx) => {
                const n = await tx.countExecutions({ since: 0, action: 'limited' });
                if (n >= LIMIT) return false;
                // widen the window between the check and the insert: only the lock keeps it safe
                await new Promise((res) => setTimeout(res, 1));
                return (await tx.insertIntent(intent({ key: `limited:${r}:${i}`, action: 'limited' }))).inserted;
              });
              if (ok) limited++;
              const res = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: `shared:${i}`, runId: r })));
              if (res.inserted) shared.push(`shared:${i}`);
            }
            return { limited, shared };
          }),
        );
        expect(per.reduce((a, p) => a + p.limited, 0)).toBe(LIMIT);
        const shared = per.flatMap((p) => p.shared);
        expect(shared.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `shared:${i}`).sort());
        const all = await first.listExecutions({ limit: 1000 });
        expect(all.filter((e) => e.action === 'limited')).toHaveLength(LIMIT);
        expect(new Set(all.map((e) => e.key)).size).toBe(all.length);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('a takeover waits for a fenced write in flight, so the write lands before the new holder starts', async () => {
      const schema = schemas.next();
      const a = await openPostgresStore(requirePgUrl(), { schema });
      await a.migrate();
      const b = await openPostgresStore(requirePgUrl(), { schema });
      try {
        const lease = await a.acquireLease('run', 'a', 1000, 0);
        if (!lease.acquired) throw new Error('not acquired');
        const events: string[] = [];
        let inside!: () => void;
        const entered = new Promise<void>((r) => (inside = r));
        const write = a.intentTransaction({ name: 'run', token: lease.token }, async (tx) => {
          inside();
          await new Promise((r) => setTimeout(r, 300));
          await tx.insertIntent(intent({ key: 'k' }));
          events.push('a wrote');
        });
        await entered;
        // a's lease has expired by b's clock, but a's transaction holds the lease row
        const takeover = b.acquireLease('run', 'b', 1000, 5000).then((r) => {
          events.push('b acquired');
          return r;
        });
        await write;
        expect(await takeover).toMatchObject({ acquired: true, token: 2 });
        expect(events).toEqual(['a wrote', 'b acquired']);
        await expect(a.intentTransaction({ name: 'run', token: 1 }, async () => 1)).rejects.toBeInstanceOf(LeaseLostError);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('runners claiming shards at once each get distinct shards (acquireAnyLeases, SKIP LOCKED)', async () => {
      const schema = schemas.next();
      const stores = [await openPostgresStore(requirePgUrl(), { schema })];
      await stores[0]!.migrate();
      for (let i = 1; i < 4; i++) stores.push(await openPostgresStore(requirePgUrl(), { schema, poolSize: 1 }));
      try {
        const shards = Array.from({ length: 8 }, (_, i) => `shard:${i}`);
        const got = await Promise.all(stores.map((s, i) => s.acquireAnyLeases!(shards, `runner-${i}`, 60_000, 1000, 2)));
        const names = got.flat().map((l) => l.name);
        expect(new Set(names).size).toBe(names.length);
        expect(names.length).toBe(8);
        expect(got.every((g) => g.length === 2)).toBe(true);
        const leases = await stores[0]!.listLeases();
        expect(leases).toHaveLength(8);
        expect(leases.every((l) => l.token === 1)).toBe(true);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('stores 50,000 decisions and a 5 MB snapshot in one transaction', async () => {
      const s = await openPostgresStore(requirePgUrl(), { schema: schemas.next() });
      await s.migrate();
      try {
        const id = await s.beginRun({ startedAt: 1, mode: 'enforce', holder: 'h', ruleSetHash: 'x' });
        const decisions = Array.from({ length: 50_000 }, (_, i) => decision({ target: `instance-${i}`, rule: `rule-${i % 20}`, at: i }));
        const snapshot = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) % 251);
        const t0 = performance.now();
        await s.finishRun(id, { finishedAt: 2, status: 'ok', summary: {}, snapshot, decisions }, null);
        const ms = performance.now() - t0;
        console.log(`postgres finishRun: 50,000 decisions + 5 MB snapshot in ${ms.toFixed(0)} ms (${Math.round(50_000 / (ms / 1000))} rows/s)`);
        const back = await s.getDecisions(id);
        expect(back).toHaveLength(50_000);
        expect(back[49_999]).toEqual({ ...decisions[49_999], runId: id }); // kept in order
        expect(Buffer.from((await s.getSnapshot(id))!).equals(Buffer.from(snapshot))).toBe(true); // toEqual walks 5 MB slowly
      } finally {
        await s.close();
      }
    });

    it('an unreachable server is a StoreError naming the URL without its password', async () => {
      const err = await openPostgresStore('postgres://reflex:s3cret@127.0.0.1:1/db', { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/^cannot connect to the PostgreSQL store at postgres:\/\/reflex:\*\*\*@127\.0\.0\.1:1\/db: connection refused/);
      expect((err as Error).message).not.toContain('s3cret');
    });

    it('a database that does not exist is a StoreError saying so', async () => {
      const u = new URL(requirePgUrl());
      u.pathname = '/reflex_no_such_database';
      const err = await openPostgresStore(u.toString()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/database "reflex_no_such_database" does not exist/);
    });

    it('redacts passwords in URLs', () => {
      expect(redactUrl('postgresql://u:p@h:5/d?sslmode=require')).toBe('postgresql://u:***@h:5/d?sslmode=require');
      expect(redactUrl('postgres://h/d')).toBe('postgres://h/d');
    });

    it('upgrades a schema created by an older version and refuses one from a newer version', async () => {
      const schema = schemas.next();
      const v1 = await openPostgresStore(requirePgUrl(), { schema, migrations: PG_MIGRATIONS.slice(0, 1) });
      await v1.migrate();
      await v1.setCooldown('kept', 1, 2);
      await v1.close();
      const next = [...PG_MIGRATIONS, { version: PG_MIGRATIONS.length + 1, name: 'test: add a table', sql: 'CREATE TABLE {s}.upgrade_probe (x integer);' }];
      const v2 = await openPostgresStore(requirePgUrl(), { schema, migrations: next });
      await v2.migrate();
      await v2.migrate();
      expect(await v2.getCooldown('kept')).toEqual({ lastAt: 1, until: 2 });
      await v2.close();
      const old = await openPostgresStore(requirePgUrl(), { schema });
      await expect(old.migrate()).rejects.toThrow(/newer than this Reflex knows.*upgrade Reflex/);
      await old.close();
    });

    it('migrations racing from several runners apply once', async () => {
      const schema = schemas.next();
      const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(requirePgUrl(), { schema, poolSize: 1 })));
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        expect(await stores[0]!.getSwitch()).toMatchObject({ off: false });
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('keeps command output with NUL bytes (as U+FFFD: PostgreSQL text cannot hold NUL)', async () => {
      const s = await openPostgresStore(requirePgUrl(), { schema: schemas.next() });
      await s.migrate();
      try {
        const r = await s.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'k', describe: 'a\u0000b' })));
        if (!r.inserted) throw new Error('not inserted');
        await s.finishExecution(r.id, { status: 'failed', durationMs: 1, output: 'bin\u0000ary', error: 'e\u0000', finishedAt: 2 });
        expect(await s.getExecution(r.id)).toMatchObject({ describe: 'a\uFFFDb', output: 'bin\uFFFDary', error: 'e\uFFFD' });
      } finally {
        await s.close();
      }
    });

    it('openStore opens PostgreSQL for postgres:// and postgresql:// URLs, with a schema= parameter', async () => {
      const schema = schemas.next();
      const u = new URL(requirePgUrl());
      u.searchParams.set('schema', schema);
      const s = await openStore(u.toString(), '/nonexistent');
      expect(s.kind).toBe('postgres');
      await s.migrate();
      await s.setCooldown('via-openStore', 1, 2);
      await s.close();
      const u2 = new URL(u.toString().replace(/^postgres:/, 'postgresql:'));
      const s2 = await openStore(u2.toString(), '/nonexistent');
      expect(await s2.getCooldown('via-openStore')).toEqual({ lastAt: 1, until: 2 });
      await s2.close();
    });
  });
}

if (!PG_URL && process.env.REFLEX_REQUIRE_SERVICES) {
  describe('postgres store', () => {
    it('runs when REFLEX_REQUIRE_SERVICES is set', () => {
      requirePgUrl();
    });
  });
}
