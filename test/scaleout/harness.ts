// The scale-out tests' own parts: a project on its own PostgreSQL schema whose actions append to a file, the journal read from outside, a proxy to cut.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { decodeBody } from '../../src/store/codec.js';
import { actionLog, waitPast, writeBoxProject, writeTargets } from '../harness/project.js';
import { fixture, ROOT } from '../helpers.js';

export { processState, reflexAsync, sleep, start, until, type Exit, type Running } from '../harness/cli.js';

/**
 * The action. It appends one line: the rule and target it ran for, its pid, and what the journal
 * said about that execution at the moment it started, read straight from PostgreSQL (not through
 * any proxy the test put in Reflex's way): an action that starts without a committed intent shows
 * `journal=none`. Then it holds until a file named `gate` exists, if `hold` does.
 */
const ACTION = `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
const here = new URL('.', import.meta.url).pathname;
const [rule, target] = process.argv.slice(2);
const { url, schema } = JSON.parse(readFileSync(here + 'journal.json', 'utf8'));
const pg = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('pg');
const c = new pg.Client({ connectionString: url });
await c.connect();
const q = 'SELECT id, status FROM "' + schema + '".executions WHERE rule = $1 AND target = $2 ORDER BY id DESC LIMIT 1';
const row = (await c.query(q, [rule, target])).rows[0];
await c.end();
appendFileSync(here + 'actions.log', rule + ' ' + target + ' pid=' + process.pid + ' execution=' + (row ? row.id : '-') + ' journal=' + (row ? row.status : 'none') + ' at=' + Date.now() + '\\n');
if (existsSync(here + 'hold')) for (let i = 0; i < 6000 && !existsSync(here + 'gate'); i++) await sleep(10);
`;

export interface Box {
  id: string;
  service: string;
  broken: boolean;
}

/** `n` targets of kind box in `services` services (round robin); every `healthyEvery`-th one is not broken. */
export function boxes(n: number, services: number, healthyEvery = 0): Box[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `box-${String(i).padStart(3, '0')}`,
    service: `svc-${i % services}`,
    broken: !(healthyEvery > 0 && i % healthyEvery === healthyEvery - 1),
  }));
}

export interface ScaleProject {
  dir: string;
  /** The store URL written in reflex.yaml (maybe through a proxy). */
  storeUrl: string;
}

export interface ProjectOptions {
  /** The PostgreSQL URL Reflex uses (the test's, or a proxy's), and the schema. */
  url: string;
  schema: string;
  /** The URL the action reads the journal through (default: `url`). */
  journalUrl?: string;
  targets: Box[];
  /** YAML of `shards:` (flow style), e.g. `{ count: 16, max_per_runner: 3, lease: 30s }`. */
  shards: string;
  /** YAML of `guardrails:` (flow style). */
  guardrails?: string;
  /** Rule name -> action cooldown; each rule acts on every broken box with its own action. */
  rules?: Record<string, string>;
  maxConcurrency?: number;
}

export function writeInventory(dir: string, targets: Box[]): void {
  writeTargets(
    dir,
    targets.map((t) => ({ id: t.id, labels: { service: t.service }, facts: { broken: t.broken } })),
  );
}

/** A project with enforced rules that all match the same (broken) targets, each with its own action. */
export function scaleProject(o: ProjectOptions): ScaleProject {
  const dir = fixture({ 'action.mjs': ACTION }, 'reflex-scaleout-');
  const storeUrl = `${o.url}${o.url.includes('?') ? '&' : '?'}schema=${o.schema}`;
  writeFileSync(join(dir, 'journal.json'), JSON.stringify({ url: o.journalUrl ?? o.url, schema: o.schema }));
  writeInventory(dir, o.targets);
  const rules = o.rules ?? { repair: '1h' };
  writeBoxProject({
    dir,
    store: storeUrl,
    actions: Object.fromEntries(
      Object.entries(rules).map(([rule, cooldown]) => [`act-${rule}`, { args: ['{{ rule.name }}', '{{ target.id }}'], timeout: '10s', cooldown }]),
    ),
    rules: Object.fromEntries(Object.keys(rules).map((rule) => [rule, `act-${rule}`])),
    defaults: `  max_concurrency: ${o.maxConcurrency ?? 2}\n  action_timeout: 10s\n`,
    guardrails: o.guardrails,
    shards: o.shards,
  });
  return { dir, storeUrl };
}

// ---------------------------------------------------------------- side effects and the journal

export interface ActionLine {
  rule: string;
  target: string;
  pid: number;
  execution: string;
  journal: string;
  at: number;
}

export function actionLines(dir: string): ActionLine[] {
  return actionLog(dir, /^(\S+) (\S+) pid=(\d+) execution=(\S+) journal=(\S+) at=(\d+)$/, (m) => ({
    rule: m[1]!,
    target: m[2]!,
    pid: Number(m[3]),
    execution: m[4]!,
    journal: m[5]!,
    at: Number(m[6]),
  }));
}

/** A client on the test's PostgreSQL, with the schema on its search path. */
export async function journal(url: string, schema: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`SET search_path TO "${schema}"`);
  return c;
}

export interface ExecutionRow {
  id: number;
  run_id: number;
  rule: string;
  action: string;
  target: string;
  status: string;
  created_at: number;
  groups: string[];
  shard: string | null;
  key: string;
  error: string | null;
}

export async function executions(c: pg.Client): Promise<ExecutionRow[]> {
  const r = await c.query('SELECT id, run_id, rule, action, target, status, created_at, groups, shard, key, error FROM executions ORDER BY created_at, id');
  return r.rows.map((x) => ({ ...x, id: Number(x.id), run_id: Number(x.run_id), created_at: Number(x.created_at), groups: JSON.parse(x.groups) }));
}

export interface Limits {
  /** rule -> cooldown (ms) of its action. */
  cooldownMs: Record<string, number>;
  perRule: { max: number; windowMs: number };
  /** Distinct targets of a group acted on per group window. */
  perGroup: { max: number; windowMs: number };
  budgetPerRun: number;
}

/**
 * Every violation of the limits in the journal, as text (none: []), with the windows the guardrails use,
 * (t - W, t]: cooldowns between consecutive executions of a rule on a target, executions per rule, distinct
 * targets per group, executions per run. Also the highest count per rule seen, to tell a limit was reached.
 */
export function limitViolations(ex: ExecutionRow[], l: Limits): { violations: string[]; peakPerRule: number } {
  const violations: string[] = [];
  const last = new Map<string, ExecutionRow>();
  for (const e of ex) {
    const k = `${e.rule} ${e.target}`;
    const prev = last.get(k);
    const cd = l.cooldownMs[e.rule] ?? 0;
    if (prev && e.created_at - prev.created_at < cd)
      violations.push(`cooldown of ${k}: #${prev.id} then #${e.id} ${e.created_at - prev.created_at} ms later (cooldown ${cd} ms)`);
    last.set(k, e);
  }
  let peakPerRule = 0;
  const inWindow = (x: ExecutionRow, e: ExecutionRow, w: number) => x.created_at > e.created_at - w && x.created_at <= e.created_at;
  for (const e of ex) {
    const n = ex.filter((x) => x.rule === e.rule && inWindow(x, e, l.perRule.windowMs)).length;
    peakPerRule = Math.max(peakPerRule, n);
    if (n > l.perRule.max) violations.push(`${n} executions of ${e.rule} in the ${l.perRule.windowMs} ms up to #${e.id} (limit ${l.perRule.max})`);
    for (const g of e.groups) {
      const t = new Set(ex.filter((x) => x.groups.includes(g) && inWindow(x, e, l.perGroup.windowMs)).map((x) => x.target)).size;
      if (t > l.perGroup.max) violations.push(`${t} targets of ${g} acted on in the ${l.perGroup.windowMs} ms up to #${e.id} (limit ${l.perGroup.max})`);
    }
  }
  const perRun = new Map<number, number>();
  for (const e of ex) perRun.set(e.run_id, (perRun.get(e.run_id) ?? 0) + 1);
  for (const [id, n] of perRun) if (n > l.budgetPerRun) violations.push(`run #${id} executed ${n} actions (budget ${l.budgetPerRun})`);
  return { violations, peakPerRule };
}

export interface RunRow {
  id: number;
  holder: string;
  status: string;
  shard: string | null;
  summary: { rules?: Record<string, { evaluated: number }>; targets?: number; problems?: { reason: string; detail: string }[] };
}

export async function runs(c: pg.Client): Promise<RunRow[]> {
  const r = await c.query('SELECT id, holder, status, shard, summary FROM runs ORDER BY id');
  return r.rows.map((x) => ({ ...x, id: Number(x.id), summary: JSON.parse(x.summary) }));
}

/** Decisions stored per run: run id -> "rule target" -> outcome. */
export async function decisionsByRun(c: pg.Client): Promise<Map<number, Map<string, string>>> {
  const r = await c.query('SELECT run_id, rule, target, outcome FROM decisions');
  const out = new Map<number, Map<string, string>>();
  for (const x of r.rows) {
    const id = Number(x.run_id);
    let m = out.get(id);
    if (!m) out.set(id, (m = new Map()));
    m.set(`${x.rule} ${x.target}`, x.outcome);
  }
  return out;
}

/** A decision row's trace, read straight from the tables: from its body (stored once, migration 3) or its own column. */
export function traceOf(row: { run_id: unknown; at: unknown; trace: string; body?: string | null }): { stage: string; reason: string; stops?: boolean }[] {
  if (typeof row.body === 'string') return decodeBody(row.body, Number(row.run_id), Number(row.at)).trace;
  return JSON.parse(row.trace);
}

/** Stored decisions of some runs, with the reason of the verdict that stopped each (if any). */
export async function decisionsOf(
  c: pg.Client,
  runIds: number[],
): Promise<{ runId: number; rule: string; target: string; outcome: string; reason: string | null }[]> {
  const r = await c.query(
    `SELECT d.run_id, d.rule, d.target, d.outcome, d.at, d.trace, b.body FROM decisions d LEFT JOIN decision_bodies b ON b.hash = d.body
     WHERE d.run_id = ANY($1::bigint[]) ORDER BY d.id`,
    [runIds],
  );
  return r.rows.map((x) => {
    const stops = traceOf(x).filter((v) => v.stops);
    return { runId: Number(x.run_id), rule: x.rule, target: x.target, outcome: x.outcome, reason: stops[0]?.reason ?? null };
  });
}

export async function leases(c: pg.Client): Promise<{ name: string; holder: string; token: number; expires_at: number }[]> {
  const r = await c.query('SELECT name, holder, token, expires_at FROM leases ORDER BY name');
  return r.rows.map((x) => ({ ...x, token: Number(x.token), expires_at: Number(x.expires_at) }));
}

/** Wait (for real) until the leases of these shards (of `count`) have expired in the store. */
export async function waitExpiry(url: string, schema: string, shards: number[], count: number): Promise<void> {
  const c = await journal(url, schema);
  try {
    const names = shards.map((i) => `shard:${i}/${count}`);
    await waitPast((await leases(c)).filter((l) => names.includes(l.name) && l.holder !== '').map((l) => l.expires_at));
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- a TCP proxy the test can cut

/**
 * Stands between Reflex and PostgreSQL, so a test can make the server unreachable without stopping
 * the machine's shared server: `cut()` drops every connection and refuses new ones, `freeze()`
 * keeps them open but forwards nothing (a network partition), `restore()` forwards again.
 */
export class PgProxy {
  private server: import('node:net').Server | null = null;
  private readonly pairs = new Set<[import('node:net').Socket, import('node:net').Socket]>();
  private frozen = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** A URL like `url`, pointing at the proxy. */
  url(url: string): string {
    const u = new URL(url);
    u.host = `127.0.0.1:${this.port}`;
    return u.toString();
  }

  async listen(): Promise<void> {
    const net = await import('node:net');
    this.frozen = false;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      const pair: [import('node:net').Socket, import('node:net').Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.on('data', (b) => {
        if (!this.frozen) upstream.write(b);
      });
      upstream.on('data', (b) => {
        if (!this.frozen) client.write(b);
      });
    });
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(this.port, '127.0.0.1', () => ok()));
    this.port = (server.address() as import('node:net').AddressInfo).port;
    this.server = server;
  }

  /** PostgreSQL "goes away": every connection is dropped, new ones are refused. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const [a, b] of this.pairs) a.destroy(), b.destroy();
    this.pairs.clear();
    if (s) await new Promise<void>((ok) => s.close(() => ok()));
  }

  /** The network stops carrying anything, both ways, without closing a connection. */
  freeze(): void {
    this.frozen = true;
  }

  async restore(): Promise<void> {
    await this.cut();
    await this.listen();
  }
}
