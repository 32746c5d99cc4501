// How long `reflex disable --all` takes from process start to the switch committed (the store write done and the
// process gone): the moment a person stops automation during an incident. Goal: under 150 ms on a 2-core machine.
// Run on a copy of examples/webshop with its store created by a dry run; prints and returns the median and p90.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'dist/bin/reflex.cjs');

export function switchLatency({ runs = 15 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-switch-'));
  try {
    cpSync(join(root, 'examples/webshop'), dir, { recursive: true });
    const run = (args) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const first = run(['run', '--dry-run']);
    if (first.status !== 0) throw new Error(`reflex run --dry-run failed: ${first.stderr}`);
    run(['disable', '--all', '--reason', 'warm-up']); // the first start writes V8's code cache
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = run(['disable', '--all', '--reason', `bench ${i}`]);
      times.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`reflex disable --all failed: ${r.stderr}`);
      run(['enable', '--all']);
    }
    times.sort((a, b) => a - b);
    const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
    return { runs, medianMs: Math.round(q(0.5)), p90Ms: Math.round(q(0.9)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = switchLatency();
  console.log(`reflex disable --all, process start to exit: median ${r.medianMs} ms, p90 ${r.p90Ms} ms over ${r.runs} runs (goal < 150 ms)`);
}
