// How long `reflex why` takes on a recorded run of a 20,000-target fleet (bench/fleet.mjs, the bench's SOP rules),
// from process start to exit: one target (text and --json), one target with --depth 3, and one rule over the fleet
// (`why --rule R`). Each answer reads the run's snapshot and evaluates it again, so this is the cost an on-call
// engineer waits for during an incident.
//
//   node bench/why.mjs [--size 20000] [--runs 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeProject } from './fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'dist/bin/reflex.cjs');

export function whyLatency({ size = 20_000, runs = 5 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-why-'));
  try {
    writeProject(dir, size, Date.now(), join(root, 'bench/project'));
    const run = (args) =>
      spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28 });
    const first = run(['run', '--dry-run', '--json']);
    if (first.status !== 0 && first.status !== 1) throw new Error(`reflex run --dry-run failed: ${first.stderr}`);
    const doc = JSON.parse(first.stdout);
    // The most telling targets: one the run blocked, one it would have acted on, and a quiet one.
    const pick = (outcome) => doc.decisions.find((d) => d.outcome === outcome && d.rule === 'restart-unhealthy-instance')?.target;
    const blocked = pick('blocked') ?? doc.decisions[0].target;
    const acted = pick('dry_run') ?? blocked;
    const cases = [
      ['why TARGET (blocked)', ['why', blocked]],
      ['why TARGET (would act)', ['why', acted]],
      ['why TARGET --json', ['why', acted, '--json']],
      ['why TARGET --depth 3', ['why', blocked, '--depth', '3']],
      ['why --rule R (fleet view)', ['why', '--rule', 'restart-unhealthy-instance']],
    ];
    const out = [];
    for (const [name, args] of cases) {
      run(args); // warm the page cache and V8's code cache
      const times = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = run(args);
        times.push(performance.now() - t0);
        if (r.status !== 0) throw new Error(`reflex ${args.join(' ')} failed: ${r.stderr}`);
      }
      times.sort((a, b) => a - b);
      out.push({ name, medianMs: Math.round(times[Math.floor(times.length / 2)]), maxMs: Math.round(times[times.length - 1]) });
    }
    return { targets: doc.targets, runs, cases: out, loadavg: loadavg()[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, d) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : d);
  const r = whyLatency({ size: opt('size', 20_000), runs: opt('runs', 5) });
  console.log(`reflex why on a recorded run of ${r.targets} targets, process start to exit (${r.runs} runs each; load average ${r.loadavg.toFixed(1)}):`);
  for (const c of r.cases) console.log(`  ${c.name.padEnd(28)} median ${String(c.medianMs).padStart(5)} ms, max ${c.maxMs} ms`);
}
