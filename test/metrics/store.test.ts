// The metrics the store keeps, on SQLite and PostgreSQL alike: counters add up across runners, timestamps only grow,
// a runner's last-run series replace its previous ones without touching another runner's.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderStoreMetrics } from '../../src/metrics/store.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { STORE_SCOPE, type Store } from '../../src/store/types.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';

const schemas = schemaFactory('obs_metrics');
afterAll(() => schemas.dropAll());

const drivers: [string, () => Promise<Store>][] = [
  ['sqlite', async () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'reflex-metrics-store-')), 'state.db'))],
];
if (pgSkipReason === null) drivers.push(['postgres', () => openPostgresStore(requirePgUrl(), { schema: schemas.next() })]);
else console.warn(`postgres metrics store tests skipped: ${pgSkipReason}`);

describe.each(drivers)('stored metrics (%s)', (_name, open) => {
  it('adds to counters, keeps the larger timestamp, and replaces one scope at a time', async () => {
    const store = await open();
    await store.migrate();
    try {
      const runs = (status: string) => ({ name: 'reflex_runs_total', labels: { status }, value: 1 });
      await store.recordMetrics({
        at: 1_000,
        add: [runs('ok'), { name: 'reflex_executions_total', labels: { status: 'failed', rule: 'r', action: 'a' }, value: 2 }],
        max: [{ name: 'reflex_run_last_success_timestamp_seconds', labels: {}, value: 50 }],
        replace: { scope: 'shard:0/2', samples: [{ name: 'reflex_last_run_targets', labels: {}, value: 10 }] },
      });
      await store.recordMetrics({
        at: 2_000,
        // labels in another order are the same series
        add: [runs('ok'), { name: 'reflex_executions_total', labels: { action: 'a', rule: 'r', status: 'failed' }, value: 1 }],
        max: [{ name: 'reflex_run_last_success_timestamp_seconds', labels: {}, value: 40 }],
        replace: { scope: 'shard:1/2', samples: [{ name: 'reflex_last_run_targets', labels: {}, value: 5 }] },
      });
      await store.recordMetrics({
        at: 3_000,
        add: [runs('failed')],
        max: [],
        replace: { scope: 'shard:0/2', samples: [{ name: 'reflex_last_run_targets', labels: {}, value: 12 }] },
      });
      const rows = (await store.listMetrics()).map(({ scope, name, labels, value }) => ({ scope, name, labels, value }));
      expect(rows).toEqual(
        expect.arrayContaining([
          { scope: STORE_SCOPE, name: 'reflex_runs_total', labels: { status: 'ok' }, value: 2 },
          { scope: STORE_SCOPE, name: 'reflex_runs_total', labels: { status: 'failed' }, value: 1 },
          { scope: STORE_SCOPE, name: 'reflex_executions_total', labels: { action: 'a', rule: 'r', status: 'failed' }, value: 3 },
          { scope: STORE_SCOPE, name: 'reflex_run_last_success_timestamp_seconds', labels: {}, value: 50 },
          { scope: 'shard:0/2', name: 'reflex_last_run_targets', labels: {}, value: 12 },
          { scope: 'shard:1/2', name: 'reflex_last_run_targets', labels: {}, value: 5 },
        ]),
      );
      expect(rows).toHaveLength(6);

      const all = await renderStoreMetrics(store, { now: 3_000 });
      expect(all).toContain('reflex_last_run_targets{shard="shard:0/2"} 12\n');
      expect(all).toContain('reflex_last_run_targets{shard="shard:1/2"} 5\n');
      const own = await renderStoreMetrics(store, { now: 3_000, scopes: ['shard:1/2'], shardLabel: false });
      expect(own).toContain('reflex_last_run_targets 5\n');
      expect(own).not.toContain('reflex_last_run_targets 12');
      expect(own).toContain('reflex_runs_total{status="ok"} 2\n');

      // A runner scope nobody updated for long is dropped; the store-wide series stay.
      await store.recordMetrics({ at: 10_000, add: [], max: [], dropBefore: 2_500 });
      const left = await store.listMetrics();
      expect(left.filter((r) => r.scope === 'shard:1/2')).toEqual([]);
      expect(left.filter((r) => r.scope === 'shard:0/2')).toHaveLength(1);
      expect(left.filter((r) => r.scope === STORE_SCOPE)).toHaveLength(4);
    } finally {
      await store.close();
    }
  });

  it('two runners adding to the same counters at once lose no increment', async () => {
    const first = await open();
    await first.migrate();
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          first.recordMetrics({
            at: i,
            add: [
              { name: 'reflex_runs_total', labels: { status: 'ok' }, value: 1 },
              { name: 'reflex_escalations_total', labels: { channel: 'c', result: 'sent' }, value: 1 },
            ],
            max: [],
          }),
        ),
      );
      const text = await renderStoreMetrics(first, { now: 0 });
      expect(text).toContain('reflex_runs_total{status="ok"} 20\n');
      expect(text).toContain('reflex_escalations_total{channel="c",result="sent"} 20\n');
    } finally {
      await first.close();
    }
  });
});
