// The http action against real local servers: the request as planned, refused addresses, redirects, timeouts.
import { afterEach, describe, expect, it } from 'vitest';
import { planAction, PlanError } from '../../src/actions/index.js';
import type { Resolver } from '../../src/actions/net.js';
import { execCtx, http, planCtx, receiver, scope, type Receiver } from './helpers.js';

const servers: Receiver[] = [];
async function server(...args: Parameters<typeof receiver>): Promise<Receiver> {
  const s = await receiver(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('http: planning', () => {
  it('describes the request line, headers with credentials redacted, and the JSON body', () => {
    const plan = planAction(
      'drain',
      http({
        method: 'POST',
        url: 'https://lb.example.com/api/pools/{{ labels.service }}/members/{{ target.id }}?reason={{ rule.name }}',
        headers: { Authorization: 'Bearer tok-123456', 'X-Request-Source': 'reflex' },
        body: { action: 'drain', target: '{{ target.id }}', restarts: '{{ facts.restarts }}', note: 'key tok-123456' },
      }),
      planCtx(scope(), { secrets: ['tok-123456'] }),
    );
    expect(plan.describe).toBe(
      [
        'http POST https://lb.example.com/api/pools/web/members/web-1?reason=restart-unhealthy',
        '  Authorization: ***',
        '  X-Request-Source: reflex',
        '  Content-Type: application/json',
        '  {"action":"drain","target":"web-1","restarts":"2","note":"key ***"}',
      ].join('\n'),
    );
    expect(plan.detail).toMatchObject({ method: 'POST', followRedirects: false, allowPrivate: true });
  });

  it.each([
    ['host', 'http://{{ labels.host }}/x'],
    ['host part', 'http://api.{{ labels.host }}.example.com/x'],
    ['port', 'http://api.example.com:{{ facts.port }}/x'],
    ['scheme', '{{ labels.scheme }}://api.example.com/x'],
    ['user info', 'http://{{ labels.user }}@api.example.com/x'],
  ])('refuses a placeholder in the %s', (_, url) => {
    const s = scope({ labels: { host: 'evil.example', scheme: 'http', user: 'u' }, facts: { port: 80 } });
    expect(() => planAction('x', http({ url }), planCtx(s))).toThrow(/may not appear in the scheme, host or port/);
  });

  it('refuses other schemes, relative URLs and a GET with a body', () => {
    expect(() => planAction('x', http({ url: 'file:///etc/passwd' }), planCtx())).toThrow(/only http and https/);
    expect(() => planAction('x', http({ url: '/relative/{{ target.id }}' }), planCtx())).toThrow(/must be absolute/);
    expect(() => planAction('x', http({ method: 'GET', url: 'http://a.example/', body: { a: 1 } }), planCtx())).toThrow(/GET request cannot have a body/);
  });

  it('refuses a value that would climb the path', () => {
    for (const v of ['..', '.']) {
      expect(() => planAction('x', http({ url: 'http://a.example/api/{{ labels.v }}/restart' }), planCtx(scope({ labels: { v } })))).toThrow(/climb the path/);
    }
  });

  it('refuses control characters and non-ASCII in header values', () => {
    for (const v of ['a\r\nX-Evil: 1', 'a\nb', 'a\tb', 'caf\u00e9', ' padded']) {
      expect(() => planAction('x', http({ url: 'http://a.example/', headers: { 'X-V': '{{ labels.v }}' } }), planCtx(scope({ labels: { v } })))).toThrow(
        PlanError,
      );
    }
  });

  it('refuses a templated Host header and framing headers Reflex sets itself', () => {
    expect(() => planAction('x', http({ url: 'http://10.0.0.5/', headers: { Host: '{{ labels.service }}.example.com' } }), planCtx())).toThrow(
      /Host may not hold placeholders/,
    );
    expect(planAction('x', http({ url: 'http://10.0.0.5/', headers: { Host: 'api.example.com' } }), planCtx()).describe).toContain('Host: api.example.com');
    for (const h of ['Content-Length', 'transfer-encoding', 'Connection']) {
      expect(() => planAction('x', http({ url: 'http://a.example/', headers: { [h]: '5' } }), planCtx())).toThrow(/set by Reflex/);
    }
    expect(() => planAction('x', http({ url: 'http://a.example/', headers: { 'Bad Name': 'x' } }), planCtx())).toThrow(/not a valid header name/);
  });

  it('refuses placeholders in body keys', () => {
    expect(() => planAction('x', http({ url: 'http://a.example/', body: { '{{ target.id }}': 'x' } }), planCtx())).toThrow(/values, not keys/);
  });
});

describe('http: running', () => {
  it('sends the planned request and reports a 2xx as succeeded, with status and body', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"drained":true}');
    });
    const plan = planAction(
      'drain',
      http({
        method: 'PUT',
        url: `${srv.base}/api/members/{{ target.id }}?by=reflex`,
        headers: { 'X-Rule': '{{ rule.name }}' },
        body: { target: '{{ target.id }}', n: 3 },
      }),
      planCtx(),
    );
    const out = await plan.run(execCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 201, output: '{"drained":true}' });
    expect(srv.requests).toHaveLength(1);
    const req = srv.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.url).toBe('/api/members/web-1?by=reflex');
    expect(req.headers['x-rule']).toBe('restart-unhealthy');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ target: 'web-1', n: 3 });
  });

  it('reports a 5xx as failed with the status', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    const out = await planAction('x', http({ url: `${srv.base}/x` }), planCtx()).run(execCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: 503, error: 'HTTP 503', output: 'busy' });
  });

  it('reports a connection cut in the middle of the body as failed', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.destroy(), 50);
    });
    const out = await planAction('x', http({ url: `${srv.base}/x` }), planCtx()).run(execCtx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/request failed/);
  });

  it('keeps a size-limited response body', async () => {
    const srv = await server((_req, res) => res.end('y'.repeat(300_000)));
    const out = await planAction('x', http({ url: `${srv.base}/x` }), planCtx()).run(execCtx());
    expect(out.status).toBe('succeeded');
    expect(out.output.length).toBeLessThan(70_000);
    expect(out.output).toMatch(/truncated at 65536 bytes/);
  });

  it('redacts secrets the server echoes back', async () => {
    const srv = await server((req, res) => res.end(`you sent ${req.headers.authorization}`));
    const out = await planAction(
      'x',
      http({ url: `${srv.base}/x`, headers: { Authorization: 'Bearer sekrit-999' } }),
      planCtx(scope(), { secrets: ['sekrit-999'] }),
    ).run(execCtx());
    expect(out.output).toBe('you sent Bearer ***');
  });

  it('does not follow redirects by default: a 3xx is a failure', async () => {
    const srv = await server((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.end('followed');
    });
    const out = await planAction('x', http({ url: `${srv.base}/start` }), planCtx()).run(execCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: 302 });
    expect(out.error).toMatch(/redirect to .*\/elsewhere not followed/);
    expect(srv.requests.map((r) => r.url)).toEqual(['/start']);
  });

  it('follows redirects when follow_redirects is set, and drops credentials when the origin changes', async () => {
    const other = await server((_req, res) => res.end('there'));
    const srv = await server((req, res) => {
      if (req.url === '/start') res.writeHead(307, { location: '/next' }).end();
      else if (req.url === '/next') res.writeHead(302, { location: `${other.base}/final` }).end();
      else res.end('?');
    });
    const plan = planAction(
      'x',
      http({ method: 'POST', url: `${srv.base}/start`, follow_redirects: true, headers: { Authorization: 'Bearer t0ken-abc' }, body: { a: 1 } }),
      planCtx(),
    );
    const out = await plan.run(execCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 200, output: 'there' });
    expect(srv.requests.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([
      ['POST', '/start', 'Bearer t0ken-abc'],
      ['POST', '/next', 'Bearer t0ken-abc'],
    ]);
    // 302 after POST becomes GET without a body; the new origin gets no Authorization.
    expect(other.requests.map((r) => [r.method, r.url, r.headers.authorization, r.body])).toEqual([['GET', '/final', undefined, '']]);
  });

  it('refuses a followed redirect to a metadata address', async () => {
    const srv = await server((_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end());
    const out = await planAction('x', http({ url: `${srv.base}/start`, follow_redirects: true, timeout: '3s' }), planCtx()).run(execCtx());
    expect(out.status).toBe('refused');
    expect(out.error).toMatch(/169\.254\.169\.254 is a cloud metadata address/);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /metadata address/],
    ['http://169.254.1.1/', /link-local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://[fd00:ec2::254]/', /metadata address/],
    ['http://[::ffff:169.254.169.254]/', /metadata address/],
    ['http://2852039166/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://0xA9FEA9FE/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://169.254.43518/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata host/],
    ['http://METADATA.google.internal./', /metadata host/],
    ['http://100.100.100.200/', /metadata address/],
  ])('refuses %s before sending anything', async (url, why) => {
    const out = await planAction('x', http({ url, timeout: '3s' }), planCtx()).run(execCtx());
    expect(out.status).toBe('refused');
    expect(out.error).toMatch(why);
    expect(out.error).toMatch(/nothing was sent/);
  });

  it('refuses a host name when any of its addresses is link-local or metadata', async () => {
    const srv = await server();
    const resolver: Resolver = (_host, cb) =>
      cb(null, [
        { address: '127.0.0.1', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ]);
    const plan = planAction('x', http({ url: `http://rebind.example:${srv.port}/x` }), planCtx(), { resolver });
    const out = await plan.run(execCtx());
    expect(out.status).toBe('refused');
    expect(out.error).toMatch(/rebind\.example resolves to 169\.254\.169\.254 is a cloud metadata address/);
    expect(srv.requests).toHaveLength(0);
  });

  it('connects to the address it checked', async () => {
    const srv = await server();
    const resolver: Resolver = (_host, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const out = await planAction('x', http({ url: `http://service.example:${srv.port}/x` }), planCtx(), { resolver }).run(execCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(srv.requests[0]!.headers.host).toBe(`service.example:${srv.port}`);
  });

  it('refuses loopback when allow_private is false, by IP literal and by name (real DNS lookup)', async () => {
    const srv = await server();
    for (const host of ['127.0.0.1', 'localhost']) {
      const out = await planAction('x', http({ url: `http://${host}:${srv.port}/x`, allow_private: false }), planCtx()).run(execCtx());
      expect(out.status).toBe('refused');
      expect(out.error).toMatch(/loopback address and allow_private is false/);
    }
    expect(srv.requests).toHaveLength(0);
    // Allowed by default.
    const ok = await planAction('x', http({ url: `http://localhost:${srv.port}/x` }), planCtx()).run(execCtx());
    expect(ok.status).toBe('succeeded');
  });

  it('times out a server that never answers', async () => {
    const srv = await server(() => {
      /* never respond */
    });
    const out = await planAction('x', http({ url: `${srv.base}/slow`, timeout: '500ms' }), planCtx()).run(execCtx());
    expect(out.status).toBe('timed_out');
    // The request reached the server and was left unanswered: the timeout, not an error, ended it.
    expect(srv.requests).toHaveLength(1);
  });

  it('stops when the run is cancelled', async () => {
    const srv = await server(() => {
      /* never respond */
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const out = await planAction('x', http({ url: `${srv.base}/slow` }), planCtx()).run(execCtx({ signal: ac.signal }));
    expect(out).toMatchObject({ status: 'failed', error: 'cancelled' });
  });

  it('uses a timeout set on the plan after planning (a step timeout)', async () => {
    const srv = await server(() => {
      /* never respond */
    });
    const plan = planAction('x', http({ url: `${srv.base}/slow`, timeout: '30s' }), planCtx());
    plan.timeoutMs = 300;
    // With the plan's 30 s, this would outlast the test's own timeout: the step's 300 ms must be what applies.
    expect((await plan.run(execCtx())).status).toBe('timed_out');
  });
});
