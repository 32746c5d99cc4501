// The console reads while runs write: requests during runs all answer, runs are never refused or slowed into failure
// by a reader, and the off switch flipped from the console mid-run is seen by the next run.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, reflex } from '../helpers.js';
import { appOver, pokeProject, TOKEN } from './harness.js';

const N = 1000;
let dir: string;
let a: Awaited<ReturnType<typeof appOver>>;

beforeAll(async () => {
  dir = pokeProject(N, { services: 30, unhealthyEvery: 50, busyAbove: 0.9, prefix: 'reflex-serve-conc-' });
  a = await appOver(dir, { token: TOKEN });
});
afterAll(async () => {
  await a?.store.close();
});

function runs(n: number): Promise<number[]> {
  // n dry runs one after another in a child shell-free loop, each a real `reflex run` process.
  return new Promise((resolve, reject) => {
    const codes: number[] = [];
    const next = () => {
      if (codes.length === n) return resolve(codes);
      const c = spawn(process.execPath, [CLI, 'run', '--dry-run', '-q'], { cwd: dir, stdio: 'ignore' });
      const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
      c.on('exit', (code) => {
        clearTimeout(timer);
        codes.push(code ?? -1);
        next();
      });
      c.on('error', reject);
    };
    next();
  });
}

describe('reading while runs write', () => {
  it('answers every request during runs, and the runs all finish', async () => {
    const done = runs(3);
    let finished = false;
    void done.then(() => (finished = true));
    const statuses: number[] = [];
    const paths = ['/', '/api/v1/overview', '/runs', '/decisions', '/api/v1/decisions?rule=restart', '/executions', '/guardrails', '/healthz'];
    let i = 0;
    const until = Date.now() + 240_000; // a bound, so a stuck run fails the test instead of hanging it
    while (!finished && Date.now() < until) {
      const res = await a.app.request(paths[i++ % paths.length]!);
      statuses.push(res.status);
      await res.arrayBuffer();
      // The in-process store answers through promises alone: give the event loop a turn (the runs' exits).
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await done).toEqual([0, 0, 0]);
    expect(statuses.length).toBeGreaterThan(paths.length);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const r = await (await a.app.request('/api/v1/runs')).json();
    expect(r.items.map((x: { status: string }) => x.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('a switch-off from the console during a run is seen by the next run', async () => {
    const during = runs(1);
    const off = await a.app.request('/api/v1/switch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ off: true, reason: 'mid-run', by: 'ops' }),
    });
    expect(off.status).toBe(200);
    expect(await during).toEqual([0]);
    const next = JSON.parse(reflex(['run', '--dry-run', '--json'], { cwd: dir }).stdout);
    expect(next.outcomes.blocked).toBeGreaterThan(0);
    expect(JSON.stringify(next)).toContain('switch:off');
  });
});
