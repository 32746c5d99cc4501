// Refusals: XSS through target strings, CSRF, a missing or wrong token, cross-site requests, path traversal, open
// redirects; and the security headers on every kind of response.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/serve/auth.js';
import { startServer, type Running } from '../../src/serve/server.js';
import { appOver, HOSTILE, recordedProject, TOKEN } from './harness.js';

type App = Awaited<ReturnType<typeof appOver>>;
let dir: string;
let rw: App;

beforeAll(async () => {
  ({ dir } = recordedProject());
  rw = await appOver(dir, { token: TOKEN });
});
afterAll(async () => {
  await rw?.store.close();
});

const PAGES = () => [
  '/',
  '/runs',
  '/runs/1',
  '/runs/2',
  '/decisions',
  '/decisions?run=2',
  `/decisions?label=${encodeURIComponent(`team=${HOSTILE.label}`)}`,
  `/decisions?target=${encodeURIComponent(HOSTILE.script)}`,
  '/executions',
  '/guardrails',
  '/rules',
  '/login',
  ...Object.values(HOSTILE)
    .filter((v) => v !== HOSTILE.label)
    .flatMap((t) => [`/why?run=2&target=${encodeURIComponent(t)}`, `/target?id=${encodeURIComponent(t)}`]),
  `/why?run=2&target=${encodeURIComponent('<b>nobody</b>')}`,
];

/** Log in through the form; returns the cookie header and the CSRF token of the session. */
async function login(a: App, name = 'carol'): Promise<{ cookie: string; csrf: string }> {
  const res = await a.app.request('/login', { method: 'POST', body: new URLSearchParams({ name, token: TOKEN, next: '/guardrails' }) });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/guardrails');
  const set = res.headers.get('set-cookie')!;
  expect(set).toMatch(/HttpOnly/);
  expect(set).toMatch(/SameSite=Strict/);
  const cookie = set.split(';')[0]!;
  const page = await (await a.app.request('/guardrails', { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  return { cookie, csrf };
}

describe('escaping what targets and sources say', () => {
  it('no page carries a hostile id or label as markup, a control character or a bidi override', async () => {
    const { cookie } = await login(rw);
    for (const p of PAGES()) {
      for (const headers of [{}, { cookie }]) {
        const res = await rw.app.request(p, { headers });
        const html = await res.text();
        expect([200, 404], p).toContain(res.status);
        expect(html, p).not.toContain('<script>alert');
        expect(html, p).not.toContain('<img src=x');
        expect(html, p).not.toContain('<b>nobody');
        expect(html, p).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
        // The only scripts are the console's own file.
        expect(html.match(/<script\b[^>]*>/g) ?? [], p).toEqual(['<script src="/static/console.js" defer="">']);
      }
    }
  });

  it('shows them escaped and visible instead', async () => {
    const why = await (await rw.app.request(`/why?run=2&target=${encodeURIComponent(HOSTILE.script)}`)).text();
    expect(why).toContain('target &lt;script&gt;alert(1)&lt;/script&gt; (instance)');
    expect(why).toContain('team=&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    const ctl = await (await rw.app.request(`/target?id=${encodeURIComponent(HOSTILE.control)}`)).text();
    expect(ctl).toContain('ctl-\\e[31m-red\\a');
    const bidi = await (await rw.app.request(`/why?run=2&target=${encodeURIComponent(HOSTILE.bidi)}`)).text();
    expect(bidi).toContain('bidi-\\u202eevil');
    // In attributes too: links to a hostile target are encoded.
    const list = await (await rw.app.request('/decisions?run=2')).text();
    expect(list).toContain(`href="/target?id=${encodeURIComponent(HOSTILE.quotes).replace(/'/g, '&#39;')}"`);
  });
});

describe('authentication', () => {
  it('refuses a change without a token, or with a wrong one, and writes nothing', async () => {
    const body = JSON.stringify({ off: true, reason: 'x' });
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ authorization: 'Bearer wrong-token-0123456789' }, 403],
      [{ authorization: `Bearer ${TOKEN}x` }, 403],
      [{ authorization: `Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}` }, 403],
      [{ authorization: TOKEN }, 403],
    ];
    for (const [h, status] of cases) {
      const r = await rw.app.request('/api/v1/switch', { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body });
      expect(r.status, JSON.stringify(h)).toBe(status);
    }
    const d = await rw.app.request('/api/v1/disables', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'rule', value: 'fix-flaky', reason: 'x' }),
    });
    expect(d.status).toBe(401);
    expect((await rw.store.getSwitch()).off).toBe(false);
    expect(await rw.store.listDisables({})).toEqual([]);
    expect(await rw.store.listAudit(10)).toEqual([]);
  });

  it('a wrong token at the login form sets no cookie', async () => {
    const res = await rw.app.request('/login', { method: 'POST', body: new URLSearchParams({ name: 'mallory', token: 'nope' }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('wrong token');
    expect(rw.lines.join('\n')).toContain('failed login as "mallory"');
    const bad = await rw.app.request('/login', { method: 'POST', body: new URLSearchParams({ name: '<x>', token: TOKEN }) });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it('a form change needs the session and its CSRF token; a forged or foreign one is refused', async () => {
    const { cookie, csrf } = await login(rw, 'dave');
    const form = (extra: Record<string, string>) => new URLSearchParams({ state: 'off', reason: 'INC-9', ...extra });
    const tries: [Record<string, string>, Record<string, string>, number][] = [
      [{}, {}, 401], // no session
      [{ cookie }, {}, 403], // no CSRF token
      [{ cookie }, { _csrf: 'forged' }, 403],
      [{ cookie }, { _csrf: `${csrf.slice(0, -2)}xx` }, 403],
      [{ cookie, origin: 'http://evil.example' }, { _csrf: csrf }, 403], // a cross-site form
      [{ cookie, 'sec-fetch-site': 'cross-site' }, { _csrf: csrf }, 403],
      // tampered cookie: its last character changed (to another one, whatever it was)
      [{ cookie: `${SESSION_COOKIE}=${cookie.split('=')[1]!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}` }, { _csrf: csrf }, 401],
    ];
    for (const [headers, extra, status] of tries) {
      const r = await rw.app.request('/switch', { method: 'POST', headers: { host: 'localhost', ...headers }, body: form(extra) });
      expect(r.status, JSON.stringify([headers, extra])).toBe(status);
    }
    expect((await rw.store.getSwitch()).off).toBe(false);
    // Another session's CSRF token does not fit this one.
    const other = await login(rw, 'erin');
    const cross = await rw.app.request('/switch', { method: 'POST', headers: { cookie }, body: form({ _csrf: other.csrf }) });
    expect(cross.status).toBe(403);
    const ok = await rw.app.request('/switch', {
      method: 'POST',
      headers: { cookie, origin: 'http://localhost', host: 'localhost' },
      body: form({ _csrf: csrf }),
    });
    expect(ok.status).toBe(303);
    expect(await rw.store.getSwitch()).toMatchObject({ off: true, by: 'dave', reason: 'INC-9' });
    expect((await rw.store.listAudit(1))[0]).toMatchObject({ by: 'dave', action: 'disable:all', detail: { via: 'console', client: 'in-process' } });
    const back = await rw.app.request('/switch', { method: 'POST', headers: { cookie }, body: new URLSearchParams({ state: 'on', _csrf: csrf }) });
    expect(back.status).toBe(303);
    expect((await rw.store.getSwitch()).off).toBe(false);
  });

  it('a session may use the API with its CSRF token in a header, not without', async () => {
    const { cookie, csrf } = await login(rw, 'frank');
    const body = JSON.stringify({ off: true, reason: 'api from the page' });
    const no = await rw.app.request('/api/v1/switch', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(no.status).toBe(401);
    const yes = await rw.app.request('/api/v1/switch', { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body });
    expect(yes.status).toBe(200);
    expect((await rw.store.listAudit(1))[0]).toMatchObject({ by: 'frank', detail: { via: 'console' } });
    await rw.app.request('/api/v1/switch', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ off: false }),
    });
  });

  it('logging in never redirects off the console', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await rw.app.request('/login', { method: 'POST', body: new URLSearchParams({ name: 'gina', token: TOKEN, next }) });
      expect(res.headers.get('location'), next).toBe('/');
    }
  });
});

describe('headers and static files', () => {
  it('every response carries the CSP, frame denial and nosniff', async () => {
    for (const p of ['/', '/api/v1/overview', '/static/console.css', '/nope', '/api/v1/runs/999', '/healthz', '/api/v1/openapi.json']) {
      const res = await rw.app.request(p);
      expect(res.headers.get('content-security-policy'), p).toContain("default-src 'self'");
      expect(res.headers.get('content-security-policy'), p).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options'), p).toBe('DENY');
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
    }
  });

  it('refuses paths that try to leave the static folder, in-process and on a real socket', async () => {
    const tries = [
      '/static/../package.json',
      '/static/..%2f..%2fpackage.json',
      '/static/%2e%2e/%2e%2e/package.json',
      '/static/..%5c..%5cpackage.json',
      '/static/console.css/../../../package.json',
      '/static/....//....//package.json',
      '/static/%00console.css',
      '/static/',
      '/static/.env',
    ];
    for (const p of tries) {
      const res = await rw.app.request(p);
      const text = await res.text();
      expect(res.status, p).toBe(404);
      expect(text, p).not.toContain('"name": "reflex-remediation"');
    }
    const running: Running = await startServer({ store: rw.store, loaded: rw.loaded, coverage: null }, { token: TOKEN, host: '127.0.0.1', port: 0 });
    try {
      for (const p of tries) {
        // node:http sends the path as written (fetch would normalise the dots away).
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: running.port, path: p, method: 'GET', timeout: 10_000 }, (res) => {
            let b = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (b += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          req.end();
        });
        expect(status, p).not.toBe(200);
        expect(body, p).not.toContain('reflex-remediation');
      }
      const css = await fetch(`${running.url}/static/console.css`);
      expect(css.status).toBe(200);
      expect(css.headers.get('content-type')).toContain('text/css');
    } finally {
      await running.close();
    }
  });
});
