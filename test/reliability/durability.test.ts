// Durability of the journal: the store the CLI opens is WAL with synchronous=FULL, and a real run fsyncs the intent before the action starts.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrExit, openStoreOrExit } from '../../src/cli/project.js';
import { CLI } from '../helpers.js';
import { actionLines, crashProject, executions, setBroken } from './harness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HAS_STRACE = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true']).status === 0;

describe('the journal connection', () => {
  it('is the one the CLI opens: WAL, synchronous=FULL, a busy timeout', async () => {
    const dir = crashProject();
    dirs.push(dir);
    // Exactly the way `reflex run` opens it.
    const { project } = await loadOrExit({ config: join(dir, 'reflex.yaml') });
    const store = await openStoreOrExit(project);
    const db = (store as unknown as { raw: Database.Database }).raw;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL: every commit is fsynced, intents included
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
    await store.close();
  });

  // Skipped only where strace is not installed; .ci/run installs it, so CI always runs it.
  it.skipIf(!HAS_STRACE)('a real run fsyncs the write-ahead log after the intent is written and before the action is started', () => {
    const dir = crashProject();
    dirs.push(dir);
    setBroken(dir, ['box-1']);
    const trace = join(dir, 'strace.txt');
    // -y names the file behind each descriptor; -f follows the action's process.
    const r = spawnSync(
      'strace',
      ['-f', '-qq', '-y', '-s', '256', '-e', 'trace=pwrite64,write,fsync,fdatasync,execve', '-e', 'signal=none', '-o', trace, process.execPath, CLI, 'run'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 120_000,
      },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(actionLines(dir).map((l) => [l.target, l.journal])).toEqual([['box-1', 'running']]);
    expect(executions(dir).map((e) => e.status)).toEqual(['succeeded']);

    const lines = readFileSync(trace, 'utf8').split('\n');
    const action = lines.findIndex((l) => /execve\(".*", \[.*action\.mjs", "box-1"\]/.test(l));
    expect(action, 'the action was started').toBeGreaterThan(0);
    const wal = /\(\d+<[^>]*state\.db-wal>/;
    const before = lines.slice(0, action);
    const lastWrite = before.findLastIndex((l) => /\b(pwrite64|write)\(/.test(l) && wal.test(l));
    expect(lastWrite, 'the journal was written before the action').toBeGreaterThan(0);
    // synchronous=NORMAL would leave these writes in the page cache until a checkpoint: a power cut could lose the intent.
    const synced = before.slice(lastWrite + 1).some((l) => /\b(fsync|fdatasync)\(/.test(l) && wal.test(l));
    expect(synced, 'the WAL was fsynced between its last write and the start of the action').toBe(true);
  });
});
