import { describe, expect, it } from 'vitest';
import { collectAll, decodeCached, encodeCached } from '../../src/sources/collect.js';
import { SourceError } from '../../src/sources/types.js';
import { baseOpts, fakeSource, MemoryCache } from './helpers.js';

const ok =
  (targets: object[], facts: string[] = [], extra: object = {}) =>
  async () =>
    ({ targets, facts, warnings: [], ...extra }) as never;

describe('collectAll', () => {
  it('merges targets by id: labels merged, depends_on unioned, facts merged, kind from any report', async () => {
    const res = await collectAll(
      [
        fakeSource('inv', ok([{ id: 'a', kind: 'instance', labels: { service: 's' }, depends_on: ['db'], facts: { tier: 'gold' } }, { id: 'db' }], ['tier'])),
        fakeSource(
          'prom',
          ok(
            [
              { id: 'a', labels: { zone: 'z1' }, depends_on: ['db', 'cache'], facts: { up: 1 } },
              { id: 'db', kind: 'datastore', facts: { up: 0 } },
              { id: 'new' },
            ],
            ['up'],
          ),
        ),
      ],
      baseOpts,
    );
    expect(res.targets).toEqual([
      { id: 'a', kind: 'instance', labels: { service: 's', zone: 'z1' }, depends_on: ['db', 'cache'], facts: { tier: 'gold', up: 1 } },
      { id: 'db', kind: 'datastore', labels: {}, depends_on: [], facts: { up: 0 } },
      { id: 'new', kind: 'unknown', labels: {}, depends_on: [], facts: {} },
    ]);
    expect(res.factSources).toEqual({ tier: 'inv', up: 'prom' });
    expect(res.reports.map((r) => [r.name, r.status, r.targets, r.facts])).toEqual([
      ['inv', 'ok', 2, ['tier']],
      ['prom', 'ok', 3, ['up']],
    ]);
  });

  it('keeps the earlier source on conflicts and says so in the later report', async () => {
    const res = await collectAll(
      [
        fakeSource('first', ok([{ id: 'a', kind: 'instance', labels: { service: 's1' }, facts: { up: 1 } }], ['up'])),
        fakeSource('second', ok([{ id: 'a', kind: 'node', labels: { service: 's2' }, facts: { up: 0 } }], ['up'])),
      ],
      baseOpts,
    );
    expect(res.targets[0]).toMatchObject({ kind: 'instance', labels: { service: 's1' }, facts: { up: 1 } });
    expect(res.reports[1]!.warnings).toEqual([
      '1 targets have another kind in an earlier source; the earlier kind is kept',
      "1 labels differ from an earlier source's; the earlier values are kept",
      'fact "up" of 1 targets (e.g. "a") is also set by "first", listed earlier, whose values are kept',
    ]);
  });

  it('reports a failing source without throwing, and leaves its declared facts unknown', async () => {
    const res = await collectAll(
      [
        fakeSource('inv', ok([{ id: 'a', kind: 'instance' }])),
        fakeSource('prom', async () => {
          throw new SourceError('connection refused');
        }, ['up']),
        fakeSource('bug', async () => {
          throw new TypeError('x is undefined');
        }),
      ],
      baseOpts,
    );
    expect(res.targets).toEqual([{ id: 'a', kind: 'instance', labels: {}, depends_on: [], facts: {} }]);
    expect(res.reports[1]).toMatchObject({ status: 'failed', error: 'connection refused', facts: ['up'], targets: 0 });
    expect(res.reports[2]).toMatchObject({ status: 'failed', error: 'x is undefined' });
    expect(res.factSources).toEqual({ up: 'prom' });
  });

  it('times a source out through its signal, and also when it ignores the signal', async () => {
    const honours = fakeSource('honours', (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
    const ignores = fakeSource('ignores', () => new Promise(() => {}));
    const res = await collectAll([honours, ignores, fakeSource('fast', ok([{ id: 'x' }]))], {
      ...baseOpts,
      defaultTimeoutMs: 5_000,
      timeouts: { honours: 100, ignores: 150 },
    });
    // Named by their own timeouts, not the default of 5 s (which would also outlast the test's timeout).
    expect(res.reports.map((r) => [r.status, r.error])).toEqual([
      ['timeout', 'timed out after 100ms'],
      ['timeout', 'timed out after 150ms'],
      ['ok', undefined],
    ]);
    expect(res.targets.map((t) => t.id)).toEqual(['x']);
  });

  it('runs at most `concurrency` sources at once', async () => {
    let running = 0;
    let peak = 0;
    const slow = (name: string) =>
      fakeSource(name, async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return { targets: [], facts: [], warnings: [] };
      });
    const res = await collectAll(['a', 'b', 'c', 'd', 'e'].map(slow), { ...baseOpts, concurrency: 2 });
    expect(peak).toBe(2);
    expect(res.reports.every((r) => r.status === 'ok')).toBe(true);
  });

  it('marks sources cancelled when the run is cancelled', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('SIGTERM')), 50);
    const res = await collectAll([fakeSource('s', () => new Promise(() => {}))], { ...baseOpts, signal: ac.signal });
    expect(res.reports[0]).toMatchObject({ status: 'failed', error: 'cancelled: SIGTERM' });
  });

  it('gives default facts of a successful source to the targets it did not mention, never over a value or an unknown', async () => {
    const defaults = [{ kind: 'instance', facts: { alerts: [] } }];
    const inv = fakeSource(
      'inv',
      ok([
        { id: 'a', kind: 'instance' },
        { id: 'b', kind: 'instance' },
        { id: 'c', kind: 'datastore' },
        { id: 'd', kind: 'instance', unknown: { alerts: 'said so' } },
      ]),
    );
    const am = fakeSource('am', ok([{ id: 'b', facts: { alerts: [{ name: 'Down' }] } }], ['alerts'], { defaults }));
    const res = await collectAll([inv, am], baseOpts);
    expect(res.targets.map((t) => [t.id, t.facts.alerts, t.unknown])).toEqual([
      ['a', [], undefined],
      ['b', [{ name: 'Down' }], undefined],
      ['c', undefined, undefined],
      ['d', undefined, { alerts: 'said so' }],
    ]);
    (res.targets[0]!.facts.alerts as unknown[]).push('x');
    expect(res.targets[2]!.facts.alerts).toBeUndefined();

    const failed = fakeSource('am', async () => {
      throw new SourceError('down');
    }, ['alerts']);
    const res2 = await collectAll([inv, failed], baseOpts);
    expect(res2.targets.every((t) => !('alerts' in t.facts))).toBe(true);
  });

  it('keeps a fact known when one source has a value and another says it is unknown', async () => {
    const res = await collectAll(
      [fakeSource('a', ok([{ id: 't', unknown: { up: 'stale' }, facts: { x: 1 } }])), fakeSource('b', ok([{ id: 't', facts: { up: 1 } }]))],
      baseOpts,
    );
    expect(res.targets[0]!.facts).toEqual({ x: 1, up: 1 });
    expect(res.targets[0]!.unknown).toBeUndefined();
  });
});

describe('source cooldown cache', () => {
  const counting = () => {
    let calls = 0;
    const source = fakeSource('slow-analysis', async () => {
      calls++;
      return { targets: [{ id: 'a', facts: { forecast: calls } }], facts: ['forecast'], warnings: [] };
    });
    return { source, calls: () => calls };
  };

  it('reuses a successful result younger than the cooldown, then collects again after it', async () => {
    const cache = new MemoryCache();
    const { source, calls } = counting();
    const opts = { ...baseOpts, cache, cooldowns: { 'slow-analysis': 60_000 } };
    const r1 = await collectAll([source], opts);
    const r2 = await collectAll([source], { ...opts, now: opts.now + 59_000 });
    expect(calls()).toBe(1);
    expect(r1.reports[0]!.status).toBe('ok');
    expect(r2.reports[0]).toMatchObject({ status: 'cached', cachedAt: opts.now, facts: ['forecast'] });
    expect(r2.targets[0]!.facts).toEqual({ forecast: 1 });
    const r3 = await collectAll([source], { ...opts, now: opts.now + 60_000 });
    expect(calls()).toBe(2);
    expect(r3.reports[0]!.status).toBe('ok');
    expect(r3.targets[0]!.facts).toEqual({ forecast: 2 });
  });

  it('does not reuse an expired result when the source fails', async () => {
    const cache = new MemoryCache();
    const opts = { ...baseOpts, cache, cooldowns: { s: 1_000 } };
    await collectAll([fakeSource('s', ok([{ id: 'a', facts: { f: 1 } }], ['f']))], opts);
    const res = await collectAll(
      [
        fakeSource('s', async () => {
          throw new SourceError('boom');
        }, ['f']),
      ],
      { ...opts, now: opts.now + 5_000 },
    );
    expect(res.reports[0]).toMatchObject({ status: 'failed', error: 'boom' });
    expect(res.targets).toEqual([]);
  });

  it('ignores a cached result collected under another configuration', async () => {
    const cache = new MemoryCache();
    const { source, calls } = counting();
    const opts = { ...baseOpts, cache, cooldowns: { 'slow-analysis': 60_000 } };
    await collectAll([{ ...source, fingerprint: 'one' }], opts);
    await collectAll([{ ...source, fingerprint: 'two' }], opts);
    expect(calls()).toBe(2);
  });

  it('collects afresh, with a warning, when the cache cannot be read', async () => {
    const { source, calls } = counting();
    const cache = {
      getSourceCache: async () => {
        throw new Error('database is locked');
      },
      setSourceCache: async () => {},
    };
    const res = await collectAll([source], { ...baseOpts, cache, cooldowns: { 'slow-analysis': 60_000 } });
    expect(calls()).toBe(1);
    expect(res.reports[0]!.warnings).toEqual(['could not read the cached result, collecting afresh: database is locked']);
  });

  it('round-trips an output through the gzip payload', () => {
    const out = { targets: [{ id: 'a', facts: { x: [1, 'two', null] } }], facts: ['x'], warnings: ['w'], defaults: [{ facts: { alerts: [] } }] };
    expect(decodeCached(encodeCached(out, 'fp'), 'fp')).toEqual(out);
    expect(decodeCached(new Uint8Array([1, 2, 3]), 'fp')).toBeNull();
  });
});
