// Shared by the reliability tests: a small project whose action appends to a file, the CLI spawned so it can be killed, and readers of the journal.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { CLI, fixture, ROOT } from '../helpers.js';

export { sleep };

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
  /** Extra top-level YAML appended to reflex.yaml (channels, defaults...). */
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
  const dir = fixture({ 'action.mjs': o.action ?? ACTION, 'inventory.json': '{"targets": []}' }, 'reflex-reliability-');
  // The action's path is absolute so that an orphaned action shows the project's path in its command line.
  writeFileSync(
    join(dir, 'reflex.yaml'),
    `store: ${o.store ? JSON.stringify(o.store) : 'state.db'}
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
actions:
  append:
    kind: exec
    argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'action.mjs'))}, "{{ target.id }}"]
    timeout: 60s
    cooldown: ${o.cooldown ?? '1h'}
channels:
  humans: { kind: log, path: escalations.jsonl }
${o.channels ?? ''}
defaults:
  escalate_to: humans
  max_concurrency: 1
${o.defaults ?? ''}
guardrails:
  budget_per_run: 1000
  widespread: { min_targets: 100000 }
  blast_radius: { per_rule: "100000 per 1m", group_fraction: 1, group_by: [] }
  failure_breaker: { failures: 1000, of_last: 1000 }
shards: { lease: ${o.lease ?? '500ms'} }
`,
  );
  writeFileSync(
    join(dir, 'rules.yaml'),
    `rules:
  - name: repair
    target: { kind: box }
    when: { broken: facts.broken }
    mode: enforce
    do: [{ action: append }]
${o.rules ?? ''}`,
  );
  return dir;
}

/** Make exactly these targets broken (others are absent). */
export function setBroken(dir: string, ids: string[]): void {
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ targets: ids.map((id) => ({ id, kind: 'box', facts: { broken: true } })) }));
}

/** Write the inventory: any targets (id, kind, facts). */
export function setTargets(dir: string, targets: { id: string; kind: string; facts: Record<string, unknown> }[]): void {
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ targets }));
}

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
  const f = join(dir, 'actions.log');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+) pid=(\d+) execution=(\S+) journal=(\S+)$/.exec(l);
      if (!m) throw new Error(`unexpected line in actions.log: ${JSON.stringify(l)}`);
      return { target: m[1]!, pid: Number(m[2]), execution: m[3]!, journal: m[4]! };
    });
}

// ---------------------------------------------------------------- the CLI as a process

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  out: string;
}

export interface Running {
  child: ChildProcess;
  exited: Promise<Exit>;
}

/** Start `reflex ARGS` in `dir` (with `-c dir/reflex.yaml`, so the project's path is in its command line). */
export function start(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [CLI, '-c', join(dir, 'reflex.yaml'), ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', REFLEX_FAILPOINT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<Exit>((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => ok({ code, signal, stdout, stderr, out: stdout + stderr }));
  });
  return { child, exited };
}

export function reflexAsync(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exit> {
  return start(dir, args, env).exited;
}

/** Poll `cond` every 5 ms; fail after `limitMs` (a bound against hanging, not a timing assertion). */
export async function until<T>(cond: () => T | undefined | null | false, what: string, limitMs = 30_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
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

/**
 * Wait (for real) until the run lease a killed runner left behind has expired, so the next run may
 * take it. Waits for the expiry the store recorded, plus a few ms for clock granularity.
 */
export async function waitLeaseExpiry(dir: string): Promise<void> {
  const l = lease(dir);
  if (!l || l.holder === '') return;
  const wait = l.expires_at - Date.now() + 5;
  if (wait > 0) await sleep(wait);
}

export function escalations(dir: string): { dedupKey: string; event: string; target?: string; details: Record<string, unknown> }[] {
  const f = join(dir, 'escalations.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

// ---------------------------------------------------------------- processes left behind

/**
 * Pids of live processes whose command line mentions `dir`: a reflex run of this project, or an
 * action it started (a SIGKILLed runner's action is orphaned and goes on running). Linux only (/proc).
 */
export function processesOf(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export const HAS_PROC = existsSync('/proc/self/cmdline');

/** Wait until nothing of this project runs any more (so every line an orphaned action will write is written). */
export async function waitQuiet(dir: string): Promise<void> {
  await until(() => processesOf(dir).length === 0, `the processes of ${dir} to exit`);
}

/** The state letter of a process from /proc (R, S, T for stopped, Z...), or null when it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] ?? null;
  } catch {
    return null;
  }
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
