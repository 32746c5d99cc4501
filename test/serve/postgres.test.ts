// The console over a PostgreSQL store: the same reads, the same why, the off switch through the same writes.
import { afterAll, describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/util/terminal.js';
import { fixture, reflex } from '../helpers.js';
import { PG_URL, pgSkipReason, schemaFactory } from '../store/pg.js';
import { appOver, FILES, HOSTILE, HUMAN_FILES, humanProject, TOKEN } from './harness.js';

const schemas = schemaFactory('console');
afterAll(() => schemas.dropAll());

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason !== null)('reflex serve on PostgreSQL', () => {
  it('reads runs and decisions, explains as reflex why does, and switches automation off and on', async () => {
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}schema=${schemas.next()}`;
    const dir = fixture(
      { ...FILES, 'reflex.yaml': FILES['reflex.yaml']!.replace('store: .reflex/state.db', `store: ${JSON.stringify(url)}`) },
      'reflex-serve-pg-',
    );
    for (const args of [
      ['run', '--dry-run', '-q'],
      ['run', '-q'],
    ])
      expect([0, 1]).toContain(reflex(args, { cwd: dir }).status);
    const a = await appOver(dir, { token: TOKEN });
    try {
      const o = await (await a.app.request('/api/v1/overview')).json();
      expect(o.lastRun).toMatchObject({ id: 2, status: 'ok' });
      expect(o.recent[1].outcomes).toMatchObject({ executed: 2, failed: 1 });
      const why = await (await a.app.request(`/api/v1/why?run=2&target=${encodeURIComponent(HOSTILE.quotes)}&format=text`)).text();
      expect(terminalSafe(why)).toBe(reflex(['why', HOSTILE.quotes, '--run', '2'], { cwd: dir }).stdout);
      const page = await (await a.app.request(`/decisions?run=2&label=${encodeURIComponent('team=core')}`)).text();
      expect(page).toContain('fix-flaky');
      const off = await a.app.request('/api/v1/switch', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ off: true, reason: 'pg failover', by: 'pat' }),
      });
      expect(off.status).toBe(200);
      const st = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
      expect(st.switch).toMatchObject({ off: true, by: 'pat', reason: 'pg failover' });
      expect(st.audit[0]).toMatchObject({ by: 'pat', action: 'disable:all', detail: { via: 'api' } });
    } finally {
      await a.store.close();
    }
  });

  it('answers approval requests and clears an ineffective action through the same audited writes, refusing a second answer', async () => {
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}schema=${schemas.next()}`;
    const { dir } = humanProject({
      ...HUMAN_FILES,
      'reflex.yaml': HUMAN_FILES['reflex.yaml']!.replace('store: .reflex/state.db', `store: ${JSON.stringify(url)}`),
    });
    const a = await appOver(dir, { token: TOKEN, client: '198.51.100.4:4242' });
    const post = (path: string, body: unknown) =>
      a.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    try {
      const list = await (await a.app.request('/api/v1/approvals')).json();
      expect(list.pending.map((x: { target: string }) => x.target)).toEqual([HOSTILE.script, HOSTILE.quotes]);
      expect((await post('/api/v1/approvals/1/approve', { reason: 'pg: checked', by: 'pat' })).status).toBe(200);
      const twice = await post('/api/v1/approvals/1/reject', { reason: 'no', by: 'quinn' });
      expect(twice.status).toBe(409);
      expect((await twice.json()).error).toContain('approval #1 is not pending: it is approved by pat');
      const cleared = await post('/api/v1/verifications/clear', { rule: 'nudge', target: 'ctl-\u001b[31m-red\u0007', by: 'pat' });
      expect(cleared.status).toBe(200);
      const st = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
      const actions = st.audit.map((x: { action: string; by: string; detail: { client?: string } }) => `${x.action} ${x.by} ${x.detail.client}`);
      expect(actions).toEqual(expect.arrayContaining(['approve pat 198.51.100.4:4242', 'enable:verification pat 198.51.100.4:4242']));
      const page = await (await a.app.request(`/api/v1/decisions?run=2&outcome=derived`)).json();
      expect(page.total).toBe(3);
    } finally {
      await a.store.close();
    }
  });

  it('reads a run recorded while it watches ahead in its worker thread, with the counts the run recorded', async () => {
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}schema=${schemas.next()}`;
    const dir = fixture(
      { ...FILES, 'reflex.yaml': FILES['reflex.yaml']!.replace('store: .reflex/state.db', `store: ${JSON.stringify(url)}`) },
      'reflex-serve-pg-',
    );
    expect([0, 1]).toContain(reflex(['run', '--dry-run', '-q'], { cwd: dir }).status);
    const stop = new AbortController();
    const a = await appOver(dir, { watchMs: 20, signal: stop.signal, worker: 'on' });
    try {
      expect([0, 1]).toContain(reflex(['run', '-q'], { cwd: dir }).status);
      for (let i = 0; i < 3000 && !a.model.prepared.includes(2); i++) await new Promise((r) => setTimeout(r, 10));
      expect(a.model.prepared).toContain(2);
      const recomputed = a.model.recomputed;
      const run = (await (await a.app.request('/api/v1/runs/2')).json()).run;
      for (const [outcome, n] of Object.entries(run.summary.outcomes as Record<string, number>)) {
        if (outcome === 'not_matched') continue;
        expect([outcome, (await (await a.app.request(`/api/v1/decisions?run=2&outcome=${outcome}`)).json()).total]).toEqual([outcome, n]);
      }
      expect(a.model.recomputed).toBe(recomputed);
      expect(a.lines).toEqual([]);
    } finally {
      stop.abort();
      await a.store.close();
    }
  });
});
