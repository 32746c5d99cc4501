import { afterEach, describe, expect, it } from 'vitest';
import { collectAll, createSource } from '../../src/sources/index.js';
import { parseSampleValue } from '../../src/sources/prometheus/index.js';
import { baseOpts, context, sendJson, startServer, type TestServer } from './helpers.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const sec = (ms: number) => ms / 1000;
const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
const sample = (metric: Record<string, string>, value: string, at = NOW) => ({ metric, value: [sec(at), value] });

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A fake Prometheus answering each PromQL text with a fixed body (and status). */
async function fakePrometheus(answers: Record<string, unknown | { status: number; body: unknown }>) {
  server = await startServer((req, res) => {
    const params = req.method === 'POST' ? new URLSearchParams(req.body) : req.url.searchParams;
    const a = answers[params.get('query') ?? ''];
    if (a && typeof a === 'object' && 'status' in a && typeof a.status === 'number') {
      const { status, body } = a as { status: number; body: unknown };
      if (typeof body === 'string') {
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end(body);
      } else sendJson(res, body, status);
    } else if (a) sendJson(res, a);
    else sendJson(res, { status: 'error', errorType: 'bad_data', error: 'unknown query in test' }, 400);
  });
  return server;
}

const prom = (url: string, extra: object = {}) =>
  createSource({ name: 'prom', kind: 'prometheus', url, queries: [{ fact: 'up', query: 'up' }], ...extra } as never);

describe('prometheus source', () => {
  it('sets one fact per query and series, mapped by the instance label, with the run time as `time`', async () => {
    const s = await fakePrometheus({
      up: vector([sample({ instance: 'web-1', job: 'web' }, '1'), sample({ instance: 'web-2', job: 'web' }, '0')]),
      'rate(errors[5m])': vector([sample({ instance: 'web-1' }, '0.25')]),
    });
    const out = await prom(s.url, {
      queries: [
        { fact: 'up', query: 'up', target: { kind: 'instance', keep_labels: ['job'] } },
        { fact: 'error_rate', query: 'rate(errors[5m])' },
      ],
    }).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: 'web-1', kind: 'instance', labels: { job: 'web' }, facts: { up: 1, error_rate: 0.25 } },
      { id: 'web-2', kind: 'instance', labels: { job: 'web' }, facts: { up: 0 } },
    ]);
    expect(out.facts).toEqual(['up', 'error_rate']);
    expect(out.warnings).toEqual([]);
    expect(s.requests[0]!.url.pathname).toBe('/api/v1/query');
    expect(s.requests[0]!.url.searchParams.get('time')).toBe(sec(NOW).toFixed(3));
  });

  it('maps by another label, per query, and reads relations from a label of an info metric', async () => {
    const s = await fakePrometheus({
      app_info: vector([sample({ pod: 'p1', database: 'db-1', team: 'a' }, '1')]),
    });
    const out = await prom(s.url, {
      target: { id_label: 'instance', kind: 'pod' },
      queries: [{ fact: 'app_info', query: 'app_info', target: { id_label: 'pod', depends_on_label: 'database', keep_labels: ['team'] } }],
    }).collect(context(NOW));
    expect(out.targets).toEqual([{ id: 'p1', kind: 'pod', labels: { team: 'a' }, depends_on: ['db-1'], facts: { app_info: 1 } }]);
  });

  it('makes a stale sample unknown with its age', async () => {
    const s = await fakePrometheus({ up: vector([sample({ instance: 'a' }, '1', NOW - 7 * 60_000), sample({ instance: 'b' }, '1', NOW - 60_000)]) });
    const out = await prom(s.url).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: 'a', facts: {}, unknown: { up: 'stale: sample is 7m old (limit 5m)' } },
      { id: 'b', facts: { up: 1 } },
    ]);
    const out2 = await prom(s.url, { staleness: '10m' }).collect(context(NOW));
    expect(out2.targets[0]!.facts).toEqual({ up: 1 });
  });

  it('makes NaN and infinite values unknown, saying which', async () => {
    const s = await fakePrometheus({ up: vector([sample({ instance: 'a' }, 'NaN'), sample({ instance: 'b' }, '+Inf'), sample({ instance: 'c' }, '-Inf')]) });
    const out = await prom(s.url).collect(context(NOW));
    expect(out.targets.map((t) => [t.id, t.facts, t.unknown])).toEqual([
      ['a', {}, { up: 'value is NaN' }],
      ['b', {}, { up: 'value is +Inf' }],
      ['c', {}, { up: 'value is -Inf' }],
    ]);
    expect(parseSampleValue('1e3')).toBe(1000);
    expect(parseSampleValue('')).toBe('value "" is not a number');
  });

  it('warns when a query returns no series, unless an empty answer is expected', async () => {
    const s = await fakePrometheus({ up: vector([]), 'down == 1': vector([]) });
    const out = await prom(s.url, {
      queries: [
        { fact: 'up', query: 'up' },
        { fact: 'down', query: 'down == 1', expect_targets: false },
      ],
    }).collect(context(NOW));
    expect(out.targets).toEqual([]);
    expect(out.warnings).toEqual([
      'query for fact "up" returned no series; the fact is unknown for every target (set expect_targets: false if an empty answer is normal)',
    ]);
  });

  it('warns about a scalar answer, series without the id label and several series for one target', async () => {
    const s = await fakePrometheus({
      'scalar(x)': { status: 'success', data: { resultType: 'scalar', result: [sec(NOW), '3'] } },
      cpu: vector([
        sample({ instance: 'a', cpu: '0' }, '0.5'),
        sample({ instance: 'a', cpu: '1' }, '0.7'),
        sample({ job: 'x' }, '1'),
        sample({ instance: 'b', cpu: '0' }, '0.1'),
      ]),
    });
    const out = await prom(s.url, {
      queries: [
        { fact: 'n', query: 'scalar(x)' },
        { fact: 'cpu', query: 'cpu' },
      ],
    }).collect(context(NOW));
    expect(out.targets).toEqual([
      { id: 'a', facts: {}, unknown: { cpu: 'ambiguous: the query returned 2 series for this target (aggregate it, e.g. max by (instance) (...))' } },
      { id: 'b', facts: { cpu: 0.1 } },
    ]);
    expect(out.warnings).toEqual([
      'query for fact "n" returned a scalar, which names no target; the fact is unknown (write an instant vector that carries the target label)',
      'query for fact "cpu": 1 series have no "instance" label and were ignored',
      'query for fact "cpu": 1 targets have more than one series; their fact is unknown (aggregate by "instance")',
    ]);
  });

  it('reports a query error from Prometheus as a warning, other queries still count', async () => {
    const s = await fakePrometheus({
      up: vector([sample({ instance: 'a' }, '1')]),
      'rate(x[': { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error: unclosed left bracket' } },
    });
    const out = await prom(s.url, {
      queries: [
        { fact: 'up', query: 'up' },
        { fact: 'r', query: 'rate(x[' },
      ],
    }).collect(context(NOW));
    expect(out.targets).toEqual([{ id: 'a', facts: { up: 1 } }]);
    expect(out.warnings).toEqual(['query for fact "r" failed, the fact is unknown: bad_data: parse error: unclosed left bracket']);
  });

  it('fails the source when every query fails', async () => {
    const s = await fakePrometheus({ up: { status: 503, body: { status: 'error', errorType: 'unavailable', error: 'too many queries' } } });
    await expect(prom(s.url).collect(context(NOW))).rejects.toThrow('query for fact "up" failed: unavailable: too many queries');
  });

  it('fails the source on an HTTP error that is not a Prometheus answer, and on a non-JSON body', async () => {
    let s = await fakePrometheus({ up: { status: 500, body: '<html>Internal Server Error</html>' } });
    await expect(prom(s.url).collect(context(NOW))).rejects.toThrow(
      `${s.url}/api/v1/query: HTTP 500 Internal Server Error: <html>Internal Server Error</html>`,
    );
    await s.close();
    s = await fakePrometheus({ up: { status: 200, body: 'hello' } });
    await expect(prom(s.url).collect(context(NOW))).rejects.toThrow('not a Prometheus query API answer: hello');
  });

  it('fails the source when nothing listens', async () => {
    const s = await fakePrometheus({});
    const url = s.url;
    await s.close();
    await expect(prom(url).collect(context(NOW))).rejects.toThrow(`GET ${url}/api/v1/query: connection refused`);
  });

  it('sends bearer auth and custom headers; basic auth too; keeps a path prefix of the URL', async () => {
    const s = await fakePrometheus({ up: vector([]) });
    await prom(`${s.url}/prom/`, { auth: { bearer: 's3cret' }, headers: { 'X-Scope-OrgID': 'tenant-1' } }).collect(context(NOW));
    await prom(s.url, { auth: { basic: { username: 'u', password: 'p' } } }).collect(context(NOW));
    expect(s.requests[0]!.url.pathname).toBe('/prom/api/v1/query');
    expect(s.requests[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(s.requests[0]!.headers['x-scope-orgid']).toBe('tenant-1');
    expect(s.requests[1]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('sends a long query as a POST form', async () => {
    const long = `sum(up{job=~"${'a|'.repeat(1500)}b"})`;
    const s = await fakePrometheus({ [long]: vector([sample({ instance: 'a' }, '2')]) });
    const out = await prom(s.url, { queries: [{ fact: 'n', query: long }] }).collect(context(NOW));
    expect(s.requests[0]!.method).toBe('POST');
    expect(out.targets[0]!.facts).toEqual({ n: 2 });
  });

  it('times out through the collector when Prometheus does not answer', async () => {
    server = await startServer(() => {
      /* never answers */
    });
    const res = await collectAll([prom(server.url)], { ...baseOpts, defaultTimeoutMs: 200 });
    expect(res.reports[0]).toMatchObject({ status: 'timeout', error: 'timed out after 200ms', facts: ['up'] });
    expect(res.factSources).toEqual({ up: 'prom' });
  });

  it('a query declared type: bool turns 1 into true and 0 into false; any other value is unknown with the reason', async () => {
    const s = await fakePrometheus({
      up: vector([
        sample({ instance: 'web-1' }, '1'),
        sample({ instance: 'web-2' }, '0'),
        sample({ instance: 'web-3' }, '2'),
        sample({ instance: 'web-4' }, 'NaN'),
      ]),
    });
    const source = createSource({ name: 'prom', kind: 'prometheus', url: s.url, queries: [{ fact: 'up', query: 'up', type: 'bool' }] });
    expect(source.declaredTypes?.()).toEqual({ up: 'bool' });
    const res = await collectAll([source], { ...baseOpts, now: NOW });
    const t = Object.fromEntries(res.targets.map((x) => [x.id, x]));
    expect(t['web-1']!.facts).toEqual({ up: true });
    expect(t['web-2']!.facts).toEqual({ up: false });
    expect(t['web-3']!.unknown).toEqual({ up: 'value 2 is neither 0 nor 1 (the query is declared type: bool)' });
    expect(t['web-4']!.unknown).toEqual({ up: 'value is NaN' });
  });

  it('an untyped query gives numbers, and declares them so for reflex check', () => {
    expect(prom('http://x').declaredTypes?.()).toEqual({ up: 'number' });
  });
});
