// Integration: the Alertmanager source against a real Alertmanager, fed alerts through its API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAll, createSource } from '../../src/sources/index.js';
import type { Target } from '../../src/model.js';
import { fakeSource } from './helpers.js';
import { ALERTMANAGER_BIN, serviceAvailability, startService, waitFor, type Service } from './services.js';

const svc = serviceAvailability(ALERTMANAGER_BIN);

// With REFLEX_REQUIRE_SERVICES (CI), a missing binary fails the suite here instead of skipping; otherwise this
// block is not registered at all.
if (svc.mustFail)
  describe('alertmanager integration (required)', () => {
    it('needs the Alertmanager binary', () => {
      throw new Error(`REFLEX_REQUIRE_SERVICES is set but ${svc.reason}`);
    });
  });

// Skipped only on a machine without Debian's alertmanager package and without REFLEX_REQUIRE_SERVICES
// (a developer's laptop): the reason is svc.reason; CI installs it (.ci/run) and requires it.
describe.runIf(svc.available)('alertmanager source against a real Alertmanager', () => {
  let am: Service;

  beforeAll(async () => {
    am = await startService({
      bin: ALERTMANAGER_BIN,
      files: () => ({
        'alertmanager.yml': `route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: blackhole
`,
      }),
      args: ({ port, dir }) => [
        `--config.file=${dir}/alertmanager.yml`,
        `--storage.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      readyPath: '/-/ready',
    });
  });

  afterAll(async () => {
    await am?.stop();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${am.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`POST ${path}: HTTP ${res.status}: ${await res.text()}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as unknown) : null;
  };
  const alert = (alertname: string, instance: string, endsAt: number, extra: Record<string, string> = {}) => ({
    labels: { alertname, instance, severity: 'critical', service: 'checkout', ...extra },
    annotations: { summary: `${alertname} on ${instance}` },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: new Date(endsAt).toISOString(),
  });
  const inventory = fakeSource('inv', async () => ({
    targets: [
      { id: 'web-1', kind: 'instance' },
      { id: 'web-2', kind: 'instance' },
      { id: 'db-1', kind: 'datastore' },
    ],
    facts: [],
    warnings: [],
  }));
  const collect = async (extra: object = {}) => {
    const source = createSource({ name: 'am', kind: 'alertmanager', url: am.url, target: { kind: 'instance', keep_labels: ['service'] }, ...extra } as never);
    return collectAll([inventory, source], { now: Date.now(), projectDir: '/', env: {}, concurrency: 2, defaultTimeoutMs: 10_000 });
  };
  const names = (t: Target | undefined) => (t?.facts.alerts as { name: string }[] | undefined)?.map((a) => a.name);

  it('shows a posted alert on its target, an empty list on the other targets of its kind, and drops it once resolved', async () => {
    await post('/api/v2/alerts', [alert('InstanceDown', 'web-1', Date.now() + 3_600_000)]);
    const res = await waitFor('the alert to be processed', 15_000, async () => {
      const r = await collect();
      return names(r.targets.find((t) => t.id === 'web-1'))?.length === 1 ? r : undefined;
    });
    expect(res.reports[1]!.status).toBe('ok');
    const web1 = res.targets.find((t) => t.id === 'web-1')!;
    expect(web1.labels).toEqual({ service: 'checkout' });
    expect(web1.facts.alerts).toEqual([
      expect.objectContaining({ name: 'InstanceDown', severity: 'critical', state: 'active', annotations: { summary: 'InstanceDown on web-1' } }),
    ]);
    expect(names(res.targets.find((t) => t.id === 'web-2'))).toEqual([]);
    expect(res.targets.find((t) => t.id === 'db-1')!.facts).toEqual({});

    await post('/api/v2/alerts', [alert('InstanceDown', 'web-1', Date.now() - 1_000)]);
    const after = await waitFor('the alert to resolve', 15_000, async () => {
      const r = await collect();
      return names(r.targets.find((t) => t.id === 'web-1'))?.length === 0 ? r : undefined;
    });
    expect(after.reports[1]!.status).toBe('ok');
  });

  it('shows a silenced alert as suppressed, or leaves it out when include_suppressed is false', async () => {
    await post('/api/v2/alerts', [alert('DiskFull', 'web-2', Date.now() + 3_600_000, { team: 'storage' })]);
    await post('/api/v2/silences', {
      matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      createdBy: 'reflex-test',
      comment: 'maintenance',
    });
    const res = await waitFor('the alert to be silenced', 15_000, async () => {
      const r = await collect();
      const a = r.targets.find((t) => t.id === 'web-2')?.facts.alerts as { state: string }[] | undefined;
      return a?.[0]?.state === 'suppressed' ? r : undefined;
    });
    expect(names(res.targets.find((t) => t.id === 'web-2'))).toEqual(['DiskFull']);
    const without = await collect({ include_suppressed: false });
    expect(names(without.targets.find((t) => t.id === 'web-2'))).toEqual([]);
    const filtered = await collect({ filter: ['team="nobody"'] });
    expect(names(filtered.targets.find((t) => t.id === 'web-2'))).toEqual([]);
  });
});
