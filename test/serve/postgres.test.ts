// The console over a PostgreSQL store: the same reads, the same why, the off switch through the same writes.
import { afterAll, describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/util/terminal.js';
import { fixture, reflex } from '../helpers.js';
import { PG_URL, pgSkipReason, schemaFactory } from '../store/pg.js';
import { appOver, FILES, HOSTILE, TOKEN } from './harness.js';

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
});
