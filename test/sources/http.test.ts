import { afterEach, describe, expect, it } from 'vitest';
import { compileHttpSource } from '../../src/sources/http/index.js';
import { collectAll, createSource } from '../../src/sources/index.js';
import { baseOpts, context, sendJson, startServer, type TestServer } from './helpers.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const http = (url: string, extra: object) => createSource({ name: 'api', kind: 'http', url, ...extra } as never);

describe('http source', () => {
  it("selects records with CEL and computes each record's facts, mapped by a field", async () => {
    server = await startServer((_, res) =>
      sendJson(res, {
        queues: [
          { name: 'orders', depth: 1200, consumers: 0, team: 'shop', upstream: 'broker-1' },
          { name: 'mails', depth: 3, consumers: 2, team: 'comms', upstream: ['broker-1', 'broker-2'] },
          { depth: 1 },
        ],
      }),
    );
    const out = await http(`${server.url}/api/queues`, {
      records: 'body.queues',
      target: { id_label: 'name', kind: 'queue', keep_labels: ['team'], depends_on_label: 'upstream' },
      facts: { depth: 'record.depth', stuck: 'record.depth > 1000.0 && record.consumers == 0', checked_with: 'status' },
    }).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: 'orders', kind: 'queue', labels: { team: 'shop' }, depends_on: ['broker-1'], facts: { depth: 1200, stuck: true, checked_with: 200 } },
      { id: 'mails', kind: 'queue', labels: { team: 'comms' }, depends_on: ['broker-1', 'broker-2'], facts: { depth: 3, stuck: false, checked_with: 200 } },
    ]);
    expect(out.facts).toEqual(['depth', 'stuck', 'checked_with']);
    expect(out.warnings).toEqual(['1 records have no "name" field (text or number) and name no target; they were ignored']);
  });

  it('takes a top-level list as the records, with `id` as the default id field', async () => {
    server = await startServer((_, res) =>
      sendJson(res, [
        { id: 7, ok: true },
        { id: 'b', ok: false },
      ]),
    );
    const out = await http(server.url, { facts: { ok: 'record.ok' } }).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: '7', facts: { ok: true } },
      { id: 'b', facts: { ok: false } },
    ]);
  });

  it('makes a fact unknown where its expression fails, and says so once', async () => {
    server = await startServer((_, res) => sendJson(res, [{ id: 'a', lag: 5 }, { id: 'b' }, { id: 'c' }]));
    const out = await http(server.url, { facts: { lag: 'record.lag' } }).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: 'a', facts: { lag: 5 } },
      { id: 'b', facts: {}, unknown: { lag: 'error: No such key: lag' } },
      { id: 'c', facts: {}, unknown: { lag: 'error: No such key: lag' } },
    ]);
    expect(out.warnings).toEqual(['fact "lag" could not be computed for 2 targets (unknown there): No such key: lag']);
  });

  it('probes one target: status and latency are facts, whatever the status, and a non-JSON body is text', async () => {
    let status = 200;
    server = await startServer((req, res) => {
      expect(req.headers.authorization).toBe('Bearer tok');
      if (status === 200) return sendJson(res, { ready: true });
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end('<h1>Service Unavailable</h1>');
    });
    const probe = http(`${server.url}/healthz`, {
      target_id: 'checkout',
      target: { kind: 'service' },
      auth: { bearer: 'tok' },
      facts: { http_status: 'status', fast: 'latency_ms < 5000.0', ready: 'status == 200 && body.ready' },
    });
    const ok = await probe.collect(context(NOW));
    expect(ok.targets).toEqual([{ id: 'checkout', kind: 'service', facts: { http_status: 200, fast: true, ready: true } }]);
    status = 503;
    const down = await probe.collect(context(NOW));
    expect(down.targets).toEqual([{ id: 'checkout', kind: 'service', facts: { http_status: 503, fast: true, ready: false } }]);
  });

  it('fails on an HTTP error status or a non-JSON body when reading records', async () => {
    server = await startServer((req, res) => {
      if (req.url.pathname === '/500') return sendJson(res, { error: 'db down' }, 500);
      res.writeHead(200);
      res.end('not json');
    });
    await expect(http(`${server.url}/500`, { facts: { x: 'record.x' } }).collect(context(NOW))).rejects.toThrow(
      `GET ${server.url}/500: HTTP 500 Internal Server Error: {"error":"db down"}`,
    );
    await expect(http(`${server.url}/text`, { facts: { x: 'record.x' } }).collect(context(NOW))).rejects.toThrow('the answer is not JSON (HTTP 200): not json');
  });

  it('fails clearly when the body is not a list and no `records` is given, or `records` is not a list', async () => {
    server = await startServer((_, res) => sendJson(res, { items: {} }));
    await expect(http(server.url, { facts: { x: 'record.x' } }).collect(context(NOW))).rejects.toThrow(
      'the body is a map, not a list of records; set `records`',
    );
    await expect(http(server.url, { records: 'body.items', facts: { x: 'record.x' } }).collect(context(NOW))).rejects.toThrow(
      '`records` must give a list, it gave a map',
    );
  });

  it('reports invalid expressions with the field and a caret, before any request', () => {
    const r = compileHttpSource({ name: 'x', kind: 'http', url: 'http://127.0.0.1', facts: { bad: 'status + "x"', worse: 'record.' } } as never);
    expect(r.compiled).toBeUndefined();
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^facts\.bad: no such overload: int \+ string/);
    expect(r.errors[1]).toMatch(/^facts\.worse: /);
  });

  it('times out through the collector', async () => {
    server = await startServer(() => {});
    const res = await collectAll([http(server.url, { facts: { x: 'record.x' } })], { ...baseOpts, defaultTimeoutMs: 150 });
    expect(res.reports[0]).toMatchObject({ status: 'timeout', error: 'timed out after 150ms', facts: ['x'] });
  });
});
