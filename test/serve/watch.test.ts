// The console reads each new run ahead by itself: a run recorded while it runs is prepared (snapshot, stored and
// recomputed decisions) without any request, the first request about it then recomputes nothing, a request during
// the preparation shares it, and a store that fails is logged once without stopping the console.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadModel } from '../../src/serve/data.js';
import type { Store } from '../../src/store/types.js';
import { fixture, reflex } from '../helpers.js';
import { appOver, pokeProject } from './harness.js';

const N = 300;
let dir: string;

beforeAll(() => {
  dir = pokeProject(N, { services: 7, unhealthyEvery: 40, busyAbove: 0.97, prefix: 'reflex-serve-watch-' });
});

/** Until `ok()` holds, giving the watch's timer turns; a bound so a watch that never fires fails instead of hanging. */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`never happened: ${what}`);
}

function latestRun(): number {
  const r = reflex(['run', '--dry-run', '-q'], { cwd: dir });
  expect(r.status).toBe(0);
  const h = reflex(['history', '--runs', '--json'], { cwd: dir });
  return (JSON.parse(h.stdout) as { id: number }[])[0]!.id;
}

async function countsAgree(a: { app: { request(p: string): Promise<Response> } }, run: number, outcomes: Record<string, number>) {
  for (const [outcome, n] of Object.entries(outcomes)) {
    if (outcome === 'not_matched') continue; // not stored nor listed: the decision detail recomputes them
    const r = (await (await a.app.request(`/api/v1/decisions?run=${run}&outcome=${outcome}`)).json()) as { total: number };
    expect([outcome, r.total]).toEqual([outcome, n]);
  }
}

describe('reading new runs ahead', () => {
  const stop = new AbortController();
  let a: Awaited<ReturnType<typeof appOver>>;
  afterAll(async () => {
    stop.abort();
    await a?.store.close();
  });

  it('prepares a run recorded after the console started, without any request', async () => {
    a = await appOver(dir, { watchMs: 20, signal: stop.signal });
    const model: ReadModel = a.model;
    await until(() => model.prepared.includes(1), 'run #1 prepared');
    const before = model.recomputed;
    const id = latestRun();
    await until(() => model.prepared.includes(id), `run #${id} prepared`);
    expect(model.recomputed).toBe(before + 1);
    // The first request about the new run reads what was prepared: nothing is recomputed, and it agrees with the run.
    const run = (await (await a.app.request(`/api/v1/runs/${id}`)).json()) as { run: { summary: { outcomes: Record<string, number> } } };
    const outcomes = run.run.summary.outcomes;
    expect(Object.keys(outcomes).length).toBeGreaterThan(1);
    await countsAgree(a, id, outcomes);
    const page = await a.app.request(`/decisions?label=service%3Ds3`);
    expect(page.status).toBe(200);
    expect(model.recomputed).toBe(before + 1);
    expect(a.lines).toEqual([]);
  });
});

describe('a request while a run is prepared', () => {
  it('waits for the same preparation instead of computing again', async () => {
    const a = await appOver(dir);
    try {
      const id = latestRun();
      const run = await a.model.run(id);
      const [, res] = await Promise.all([a.model.prepare(run), a.app.request(`/api/v1/decisions?run=${id}&outcome=blocked`)]);
      expect(res.status).toBe(200);
      expect(a.model.recomputed).toBe(1);
      expect(a.model.prepared).toEqual([id]);
    } finally {
      await a.store.close();
    }
  });
});

describe('a store that fails under the watch', () => {
  it('is logged once, the console keeps answering, and the watch stops on abort', async () => {
    const stop = new AbortController();
    let calls = 0;
    const failing = (s: Store): Store =>
      new Proxy(s, {
        get(target, key, receiver) {
          if (key === 'listRuns' && !stop.signal.aborted)
            return () => {
              calls++;
              return Promise.reject(Object.assign(new Error('disk I/O error'), { name: 'StoreError' }));
            };
          const v = Reflect.get(target, key, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const a = await appOver(dir, { watchMs: 5, signal: stop.signal, wrap: failing });
    try {
      await until(() => calls >= 5, 'five checks');
      expect(a.lines.filter((l) => l.includes('disk I/O error'))).toHaveLength(1);
      expect(a.lines[0]).toMatch(/reading run #\d+ ahead failed: disk I\/O error/);
      expect((await a.app.request('/healthz')).status).toBeLessThan(600);
      stop.abort();
      const after = calls;
      await new Promise((r) => setTimeout(r, 50));
      expect(calls).toBe(after);
    } finally {
      stop.abort();
      await a.store.close();
    }
  });
});

describe('the listing computed in the worker thread', () => {
  it('answers other requests while the worker prepares a run, then the same counts as the run recorded', async () => {
    const stop = new AbortController();
    const a = await appOver(dir, { worker: 'gated', signal: stop.signal });
    try {
      const id = latestRun();
      const run = await a.model.run(id);
      let prepared = false;
      const preparing = a.model.prepare(run).then(() => (prepared = true));
      let listed = false;
      const listing = a.app.request(`/api/v1/decisions?run=${id}&label=service%3Ds3`).then((r) => ((listed = true), r));
      // The worker is held at its gate: whatever answers now was not blocked behind the run's recomputation.
      for (const path of ['/api/v1/overview', `/api/v1/runs/${id}`, '/runs', '/healthz']) expect((await a.app.request(path)).status).toBe(200);
      expect([prepared, listed]).toEqual([false, false]);
      await a.model.worker!.open();
      await preparing;
      const labelled = (await (await listing).json()) as { total: number; items: { target: string }[] };
      expect(labelled.total).toBeGreaterThan(0);
      expect(labelled.items.every((d) => Number(d.target.slice(2)) % 7 === 3)).toBe(true);
      const outcomes = ((await (await a.app.request(`/api/v1/runs/${id}`)).json()) as { run: { summary: { outcomes: Record<string, number> } } }).run.summary
        .outcomes;
      await countsAgree(a, id, outcomes);
      // Everything came from the worker: this thread recomputed nothing.
      expect(a.model.recomputed).toBe(0);
      expect(a.model.worker!.dead).toBeNull();
    } finally {
      stop.abort();
      await a.store.close();
    }
  });

  it('gives the same pages as the listing computed on the main thread', async () => {
    const stop = new AbortController();
    const off = await appOver(dir, { worker: 'on', signal: stop.signal });
    const here = await appOver(dir);
    try {
      const paths = [
        ...['', '?outcome=dry_run', '?rule=busy&page=0', '?label=service%3Ds2', '?run=1&target=i-40', '?run=1&page=1', '?label=nope'].map(
          (q) => `/api/v1/decisions${q}`,
        ),
        // The decision detail and the target page read the snapshot in the worker too.
        '/api/v1/why?target=i-40',
        '/api/v1/why?run=1&target=i-40&format=text',
        '/api/v1/why?target=i-40&rule=busy',
        '/api/v1/why?target=i-40&rule=nope',
        '/api/v1/why?target=no-such-box',
        '/api/v1/targets/i-40',
        '/api/v1/targets/no-such-box',
        '/why?target=i-3',
      ];
      for (const path of paths) {
        const [x, y] = await Promise.all([off.app.request(path), here.app.request(path)]);
        expect([path, x.status, await x.text()]).toEqual([path, y.status, await y.text()]);
      }
      expect(off.model.recomputed).toBe(0);
    } finally {
      stop.abort();
      await off.store.close();
      await here.store.close();
    }
  });

  it('says once that a worker which cannot start failed, and answers from the main thread', async () => {
    const stop = new AbortController();
    const broken = fixture({ 'boom.mjs': 'throw new Error("no such worker here");\n' }, 'reflex-serve-worker-');
    const a = await appOver(dir, { worker: pathToFileURL(join(broken, 'boom.mjs')), signal: stop.signal });
    try {
      const here = await Promise.all([1, 2, 3].map(() => a.app.request('/api/v1/decisions?outcome=dry_run')));
      expect(here.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(((await here[0]!.json()) as { total: number }).total).toBeGreaterThan(0);
      expect(a.model.worker!.dead?.message).toContain('no such worker here');
      expect(a.lines.filter((l) => l.includes('the worker thread failed'))).toHaveLength(1);
      expect(a.lines[0]).toContain('no such worker here');
    } finally {
      stop.abort();
      await a.store.close();
    }
  });

  it('falls back to the main thread when the worker is gone', async () => {
    const stop = new AbortController();
    const a = await appOver(dir, { worker: 'on', signal: stop.signal });
    try {
      await a.model.worker!.close();
      const res = await a.app.request('/api/v1/decisions?outcome=dry_run');
      expect(res.status).toBe(200);
      expect(((await res.json()) as { total: number }).total).toBeGreaterThan(0);
      expect(a.model.recomputed).toBe(1);
    } finally {
      stop.abort();
      await a.store.close();
    }
  });
});
