// Integration: the Prometheus source against a real Prometheus scraping an exporter served by this test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAll, createSource } from '../../src/sources/index.js';
import type { Source } from '../../src/sources/types.js';
import { startServer, type TestServer } from './helpers.js';
import { freePort, PROMETHEUS_BIN, serviceAvailability, startService, waitFor, type Service } from './services.js';

const svc = serviceAvailability(PROMETHEUS_BIN);

// With REFLEX_REQUIRE_SERVICES (CI), a missing binary fails the suite here instead of skipping; otherwise this
// block is not registered at all.
if (svc.mustFail)
  describe('prometheus integration (required)', () => {
    it('needs the Prometheus binary', () => {
      throw new Error(`REFLEX_REQUIRE_SERVICES is set but ${svc.reason}`);
    });
  });

// Skipped only on a machine without Debian's prometheus package and without REFLEX_REQUIRE_SERVICES
// (a developer's laptop): the reason is svc.reason; CI installs it (.ci/run) and requires it.
describe.runIf(svc.available)('prometheus source against a real Prometheus', () => {
  let exporter: TestServer;
  let prometheus: Service;
  let exporterUp = true;
  const METRICS = `# TYPE app_healthy gauge
app_healthy{target="web-1",service="checkout"} 1
app_healthy{target="web-2",service="checkout"} 0
# TYPE app_latency_seconds gauge
app_latency_seconds{target="web-1"} 0.042
app_latency_seconds{target="web-2"} NaN
# TYPE app_info gauge
app_info{target="web-1",database="db-1"} 1
app_info{target="web-2",database="db-2"} 1
`;

  beforeAll(async () => {
    exporter = await startServer((_req, res) => {
      if (!exporterUp) {
        res.writeHead(500);
        res.end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(METRICS);
    });
    const exporterHost = exporter.url.replace('http://', '');
    prometheus = await startService({
      bin: PROMETHEUS_BIN,
      files: () => ({
        'prometheus.yml': `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: app
    honor_labels: true
    static_configs:
      - targets: ['${exporterHost}']
`,
      }),
      args: ({ port, dir }) => [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      readyPath: '/-/ready',
    });
    await waitFor('the first scrape', 30_000, async () => {
      const r = await fetch(`${prometheus.url}/api/v1/query?query=app_healthy`);
      const body = (await r.json()) as { data: { result: unknown[] } };
      return body.data.result.length === 2 ? true : undefined;
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.close();
  });

  const source = (): Source =>
    createSource({
      name: 'prom',
      kind: 'prometheus',
      url: prometheus.url,
      target: { id_label: 'target', kind: 'instance', keep_labels: ['service'] },
      queries: [
        { fact: 'healthy', query: 'app_healthy' },
        { fact: 'latency', query: 'app_latency_seconds' },
        { fact: 'app_info', query: 'app_info', target: { depends_on_label: 'database' } },
        { fact: 'broken', query: 'rate(app_healthy[' },
        { fact: 'missing', query: 'no_such_metric' },
      ],
    } as never);

  it('collects facts, relations, NaN as unknown, and reports the query error and the empty answer', async () => {
    const res = await collectAll([source()], { now: Date.now(), projectDir: '/', env: {}, concurrency: 2, defaultTimeoutMs: 10_000 });
    const report = res.reports[0]!;
    expect(report.status, report.error).toBe('ok');
    const byId = Object.fromEntries(res.targets.map((t) => [t.id, t]));
    expect(byId['web-1']).toMatchObject({
      kind: 'instance',
      labels: { service: 'checkout' },
      depends_on: ['db-1'],
      facts: { healthy: 1, latency: 0.042, app_info: 1 },
    });
    expect(byId['web-2']).toMatchObject({ facts: { healthy: 0, app_info: 1 }, unknown: { latency: 'value is NaN' }, depends_on: ['db-2'] });
    expect(report.warnings).toHaveLength(2);
    expect(report.warnings[0]).toMatch(/^query for fact "broken" failed, the fact is unknown: bad_data: .*parse error/);
    expect(report.warnings[1]).toBe(
      'query for fact "missing" returned no series; the fact is unknown for every target (set expect_targets: false if an empty answer is normal)',
    );
  });

  it('leaves facts unknown, never healthy, once the exporter stops answering', async () => {
    exporterUp = false;
    try {
      const res = await waitFor('the series to go stale', 20_000, async () => {
        const r = await collectAll([source()], { now: Date.now(), projectDir: '/', env: {}, concurrency: 2, defaultTimeoutMs: 10_000 });
        return r.targets.length === 0 ? r : undefined;
      });
      expect(res.reports[0]!.warnings).toContain(
        'query for fact "healthy" returned no series; the fact is unknown for every target (set expect_targets: false if an empty answer is normal)',
      );
    } finally {
      exporterUp = true;
    }
  });

  it('fails the source, not the run, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const dead = createSource({ name: 'dead', kind: 'prometheus', url: `http://127.0.0.1:${port}`, queries: [{ fact: 'up', query: 'up' }] } as never);
    const res = await collectAll([dead, source()], { now: Date.now(), projectDir: '/', env: {}, concurrency: 2, defaultTimeoutMs: 10_000 });
    expect(res.reports.map((r) => r.status)).toEqual(['failed', 'ok']);
    expect(res.reports[0]!.error).toBe(`GET http://127.0.0.1:${port}/api/v1/query: connection refused`);
  });
});
