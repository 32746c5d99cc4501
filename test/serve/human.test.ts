// The console's human half in-process over a store recorded by the real CLI: approvals answered through the same code
// as `reflex approve` / `reflex reject` (refusals included), verifications and letting a rule act again, every decision
// of a run in the listings (derived and unknown ones recomputed), and hostile strings on the new pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/util/terminal.js';
import { reflex } from '../helpers.js';
import { appOver, HOSTILE, humanProject, TOKEN } from './harness.js';

type App = Awaited<ReturnType<typeof appOver>>;
let dir: string;
let ro: App;
let rw: App;
const CLIENT = '192.0.2.7:51234';

beforeAll(async () => {
  ({ dir } = humanProject());
  ro = await appOver(dir);
  rw = await appOver(dir, { token: TOKEN, client: CLIENT });
});
afterAll(async () => {
  await ro?.store.close();
  await rw?.store.close();
});

const bearer = { authorization: `Bearer ${TOKEN}` };
const post = (a: App, path: string, body: unknown, headers: Record<string, string> = {}) =>
  a.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

async function login(a: App, name = 'dana'): Promise<{ cookie: string; csrf: string }> {
  const res = await a.app.request('/login', { method: 'POST', body: new URLSearchParams({ name, token: TOKEN, next: '/approvals' }) });
  expect(res.status).toBe(303);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await a.app.request('/approvals', { headers: { cookie } })).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)![1]! };
}
const form = (a: App, path: string, cookie: string, fields: Record<string, string>) =>
  a.app.request(path, { method: 'POST', headers: { cookie }, body: new URLSearchParams(fields) });

describe('approvals', () => {
  it('lists the pending requests with rule, target, actions, the guard that asked and a link to the decision; the overview counts them', async () => {
    const a = await (await ro.app.request('/api/v1/approvals')).json();
    expect(a.pending.map((x: { id: number; target: string; status: string }) => `${x.id} ${x.target} ${x.status}`)).toEqual([
      `1 ${HOSTILE.script} pending`,
      `2 ${HOSTILE.quotes} pending`,
    ]);
    expect(a.pending[0]).toMatchObject({ rule: 'repair', guard: 'mode', askedRun: 1, facts: { 'facts.broken': true } });
    expect(a.pending[0].actions[0].describe).toContain('process.exit(0)');
    const cli = JSON.parse(reflex(['approvals', '--json'], { cwd: dir }).stdout) as { id: number; ageMs: number; approve: string }[];
    expect(a.pending).toEqual(
      cli
        .map(({ ageMs: _a, approve: _b, ...rest }) => rest)
        .sort((x, y) => x.id - y.id)
        .map((x) => expect.objectContaining(x)),
    );
    const o = await (await ro.app.request('/api/v1/overview')).json();
    expect(o).toMatchObject({ pendingApprovals: 2, ineffective: 1 });
    const overview = await (await ro.app.request('/')).text();
    expect(overview).toMatch(/id="pending-approvals"[\s\S]*<a href="\/approvals">2<\/a>/);
    expect(overview).toContain('<a href="/approvals" class="">Approvals</a>');

    const page = await (await ro.app.request('/approvals')).text();
    expect(page).toContain('the rule asks before it acts (mode: approve): the rule is in mode: approve');
    expect(page).toContain(`href="/why?run=1&amp;target=${encodeURIComponent(HOSTILE.script)}&amp;rule=repair"`);
    expect(page).toContain('lasts 30m once approved');
    // Read-only: no form, the commands instead, and the page says why.
    expect(page).not.toContain('action="/approvals/1/approve"');
    expect(page).toContain('reflex approve 1 --reason &quot;...&quot;');
    expect(page).toContain('This console is read-only (no token configured)');
  });

  it('refuses an answer without the token (401), with a wrong one (403), and on a read-only console (403), changing nothing', async () => {
    const body = { reason: 'ok' };
    const none = await post(rw, '/api/v1/approvals/1/approve', body);
    expect(none.status).toBe(401);
    expect((await none.json()).error).toContain('Bearer');
    const wrong = await post(rw, '/api/v1/approvals/1/approve', body, { authorization: 'Bearer nope-nope-nope-nope' });
    expect(wrong.status).toBe(403);
    expect((await wrong.json()).error).toBe('wrong token');
    const readOnly = await post(ro, '/api/v1/approvals/1/approve', body, bearer);
    expect(readOnly.status).toBe(403);
    expect((await readOnly.json()).error).toContain('read-only');
    expect((await rw.store.getApproval(1))!.status).toBe('pending');
  });

  it('approves through the API as reflex approve does: by, reason, expiry, and the audit entry with the client address', async () => {
    expect((await post(rw, '/api/v1/approvals/1/approve', { reason: '  ' }, bearer)).status).toBe(400);
    const badExpiry = await post(rw, '/api/v1/approvals/1/approve', { reason: 'ok', expires: 'soon' }, bearer);
    expect(badExpiry.status).toBe(400);
    expect((await badExpiry.json()).error).toMatch(/^expires: /);
    const res = await post(rw, '/api/v1/approvals/1/approve', { reason: 'disk is fine', expires: '1h', by: 'erin' }, bearer);
    expect(res.status).toBe(200);
    const a = await res.json();
    expect(a).toMatchObject({ id: 1, status: 'approved', by: 'erin', reason: 'disk is fine' });
    expect(a.expiresAt - a.decidedAt).toBe(3_600_000);
    const audit = (await rw.store.listAudit(5)).find((x) => x.action === 'approve')!;
    expect(audit).toMatchObject({ by: 'erin', detail: { id: 1, rule: 'repair', target: HOSTILE.script, reason: 'disk is fine', client: CLIENT, via: 'api' } });

    // Twice: the same refusal as the CLI's, as a 409 with how it stands; an unknown id is a 404.
    const again = await post(rw, '/api/v1/approvals/1/reject', { reason: 'changed my mind' }, bearer);
    expect(again.status).toBe(409);
    const msg = (await again.json()).error as string;
    expect(msg).toMatch(/^approval #1 is not pending: it is approved by erin .* \("disk is fine"\), expires in .*; nothing changed$/);
    const cli = reflex(['reject', '1', '--reason', 'x'], { cwd: dir });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain('approval #1 is not pending: it is approved by erin');
    const missing = await post(rw, '/api/v1/approvals/99/approve', { reason: 'x' }, bearer);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('no approval #99 (reflex approvals lists the pending ones)');
  });

  it('answers through the form: CSRF token and reason required, the login name as by, refusals shown on the page', async () => {
    const { cookie, csrf } = await login(rw);
    const noCsrf = await form(rw, '/approvals/2/reject', cookie, { reason: 'no' });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.text()).toContain('no valid CSRF token');
    const noReason = await form(rw, '/approvals/2/reject', cookie, { _csrf: csrf, reason: ' ' });
    expect(noReason.status).toBe(400);
    const noReasonPage = await noReason.text();
    expect(noReasonPage).toContain('a reason is required');
    expect(noReasonPage).toContain('<h1>Approvals</h1>');
    expect((await rw.store.getApproval(2))!.status).toBe('pending');

    const hostile = `${HOSTILE.script} ${HOSTILE.label}`;
    const ok = await form(rw, '/approvals/2/reject', cookie, { _csrf: csrf, reason: hostile });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/approvals?answered=2');
    expect(await rw.store.getApproval(2)).toMatchObject({ status: 'rejected', by: 'dana', reason: hostile });
    const audit = (await rw.store.listAudit(5)).find((x) => x.action === 'reject')!;
    expect(audit).toMatchObject({ by: 'dana', detail: { id: 2, client: CLIENT, via: 'console' } });
    const after = await (await rw.app.request('/approvals?answered=2', { headers: { cookie } })).text();
    expect(after).toContain('role="status"');
    expect(after).toContain(html(`approval #2: rejected by dana ("${hostile}")`));

    const twice = await form(rw, '/approvals/2/approve', cookie, { _csrf: csrf, reason: 'yes after all' });
    expect(twice.status).toBe(409);
    const page = await twice.text();
    expect(page).toContain('role="alert"');
    expect(page).toContain('approval #2 is not pending: it is rejected by dana');
    expect(page).not.toContain('    at ');
    expect((await form(rw, '/approvals/2/maybe', cookie, { _csrf: csrf, reason: 'x' })).status).toBe(404);
  });
});

describe('the OpenAPI document', () => {
  it('has the approvals and verifications calls from the same schemas, the changes behind the bearer token', async () => {
    const doc = await (await ro.app.request('/api/v1/openapi.json')).json();
    for (const p of ['/approvals', '/verifications']) expect(doc.paths[p].get, p).toBeDefined();
    for (const p of ['/approvals/{id}/approve', '/approvals/{id}/reject', '/verifications/clear']) {
      expect(doc.paths[p].post.security, p).toEqual([{ bearer: [] }]);
      expect(Object.keys(doc.paths[p].post.responses), p).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409']));
    }
    expect(doc.components.schemas.AnswerRequest.required).toEqual(['reason']);
    expect(doc.components.schemas.Approval.properties.status.enum).toContain('pending');
  });
});

describe('verifications', () => {
  const ctl = 'ctl-\u001b[31m-red\u0007';

  it('the target page shows the verification as reflex why prints it, and the listing puts the ineffective one first with its command', async () => {
    const why = reflex(['why', ctl, '--run', '2'], { cwd: dir }).stdout;
    const line = why
      .split('\n')
      .find((l) => l.includes('verification of execution #1'))!
      .trim();
    expect(line).toContain('INEFFECTIVE');
    const target = await (await ro.app.request(`/target?id=${encodeURIComponent(ctl)}`)).text();
    expect(target).toContain(html(line));
    const whyPage = await (await ro.app.request(`/why?run=2&target=${encodeURIComponent(ctl)}`)).text();
    expect(whyPage).toContain(html(line));
    const v = await (await ro.app.request('/api/v1/verifications')).json();
    expect(v.stopping.map((x: { executionId: number; status: string; clearedAt: null }) => [x.executionId, x.status, x.clearedAt])).toEqual([
      [1, 'ineffective', null],
    ]);
    const page = await (await ro.app.request('/verifications')).text();
    expect(page).toContain(html(`reflex enable --rule nudge --target ${terminalSafe(ctl)} --reason "..."`));
    expect(page).toContain('<tr class="bad">');
    expect(page).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
  });

  it('lets the rule act again through the same audited path as reflex enable --rule --target, and says so when there is nothing to clear', async () => {
    const none = await post(rw, '/api/v1/verifications/clear', { rule: 'nudge', target: ctl });
    expect(none.status).toBe(401);
    const { cookie, csrf } = await login(rw, 'frank');
    const page = await (await rw.app.request('/verifications', { headers: { cookie } })).text();
    expect(page).toContain('<input type="hidden" name="execution" value="1"/>');
    const res = await form(rw, '/verifications/clear', cookie, { _csrf: csrf, execution: '1', reason: 'replaced the cable' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/verifications?cleared=1');
    const after = await (await rw.app.request('/verifications?cleared=1', { headers: { cookie } })).text();
    expect(after).toContain(html(`rule "nudge" may act on ${terminalSafe(ctl)} again (execution #1 did not help; cleared by frank)`));
    const [v] = await rw.store.listVerifications({ target: ctl, limit: 1 });
    expect(v).toMatchObject({ status: 'ineffective', clearedBy: 'frank' });
    const audit = (await rw.store.listAudit(5)).find((x) => x.action === 'enable:verification')!;
    expect(audit).toMatchObject({
      by: 'frank',
      detail: { rule: 'nudge', target: ctl, execution: 1, reason: 'replaced the cable', client: CLIENT, via: 'console' },
    });
    const again = await post(rw, '/api/v1/verifications/clear', { rule: 'nudge', target: ctl }, bearer);
    expect(again.status).toBe(409);
    expect((await again.json()).error).toContain('is not stopped on');
  });
});

describe('every decision of a run in the listings', () => {
  it('lists derived decisions (not stored) and its counts per outcome agree with the run detail', async () => {
    const stored = await ro.store.getDecisions(2);
    expect(stored.some((d) => d.outcome === 'derived')).toBe(false);
    const d = await (await ro.app.request('/api/v1/runs/2')).json();
    let checked = 0;
    for (const { rule, counts } of d.rules as { rule: string; counts: Record<string, number> }[])
      for (const [outcome, n] of Object.entries(counts)) {
        if (outcome === 'evaluated' || outcome === 'not_matched' || outcome === 'matched' || !n) continue;
        const page = await (await ro.app.request(`/api/v1/decisions?run=2&rule=${rule}&outcome=${outcome}`)).json();
        expect(page.total, `${rule} ${outcome}`).toBe(n);
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(3);
    const derived = await (await ro.app.request('/api/v1/decisions?run=2&outcome=derived')).json();
    expect(derived.items.map((x: { target: string }) => x.target).sort()).toEqual([HOSTILE.script, HOSTILE.quotes, 'ctl-\u001b[31m-red\u0007'].sort());
  });
});

describe('hostile strings on the new pages', () => {
  it('escapes target ids, labels and reasons on the approvals, verifications and target pages', async () => {
    const { cookie } = await login(rw, 'gina');
    for (const p of ['/approvals', '/verifications', `/target?id=${encodeURIComponent(HOSTILE.script)}`, `/target?id=${encodeURIComponent(HOSTILE.quotes)}`])
      for (const headers of [{}, { cookie }]) {
        const res = await rw.app.request(p, { headers });
        const text = await res.text();
        expect(res.status, p).toBe(200);
        expect(text, p).not.toContain('<script>alert');
        expect(text, p).not.toContain('<img src=x');
        expect(text, p).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
        expect(text.match(/<script\b[^>]*>/g) ?? [], p).toEqual(['<script src="/static/console.js" defer="">']);
      }
  });
});
