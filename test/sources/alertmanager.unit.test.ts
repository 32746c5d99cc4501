import { afterEach, describe, expect, it } from 'vitest';
import { toAlertFact } from '../../src/sources/alertmanager/index.js';
import { collectAll, createSource } from '../../src/sources/index.js';
import { baseOpts, context, fakeSource, sendJson, startServer, type TestServer } from './helpers.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const alert = (labels: Record<string, string>, extra: object = {}) => ({
  labels,
  annotations: { summary: 's' },
  startsAt: iso(NOW - 60_000),
  endsAt: iso(NOW + 300_000),
  updatedAt: iso(NOW),
  fingerprint: `fp-${labels.alertname}-${labels.instance}`,
  receivers: [{ name: 'x' }],
  status: { state: 'active', silencedBy: [], inhibitedBy: [] },
  ...extra,
});

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const am = (url: string, extra: object = {}) => createSource({ name: 'am', kind: 'alertmanager', url, ...extra } as never);

describe('alertmanager source', () => {
  it('maps active alerts onto targets by label, as a list fact, and asks only for active alerts', async () => {
    server = await startServer((_, res) =>
      sendJson(res, [
        alert({ alertname: 'HighLatency', instance: 'web-1', severity: 'warning', service: 'checkout' }),
        alert({ alertname: 'Down', instance: 'web-1', severity: 'critical', service: 'checkout' }),
        alert({ alertname: 'DiskFull', instance: 'db-1' }, { status: { state: 'suppressed', silencedBy: ['s1'], inhibitedBy: [] } }),
        alert({ alertname: 'Global' }),
      ]),
    );
    const out = await am(server.url, { target: { kind: 'instance', keep_labels: ['service'] } }).collect(context(NOW));
    expect(out.targets.map((t) => t.id)).toEqual(['web-1', 'db-1']);
    expect(out.targets[0]).toMatchObject({ kind: 'instance', labels: { service: 'checkout' } });
    expect(out.targets[0]!.facts!.alerts).toEqual([
      {
        name: 'Down',
        severity: 'critical',
        state: 'active',
        labels: { alertname: 'Down', instance: 'web-1', severity: 'critical', service: 'checkout' },
        annotations: { summary: 's' },
        startsAt: iso(NOW - 60_000),
        fingerprint: 'fp-Down-web-1',
      },
      expect.objectContaining({ name: 'HighLatency', severity: 'warning' }),
    ]);
    expect(out.targets[1]!.facts!.alerts).toEqual([expect.objectContaining({ name: 'DiskFull', state: 'suppressed', severity: '' })]);
    expect(out.warnings).toEqual(['1 alerts have no "instance" label and name no target; they were ignored']);
    expect(out.defaults).toEqual([{ kind: 'instance', facts: { alerts: [] } }]);
    const q = server.requests[0]!.url;
    expect(q.pathname).toBe('/api/v2/alerts');
    expect([q.searchParams.get('active'), q.searchParams.get('silenced'), q.searchParams.get('inhibited')]).toEqual(['true', 'true', 'true']);
  });

  it('leaves out suppressed alerts when asked to, and passes filter matchers', async () => {
    server = await startServer((_, res) => sendJson(res, [alert({ alertname: 'A', instance: 'x' }, { status: { state: 'suppressed' } })]));
    const out = await am(server.url, { include_suppressed: false, filter: ['severity="critical"', 'team=~"db|web"'], fact: 'firing' }).collect(context(NOW));
    expect(out.targets).toEqual([]);
    expect(out.facts).toEqual(['firing']);
    const q = server.requests[0]!.url.searchParams;
    expect([q.get('silenced'), q.get('inhibited')]).toEqual(['false', 'false']);
    expect(q.getAll('filter')).toEqual(['severity="critical"', 'team=~"db|web"']);
  });

  it('never shows a resolved or unprocessed alert as firing', () => {
    expect(toAlertFact(alert({ alertname: 'A', instance: 'x' }, { endsAt: iso(NOW - 1) }) as never, NOW, true)).toBeNull();
    expect(toAlertFact(alert({ alertname: 'A', instance: 'x' }, { endsAt: iso(NOW) }) as never, NOW, true)).toBeNull();
    expect(toAlertFact(alert({ alertname: 'A', instance: 'x' }, { status: { state: 'unprocessed' } }) as never, NOW, true)).toBeNull();
    expect(toAlertFact(alert({ alertname: 'A', instance: 'x' }, { status: {} }) as never, NOW, true)).toBeNull();
    expect(toAlertFact(alert({ alertname: 'A', instance: 'x' }) as never, NOW, true)).not.toBeNull();
  });

  it('gives targets of its kind that have no alert an empty list, only when Alertmanager answered', async () => {
    server = await startServer((_, res) => sendJson(res, [alert({ alertname: 'Down', instance: 'web-1' })]));
    const inv = fakeSource('inv', async () => ({
      targets: [
        { id: 'web-1', kind: 'instance' },
        { id: 'web-2', kind: 'instance' },
        { id: 'db-1', kind: 'datastore' },
      ],
      facts: [],
      warnings: [],
    }));
    const res = await collectAll([inv, am(server.url, { target: { kind: 'instance' } })], { ...baseOpts, now: NOW });
    expect(res.targets.map((t) => [t.id, (t.facts.alerts as { name: string }[] | undefined)?.map((a) => a.name)])).toEqual([
      ['web-1', ['Down']],
      ['web-2', []],
      ['db-1', undefined],
    ]);
    const url = server.url;
    await server.close();
    server = undefined;
    const down = await collectAll([inv, am(url, { target: { kind: 'instance' } })], { ...baseOpts, now: NOW });
    expect(down.reports[1]).toMatchObject({ status: 'failed', error: `GET ${url}/api/v2/alerts: connection refused` });
    expect(down.targets.every((t) => !('alerts' in t.facts))).toBe(true);
  });

  it('fails on an HTTP error, a non-JSON answer and an answer that is not a list; sends auth', async () => {
    server = await startServer((req, res) => {
      if (req.headers.authorization !== 'Bearer tok') return sendJson(res, { error: 'unauthorized' }, 401);
      if (req.headers['x-tenant'] === 'html') {
        res.writeHead(200);
        return res.end('<html>');
      }
      return sendJson(res, { not: 'a list' });
    });
    await expect(am(server.url).collect(context(NOW))).rejects.toThrow(`${server.url}/api/v2/alerts: HTTP 401 Unauthorized: {"error":"unauthorized"}`);
    await expect(am(server.url, { auth: { bearer: 'tok' }, headers: { 'X-Tenant': 'html' } }).collect(context(NOW))).rejects.toThrow(
      'the answer is not JSON: <html>',
    );
    await expect(am(server.url, { auth: { bearer: 'tok' } }).collect(context(NOW))).rejects.toThrow('expected a list of alerts');
  });
});
