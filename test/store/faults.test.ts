// SQLite store faults end cleanly (issue 13.6, 13.7): a path that cannot work, a file that is not a Reflex store, a table gone, the file deleted or replaced under a run.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { storeProblems } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { makeDirs } from '../../src/store/sqlite/path.js';
import { StoreError } from '../../src/store/types.js';
import { fixture } from '../helpers.js';
import { actionLines, crashProject, executions, reflexAsync, runs, setAction, setBroken, start, until, waitQuiet } from '../reliability/harness.js';

const dirs: string[] = [];
function project(...a: Parameters<typeof crashProject>): string {
  const d = crashProject(...a);
  dirs.push(d);
  return d;
}
function temp(): string {
  const d = fixture({}, 'reflex-store-faults-');
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const setStore = (dir: string, store: string) =>
  writeFileSync(join(dir, 'reflex.yaml'), readFileSync(join(dir, 'reflex.yaml'), 'utf8').replace(/^store: .*$/m, `store: ${store}`));

/** Neither a stack trace nor an internal error: what a person reads when the store is at fault. */
function expectCleanMessage(out: string): void {
  expect(out).not.toMatch(/internal error|\n\s+at /);
}

describe('a store path that cannot work', () => {
  const onProc = process.platform === 'linux' && existsSync('/proc/self');

  // Skipped only off Linux (no /proc to point a store at); CI runs on Linux.
  it.skipIf(!onProc)(
    'store: /proc/nope/state.db is a check error with its position, and run and status refuse it at once (exit 2) instead of spinning',
    async () => {
      const dir = project();
      setStore(dir, '/proc/nope/state.db');
      const check = await reflexAsync(dir, ['check']);
      expect(check.code).toBe(2);
      expect(check.out).toMatch(
        /reflex\.yaml:1:8: the SQLite store at \/proc\/nope\/state\.db: it cannot be created: \/proc is on the kernel's proc filesystem/,
      );
      for (const cmd of [['run'], ['status'], ['history']]) {
        // A bound against the old hang (Node's recursive mkdir loops for ever there), not a timing assertion.
        const r = await Promise.race([reflexAsync(dir, cmd), new Promise<never>((_, no) => setTimeout(() => no(new Error(`reflex ${cmd} hung`)), 60_000))]);
        expect(r.code, `${cmd}: ${r.out}`).toBe(2);
        expectCleanMessage(r.out);
      }
    },
  );

  // Skipped only off Linux (no /proc to point a store at); CI runs on Linux.
  it.skipIf(!onProc)('disable --all, which reads only where the store is, refuses it with exit 3 instead of spinning', async () => {
    const dir = project();
    setStore(dir, '/proc/nope/state.db');
    const r = await reflexAsync(dir, ['disable', '--all', '--reason', 'test']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/cannot open the SQLite store at \/proc\/nope\/state\.db: it cannot be created/);
    expectCleanMessage(r.out);
  });

  // Skipped only off Linux (no /proc to point a store at); CI runs on Linux.
  it.skipIf(!onProc)('creating the folders of a store under /proc fails with the error instead of looping', () => {
    expect(() => makeDirs('/proc/nope/deeper')).toThrow(/cannot create the folder \/proc\/nope: ENOENT/);
  });

  it('a store path through a regular file, or a folder as the store, is a check error', () => {
    const d = temp();
    writeFileSync(join(d, 'file'), 'x');
    mkdirSync(join(d, 'folder'));
    expect(storeProblems('file/sub/state.db', d)).toEqual([
      { severity: 'error', message: expect.stringMatching(/a path component is not a directory \(.*\/file is a file\)/) },
    ]);
    expect(storeProblems('folder', d)).toEqual([{ severity: 'error', message: expect.stringMatching(/it is a folder, not a file/) }]);
    expect(storeProblems('new/dirs/state.db', d)).toEqual([]);
    expect(storeProblems('postgres://reflex@db.example:5432/reflex?schema=', d)).toEqual([
      { severity: 'error', message: 'the PostgreSQL URL has an empty schema= (leave it out for public)' },
    ]);
  });
});

describe('a file that is not a Reflex store is refused, not silently made a fresh store', () => {
  it('an empty store file: check warns, run exits 3 and acts on nothing, the file stays as it was; --init-store makes a store of it', async () => {
    const dir = project();
    setBroken(dir, ['a', 'b']);
    writeFileSync(join(dir, 'state.db'), '');
    const check = await reflexAsync(dir, ['check']);
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/warning: the SQLite store at .*state\.db: the file is empty \(0 bytes\), so it is not a Reflex store/);
    for (const cmd of [['run'], ['status'], ['why', 'a']]) {
      const r = await reflexAsync(dir, cmd);
      expect(r.code, `${cmd}: ${r.out}`).toBe(3);
      expect(r.out).toMatch(/cannot open the SQLite store at .*state\.db: the file is empty \(0 bytes\).*reflex run --init-store/);
      expectCleanMessage(r.out);
    }
    expect(actionLines(dir)).toEqual([]);
    expect(statSync(join(dir, 'state.db')).size).toBe(0);
    const init = await reflexAsync(dir, ['run', '--init-store']);
    expect(init.code, init.out).toBe(0);
    expect(actionLines(dir).map((l) => l.target)).toEqual(['a', 'b']);
  });

  it('an emptied store (every table dropped, the off switch with them) is refused: the next run does not act on every target', async () => {
    const dir = project();
    setBroken(dir, ['a']);
    expect((await reflexAsync(dir, ['disable', '--all', '--reason', 'maintenance'])).code).toBe(0);
    const db = new Database(join(dir, 'state.db'));
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[])
      db.exec(`DROP TABLE "${name}"`);
    db.close();
    const r = await reflexAsync(dir, ['run']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/a SQLite database without Reflex's tables, so it is not a Reflex store/);
    expect(actionLines(dir)).toEqual([]);
  });

  it("another application's database is refused even with --init-store, and left untouched", async () => {
    const dir = project();
    const db = new Database(join(dir, 'state.db'));
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY); CREATE TABLE customers (id INTEGER PRIMARY KEY)');
    db.close();
    for (const args of [['run'], ['run', '--init-store']]) {
      const r = await reflexAsync(dir, args);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/a SQLite database of something else, not a Reflex store \(its tables: customers, invoices\)/);
    }
    const after = new Database(join(dir, 'state.db'), { readonly: true });
    expect((after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name)).toEqual([
      'customers',
      'invoices',
    ]);
    after.close();
  });

  it('a file that is not SQLite at all is exit 3 naming the file', async () => {
    const dir = project();
    writeFileSync(join(dir, 'state.db'), 'not a database, just some text\n'.repeat(10));
    const r = await reflexAsync(dir, ['run']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/cannot open the SQLite store at .*state\.db: the file exists but is not a SQLite database/);
  });

  it('no file: the first run makes a whole, migrated store, and leaves no temporary file', async () => {
    const dir = project();
    setBroken(dir, ['a']);
    const r = await reflexAsync(dir, ['run']);
    expect(r.code, r.out).toBe(0);
    expect(runs(dir).map((x) => x.status)).toEqual(['ok']);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).filter((f) => f.endsWith('.new'))).toEqual([]);
  });

  it('opening in-process: an empty file is a StoreError unless initialize is set', async () => {
    const d = temp();
    const path = join(d, 'state.db');
    writeFileSync(path, '');
    expect(() => openSqliteStore(path)).toThrow(StoreError);
    const store = openSqliteStore(path, { initialize: true });
    await store.migrate();
    expect(await store.listRuns({ limit: 1 })).toEqual([]);
    await store.close();
  });
});

describe('a damaged store is exit 3 with a message, not a stack trace', () => {
  it('reflex status with a table missing exits 3 naming the table', async () => {
    const dir = project();
    expect((await reflexAsync(dir, ['run'])).code).toBe(0);
    const db = new Database(join(dir, 'state.db'));
    db.exec('DROP TABLE disables');
    db.close();
    const r = await reflexAsync(dir, ['status']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/the SQLite store at .*state\.db is damaged: no such table: disables.*restore the file from a backup/);
    expectCleanMessage(r.out);
  });
});

describe('a store file deleted or replaced during a run is noticed', () => {
  for (const how of ['deleted', 'replaced'] as const) {
    it(`${how} while an action runs: the run records nothing more, starts no further action and exits 3`, async () => {
      const dir = project();
      setBroken(dir, ['a', 'b', 'c']);
      setAction(dir, { gate: true });
      const run = start(dir, ['run']);
      await until(() => actionLines(dir).length === 1, 'the first action to start');
      if (how === 'deleted') {
        for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(dir, f), { force: true });
      } else {
        const other = new Database(join(dir, 'other.db'));
        other.exec('CREATE TABLE t (x)');
        other.close();
        renameSync(join(dir, 'other.db'), join(dir, 'state.db'));
      }
      writeFileSync(join(dir, 'gate'), '');
      const exit = await run.exited;
      expect(exit.code, exit.out).toBe(3);
      expect(exit.stderr).toMatch(
        new RegExp(`the SQLite store file .*state\\.db was ${how === 'deleted' ? 'deleted' : 'replaced by another file'} while this command was using it`),
      );
      expectCleanMessage(exit.out);
      // Only the action that was running when it happened ran; b and c never started.
      expect(actionLines(dir).map((l) => l.target)).toEqual(['a']);
      await waitQuiet(dir);
      if (how === 'deleted') {
        expect(existsSync(join(dir, 'state.db'))).toBe(false);
        // The next run finds no store and starts a new one (as on a first run): a person removed it.
        unlinkSync(join(dir, 'gate'));
        setAction(dir, {});
        const next = await reflexAsync(dir, ['run']);
        expect(next.code, next.out).toBe(0);
        expect(executions(dir).map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      }
    });
  }
});
