// `npm run bench`: Reflex at 1,000 / 10,000 / 100,000 targets against the same rules written by
// hand in JavaScript (the ceiling) and in json-rules-engine, with the three cross-checked; and the
// cold start of `reflex run` on a small project and of `reflex --version`.
//
//   node bench/run.mjs [--sizes 1000,10000,100000] [--derive-sizes 100000[,1000000]] [--change 0.01] [--runs 5] [--jre-sample N]
//                      [--rt | --nice N] [--dist DIR] [--compare-dist DIR] [--out bench/results/latest.json]
//
// Results print as a table and are written as JSON. Nothing here is part of `npm test`.
import { switchLatency } from './switch-latency.mjs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { perturbFleet, writeProject } from './fleet.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const BENCH = join(ROOT, 'bench');
const WORK = join(BENCH, '.work');
const PRELOAD = join(BENCH, 'rss-preload.cjs');

// The bench runs a copy of the build it was started with: dist/ is rebuilt by anyone who runs the
// tests, and a run must not meet a half-written dist/. `reflex` is the package's bin (the bundled CLI).
// `--dist DIR` measures another build instead (an earlier one, for before/after figures).
const distArg = process.argv.indexOf('--dist');
const DIST = distArg === -1 ? join(ROOT, 'dist') : resolve(process.argv[distArg + 1]);
mkdirSync(WORK, { recursive: true });
const BUILD = join(WORK, 'build');
rmSync(BUILD, { recursive: true, force: true });
mkdirSync(BUILD, { recursive: true });
cpSync(DIST, join(BUILD, 'dist'), { recursive: true });
cpSync(join(ROOT, 'package.json'), join(BUILD, 'package.json'));
const CLI = join(BUILD, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin.reflex);
process.env.REFLEX_BENCH_DIST = join(BUILD, 'dist');

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const SIZES = opt('sizes', '1000,10000,100000').split(',').filter(Boolean).map(Number);
const RUNS = Number(opt('runs', '5'));
const JRE_SAMPLE = Number(opt('jre-sample', '1'));
const OUT = resolve(opt('out', join(BENCH, 'results/latest.json')));
const COLD_RUNS = Number(opt('cold-runs', '15'));
// On a machine shared with other jobs, wall times measure the neighbours as much as Reflex. As root,
// `--rt` runs each timed `reflex` process (at most a few seconds each) with real-time priority
// (SCHED_FIFO, `chrt -f 10`): other jobs no longer take the CPU from it, and its wall time comes
// close to that of an idle machine (`node -e ''` then takes its idle 60 ms here instead of
// 150-300 ms). `--nice -20` is the gentler option (it does not help across cgroups). The
// in-process evaluations are compared by CPU time and run at normal priority either way.
const NICE = opt('nice', null);
const RT = args.includes('--rt');
/** [command, args] for running a timed node process, at the requested priority. */
const node = (nodeArgs, timed = true) =>
  RT && timed
    ? ['chrt', ['-f', '10', process.execPath, ...nodeArgs]]
    : NICE === null
      ? [process.execPath, nodeArgs]
      : ['nice', ['-n', NICE, process.execPath, ...nodeArgs]];

// ---------------------------------------------------------------- helpers
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => (x === null || x === undefined ? '-' : x >= 100 ? `${Math.round(x)}` : x.toFixed(1));
const log = (s) => process.stderr.write(`${s}\n`);

/** Run the CLI in a fresh process; wall time measured around the process, peak RSS reported by the preload. */
function reflex(cliArgs, cwd) {
  const rssFile = join(WORK, `rss-${process.pid}.txt`);
  rmSync(rssFile, { force: true });
  const t0 = performance.now();
  const [cmd, argv] = node(['--require', PRELOAD, CLI, ...cliArgs]);
  const r = spawnSync(cmd, argv, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, REFLEX_BENCH_RSS_FILE: rssFile },
  });
  const wallMs = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`reflex ${cliArgs.join(' ')} exited ${r.status}:\n${r.stderr}`);
  const usage = existsSync(rssFile) ? JSON.parse(readFileSync(rssFile, 'utf8')) : null;
  return {
    wallMs,
    rssMb: usage ? usage.maxRssKb / 1024 : null,
    cpuMs: usage?.cpuMs ?? null,
    mainCpuMs: usage?.mainThreadCpuMs ?? null,
    stdout: r.stdout,
    stderr: r.stderr,
    status: r.status,
  };
}

/** The CLI with --json; a run whose output is not a whole JSON document is reported and run again (twice at most). */
function reflexJson(cliArgs, cwd) {
  for (let attempt = 1; ; attempt++) {
    const r = reflex(cliArgs, cwd);
    try {
      return { ...r, doc: JSON.parse(r.stdout) };
    } catch (err) {
      log(`  (run ${attempt}: exit ${r.status}, ${r.stdout.length} bytes of output that is not JSON: ${err.message}; stderr: ${r.stderr.slice(0, 300)})`);
      if (attempt >= 3) throw err;
    }
  }
}

/** One implementation evaluated in a fresh process (see eval-worker.mjs). */
function worker(impl, dir, now, reps, sample = 1) {
  const out = join(WORK, `${impl}-${process.pid}.json`);
  const [cmd, argv] = node(
    ['--expose-gc', '--max-old-space-size=4096', join(BENCH, 'eval-worker.mjs'), impl, dir, String(now), String(reps), out, String(sample)],
    false,
  );
  const r = spawnSync(cmd, argv, {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`${impl} evaluation failed:\n${r.stderr}`);
  if (r.stderr.trim()) log(r.stderr.trim());
  return { ...JSON.parse(r.stdout), ...JSON.parse(readFileSync(out, 'utf8')) };
}

function sameLines(a, b) {
  const A = new Set(a);
  const B = new Set(b);
  const onlyA = a.filter((x) => !B.has(x));
  const onlyB = b.filter((x) => !A.has(x));
  return { equal: onlyA.length === 0 && onlyB.length === 0 && a.length === b.length, onlyA: onlyA.slice(0, 5), onlyB: onlyB.slice(0, 5) };
}

// ---------------------------------------------------------------- the fleets
const results = [];
for (const size of SIZES) {
  const dir = join(WORK, `fleet-${size}`);
  rmSync(dir, { recursive: true, force: true });
  const genNow = Date.now();
  const gen = writeProject(dir, size, genNow, join(BENCH, 'project'));
  log(`\n== ${size} targets (inventory.json ${(gen.bytes / 1e6).toFixed(1)} MB)`);

  // `reflex run --dry-run`: one run to create the store and warm the page cache, then RUNS measured runs.
  reflex(['run', '--dry-run', '--json'], dir);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = reflexJson(['run', '--dry-run', '--json'], dir);
    const doc = r.doc;
    runs.push({ wallMs: r.wallMs, rssMb: r.rssMb, cpuMs: r.cpuMs, mainCpuMs: r.mainCpuMs, doc });
    log(
      `  run ${i + 1}: ${Math.round(r.wallMs)} ms (CPU ${Math.round(r.cpuMs)} ms, main thread ${r.mainCpuMs} ms), ${Math.round(r.rssMb)} MB, timings ${JSON.stringify(doc.timingsMs)}`,
    );
  }
  const last = runs[runs.length - 1].doc;
  const now = Date.parse(last.startedAt);
  const storeMs = (d) => (d.timingsMs.record ?? 0) + (d.timingsMs.snapshot ?? 0);
  const cli = {
    wallMs: median(runs.map((r) => r.wallMs)),
    wallMinMs: Math.min(...runs.map((r) => r.wallMs)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    mainCpuMs: runs[0].mainCpuMs === null ? null : median(runs.map((r) => r.mainCpuMs)),
    peakRssMb: Math.max(...runs.map((r) => r.rssMb)),
    runMs: median(runs.map((r) => r.doc.durationMs)),
    evaluateMs: median(runs.map((r) => r.doc.timingsMs.evaluate)),
    collectMs: median(runs.map((r) => r.doc.timingsMs.collect)),
    storeMs: median(runs.map((r) => storeMs(r.doc))),
    storeShare: median(runs.map((r) => storeMs(r.doc) / r.doc.durationMs)),
    timingsMs: Object.fromEntries(Object.keys(last.timingsMs).map((k) => [k, median(runs.map((r) => r.doc.timingsMs[k] ?? 0))])),
    decisions: last.decisions.length,
    outcomes: last.outcomes,
  };

  // The three implementations, each in its own process, on the same targets and clock.
  const rx = worker('reflex', dir, now, 9);
  const hw = worker('handwritten', dir, now, 9);
  log(`  reflex evaluate in-process: cold ${ms(rx.coldMs)} ms, warm ${ms(rx.warmMs)} ms; hand-written: cold ${ms(hw.coldMs)} ms, warm ${ms(hw.warmMs)} ms`);
  const sample = size >= 100_000 ? JRE_SAMPLE : 1;
  const t0 = performance.now();
  const jr = worker('jre', dir, now, 1, sample);
  log(`  json-rules-engine: ${ms(jr.coldMs)} ms${sample > 1 ? ` on 1 in ${sample} targets` : ''} (${Math.round(performance.now() - t0)} ms with its process)`);

  // Cross-check: decisions (rule, target, outcome, derived value) and aggregates, exactly.
  const sampled = (lines) => {
    if (sample === 1) return lines;
    // JRE evaluated acting rules on every sample-th target of its kind; compare those only.
    const keep = new Set(jr.lines.map((l) => l.split('\t')[1]));
    return lines.filter((l) => keep.has(l.split('\t')[1]));
  };
  const checks = {
    handwritten: sameLines(rx.lines, hw.lines),
    jre: sample === 1 ? sameLines(rx.lines, jr.lines) : { equal: null, note: 'sampled: see jreSampled' },
    aggregatesHandwritten: JSON.stringify(rx.aggregates) === JSON.stringify(hw.aggregates),
    aggregatesJre: JSON.stringify(rx.aggregates) === JSON.stringify(jr.aggregates),
  };
  if (sample > 1) checks.jreSampled = sameLines(sampled(rx.lines), sampled(jr.lines));
  // The CLI's decisions are the same (rule, target) pairs as the in-process evaluation's; later stages only add verdicts.
  const cliKeys = last.decisions.map((d) => `${d.rule}\t${d.target}`).sort();
  const rxKeys = rx.lines.map((l) => l.split('\t').slice(0, 2).join('\t')).sort();
  checks.cli = sameLines(cliKeys, rxKeys);
  const ok =
    checks.handwritten.equal && (checks.jre.equal ?? checks.jreSampled.equal) && checks.aggregatesHandwritten && checks.aggregatesJre && checks.cli.equal;
  log(`  cross-check: ${ok ? 'identical decisions and aggregates' : `MISMATCH ${JSON.stringify(checks)}`}`);

  results.push({
    targets: size,
    inventoryBytes: gen.bytes,
    cli,
    evaluation: {
      reflexColdMs: rx.coldMs,
      reflexWarmMs: rx.warmMs,
      reflexColdCpuMs: rx.coldCpuMs,
      reflexWarmCpuMs: rx.warmCpuMs,
      handwrittenColdMs: hw.coldMs,
      handwrittenWarmMs: hw.warmMs,
      handwrittenColdCpuMs: hw.coldCpuMs,
      handwrittenWarmCpuMs: hw.warmCpuMs,
      jreMs: jr.coldMs,
      jreCpuMs: jr.coldCpuMs,
      jreSampleEvery: sample,
      jreFullMs: jr.coldMs * sample,
      jreFullCpuMs: jr.coldCpuMs * sample,
    },
    decisions: rx.lines.length,
    crossCheck: { ok, ...checks },
  });
}

// ---------------------------------------------------------------- the derive-everything workload (issue 15)
// The same fleet with a fact derived on every instance, facts changing a little between runs (CHANGE
// of the instances' p99 latency moves, within the range no rule reads as trouble, so every decision
// stays the same). Measured: the whole `reflex run --dry-run` process, the store's growth per run, an
// enforcing run with nothing to execute beside a dry run, the hand-written implementation as a whole
// process, and the three implementations in-process (cross-checked).
const DERIVE_SIZES = opt('derive-sizes', '100000').split(',').filter(Boolean).map(Number);
const CHANGE = Number(opt('change', '0.01'));
/** `--compare-dist DIR`: an earlier build's dist/ whose decisions must be the same (its digest beside ours). */
const COMPARE_DIST = opt('compare-dist', null);
const requireRoot = createRequire(join(ROOT, 'package.json'));

/** The SQLite store's size once its WAL is checkpointed into it (what a run leaves behind for good). */
function storeBytes(dir) {
  const Database = requireRoot('better-sqlite3');
  const path = join(dir, '.reflex/state.db');
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = db.pragma('page_count', { simple: true }) - db.pragma('freelist_count', { simple: true });
  const bytes = pages * db.pragma('page_size', { simple: true });
  db.close();
  return bytes;
}

const digest = (lines) =>
  createHash('sha256')
    .update([...lines].sort().join('\n'))
    .digest('hex')
    .slice(0, 16);

/** A whole process of bench/handwritten-run.mjs, timed like a `reflex` one. */
function handwrittenProcess(dir, now) {
  const rssFile = join(WORK, `rss-hw-${process.pid}.txt`);
  rmSync(rssFile, { force: true });
  const t0 = performance.now();
  const [cmd, argv] = node(['--require', PRELOAD, join(BENCH, 'handwritten-run.mjs'), dir, String(now)]);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, REFLEX_BENCH_RSS_FILE: rssFile } });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`handwritten-run failed:\n${r.stderr}`);
  const usage = JSON.parse(readFileSync(rssFile, 'utf8'));
  return { wallMs, cpuMs: usage.cpuMs, rssMb: usage.maxRssKb / 1024 };
}

const deriveResults = [];
for (const size of DERIVE_SIZES) {
  const dir = join(WORK, `derive-${size}`);
  rmSync(dir, { recursive: true, force: true });
  const gen = writeProject(dir, size, Date.now(), join(BENCH, 'project'), { deriveAll: true });
  log(
    `\n== derive-everything, ${size} targets (inventory.json ${(gen.bytes / 1e6).toFixed(1)} MB, ${Math.round(CHANGE * 100)}% of instances change between runs)`,
  );
  // Builds before issue 15 have no --no-derived (their document then lists every derived decision).
  const lean = spawnSync(process.execPath, [CLI, 'run', '--help'], { encoding: 'utf8' }).stdout.includes('--no-derived') ? ['--no-derived'] : [];
  const cliArgs = ['run', '--dry-run', '--json', ...lean];
  const first = reflexJson(cliArgs, dir);
  const firstBytes = storeBytes(dir);
  log(`  first run: ${Math.round(first.wallMs)} ms, store ${(firstBytes / 1e6).toFixed(1)} MB (the whole fleet, once)`);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    perturbFleet(dir, gen.fleet, CHANGE, i);
    const r = reflexJson(cliArgs, dir);
    runs.push(r);
    log(
      `  run ${i + 1}: ${Math.round(r.wallMs)} ms (CPU ${Math.round(r.cpuMs)} ms, main thread ${r.mainCpuMs} ms), ${Math.round(r.rssMb)} MB, timings ${JSON.stringify(r.doc.timingsMs)}`,
    );
  }
  const growth = (storeBytes(dir) - firstBytes) / RUNS;
  const last = runs[runs.length - 1].doc;
  const now = Date.parse(last.startedAt);

  // An enforcing run with nothing to execute beside a dry run: a copy whose rules are all in dry-run mode.
  const edir = `${dir}-enforce`;
  rmSync(edir, { recursive: true, force: true });
  cpSync(dir, edir, { recursive: true });
  const sop = join(edir, 'rules/sop.yaml');
  writeFileSync(sop, readFileSync(sop, 'utf8').replaceAll('mode: enforce', 'mode: dry-run'));
  reflex(['run', '--json', ...lean], edir);
  const dry = [];
  const enforce = [];
  for (let i = 0; i < RUNS; i++) {
    dry.push(reflexJson(cliArgs, edir));
    const e = reflexJson(['run', '--json', ...lean], edir);
    if (e.doc.outcomes.executed || e.doc.outcomes.failed) throw new Error('the enforcing run executed actions');
    enforce.push(e);
  }
  const hwp = [];
  for (let i = 0; i < RUNS; i++) hwp.push(handwrittenProcess(dir, now));

  const rx = worker('reflex', dir, now, 3);
  const hw = worker('handwritten', dir, now, 3);
  const sample = size >= 1_000_000 ? Math.max(JRE_SAMPLE, 10) : JRE_SAMPLE;
  const jr = worker('jre', dir, now, 1, sample);
  log(
    `  in-process CPU: reflex ${ms(rx.coldCpuMs)} ms, hand-written ${ms(hw.coldCpuMs)} ms, json-rules-engine ${ms(jr.coldCpuMs * sample)} ms${sample > 1 ? ` (extrapolated from 1 in ${sample})` : ''}`,
  );
  // json-rules-engine derives on every target and decides on every sample-th one (jre.mjs): compare those.
  const keep = sample > 1 ? new Set(gen.fleet.targets.filter((_, i) => i % sample === 0).map((t) => t.id)) : null;
  const sampled = (lines) => (keep ? lines.filter((l) => l.split('\t')[2] === 'derived' || keep.has(l.split('\t')[1])) : lines);
  const cliKeys = last.decisions
    .filter((d) => d.outcome !== 'derived')
    .map((d) => `${d.rule}\t${d.target}`)
    .sort();
  const rxKeys = rx.lines
    .filter((l) => l.split('\t')[2] !== 'derived')
    .map((l) => l.split('\t').slice(0, 2).join('\t'))
    .sort();
  const checks = {
    handwritten: sameLines(rx.lines, hw.lines),
    jre: sameLines(sampled(rx.lines), sampled(jr.lines)),
    aggregatesHandwritten: JSON.stringify(rx.aggregates) === JSON.stringify(hw.aggregates),
    aggregatesJre: JSON.stringify(rx.aggregates) === JSON.stringify(jr.aggregates),
    cli: sameLines(cliKeys, rxKeys),
  };
  let before = null;
  if (COMPARE_DIST) {
    const out = join(WORK, `before-${process.pid}.json`);
    const r = spawnSync(process.execPath, ['--max-old-space-size=4096', join(BENCH, 'eval-worker.mjs'), 'reflex', dir, String(now), '1', out], {
      encoding: 'utf8',
      env: { ...process.env, REFLEX_BENCH_DIST: resolve(COMPARE_DIST) },
      maxBuffer: 1 << 28,
    });
    if (r.status !== 0) throw new Error(`the earlier build's evaluation failed:\n${r.stderr}`);
    before = digest(JSON.parse(readFileSync(out, 'utf8')).lines);
    checks.before = { equal: before === digest(rx.lines) };
  }
  const ok = Object.values(checks).every((c) => (typeof c === 'boolean' ? c : c.equal));
  log(
    `  cross-check: ${ok ? 'identical decisions and aggregates' : `MISMATCH ${JSON.stringify(checks)}`}; decisions digest ${digest(rx.lines)}${before ? ` (earlier build: ${before})` : ''}`,
  );
  deriveResults.push({
    targets: size,
    inventoryBytes: gen.bytes,
    change: CHANGE,
    cli: {
      wallMs: median(runs.map((r) => r.wallMs)),
      cpuMs: median(runs.map((r) => r.cpuMs)),
      mainCpuMs: runs[0].mainCpuMs === null ? null : median(runs.map((r) => r.mainCpuMs)),
      peakRssMb: Math.max(...runs.map((r) => r.rssMb)),
      timingsMs: Object.fromEntries(Object.keys(last.timingsMs).map((k) => [k, median(runs.map((r) => r.doc.timingsMs[k] ?? 0))])),
      outcomes: last.outcomes,
      recorded: last.recorded ?? null,
      outputBytes: runs[runs.length - 1].stdout.length,
    },
    store: { firstRunBytes: firstBytes, growthPerRunBytes: growth },
    enforce: {
      dryWallMs: median(dry.map((r) => r.wallMs)),
      dryCpuMs: median(dry.map((r) => r.cpuMs)),
      enforceWallMs: median(enforce.map((r) => r.wallMs)),
      enforceCpuMs: median(enforce.map((r) => r.cpuMs)),
    },
    handwrittenProcess: { wallMs: median(hwp.map((r) => r.wallMs)), cpuMs: median(hwp.map((r) => r.cpuMs)), peakRssMb: Math.max(...hwp.map((r) => r.rssMb)) },
    evaluation: { reflexColdCpuMs: rx.coldCpuMs, handwrittenColdCpuMs: hw.coldCpuMs, jreFullCpuMs: jr.coldCpuMs * sample, jreSampleEvery: sample },
    digest: digest(rx.lines),
    digestBefore: before,
    crossCheck: { ok, ...checks },
  });
}

// ---------------------------------------------------------------- cold start
const small = join(WORK, 'small');
rmSync(small, { recursive: true, force: true });
cpSync(join(BENCH, 'small'), small, { recursive: true });
reflex(['run'], small);
const coldRun = [];
const coldVersion = [];
for (let i = 0; i < COLD_RUNS; i++) coldRun.push(reflex(['run'], small));
for (let i = 0; i < COLD_RUNS; i++) coldVersion.push(reflex(['--version'], small));
const nodeEmpty = [];
for (let i = 0; i < COLD_RUNS; i++) {
  const [cmd, argv] = node(['-e', '']);
  const t0 = performance.now();
  spawnSync(cmd, argv);
  nodeEmpty.push(performance.now() - t0);
}
const cold = {
  runMs: median(coldRun.map((r) => r.wallMs)),
  runCpuMs: median(coldRun.map((r) => r.cpuMs)),
  runMainCpuMs: coldRun[0].mainCpuMs === null ? null : median(coldRun.map((r) => r.mainCpuMs)),
  versionMs: median(coldVersion.map((r) => r.wallMs)),
  versionCpuMs: median(coldVersion.map((r) => r.cpuMs)),
  nodeEmptyMs: median(nodeEmpty),
};

// ---------------------------------------------------------------- report
const machine = {
  load: os.loadavg().map((x) => Math.round(x * 10) / 10),
  nice: NICE,
  realtime: RT,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()}`,
  node: process.version,
  date: new Date().toISOString(),
};

// In-process evaluations are compared by CPU time (user + system of the process while it
// evaluates): on a shared machine wall time measures the other jobs as much as the code.
const rows = results.map((r) => {
  const e = r.evaluation;
  return [
    r.targets.toLocaleString('en-US'),
    r.cli.decisions.toLocaleString('en-US'),
    ms(r.cli.wallMs),
    `${ms(r.cli.cpuMs)} / ${ms(r.cli.mainCpuMs)}`,
    Math.round(r.cli.peakRssMb),
    ms(r.cli.evaluateMs),
    `${ms(e.reflexColdCpuMs)} / ${ms(e.reflexWarmCpuMs)}`,
    `${ms(e.handwrittenColdCpuMs)} / ${ms(e.handwrittenWarmCpuMs)}`,
    `${(e.reflexColdCpuMs / e.handwrittenColdCpuMs).toFixed(1)}x / ${(e.reflexWarmCpuMs / e.handwrittenWarmCpuMs).toFixed(1)}x`,
    `${ms(e.jreFullCpuMs)}${e.jreSampleEvery > 1 ? ` (extrapolated from 1 in ${e.jreSampleEvery})` : ''}`,
    `${(e.jreFullCpuMs / r.cli.cpuMs).toFixed(0)}x / ${r.cli.mainCpuMs ? (e.jreFullCpuMs / r.cli.mainCpuMs).toFixed(0) : '-'}x / ${(e.jreFullMs / r.cli.wallMs).toFixed(0)}x`,
    `${ms(r.cli.storeMs)} (${Math.round(r.cli.storeShare * 100)}%)`,
    r.crossCheck.ok ? 'identical' : 'MISMATCH',
  ];
});
const header = [
  'targets',
  'decisions',
  'run --dry-run wall ms',
  'its CPU ms: all threads / main thread',
  'peak RSS MB',
  'evaluate stage ms',
  'Reflex eval CPU ms cold / warm',
  'hand-written JS CPU ms cold / warm',
  'Reflex / hand-written',
  'json-rules-engine CPU ms',
  'JRE / run (CPU: all, main thread; wall)',
  'store ms (share of run)',
  'cross-check',
];
const table = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const growth = [];
for (let i = 1; i < results.length; i++) {
  const a = results[i - 1];
  const b = results[i];
  growth.push({
    from: a.targets,
    to: b.targets,
    targetsX: b.targets / a.targets,
    evaluateStageX: b.cli.evaluateMs / a.cli.evaluateMs,
    evaluateWarmCpuX: b.evaluation.reflexWarmCpuMs / a.evaluation.reflexWarmCpuMs,
    evaluateColdCpuX: b.evaluation.reflexColdCpuMs / a.evaluation.reflexColdCpuMs,
  });
}

const big = results.find((r) => r.targets === 100_000);
const targetChecks = [];
if (big) {
  const e = big.evaluation;
  targetChecks.push([
    'evaluation within 3x of hand-written JS (CPU, cold: as in one run)',
    `${(e.reflexColdCpuMs / e.handwrittenColdCpuMs).toFixed(2)}x`,
    e.reflexColdCpuMs <= 3 * e.handwrittenColdCpuMs,
  ]);
  targetChecks.push([
    'evaluation within 3x of hand-written JS (CPU, warm)',
    `${(e.reflexWarmCpuMs / e.handwrittenWarmCpuMs).toFixed(2)}x`,
    e.reflexWarmCpuMs <= 3 * e.handwrittenWarmCpuMs,
  ]);
  targetChecks.push([
    'run --dry-run whole process <= 1.5 s (wall)',
    `${ms(big.cli.wallMs)} ms wall; CPU ${ms(big.cli.cpuMs)} ms, of which the main thread (about the wall time of an idle machine) ${ms(big.cli.mainCpuMs)} ms`,
    big.cli.wallMs <= 1500,
  ]);
  targetChecks.push([
    '>= 15x faster than json-rules-engine: its evaluation alone (CPU; single-threaded, so about its wall time on an idle machine) over the whole reflex run (wall)',
    `${(e.jreFullCpuMs / big.cli.wallMs).toFixed(1)}x (JRE CPU over the run's CPU, all threads: ${(e.jreFullCpuMs / big.cli.cpuMs).toFixed(1)}x; over its main thread: ${big.cli.mainCpuMs ? (e.jreFullCpuMs / big.cli.mainCpuMs).toFixed(1) : '-'}x; wall over wall: ${(e.jreFullMs / big.cli.wallMs).toFixed(1)}x)`,
    e.jreFullCpuMs >= 15 * big.cli.wallMs,
  ]);
  targetChecks.push(['peak memory <= 400 MB', `${Math.round(big.cli.peakRssMb)} MB`, big.cli.peakRssMb <= 400]);
  targetChecks.push(['storing the run <= 30% of the run', `${Math.round(big.cli.storeShare * 100)}%`, big.cli.storeShare <= 0.3]);
}
targetChecks.push(['small project: reflex run median <= 200 ms', `${ms(cold.runMs)} ms (node -e '' alone: ${ms(cold.nodeEmptyMs)} ms)`, cold.runMs <= 200]);
targetChecks.push(['reflex --version <= 100 ms', `${ms(cold.versionMs)} ms`, cold.versionMs <= 100]);
// The evaluation phase of a run is the evaluate stage (one cold evaluation per process): that is the
// figure held to "10x the targets, at most about 10x the time"; in-process CPU times are shown beside it.
for (const g of growth) {
  targetChecks.push([
    `evaluation ${g.from} -> ${g.to} targets: at most about ${g.targetsX}x the time`,
    `${g.evaluateStageX.toFixed(1)}x (evaluate stage of the run); CPU in-process ${g.evaluateColdCpuX.toFixed(1)}x cold, ${g.evaluateWarmCpuX.toFixed(1)}x warm`,
    g.evaluateStageX <= g.targetsX * 1.2,
  ]);
}

// The derive-everything workload's table and targets (issue 15.2), ratios measured side by side in this run.
const deriveHeader = [
  'targets',
  'run --dry-run wall ms',
  'its CPU ms: all / main thread',
  'peak RSS MB',
  'store growth per run',
  'hand-written process CPU ms (RSS MB)',
  'run CPU / hand-written process CPU',
  'enforce / dry-run wall (CPU)',
  'json-rules-engine eval CPU ms',
  'JRE eval CPU / run wall',
  'decisions digest',
  'cross-check',
];
const deriveRows = deriveResults.map((r) => [
  r.targets.toLocaleString('en-US'),
  ms(r.cli.wallMs),
  `${ms(r.cli.cpuMs)} / ${ms(r.cli.mainCpuMs)}`,
  Math.round(r.cli.peakRssMb),
  `${(r.store.growthPerRunBytes / 1e6).toFixed(2)} MB (first run ${(r.store.firstRunBytes / 1e6).toFixed(0)} MB)`,
  `${ms(r.handwrittenProcess.cpuMs)} (${Math.round(r.handwrittenProcess.peakRssMb)})`,
  `${(r.cli.cpuMs / r.handwrittenProcess.cpuMs).toFixed(2)}x`,
  `${(r.enforce.enforceWallMs / r.enforce.dryWallMs).toFixed(2)}x (${(r.enforce.enforceCpuMs / r.enforce.dryCpuMs).toFixed(2)}x)`,
  `${ms(r.evaluation.jreFullCpuMs)}${r.evaluation.jreSampleEvery > 1 ? ` (extrapolated from 1 in ${r.evaluation.jreSampleEvery})` : ''}`,
  `${(r.evaluation.jreFullCpuMs / r.cli.wallMs).toFixed(1)}x`,
  `${r.digest}${r.digestBefore ? (r.digestBefore === r.digest ? ' (= earlier build)' : ` (earlier build ${r.digestBefore})`) : ''}`,
  r.crossCheck.ok ? 'identical' : 'MISMATCH',
]);
const deriveTable = deriveResults.length
  ? [`| ${deriveHeader.join(' | ')} |`, `| ${deriveHeader.map(() => '---').join(' | ')} |`, ...deriveRows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
  : '';
for (const r of deriveResults) {
  const at = `derive-everything ${r.targets.toLocaleString('en-US')}`;
  if (r.targets === 100_000) {
    targetChecks.push([
      `${at}: run --dry-run whole process <= 1.5 s (wall)`,
      `${ms(r.cli.wallMs)} ms (CPU ${ms(r.cli.cpuMs)}, main thread ${ms(r.cli.mainCpuMs)})`,
      r.cli.wallMs <= 1500,
    ]);
    targetChecks.push([
      `${at}: whole-process CPU <= 3x the hand-written implementation's`,
      `${(r.cli.cpuMs / r.handwrittenProcess.cpuMs).toFixed(2)}x (${ms(r.cli.cpuMs)} / ${ms(r.handwrittenProcess.cpuMs)} ms)`,
      r.cli.cpuMs <= 3 * r.handwrittenProcess.cpuMs,
    ]);
    targetChecks.push([`${at}: peak RSS <= 300 MB`, `${Math.round(r.cli.peakRssMb)} MB`, r.cli.peakRssMb <= 300]);
    targetChecks.push([
      `${at}: store growth per run with ${Math.round(r.change * 100)}% of facts changing <= 2 MB`,
      `${(r.store.growthPerRunBytes / 1e6).toFixed(2)} MB`,
      r.store.growthPerRunBytes <= 2e6,
    ]);
    targetChecks.push([
      `${at}: >= 20x faster than json-rules-engine (its evaluation CPU over the whole run's wall)`,
      `${(r.evaluation.jreFullCpuMs / r.cli.wallMs).toFixed(1)}x`,
      r.evaluation.jreFullCpuMs >= 20 * r.cli.wallMs,
    ]);
  }
  if (r.targets === 1_000_000) {
    targetChecks.push([`${at}: whole-process wall <= 15 s`, `${ms(r.cli.wallMs)} ms`, r.cli.wallMs <= 15_000]);
    targetChecks.push([`${at}: peak RSS <= 1.5 GB`, `${Math.round(r.cli.peakRssMb)} MB`, r.cli.peakRssMb <= 1536]);
  }
  targetChecks.push([
    `${at}: a non-dry run with nothing to execute within 10% of a dry run (wall; CPU beside it)`,
    `${(r.enforce.enforceWallMs / r.enforce.dryWallMs).toFixed(2)}x wall, ${(r.enforce.enforceCpuMs / r.enforce.dryCpuMs).toFixed(2)}x CPU`,
    r.enforce.enforceWallMs <= 1.1 * r.enforce.dryWallMs,
  ]);
}

// The off switch during an incident: `reflex disable --all` from process start to the switch committed (issue 14.4).
const offSwitch = switchLatency();
targetChecks.push([
  `reflex disable --all from process start to exit < 150 ms (median of ${offSwitch.runs}; p90 beside it)`,
  `${offSwitch.medianMs} ms (p90 ${offSwitch.p90Ms} ms)`,
  offSwitch.medianMs < 150,
]);

const report = [
  `Reflex benchmark, ${machine.date}`,
  `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, ${machine.os}, Node ${machine.node}; load average at the end ${machine.load.join(' ')}${RT ? '; timed reflex processes at real-time priority (--rt)' : NICE === null ? '' : `; measured processes at nice ${NICE}`}`,
  '',
  table,
  '',
  ...(deriveTable ? ['derive-everything workload (a fact derived on every instance, 1% of instances changing between runs):', '', deriveTable, ''] : []),
  `cold start (median of ${COLD_RUNS}): reflex run on a small project ${ms(cold.runMs)} ms (CPU ${ms(cold.runCpuMs)} ms, main thread ${ms(cold.runMainCpuMs)} ms), reflex --version ${ms(cold.versionMs)} ms (CPU ${ms(cold.versionCpuMs)} ms); node -e '' ${ms(cold.nodeEmptyMs)} ms`,
  '',
  ...targetChecks.map(([what, got, pass]) => `${pass ? 'MET    ' : 'NOT MET'}  ${what}: ${got}`),
].join('\n');

console.log(report);
mkdirSync(resolve(OUT, '..'), { recursive: true });
writeFileSync(
  OUT,
  `${JSON.stringify({ machine, runs: RUNS, results, deriveResults, growth, cold, offSwitch, targets: targetChecks.map(([what, got, met]) => ({ what, got, met })), table, deriveTable }, null, 2)}\n`,
);
log(`\nwritten to ${OUT}`);
if (results.some((r) => !r.crossCheck.ok) || deriveResults.some((r) => !r.crossCheck.ok)) process.exitCode = 1;
