import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
// The JSON API in-process over a store recorded by the real CLI: the same data as the pages and as `--json`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/util/terminal.js';
import { fixture, reflex } from '../helpers.js';
import { appOver, HOSTILE, recordedProject, TOKEN } from './harness.js';

type App = Awaited<ReturnType<typeof appOver>>;
let dir: string;
let ro: App;
let rw: App;

beforeAll(async () => {
  ({ dir } = recordedProject());
  ro = await appOver(dir);
  rw = await appOver(dir, { token: TOKEN });
});
afterAll(async () => {
  await ro?.store.close();
  await rw?.store.close();
});

const get = async (a: App, path: string) => {
  const res = await a.app.request(path);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text), headers: res.headers };
};
const post = (a: App, path: string, body: unknown, headers: Record<string, string> = {}) =>
  a.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const bearer = { authorization: `Bearer ${TOKEN}` };

describe('/metrics', () => {
  it('serves Reflex’s own series from the store, in the exposition format promtool accepts', async () => {
    const r = await get(ro, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.text).toMatch(/^reflex_run_last_success_timestamp_seconds(\{[^}]*\})? \d/m);
    expect(r.text).toMatch(/^reflex_runs_total\{[^}]*status="ok"[^}]*\} 2$/m);
    if (existsSync('/usr/bin/promtool')) {
      const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    }
  });
});

describe('reading', () => {
  it('the overview has the switch, the last run with its age, shadow results and the recent runs for the chart', async () => {
    const o = (await get(ro, '/api/v1/overview')).json();
    expect(o.automation).toBe('on');
    expect(o.lastRun).toMatchObject({ id: 2, status: 'ok', mode: 'enforce' });
    expect(o.lastRun.ageMs).toBeGreaterThanOrEqual(0);
    expect(o.shadow.run).toBe(2);
    expect(o.shadow.decisions.map((d: { rule: string; target: string }) => `${d.rule} ${d.target}`).sort()).toEqual([
      `shadow-restart ${HOSTILE.script}`,
      `shadow-restart ${HOSTILE.quotes}`,
    ]);
    expect(o.recent.map((r: { id: number }) => r.id)).toEqual([1, 2]);
    expect(o.recent[1].outcomes).toMatchObject({ executed: 2, failed: 1 });
    expect(o.interrupted).toEqual([]);
  });

  it('lists runs newest first, as `reflex history --runs --json` does', async () => {
    const r = (await get(ro, '/api/v1/runs')).json();
    const cli = JSON.parse(reflex(['history', '--runs', '--json'], { cwd: dir }).stdout);
    expect(r.items).toEqual(cli);
    expect(r.more).toBe(false);
  });

  it('a run has outcome counts per rule, its sources with status and time, and stage timings', async () => {
    const d = (await get(ro, '/api/v1/runs/2')).json();
    const rules = Object.fromEntries(d.rules.map((r: { rule: string; counts: Record<string, number> }) => [r.rule, r.counts]));
    expect(rules['restart-unhealthy']).toMatchObject({ evaluated: 10, not_matched: 8, executed: 2 });
    expect(rules['fix-flaky']).toMatchObject({ failed: 1 });
    expect(d.sources).toEqual([expect.objectContaining({ name: 'inventory', kind: 'inventory', status: 'ok', targets: 10 })]);
    expect(d.timings.map((t: { stage: string }) => t.stage)).toEqual(expect.arrayContaining(['collect', 'evaluate']));
    expect((await get(ro, '/api/v1/runs/99')).status).toBe(404);
    expect((await get(ro, '/api/v1/runs/abc')).status).toBe(400);
  });

  it('filters decisions by run, rule, outcome, target and label', async () => {
    const q = async (s: string) => (await get(ro, `/api/v1/decisions?${s}`)).json();
    expect((await q('run=2&outcome=failed')).items.map((d: { rule: string }) => d.rule)).toEqual(['fix-flaky']);
    expect((await q('rule=fix-flaky')).items.map((d: { runId: number; outcome: string }) => `${d.runId} ${d.outcome}`)).toEqual(['2 failed', '1 dry_run']);
    expect((await q(`target=${encodeURIComponent(HOSTILE.script)}&run=2`)).items.map((d: { rule: string }) => d.rule).sort()).toEqual([
      'restart-unhealthy',
      'shadow-restart',
    ]);
    // A label filter reads the snapshot: team=core is the quoted target only among those decided about.
    const byLabel = await q(`label=${encodeURIComponent('team=core')}`);
    expect(byLabel.run).toBe(2);
    expect(new Set(byLabel.items.map((d: { target: string }) => d.target))).toEqual(new Set([HOSTILE.quotes]));
    const hostileLabel = await q(`label=${encodeURIComponent(`team=${HOSTILE.label}`)}&run=1`);
    expect(new Set(hostileLabel.items.map((d: { target: string }) => d.target))).toEqual(new Set([HOSTILE.script]));
    expect((await get(ro, '/api/v1/decisions?outcome=nonsense')).status).toBe(400);
    expect((await get(ro, '/api/v1/decisions?label=nolabel')).status).toBe(400);
  });

  it('the why of a decision is the document of `reflex why --json`, and its text what `reflex why` prints', async () => {
    for (const t of [HOSTILE.script, HOSTILE.quotes, HOSTILE.control, 'web-1']) {
      const api = (await get(ro, `/api/v1/why?run=2&target=${encodeURIComponent(t)}`)).json();
      const cli = reflex(['why', t, '--run', '2', '--json'], { cwd: dir });
      expect(cli.status).toBe(0);
      expect(api).toEqual(JSON.parse(cli.stdout));
      const text = (await get(ro, `/api/v1/why?run=2&target=${encodeURIComponent(t)}&format=text`)).text;
      expect(terminalSafe(text)).toBe(reflex(['why', t, '--run', '2'], { cwd: dir }).stdout);
    }
    const one = (await get(ro, `/api/v1/why?run=2&target=${encodeURIComponent(HOSTILE.quotes)}&rule=fix-flaky`)).json();
    expect(one.decisions.map((d: { rule: string }) => d.rule)).toEqual(['fix-flaky']);
    expect(one.executions.map((e: { status: string }) => e.status)).toEqual(['failed']);
    const missing = await get(ro, '/api/v1/why?run=2&target=web-7');
    expect(missing.status).toBe(404);
    expect(missing.json().error).toContain('did you mean');
  });

  it("a target's history spans runs, with its executions", async () => {
    const t = (await get(ro, `/api/v1/targets/${encodeURIComponent(HOSTILE.quotes)}`)).json();
    expect(t.seen).toMatchObject({ run: 2, kind: 'instance', labels: { service: 'shop', team: 'core' } });
    expect(new Set(t.decisions.map((d: { runId: number }) => d.runId))).toEqual(new Set([1, 2]));
    expect(t.executions.map((e: { action: string; status: string }) => `${e.action} ${e.status}`).sort()).toEqual(['break failed', 'poke succeeded']);
    expect((await get(ro, '/api/v1/targets/nobody')).status).toBe(404);
  });

  it('the journal filters by status, rule and target', async () => {
    const all = (await get(ro, '/api/v1/executions')).json();
    expect(all.items).toHaveLength(3);
    expect((await get(ro, '/api/v1/executions?status=failed')).json().items.map((e: { rule: string }) => e.rule)).toEqual(['fix-flaky']);
    expect((await get(ro, '/api/v1/executions?rule=restart-unhealthy')).json().items).toHaveLength(2);
    const one = (await get(ro, `/api/v1/executions/${all.items[0].id}`)).json();
    expect(one).toEqual(all.items[0]);
    expect((await get(ro, '/api/v1/executions/999')).status).toBe(404);
  });

  it('rules carry their mode and, given coverage, their scenario tests', async () => {
    const rules = (await get(ro, '/api/v1/rules')).json();
    expect(rules.map((r: { name: string; mode: string; kind: string }) => `${r.name} ${r.kind} ${r.mode}`)).toEqual([
      'restart-unhealthy act enforce',
      'fix-flaky act enforce',
      'shadow-restart act dry-run',
    ]);
    expect(rules[0]).toMatchObject({ tests: null, enforcedUntested: true, file: 'rules/app.yaml' });
    const cov = await appOver(dir, { coverage: new Map([['restart-unhealthy', { tested: true, passing: true, fired: true }]]) });
    try {
      const r = (await get(cov, '/api/v1/rules')).json();
      expect(r[0]).toMatchObject({ tests: { passing: true }, enforcedUntested: false });
    } finally {
      await cov.store.close();
    }
  });

  it('serves its OpenAPI document, generated from the schemas the API validates with', async () => {
    const doc = (await get(ro, '/api/v1/openapi.json')).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/overview',
        '/runs',
        '/runs/{id}',
        '/decisions',
        '/why',
        '/targets/{id}',
        '/executions',
        '/guardrails',
        '/rules',
        '/switch',
        '/disables',
      ]),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Decision', 'Run', 'Execution', 'Why', 'Disable', 'SwitchRequest']));
    expect(doc.paths['/switch'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('/healthz answers with the store kind and the last run', async () => {
    const h = (await get(ro, '/healthz')).json();
    expect(h).toMatchObject({ status: 'ok', store: 'sqlite', lastRun: { id: 2, status: 'ok' } });
  });
});

describe('changing state through the API', () => {
  it('the off switch goes through the store and audit log that `reflex disable --all` uses', async () => {
    const off = await post(rw, '/api/v1/switch', { off: true, reason: 'INC-7 failover', until: '2h', by: 'alice' }, bearer);
    expect(off.status).toBe(200);
    expect(await off.json()).toEqual({ off: true, wasOff: false });
    const status = reflex(['status', '--json'], { cwd: dir });
    const st = JSON.parse(status.stdout);
    expect(st.automation).toBe('off');
    expect(st.switch).toMatchObject({ off: true, by: 'alice', reason: 'INC-7 failover' });
    expect(st.switch.until - st.switch.at).toBe(2 * 3600_000);
    expect(st.audit[0]).toMatchObject({ by: 'alice', action: 'disable:all', detail: { reason: 'INC-7 failover', client: 'in-process', via: 'api' } });
    expect((await get(rw, '/api/v1/overview')).json().automation).toBe('off');
    // A run now acts on nothing.
    expect(reflex(['run', '--json'], { cwd: dir }).stdout).toContain('switch:off');
    const on = await post(rw, '/api/v1/switch', { off: false }, bearer);
    expect(await on.json()).toEqual({ off: false, wasOff: true });
    const after = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(after.automation).toBe('on');
    expect(after.audit[0]).toMatchObject({ by: 'api', action: 'enable:all' });
  });

  it('switching off needs a reason; a past expiry is refused; nothing is written then', async () => {
    const before = (await rw.store.listAudit(100)).length;
    const r1 = await post(rw, '/api/v1/switch', { off: true }, bearer);
    expect(r1.status).toBe(400);
    expect((await r1.json()).error).toContain('reason');
    const r2 = await post(rw, '/api/v1/switch', { off: true, reason: 'x', until: '2000-01-01T00:00:00Z' }, bearer);
    expect(r2.status).toBe(400);
    expect((await r2.json()).error).toContain('in the past');
    const r3 = await post(rw, '/api/v1/switch', { off: 'yes' }, bearer);
    expect(r3.status).toBe(400);
    expect((await rw.store.getSwitch()).off).toBe(false);
    expect((await rw.store.listAudit(100)).length).toBe(before);
  });

  it('disables a rule, a hostile target and a selector, and enables them, audited as the CLI does', async () => {
    const d1 = await post(rw, '/api/v1/disables', { scope: 'rule', value: 'fix-flaky', reason: 'flapping', by: 'bob' }, bearer);
    expect(d1.status).toBe(200);
    const rec = await d1.json();
    expect(rec).toMatchObject({ scope: 'rule', value: 'fix-flaky', by: 'bob', reason: 'flapping', until: null, removedAt: null });
    const d2 = await post(rw, '/api/v1/disables', { scope: 'target', value: HOSTILE.script, reason: 'being rebuilt', until: '30m' }, bearer);
    expect(d2.status).toBe(200);
    const d3 = await post(rw, '/api/v1/disables', { scope: 'selector', value: 'service=cart, team=core', reason: 'migration' }, bearer);
    expect(await d3.json()).toMatchObject({ scope: 'selector', value: 'service=cart,team=core', selector: { service: 'cart', team: 'core' } });
    const st = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(st.disables.map((d: { scope: string; value: string }) => `${d.scope} ${d.value}`)).toEqual(
      expect.arrayContaining(['rule fix-flaky', `target ${HOSTILE.script}`, 'selector service=cart,team=core']),
    );
    const audit = await rw.store.listAudit(3);
    expect(audit.map((a) => a.action).sort()).toEqual(['disable:rule', 'disable:selector', 'disable:target']);
    // Lifting one by its id, and then again: the second lifts nothing.
    const e1 = await post(rw, `/api/v1/disables/${rec.id}/enable`, { reason: 'fixed', by: 'bob' }, bearer);
    expect((await e1.json()).lifted.map((d: { id: number }) => d.id)).toEqual([rec.id]);
    expect((await rw.store.listAudit(1))[0]).toMatchObject({ by: 'bob', action: 'enable:rule', detail: { id: rec.id, reason: 'fixed', via: 'api' } });
    const e2 = await post(rw, `/api/v1/disables/${rec.id}/enable`, {}, bearer);
    expect((await e2.json()).lifted).toEqual([]);
    for (const d of await rw.store.listDisables({ activeAt: Date.now() })) await rw.store.removeDisables({ id: d.id }, 'test', Date.now());
  });

  it('refuses a disable that names nothing real, saying what there is', async () => {
    const cases: [unknown, string][] = [
      [{ scope: 'rule', value: 'fix-flakky', reason: 'x' }, 'did you mean "fix-flaky"'],
      [{ scope: 'action', value: 'nope', reason: 'x' }, 'actions: poke, break'],
      [{ scope: 'target', value: 'web-77', reason: 'x' }, 'no target "web-77"'],
      [{ scope: 'selector', value: 'team=nobody', reason: 'x' }, 'matches nothing'],
      [{ scope: 'selector', value: 'garbage', reason: 'x' }, ''],
      [{ scope: 'rule', value: 'fix-flaky', reason: '' }, 'reason'],
      [{ scope: 'everything', value: 'x', reason: 'x' }, 'scope'],
    ];
    for (const [body, msg] of cases) {
      const r = await post(rw, '/api/v1/disables', body, bearer);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((await r.json()).error).toContain(msg);
    }
    expect(await rw.store.listDisables({ activeAt: Date.now() })).toEqual([]);
  });

  it('a console without a token is read-only and says so', async () => {
    const r = await post(ro, '/api/v1/switch', { off: true, reason: 'x' }, bearer);
    expect(r.status).toBe(403);
    expect((await r.json()).error).toContain('read-only');
    const page = await get(ro, '/');
    expect(page.text).toContain('read-only: no token configured');
    expect((await ro.store.getSwitch()).off).toBe(false);
  });
});

describe('pagination', () => {
  it('pages through decisions and runs without overlap or loss', async () => {
    const targets = Array.from(
      { length: 120 },
      (_, i) => `  - { id: t-${String(i).padStart(3, '0')}, kind: instance, labels: { service: s${i % 2} }, facts: { healthy: false } }`,
    );
    const d = fixture({
      'reflex.yaml': `store: .reflex/state.db
rules: [rules/*.yaml]
sources: [{ name: inventory, kind: inventory, path: inventory.yaml }]
actions: { poke: { kind: exec, argv: [node, -e, "0"] } }
`,
      'inventory.yaml': `targets:\n${targets.join('\n')}\n`,
      'rules/a.yaml': 'rules:\n  - name: r\n    target: { kind: instance }\n    when: { down: "!facts.healthy" }\n    do: [{ action: poke }]\n',
    });
    // Every target unhealthy trips the widespread breaker: the run says so with exit 1.
    expect([0, 1]).toContain(reflex(['run', '--dry-run', '-q'], { cwd: d }).status);
    const a = await appOver(d);
    try {
      const seen: string[] = [];
      for (let p = 0; p < 3; p++) {
        const r = (await get(a, `/api/v1/decisions?run=1&page=${p}`)).json();
        expect(r.more).toBe(p < 2);
        expect(r.total).toBe(120);
        seen.push(...r.items.map((x: { target: string }) => x.target));
      }
      expect(new Set(seen).size).toBe(120);
      const across = [0, 1, 2].map(async (p) => (await get(a, `/api/v1/decisions?page=${p}`)).json());
      const pages = await Promise.all(across);
      expect(pages.map((x) => x.items.length)).toEqual([50, 50, 20]);
      expect(new Set(pages.flatMap((x) => x.items.map((i: { target: string }) => i.target))).size).toBe(120);
      const half = (await get(a, `/api/v1/decisions?label=service%3Ds1&page=1`)).json();
      expect([half.total, half.items.length, half.more]).toEqual([60, 10, false]);
    } finally {
      await a.store.close();
    }
  });
});
