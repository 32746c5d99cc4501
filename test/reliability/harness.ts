// The reliability tests' own parts: a project on a SQLite store whose action appends to a file, and the journal read from outside.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { actionLog, linesOf, waitPast, writeBoxProject, writeTargets } from '../harness/project.js';
import { fixture, ROOT } from '../helpers.js';

export { HAS_PROC, hasChild, processesOf, processState, reflexAsync, sleep, start, until, waitQuiet, type Exit, type Running } from '../harness/cli.js';

/**
 * The action of the crash tests. It records, in one appended line, which target it ran for and what
 * the journal said about that target at the moment it started (read from the store file by another
 * connection): an action that runs without a committed intent would show `journal=none`.
 * Then it holds for `holdMs` (action.json), or until a file named `gate` exists (or the project is gone).
 */
const ACTION = `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
const here = new URL('.', import.meta.url).pathname;
const target = process.argv[2];
const Database = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('better-sqlite3');
const db = new Database(here + 'state.db', { readonly: true, fileMustExist: true });
const row = db.prepare('SELECT id, status FROM executions WHERE target = ? ORDER BY id DESC LIMIT 1').get(target);
db.close();
appendFileSync(here + 'actions.log', target + ' pid=' + process.pid + ' execution=' + (row ? row.id : '-') + ' journal=' + (row ? row.status : 'none') + '\\n');
const cfg = existsSync(here + 'action.json') ? JSON.parse(readFileSync(here + 'action.json', 'utf8')) : {};
if (cfg.holdMs) await sleep(cfg.holdMs);
// (a test that failed and removed its folder must not leave this waiting forever)
if (cfg.gate) while (!existsSync(here + 'gate') && existsSync(here + 'action.mjs')) await sleep(10);
`;

export interface ProjectOptions {
  /** shards.lease (default 500ms: the tests wait leases out for real). */
  lease?: string;
  /** The action's cooldown (default 1h, longer than any test). */
  cooldown?: string;
  /** More lines under `defaults:` and under `channels:` (beside `humans`, a log channel every rule escalates to). */
  defaults?: string;
  channels?: string;
  /** More rules (YAML list items) after the `repair` rule. */
  rules?: string;
  /** The store (default state.db in the project): a PostgreSQL URL for the PostgreSQL fault tests. */
  store?: string;
  /** The action's script (default ACTION above: appends its target, then waits as action.json says). */
  action?: string;
}

/** A project with one enforced rule: every target of kind `box` whose fact `broken` is true gets the `append` action. */
export function crashProject(o: ProjectOptions = {}): string {
  const dir = fixture({ 'action.mjs': o.action ?? ACTION }, 'reflex-reliability-');
  writeBoxProject({
    dir,
    store: o.store ?? 'state.db',
    actions: { append: { args: ['{{ target.id }}'], timeout: '60s', cooldown: o.cooldown ?? '1h' } },
    rules: { repair: 'append' },
    moreRules: o.rules,
    channels: `  humans: { kind: log, path: escalations.jsonl }\n${o.channels ?? ''}\n`,
    defaults: `  escalate_to: humans\n  max_concurrency: 1\n${o.defaults ?? ''}\n`,
    shards: `{ lease: ${o.lease ?? '500ms'} }`,
  });
  return dir;
}

/** Make exactly these targets broken (others are absent). */
export function setBroken(dir: string, ids: string[]): void {
  writeTargets(
    dir,
    ids.map((id) => ({ id, facts: { broken: true } })),
  );
}

/** Write the inventory: any targets (id, kind, facts). */
export const setTargets = writeTargets;

export function setAction(dir: string, cfg: { holdMs?: number; gate?: boolean }): void {
  writeFileSync(join(dir, 'action.json'), JSON.stringify(cfg));
}

export interface ActionLine {
  target: string;
  pid: number;
  execution: string;
  journal: string;
}

/** The lines the action appended, one per time it ran. */
export function actionLines(dir: string): ActionLine[] {
  return actionLog(dir, /^(\S+) pid=(\d+) execution=(\S+) journal=(\S+)$/, (m) => ({ target: m[1]!, pid: Number(m[2]), execution: m[3]!, journal: m[4]! }));
}

// ---------------------------------------------------------------- the store, read from outside

/** Open the project's store read-only (a second connection, as an operator's sqlite3 shell would). */
export function openJournal(dir: string): Database.Database {
  return new Database(join(dir, 'state.db'), { readonly: true, fileMustExist: true });
}

export interface JournalRow {
  id: number;
  key: string;
  run_id: number;
  target: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  cooldown_key: string;
  error: string | null;
}

export function executions(dir: string): JournalRow[] {
  if (!existsSync(join(dir, 'state.db'))) return [];
  const db = openJournal(dir);
  try {
    return db.prepare('SELECT id, key, run_id, target, status, started_at, finished_at, cooldown_key, error FROM executions ORDER BY id').all() as JournalRow[];
  } finally {
    db.close();
  }
}

export function lease(dir: string): { holder: string; token: number; expires_at: number } | undefined {
  if (!existsSync(join(dir, 'state.db'))) return undefined;
  const db = openJournal(dir);
  try {
    const t = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'leases'").get();
    return t
      ? (db.prepare("SELECT holder, token, expires_at FROM leases WHERE name = 'run'").get() as
          | { holder: string; token: number; expires_at: number }
          | undefined)
      : undefined;
  } finally {
    db.close();
  }
}

/** Wait (for real) until the run lease a killed runner left behind has expired, so the next run may take it. */
export async function waitLeaseExpiry(dir: string): Promise<void> {
  const l = lease(dir);
  if (l && l.holder !== '') await waitPast([l.expires_at]);
}

export function escalations(dir: string): { dedupKey: string; event: string; target?: string; details: Record<string, unknown> }[] {
  return linesOf(dir, 'escalations.jsonl').map((l) => JSON.parse(l));
}

export function runs(dir: string): { id: number; status: string; holder: string }[] {
  const db = openJournal(dir);
  try {
    return db.prepare('SELECT id, status, holder FROM runs ORDER BY id').all() as { id: number; status: string; holder: string }[];
  } finally {
    db.close();
  }
}

/**
 * A seeded random source for the moments crash tests kill a run (mulberry32): the seed is printed, and
 * `REFLEX_CRASH_SEED=N` replays the same moments. (Where a kill lands also depends on the machine's speed;
 * the seed makes the chosen delays the same, which is what can be replayed.)
 */
export function seededRandom(what: string): () => number {
  const given = process.env.REFLEX_CRASH_SEED;
  let seed = given !== undefined && /^\d+$/.test(given) ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`${what}: random seed ${seed} (replay with REFLEX_CRASH_SEED=${seed})`);
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
