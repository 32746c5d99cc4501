#!/usr/bin/env node
// A crash loop against real PostgreSQL (issue 13.7's closing figures): each cycle starts `reflex run` on fresh broken
// targets and, at a random moment of the run, terminates every server connection it has (pg_terminate_backend from
// another connection). It counts what must never happen: an action run twice, an action running after its run exited
// (orphaned), a run left `running` by a process that exited, an internal error or stack trace, an exit code other
// than 0, 1 or 3 (4 when the previous run's lease was still held is waited out and not counted).
//
//   REFLEX_TEST_PG=postgres://postgres@127.0.0.1:5432/test node test/reliability/pg-crash-loop.mjs [cycles]
//
// Needs dist/ (npm run build). Prints one JSON document with the figures; exits 1 if any must-never count is not 0.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
// REFLEX_CLI: another build to measure (an older one, for the figures before a fix).
const CLI = process.env.REFLEX_CLI ?? join(ROOT, 'dist/cli/main.js');
// The driver of the build under test (its node_modules), for the test's own connection.
const pg = createRequire(CLI)('pg');

const URL_ = process.env.REFLEX_TEST_PG;
if (!URL_) {
  console.error('set REFLEX_TEST_PG (e.g. postgres://postgres@127.0.0.1:5432/test)');
  process.exit(2);
}
const CYCLES = Number(process.argv[2] ?? process.env.REFLEX_PG_LOOP_CYCLES ?? 100);
const TARGETS = 6;

const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const schema = `t_harden_store_loop_${tag}`;
const app = `reflex_t_harden_store_loop_${tag}`;
const dir = mkdtempSync(join(tmpdir(), 'reflex-pg-crash-loop-'));

// The action: one line per start (target and pid), then a short, random piece of work.
writeFileSync(
  join(dir, 'action.mjs'),
  `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(join(dir, 'actions.log'))}, process.argv[2] + ' ' + process.pid + '\\n');
await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)));
`,
);
const store = new URL(URL_);
store.searchParams.set('schema', schema);
store.searchParams.set('application_name', app);
writeFileSync(
  join(dir, 'reflex.yaml'),
  `store: "${store}"
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
actions:
  append:
    kind: exec
    argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'action.mjs'))}, "{{ target.id }}"]
    timeout: 30s
    cooldown: 1h
channels:
  humans: { kind: log, path: escalations.jsonl }
defaults:
  escalate_to: humans
  max_concurrency: 2
guardrails:
  budget_per_run: 100000
  widespread: { min_targets: 100000 }
  blast_radius: { per_rule: "100000 per 1m", group_fraction: 1, group_by: [] }
  failure_breaker: { failures: 100000, of_last: 100000 }
  storm: { min_actions: 100000 }
shards: { lease: 2s }
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
`,
);
const setTargets = (ids) =>
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ targets: ids.map((id) => ({ id, kind: 'box', facts: { broken: true } })) }));

function run() {
  const child = spawn(process.execPath, [CLI, '-c', join(dir, 'reflex.yaml'), 'run', '-q'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (out += s));
  const exited = new Promise((ok) => child.on('close', (code, signal) => ok({ code, signal, out, pid: child.pid })));
  return { child, exited };
}

/** Live processes whose command line names the project (actions; the runner itself once it has exited is not). */
function processesOfProject() {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

// The test's own connection; if something else ends it (a server restart), the loop reconnects and says so.
let admin;
async function connectAdmin() {
  admin = new pg.Client({ connectionString: URL_, application_name: 'reflex_crash_loop_admin' });
  admin.on('error', (err) => {
    console.error(`the loop's own connection failed (${err.message}): reconnecting`);
    figures.adminReconnects++;
    connectAdmin().catch(() => undefined);
  });
  await admin.connect();
}
const terminate = async () =>
  (
    await admin
      .query('SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1', [app])
      .catch(() => ({ rows: [{ n: 0 }] }))
  ).rows[0].n;

const figures = {
  cycles: CYCLES,
  adminReconnects: 0,
  targetsPerCycle: TARGETS,
  connectionsKilled: 0,
  exitCodes: {},
  leaseHeldRetries: 0,
  internalErrors: 0,
  stackTraces: 0,
  orphanedActions: 0,
  runsLeftRunning: 0,
  executionsLeftUnfinished: 0,
  duplicates: 0,
  actionsWithoutIntent: 0,
  actionsRan: 0,
  interruptedRecovered: 0,
  durationMs: 0,
};
await connectAdmin();
const t0 = Date.now();
// The typical length of a run here, to aim the kills inside it.
setTargets([]);
const first = await run().exited;
if (first.code !== 0) {
  console.error(`the first run failed (exit ${first.code}):\n${first.out}`);
  process.exit(2);
}
let runMs = 500;
try {
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    setTargets(Array.from({ length: TARGETS }, (_, i) => `c${cycle}-${i}`));
    let exit;
    for (;;) {
      const r = run();
      let done = false;
      r.exited.then(() => (done = true));
      const killer = (async () => {
        // Aim inside the part of the run that talks to the store: from its first connection to its exit.
        for (;;) {
          if (done) return;
          const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app]);
          if (rows[0].n > 0) break;
          await sleep(5);
        }
        const connected = Date.now();
        await sleep(Math.floor(Math.random() * runMs));
        if (done) return;
        figures.connectionsKilled += Number(await terminate());
        // Now and then a second blow, while the run handles the first.
        if (Math.random() < 0.3) {
          await sleep(Math.floor(Math.random() * 50));
          figures.connectionsKilled += Number(await terminate());
        }
        await r.exited;
        runMs = Math.max(50, Math.round(0.8 * runMs + 0.2 * (Date.now() - connected)));
      })();
      exit = await Promise.race([r.exited, sleep(120_000).then(() => null)]);
      await killer;
      if (exit === null) {
        r.child.kill('SIGKILL');
        throw new Error(`cycle ${cycle}: reflex run did not exit within 120 s`);
      }
      // The previous run could not release its lease (its connection was gone): wait it out, as cron would.
      if (exit.code === 4) {
        figures.leaseHeldRetries++;
        await sleep(500);
        continue;
      }
      break;
    }
    figures.exitCodes[exit.code ?? exit.signal] = (figures.exitCodes[exit.code ?? exit.signal] ?? 0) + 1;
    if (/internal error|Unhandled 'error' event/.test(exit.out)) figures.internalErrors++;
    if (/\n\s+at /.test(exit.out)) figures.stackTraces++;
    if (figures.internalErrors + figures.stackTraces > 0 && !figures.firstBadOutput) figures.firstBadOutput = exit.out.slice(0, 2000);
    // Orphans: an action of this run still running now that its run has exited.
    const left = processesOfProject();
    figures.orphanedActions += left.length;
    for (const p of left) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // What the exited process left in the store, before any other run can recover it.
    const { rows: runs } = await admin.query(`SELECT status FROM "${schema}".runs WHERE holder LIKE $1`, [`%:${exit.pid}`]);
    figures.runsLeftRunning += runs.filter((x) => x.status === 'running').length;
    if (runs.some((x) => x.status === 'running') && process.env.REFLEX_PG_LOOP_VERBOSE)
      console.error(`cycle ${cycle}: run left running (exit ${exit.code}):\n${exit.out}`);
    const { rows: ex } = await admin.query(
      `SELECT e.status FROM "${schema}".executions e JOIN "${schema}".runs r ON r.id = e.run_id WHERE r.holder LIKE $1 AND e.status IN ('intent', 'running')`,
      [`%:${exit.pid}`],
    );
    figures.executionsLeftUnfinished += ex.length;
    if (ex.length && process.env.REFLEX_PG_LOOP_VERBOSE) console.error(`cycle ${cycle}: left ${ex.map((e) => e.status)}:\n${exit.out}`);
  }
  // One last run with nobody in the way recovers whatever was left (the lease of a killed run expires first).
  await sleep(2100);
  setTargets([]);
  const last = await run().exited;
  figures.lastRunExit = last.code;
  figures.durationMs = Date.now() - t0;

  const lines = existsSync(join(dir, 'actions.log')) ? readFileSync(join(dir, 'actions.log'), 'utf8').split('\n').filter(Boolean) : [];
  const count = new Map();
  for (const l of lines) count.set(l.split(' ')[0], (count.get(l.split(' ')[0]) ?? 0) + 1);
  figures.actionsRan = lines.length;
  figures.duplicates = [...count.values()].filter((n) => n > 1).length;
  const { rows: journal } = await admin.query(`SELECT target, status FROM "${schema}".executions`);
  const journaled = new Set(journal.map((e) => e.target));
  figures.actionsWithoutIntent = [...count.keys()].filter((t) => !journaled.has(t)).length;
  figures.interruptedRecovered = journal.filter((e) => e.status === 'interrupted').length;
  figures.journal = journal.reduce((m, e) => ((m[e.status] = (m[e.status] ?? 0) + 1), m), {});
  const { rows: runs } = await admin.query(`SELECT status, count(*)::int AS n FROM "${schema}".runs GROUP BY status ORDER BY status`);
  figures.runs = Object.fromEntries(runs.map((r) => [r.status, r.n]));
  figures.runsStillRunningAtEnd = figures.runs.running ?? 0;
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(figures, null, 2));
const bad =
  figures.internalErrors +
  figures.stackTraces +
  figures.orphanedActions +
  figures.runsLeftRunning +
  figures.duplicates +
  figures.actionsWithoutIntent +
  figures.runsStillRunningAtEnd +
  Object.entries(figures.exitCodes)
    .filter(([c]) => !['0', '1', '3'].includes(c))
    .reduce((n, [, k]) => n + k, 0);
process.exit(bad === 0 ? 0 : 1);
