// Where a SQLite store file may live: checked without touching anything (reflex check), and its folder created without spinning.
import { closeSync, mkdirSync, openSync, readSync, statfsSync, statSync, type Stats } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';

/**
 * Filesystems that hold no files of their own (kernel interfaces): a store there cannot work, and Node's recursive
 * mkdir loops forever under /proc (mkdir gives ENOENT for a parent that exists), so they are refused up front.
 * statfs(2) magic numbers, from linux/magic.h.
 */
const PSEUDO_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x42494e4d, 'binfmt_misc'],
]);

/** The 16 bytes every SQLite database file starts with. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\u0000', 'latin1');

export type StoreFileState =
  | { kind: 'missing'; existingAncestor: string }
  | { kind: 'empty'; stats: Stats }
  | { kind: 'sqlite'; stats: Stats }
  | { kind: 'not-sqlite'; stats: Stats };

export interface PathProblem {
  message: string;
  /** An error refuses the store (check reports it; commands exit 3); a warning is only reported by check. */
  severity: 'error' | 'warning';
}

/** stat(2), or undefined when nothing is there (also when a component of the path is a file: ENOTDIR). */
function stat(p: string): Stats | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** The nearest folder above `path` (or `path` itself) that exists; never loops, whatever the filesystem says. */
function existingAncestor(path: string): { dir: string; stats: Stats } {
  let dir = resolve(path);
  const root = parse(dir).root;
  for (let i = 0; i < 4096; i++) {
    const s = stat(dir);
    if (s) return { dir, stats: s };
    if (dir === root) break;
    dir = dirname(dir);
  }
  return { dir: root, stats: statSync(root) };
}

function pseudoFs(dir: string): string | undefined {
  try {
    return PSEUDO_FS.get(Number(statfsSync(dir).type));
  } catch {
    return undefined;
  }
}

/** What is at a store path now: nothing (and where its folder would be created), an empty file, a SQLite file, or something else. */
export function storeFileState(path: string): StoreFileState {
  const s = stat(path);
  if (!s) return { kind: 'missing', existingAncestor: existingAncestor(dirname(path)).dir };
  if (!s.isFile()) return { kind: 'not-sqlite', stats: s };
  if (s.size === 0) return { kind: 'empty', stats: s };
  const head = Buffer.alloc(16);
  let n = 0;
  const fd = openSync(path, 'r');
  try {
    n = readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return n === 16 && head.equals(SQLITE_HEADER) ? { kind: 'sqlite', stats: s } : { kind: 'not-sqlite', stats: s };
}

/**
 * What is wrong with `path` as a SQLite store, looked at without creating or opening anything: what `reflex check`
 * reports, and what opening the store refuses before it could hang or write where it must not.
 */
export function sqlitePathProblems(path: string): PathProblem[] {
  const where = resolve(path);
  let state: StoreFileState;
  try {
    state = storeFileState(where);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return [{ severity: 'error', message: `the file cannot be read (${e.code ?? e.message.slice(0, 200)})` }];
  }
  if (state.kind === 'missing') {
    const { dir, stats } = existingAncestor(dirname(where));
    if (!stats.isDirectory()) return [{ severity: 'error', message: `a path component is not a directory (${dir} is a file), so the store cannot be created` }];
    const fs = pseudoFs(dir);
    if (fs) return [{ severity: 'error', message: `it cannot be created: ${dir} is on the kernel's ${fs} filesystem, which holds no files` }];
    return [];
  }
  const fs = pseudoFs(dirname(where));
  if (fs) return [{ severity: 'error', message: `it is on the kernel's ${fs} filesystem, which holds no files` }];
  if (!state.stats.isFile()) return [{ severity: 'error', message: `it is ${state.stats.isDirectory() ? 'a folder' : 'a special file'}, not a file` }];
  if (state.kind === 'empty')
    return [
      {
        severity: 'warning',
        message:
          'the file is empty (0 bytes), so it is not a Reflex store: commands refuse it (exit 3). Restore it from a backup, or start afresh with `reflex run --init-store`',
      },
    ];
  if (state.kind === 'not-sqlite') return [{ severity: 'warning', message: 'the file exists but is not a SQLite database: commands refuse it (exit 3)' }];
  return [];
}

/**
 * Create the folders of `dir` one at a time (mkdir -p without recursion): a filesystem that refuses a folder ends
 * this with that error, where Node's recursive mkdir can loop forever (under /proc it does).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  for (let i = 0; i < 4096; i++) {
    const s = stat(d);
    if (s) {
      if (!s.isDirectory()) throw Object.assign(new Error(`${d} is not a folder`), { code: 'ENOTDIR' });
      break;
    }
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // Another process made it meanwhile.
      if (e.code === 'EEXIST' && stat(m)?.isDirectory()) continue;
      throw Object.assign(new Error(`cannot create the folder ${m}: ${e.code ?? e.message}`), { code: e.code, cause: err });
    }
  }
}
