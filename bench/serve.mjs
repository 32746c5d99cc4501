// The console's speed: server time of every page and API call of `reflex serve` over a store holding N runs of a
// fleet of T targets (default 100 runs of 100,000), read from each answer's Server-Timing header.
//
//   node bench/serve.mjs [--targets 100000] [--runs 100] [--repeat 20] [--out bench/results/serve.json]
//
// One real `reflex run --dry-run` over the bench fleet (bench/fleet.mjs) records the first run; the others are copies
// of it written through the store (same snapshot, same decisions), which is what 100 scheduled runs of an unchanged
// fleet store. Needs `npm run build` first. Not part of `npm test`; nothing asserts a time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeProject } from './fleet.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const TARGETS = Number(opt('targets', '100000'));
const RUNS = Number(opt('runs', '100'));
const REPEAT = Number(opt('repeat', '20'));
const OUT = resolve(opt('out', join(ROOT, 'bench/results/serve.json')));
const log = (s) => process.stderr.write(`${s}\n`);

if (!existsSync(join(DIST, 'serve/server.js'))) {
  log('bench/serve.mjs: run `npm run build` first');
  process.exit(2);
}

const dir = join(ROOT, 'bench/.work', `serve-${TARGETS}-${RUNS}`);
// --reuse keeps a store built by an earlier bench of the same size (building 100 runs of 100,000 takes minutes).
const REUSE = args.includes('--reuse') && existsSync(join(dir, '.reflex/state.db'));
if (!REUSE) {
  rmSync(dir, { recursive: true, force: true });
  const gen = writeProject(dir, TARGETS, Date.now(), join(ROOT, 'bench/project'));
  log(`== ${TARGETS} targets (inventory.json ${(gen.bytes / 1e6).toFixed(1)} MB), ${RUNS} runs`);
  const t0 = performance.now();
  const first = spawnSync(process.execPath, [join(DIST, 'cli/main.js'), 'run', '--dry-run', '-q'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (first.status !== 0 && first.status !== 1) {
    log(first.stderr);
    process.exit(1);
  }
  log(`  run 1 recorded by reflex run --dry-run in ${Math.round(performance.now() - t0)} ms`);
} else log(`== ${TARGETS} targets, ${RUNS} runs (store reused)`);

const { loadOrExit, openStoreOrExit } = await import(join(DIST, 'cli/project.js'));
const { startServer } = await import(join(DIST, 'serve/server.js'));
const loaded = await loadOrExit({ config: join(dir, 'reflex.yaml') });
const store = await openStoreOrExit(loaded.project);

// ---- the other runs: copies of the first, one minute apart
const run1 = await store.getRun(1);
const snapshot = await store.getSnapshot(1);
const decisions = await store.getDecisions(1);
/** Record the i-th run as a copy of the first, one minute after the one before it; returns its id. */
const copyRun = async (i) => {
  const startedAt = run1.startedAt + (i - 1) * 60_000;
  const id = await store.beginRun({ startedAt, mode: run1.mode, holder: run1.holder, ruleSetHash: run1.ruleSetHash });
  await store.finishRun(
    id,
    {
      finishedAt: startedAt + (run1.finishedAt - run1.startedAt),
      status: 'ok',
      summary: { ...run1.summary, run: id, startedAt: new Date(startedAt).toISOString() },
      snapshot,
      decisions: decisions.map((d) => ({ ...d, runId: id, at: startedAt })),
    },
    null,
  );
  return id;
};
const t1 = performance.now();
for (let i = REUSE ? RUNS + 1 : 2; i <= RUNS; i++) await copyRun(i);
if (!REUSE)
  log(
    `  runs 2-${RUNS} copied through the store in ${Math.round(performance.now() - t1)} ms (${decisions.length} stored decisions and a ${(snapshot.length / 1e6).toFixed(1)} MB snapshot each)`,
  );

// ---- what to ask: a blocked decision's target, one of its labels, the latest run and one in the middle
const sample = decisions.find((d) => d.outcome === 'blocked') ?? decisions[0];
const latest = (await store.listRuns({ limit: 1 }))[0].id; // with --reuse, earlier benches added their new runs
const middle = Math.max(1, Math.floor(RUNS / 2));
const label = 'region=eu-west';
const enc = encodeURIComponent;
const PATHS = [
  ['overview', '/'],
  ['runs', '/runs'],
  ['run detail', `/runs/${latest}`],
  ['decisions (all runs)', '/decisions'],
  ['decisions, filtered (run, rule, outcome)', `/decisions?run=${latest}&rule=${enc(sample.rule)}&outcome=${sample.outcome}`],
  ['decisions by label (latest run)', `/decisions?label=${enc(label)}`],
  ['decisions by label (run in the middle)', `/decisions?label=${enc(label)}&run=${middle}`],
  ['decisions by another label (latest run)', `/decisions?label=${enc('region=us-east')}`],
  ['decisions, page 20', `/decisions?run=${latest}&page=20`],
  ['decision detail (why), latest run', `/why?run=${latest}&target=${enc(sample.target)}`],
  ['decision detail (why), run in the middle', `/why?run=${middle}&target=${enc(sample.target)}`],
  ['target history', `/target?id=${enc(sample.target)}`],
  ['executions journal', '/executions'],
  ['switch, disables, audit', '/guardrails'],
  ['rules', '/rules'],
  ['approvals', '/approvals'],
  ['verifications', '/verifications'],
  ['API overview', '/api/v1/overview'],
  ['API runs', '/api/v1/runs'],
  ['API run', `/api/v1/runs/${latest}`],
  ['API decisions, filtered', `/api/v1/decisions?run=${latest}&outcome=${sample.outcome}`],
  ['API why (another run)', `/api/v1/why?run=${latest - 1}&target=${enc(sample.target)}`],
  ['API target', `/api/v1/targets/${enc(sample.target)}`],
  ['API executions', '/api/v1/executions'],
  ['API guardrails', '/api/v1/guardrails'],
  ['API approvals', '/api/v1/approvals'],
  ['API OpenAPI document', '/api/v1/openapi.json'],
  ['healthz', '/healthz'],
];

// Neither warmed at start nor watching for new runs: the "first" column is a cold read. The watch is timed below.
let running = await startServer({ store, loaded, coverage: null }, { token: null, host: '127.0.0.1', port: 0, warm: false, watchMs: 0 });
const timeOf = async (path) => {
  const wall = performance.now();
  const res = await fetch(running.url + path);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  const m = /app;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
  return { server: Number(m?.[1]), wall: performance.now() - wall };
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
// Explanations are kept once made: repeating one would time the cache. Each repeat asks about another target.
const others = [...new Set(decisions.map((d) => d.target))].filter((t) => t !== sample.target);
const results = [];
for (const [name, path] of PATHS) {
  const cold = await timeOf(path); // the first answer reads the run's snapshot or decisions from the store
  const warm = [];
  const distinct = path.includes('why?');
  for (let i = 0; i < REPEAT; i++) {
    const p = distinct ? path.replace(`target=${enc(sample.target)}`, `target=${enc(others[(i * 97) % others.length])}`) : path;
    warm.push((await timeOf(p)).server);
  }
  const r = { name, path, coldMs: cold.server, p50Ms: pct(warm, 50), p95Ms: pct(warm, 95), maxMs: Math.max(...warm) };
  results.push(r);
  log(`  ${name.padEnd(42)} first ${r.coldMs.toFixed(1).padStart(7)} ms   p50 ${r.p50Ms.toFixed(1).padStart(7)} ms   p95 ${r.p95Ms.toFixed(1).padStart(7)} ms`);
}

// ---- a run recorded after the console started, as `reflex run` every minute does: its first answers without the
// watch (this console), then with it (a console that watches, as `reflex serve` does: it notices the next run and
// reads it ahead before anyone asks).
const NEW_PATHS = (id) => [
  ['decisions (all runs)', '/decisions'],
  ['decisions by label (latest run)', `/decisions?label=${enc(label)}`],
  ['decisions, page 20', `/decisions?run=${id}&page=20`],
  ['decision detail (why), latest run', `/why?run=${id}&target=${enc(sample.target)}`],
  ['run detail', `/runs/${id}`],
  ['API decisions, filtered', `/api/v1/decisions?run=${id}&outcome=${sample.outcome}`],
];
const unwatched = await copyRun(latest + 1);
const newRun = [];
for (const [name, path] of NEW_PATHS(unwatched)) newRun.push({ name, withoutWatchMs: (await timeOf(path)).server });
await running.close();
let model;
running = await startServer(
  { store, loaded, coverage: null },
  {
    token: null,
    host: '127.0.0.1',
    port: 0,
    warm: true,
    watchMs: 200,
    // The worker thread starts from the CLI's entry module, as `reflex serve` starts it.
    workerEntry: pathToFileURL(join(DIST, 'cli/main.js')),
    extra: (_app, m) => (model = m),
  },
);
while (!model.prepared.includes(unwatched)) await new Promise((r) => setTimeout(r, 20));
const fresh = await copyRun(latest + 2);
const t2 = performance.now();
// Meanwhile people keep asking: the wall time of the overview while the run is read ahead (queueing included).
const during = [];
while (!model.prepared.includes(fresh)) during.push((await timeOf('/api/v1/overview')).wall);
const preparedMs = performance.now() - t2;
log(
  `  run #${fresh} recorded while the console watches: read ahead within ${Math.round(preparedMs)} ms of being written (period 200 ms); ${during.length} overviews meanwhile, the slowest ${Math.max(0, ...during).toFixed(1)} ms of wall time`,
);
for (const [i, [, path]] of NEW_PATHS(fresh).entries()) {
  const r = newRun[i];
  r.withWatchMs = (await timeOf(path)).server;
  log(
    `  new run: ${r.name.padEnd(42)} first without the watch ${r.withoutWatchMs.toFixed(1).padStart(7)} ms   with it ${r.withWatchMs.toFixed(1).padStart(7)} ms`,
  );
}
await running.close();
await store.close();

mkdirSync(join(OUT, '..'), { recursive: true });
writeFileSync(
  OUT,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, load: os.loadavg() },
      targets: TARGETS,
      runs: RUNS,
      storedDecisionsPerRun: decisions.length,
      snapshotBytes: snapshot.length,
      repeat: REPEAT,
      results,
      newRun: {
        runs: [unwatched, fresh],
        watchMs: 200,
        worker: true,
        preparedWithinMs: preparedMs,
        duringPreparation: { requests: during.length, maxWallMs: Math.max(0, ...during), p50WallMs: during.length ? pct(during, 50) : null },
        results: newRun,
      },
    },
    null,
    2,
  )}\n`,
);
process.stdout.write(
  `| page or call | first answer ms | p50 ms | p95 ms |\n| --- | --- | --- | --- |\n${results
    .map((r) => `| ${r.name} | ${r.coldMs.toFixed(1)} | ${r.p50Ms.toFixed(1)} | ${r.p95Ms.toFixed(1)} |`)
    .join('\n')}\n\n| a run written after the console started | first answer ms, no watch | first answer ms, watched |\n| --- | --- | --- |\n${newRun
    .map((r) => `| ${r.name} | ${r.withoutWatchMs.toFixed(1)} | ${r.withWatchMs.toFixed(1)} |`)
    .join('\n')}\n`,
);
