// The SQLite store: the shared contract, plus what only a file on disk has (pragmas, open errors, upgrades, several processes).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { SQLITE_MIGRATIONS as MIGRATIONS } from '../../src/store/sql/migrations.js';
import { StoreError, type DecisionRecord } from '../../src/store/types.js';
import { openStore } from '../../src/store/index.js';
import { ROOT } from '../helpers.js';
import { decision, storeContract } from './contract.js';
import { storageContract } from './storage.js';

interface Child {
  won: string[];
  limited: number;
  startedAt: number;
  endedAt: number;
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'reflex-sqlite-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('sqlite (memory)', async () => openSqliteStore(':memory:'));
storeContract('sqlite (file)', async () => openSqliteStore(join(tempDir(), 'state.db')));
storageContract(
  'sqlite',
  async () => openSqliteStore(join(tempDir(), 'state.db')),
  async () => {
    const path = join(tempDir(), 'old.db');
    const old = openSqliteStore(path, { migrations: MIGRATIONS.filter((m) => m.version < 3) });
    await old.migrate();
    const finishWhole = async (runId: number, snapshot: Uint8Array, decisions: { rule: string; outcome: string }[]) => {
      const db = new Database(path);
      db.prepare("UPDATE runs SET finished_at = 1001, status = 'ok' WHERE id = ?").run(runId);
      db.prepare('INSERT INTO run_snapshots (run_id, data) VALUES (?, ?)').run(runId, Buffer.from(snapshot));
      for (const d of decisions) {
        db.prepare(
          `INSERT INTO decisions (run_id, target, rule, outcome, severity, conditions, trace, actions, at) VALUES (?, 'a', ?, ?, 'warning', '[]', ?, NULL, 1000)`,
        ).run(runId, d.rule, d.outcome, JSON.stringify([{ stage: 'guard', reason: 'x', detail: 'y' }]));
      }
      db.close();
    };
    return { old, finishWhole, reopen: async () => openSqliteStore(path) };
  },
);

describe('sqlite store on disk', () => {
  it('creates parent folders and opens the file in WAL mode with full sync, foreign keys and a busy timeout', async () => {
    const path = join(tempDir(), 'a', 'b', 'state.db');
    const s = openSqliteStore(path, { busyTimeoutMs: 1234 });
    await s.migrate();
    await s.close();
    expect(existsSync(path)).toBe(true);
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    // per-connection settings are checked through the store's own connection
    const s2 = openSqliteStore(path, { busyTimeoutMs: 1234 }) as unknown as { raw: Database.Database };
    expect(s2.raw.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(s2.raw.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s2.raw.pragma('busy_timeout', { simple: true })).toBe(1234);
    await (s2 as unknown as { close(): Promise<void> }).close();
  });

  it('a file that is not a database is a StoreError naming the path and the cause', () => {
    const path = join(tempDir(), 'state.db');
    writeFileSync(path, 'this is not sqlite, just some text that is long enough to have a header '.repeat(20));
    let err: unknown;
    try {
      openSqliteStore(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toBe(`cannot open the SQLite store at ${path}: the file exists but is not a SQLite database`);
  });

  it('a path under a regular file is a StoreError, not a stack trace', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    expect(() => openSqliteStore(join(file, 'sub', 'state.db'))).toThrow(StoreError);
    expect(() => openSqliteStore(join(file, 'sub', 'state.db'))).toThrow(
      /cannot open the SQLite store at .*file\/sub\/state\.db: a path component is not a directory/,
    );
  });

  it('a folder without write permission is a StoreError', async () => {
    const { chmodSync } = await import('node:fs');
    const d = tempDir();
    chmodSync(d, 0o555);
    try {
      const target = join(d, 'sub', 'state.db');
      if (process.getuid?.() === 0) {
        // root writes anywhere: open the store as nobody (uid 65534) in a child process, from the compiled modules.
        const mod = join(ROOT, 'dist/store/sqlite/index.js');
        const code = `import(${JSON.stringify(mod)}).then((m) => { try { m.openSqliteStore(${JSON.stringify(target)}); console.log('opened'); } catch (e) { console.log(e.name + ': ' + e.message); } })`;
        const r = spawnSync(process.execPath, ['-e', code], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' });
        expect(r.stdout).toMatch(/^StoreError: cannot open the SQLite store at .*permission denied/);
      } else {
        expect(() => openSqliteStore(target)).toThrow(/cannot open the SQLite store at .*permission denied/);
      }
    } finally {
      chmodSync(d, 0o700);
    }
  });

  it('a database locked beyond the busy timeout is a StoreError saying so', async () => {
    const path = join(tempDir(), 'state.db');
    const s = openSqliteStore(path, { busyTimeoutMs: 100 });
    await s.migrate();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(s.setCooldown('k', 1, 2)).rejects.toThrow(StoreError);
      await expect(s.setCooldown('k', 1, 2)).rejects.toThrow(/locked by another process \(waited 100 ms\)/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await s.setCooldown('k', 1, 2);
    await s.close();
  });

  it('a database another process locks exclusively beyond the busy timeout cannot be opened: StoreError', () => {
    const path = join(tempDir(), 'state.db');
    const other = new Database(path);
    other.pragma('journal_mode = DELETE');
    other.exec('CREATE TABLE t (x INTEGER)');
    other.exec('BEGIN EXCLUSIVE');
    try {
      expect(() => openSqliteStore(path, { busyTimeoutMs: 100 })).toThrow(
        `cannot open the SQLite store at ${path}: the database is locked by another process (waited 100 ms); is another reflex command writing to it?`,
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  });

  it('two store objects on one file in one process write at once without waiting for each other in the busy handler', async () => {
    const path = join(tempDir(), 'state.db');
    // A busy timeout far below the 5 s default: a write that had to wait for the other object's transaction
    // in the busy handler (which blocks the event loop, and so that transaction) would fail with SQLITE_BUSY.
    const a = openSqliteStore(path, { busyTimeoutMs: 100 });
    const b = openSqliteStore(path, { busyTimeoutMs: 100 });
    await a.migrate();
    await b.migrate();
    const samples = Array.from({ length: 200 }, (_, i) => ({ name: `m${i}`, labels: { i: String(i) }, value: i }));
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      writes.push(a.recordMetrics({ at: i, add: samples, max: [] }));
      writes.push(b.setSwitch({ off: i % 2 === 0, by: 'b', reason: `flip ${i}`, at: i, until: null }));
      writes.push(b.appendAudit({ at: i, by: 'b', action: 'flip', detail: { i } }));
    }
    await Promise.all(writes);
    expect((await a.listMetrics()).find((m) => m.name === 'm7')?.value).toBe(7 * 20);
    expect(await a.listAudit(100)).toHaveLength(20);
    expect((await a.getSwitch()).reason).toBe('flip 19');
    // Inside one object's intent callback, the other object of the same file is refused as the object itself is.
    await expect(a.intentTransaction(null, async () => b.getSwitch())).rejects.toThrow(/inside intentTransaction/);
    await a.close();
    await b.close();
  });

  it('upgrades a store created by an older version and refuses one from a newer version', async () => {
    const path = join(tempDir(), 'state.db');
    const v1 = openSqliteStore(path, { migrations: MIGRATIONS.slice(0, 1) });
    await v1.migrate();
    await v1.setCooldown('kept', 1, 2);
    await v1.close();

    const next = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'test: add a table', sql: 'CREATE TABLE upgrade_probe (x INTEGER);' }];
    const v2 = openSqliteStore(path, { migrations: next });
    await v2.migrate();
    await v2.migrate();
    expect(await v2.getCooldown('kept')).toEqual({ lastAt: 1, until: 2 });
    await v2.close();
    const db = new Database(path);
    expect(db.prepare('SELECT version, name FROM schema_version ORDER BY version').all()).toEqual(next.map((m) => ({ version: m.version, name: m.name })));
    db.close();

    const old = openSqliteStore(path);
    await expect(old.migrate()).rejects.toThrow(/newer than this Reflex knows.*upgrade Reflex/);
    await old.close();
  });

  it('openStore resolves a relative path against the project folder and accepts :memory:', async () => {
    const d = tempDir();
    const s = await openStore('state/reflex.db', d);
    expect(s.kind).toBe('sqlite');
    await s.migrate();
    await s.close();
    expect(existsSync(join(d, 'state', 'reflex.db'))).toBe(true);
    const m = await openStore(':memory:', d);
    await m.migrate();
    await m.close();
  });

  it('two processes racing to insert the same 200 intent keys: exactly one wins each key', async () => {
    const path = join(tempDir(), 'race.db');
    const s = openSqliteStore(path);
    await s.migrate();
    await s.close();
    const child = resolve(import.meta.dirname, 'sqlite-race-child.ts');
    const spawned = ['a', 'b'].map((name) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, path, name], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const ready = new Promise<void>((ok) =>
        p.stderr.on('data', (b) => {
          err += b;
          if (err.includes('ready\n')) ok();
        }),
      );
      p.stdout.on('data', (b) => (out += b));
      const done = new Promise<Child>((ok, fail) =>
        p.on('close', (code) => (code === 0 ? ok(JSON.parse(out)) : fail(new Error(`child ${name} exited ${code}: ${err}`)))),
      );
      return { p, ready, done };
    });
    await Promise.all(spawned.map((c) => c.ready));
    for (const c of spawned) c.p.stdin.end('go\n');
    const [a, b] = (await Promise.all(spawned.map((c) => c.done))) as [Child, Child];
    const all = [...a.won, ...b.won];
    expect(new Set(all).size).toBe(all.length); // no key won twice
    expect(all).toHaveLength(200); // every key won once
    // the two really ran at the same time (SQLite's lock is not fair, so one may win most keys),
    // and the shared limit of 50 "limited:*" intents held across processes
    expect(a.startedAt).toBeLessThan(b.endedAt);
    expect(b.startedAt).toBeLessThan(a.endedAt);
    expect(a.limited + b.limited).toBe(50);
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM executions WHERE key LIKE 'race:%'").get()).toEqual({ n: 200 });
    expect(db.prepare("SELECT count(*) AS n FROM executions WHERE key LIKE 'limited:%'").get()).toEqual({ n: 50 });
    db.close();
  });
});

describe('sqlite store after a crash', () => {
  it('an intent journaled by a process killed mid-action is found unfinished by the next one', async () => {
    const path = join(tempDir(), 'crash.db');
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'sqlite-crash-child.ts'), path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const id = await new Promise<number>((ok, fail) => {
      let out = '';
      child.stdout.on('data', (b) => {
        out += b;
        const m = /running (\d+)\n/.exec(out);
        if (m) ok(Number(m[1]));
      });
      child.on('close', (code) => fail(new Error(`child exited ${code} before journaling: ${err}`)));
    });
    const closed = new Promise((ok) => child.on('close', ok));
    child.kill('SIGKILL');
    await closed;
    const s = openSqliteStore(path);
    await s.migrate();
    expect((await s.unfinishedExecutions()).map((e) => [e.id, e.key, e.status])).toEqual([[id, 'crash:1', 'running']]);
    expect(await s.getCooldown('cd:crash:1')).not.toBeNull();
    await s.close();
  });
});

describe('sqlite finishRun at scale', () => {
  it('stores 50,000 decisions and a 5 MB snapshot in one transaction (speed: npm run bench)', async () => {
    const path = join(tempDir(), 'bench.db');
    const s = openSqliteStore(path);
    await s.migrate();
    const id = await s.beginRun({ startedAt: 1, mode: 'enforce', holder: 'h', ruleSetHash: 'x' });
    const decisions: DecisionRecord[] = Array.from({ length: 50_000 }, (_, i) =>
      decision({ target: `instance-${i}`, rule: `rule-${i % 20}`, outcome: i % 3 === 0 ? 'blocked' : 'unknown', at: i }),
    );
    const snapshot = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    await s.finishRun(id, { finishedAt: 2, status: 'ok', summary: { decisions: decisions.length }, snapshot, decisions }, null);
    expect(await s.getDecisions(id, { target: 'instance-49999' })).toHaveLength(1);
    expect((await s.getSnapshot(id))!.byteLength).toBe(5 * 1024 * 1024);
    await s.close();
  });
});
