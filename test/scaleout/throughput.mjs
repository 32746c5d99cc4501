// Scale-out throughput: the benchmark fleet (bench/fleet.mjs) worked through by 1 or N runners sharing one PostgreSQL,
// and by one runner on SQLite for comparison. Not part of `npm test`; the figures go to docs/performance.md.
//
//   npm run build && node test/scaleout/throughput.mjs [--size 100000] [--runners 1,4] [--shards 16] [--rounds 3] [--pg URL] [--dry-run] [--acting MS]
//
// A round starts every runner at once (as a CronJob per runner would) and ends when the last one exits;
// the figure is the median round's wall time. On a machine with fewer cores than runners they compete
// for the CPU, so each sharded layout is also measured "one host each": the same runners one after
// another (each claims the shards least recently worked on, so together they still cover every shard),
// and the round time is that of the slowest runner, as if each had a machine of its own.
// Actions are replaced by /bin/true, so enforcing rounds journal and execute for real without touching
// anything; the guardrails of the bench project apply.
//
// `--acting MS`: the acting path instead. Every action is `sleep MS/1000`, the limits are lifted (budget,
// blast radius, widespread breaker), and every round starts from an empty store, so that it journals and
// runs every action the enforced rules decide (the first run of a bad day, without guardrails).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { writeProject } from '../../bench/fleet.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const SIZE = Number(opt('size', '100000'));
const RUNNERS = opt('runners', '1,4').split(',').map(Number);
const SHARDS = Number(opt('shards', '16'));
const ROUNDS = Number(opt('rounds', '3'));
const PG = opt('pg', process.env.REFLEX_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test');
const DRY = args.includes('--dry-run');
const ACTING = opt('acting', null);
// On a machine shared with other jobs, `--nice -20` (as root) runs the measured processes at a higher priority.
const NICE = opt('nice', null);
const node = (nodeArgs) => (NICE === null ? [process.execPath, nodeArgs] : ['nice', ['-n', NICE, process.execPath, ...nodeArgs]]);
const log = (s) => process.stderr.write(`${s}\n`);

// A copy of the build: dist/ is rebuilt by whoever runs the tests meanwhile.
const WORK = join(os.tmpdir(), `reflex-throughput-${process.pid}`);
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
cpSync(join(ROOT, 'dist'), join(WORK, 'build/dist'), { recursive: true });
cpSync(join(ROOT, 'package.json'), join(WORK, 'build/package.json'));
symlinkSync(join(ROOT, 'node_modules'), join(WORK, 'node_modules'));
const CLI = join(WORK, 'build/dist/cli/main.js');
// CPU time per runner (all threads, and the main thread: the run's critical path), written at exit by the bench's preload.
const PRELOAD = join(WORK, 'cpu-preload.cjs');
cpSync(join(ROOT, 'bench/rss-preload.cjs'), PRELOAD);
let runSeq = 0;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The bench project at SIZE targets, every action a harmless /bin/true with the same params and cooldown. */
function project(name, store, shards) {
  const dir = join(WORK, name);
  writeProject(dir, SIZE, Date.now(), join(ROOT, 'bench/project'));
  const cfg = YAML.parse(readFileSync(join(dir, 'reflex.yaml'), 'utf8'));
  const argv = ACTING === null ? ['/bin/true'] : ['/bin/sleep', String(Number(ACTING) / 1000)];
  for (const [k, a] of Object.entries(cfg.actions)) {
    cfg.actions[k] = { kind: 'exec', argv: [...argv], ...(a.params ? { params: a.params } : {}), ...(a.cooldown ? { cooldown: a.cooldown } : {}) };
  }
  if (ACTING !== null) {
    cfg.guardrails = {
      ...cfg.guardrails,
      budget_per_run: 1_000_000,
      widespread: { min_targets: 1_000_000, implausible: false },
      blast_radius: { per_rule: '1000000 per 1m', group_fraction: 1, group_by: [] },
      failure_breaker: { failures: 1_000_000, of_last: 1_000_000 },
    };
  }
  cfg.store = store;
  if (shards) cfg.shards = shards;
  writeFileSync(join(dir, 'reflex.yaml'), YAML.stringify(cfg));
  return dir;
}

function runOne(dir) {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const cpuFile = join(WORK, `cpu-${runSeq++}.json`);
    const [cmd, argv] = node(['--require', PRELOAD, CLI, '-c', join(dir, 'reflex.yaml'), 'run', '--json', ...(DRY ? ['--dry-run'] : [])]);
    const child = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REFLEX_BENCH_RSS_FILE: cpuFile } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (err += s));
    child.on('error', fail);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      let cpu = { cpuMs: 0, mainThreadCpuMs: 0 };
      try {
        cpu = JSON.parse(readFileSync(cpuFile, 'utf8'));
      } catch {
        // no figure: the process did not reach its exit handler
      }
      if (code === 4) return ok({ code, wallMs, cpu, doc: null });
      if (code !== 0 && code !== 1) return fail(new Error(`reflex run exited ${code}:\n${err}`));
      ok({ code, wallMs, cpu, doc: JSON.parse(out) });
    });
  });
}

async function round(dir, n, sequential) {
  if (ACTING !== null) await freshStore(dir);
  const t0 = performance.now();
  if (sequential) {
    const res = [];
    for (let i = 0; i < n; i++) res.push(await runOne(dir));
    return { wallMs: Math.max(...res.map((r) => r.wallMs)), runs: res };
  }
  const res = await Promise.all(Array.from({ length: n }, () => runOne(dir)));
  return { wallMs: performance.now() - t0, runs: res };
}

async function dropSchema(schema) {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

/** --acting: every round starts from an empty store (no cooldowns, no journal). */
async function freshStore(dir) {
  const store = YAML.parse(readFileSync(join(dir, 'reflex.yaml'), 'utf8')).store;
  if (store.startsWith('postgres')) await dropSchema(new URL(store).searchParams.get('schema'));
  else rmSync(join(dir, '.reflex'), { recursive: true, force: true });
}

/** The round's figures: wall time, per-stage time of the slowest runner, executions. */
function figures(r) {
  const done = r.runs.filter((x) => x.doc);
  const stages = {};
  for (const x of done) for (const [k, v] of Object.entries(x.doc.timingsMs)) stages[k] = Math.max(stages[k] ?? 0, v);
  const shards = new Set();
  for (const x of done) for (const s of (x.doc.shards ?? '').split(',').filter(Boolean)) shards.add(s);
  if (done[0]?.doc.shards && shards.size !== SHARDS) throw new Error(`a round covered ${shards.size} of ${SHARDS} shards`);
  return {
    wallMs: r.wallMs,
    stages,
    executed: done.reduce((s, x) => s + (x.doc.outcomes?.executed ?? 0), 0),
    runs: done.length,
    cpuTotalMs: r.runs.reduce((s, x) => s + x.cpu.cpuMs, 0),
    mainMaxMs: Math.max(...r.runs.map((x) => x.cpu.mainThreadCpuMs ?? 0)),
  };
}

const pgUrl = (schema) => `${PG}${PG.includes('?') ? '&' : '?'}schema=${schema}`;
const configs = [{ label: 'SQLite, 1 runner', dir: project('sqlite', '.reflex/state.db', null), n: 1, sequential: false }];
const schemas = [];
for (const n of RUNNERS) {
  const schema = `reflex_throughput_${process.pid}_${n}`;
  schemas.push(schema);
  await dropSchema(schema);
  const shards = n === 1 ? { count: 1 } : { count: SHARDS, max_per_runner: Math.ceil(SHARDS / n), lease: '5m' };
  const dir = project(`pg-${n}`, pgUrl(schema), shards);
  configs.push({ label: `PostgreSQL, ${n} runner${n > 1 ? `s, ${SHARDS} shards, on ${os.cpus().length} shared cores` : ''}`, dir, n, sequential: false });
  if (n > 1) configs.push({ label: `PostgreSQL, ${n} runners, ${SHARDS} shards, one host each`, dir, n, sequential: true });
}
const measured = new Map(configs.map((c) => [c, []]));
try {
  for (const c of configs) {
    if (ACTING !== null) break; // every acting round starts from an empty store
    log(`${c.label}: warm-up round`);
    await round(c.dir, c.n, c.sequential); // creates the store, takes the first actions (cooldowns and limits bind from here on)
  }
  // Rounds interleaved across configurations, so that a busy moment of a shared machine hits them alike.
  for (let i = 0; i < ROUNDS; i++) {
    for (const c of configs) {
      const f = figures(await round(c.dir, c.n, c.sequential));
      log(`${c.label}: round ${i + 1}: ${Math.round(f.wallMs)} ms, ${f.runs} runs, ${f.executed} executed`);
      measured.get(c).push(f);
    }
  }
} finally {
  for (const s of schemas) await dropSchema(s);
}
const results = configs.map((c) => {
  const fs = measured.get(c);
  const wall = fs.map((f) => f.wallMs);
  const med = fs[wall.indexOf(median(wall))] ?? fs[0];
  return {
    label: c.label,
    roundMs: median(wall),
    targetsPerS: Math.round(SIZE / (median(wall) / 1000)),
    stagesMaxMs: med.stages,
    executed: med.executed,
    cpuTotalMs: median(fs.map((f) => f.cpuTotalMs)),
    mainMaxMs: median(fs.map((f) => f.mainMaxMs)),
  };
});
rmSync(WORK, { recursive: true, force: true });

const fmt = (x) => String(Math.round(x));
const stageCols = ['collect', 'evaluate', 'guard', 'act', 'notify', 'record'];
const lines = [
  `${SIZE.toLocaleString('en')} targets, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, ${DRY ? '--dry-run' : ACTING !== null ? `acting (actions: sleep ${ACTING} ms, no limits, empty store)` : 'enforcing (actions: /bin/true)'}, median of ${ROUNDS} rounds${ACTING !== null ? '' : ' after a warm-up'}:`,
  '',
  `| store, runners | round (ms) | targets/s | CPU of the round, all runners (ms) | main-thread CPU of the busiest runner (ms) | executed per round | ${stageCols.join(' | ')} (slowest runner, ms) |`,
  `| --- | ---: | ---: | ---: | ---: | ---: | ${stageCols.map(() => '---:').join(' | ')} |`,
  ...results.map(
    (r) =>
      `| ${r.label} | ${fmt(r.roundMs)} | ${r.targetsPerS.toLocaleString('en')} | ${fmt(r.cpuTotalMs)} | ${fmt(r.mainMaxMs)} | ${r.executed} | ${stageCols.map((k) => fmt(r.stagesMaxMs[k] ?? 0)).join(' | ')} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
