// PostgreSQL unreachable, or gone mid-run, behind a TCP proxy the test cuts: no action without a committed intent, exit code 3, and the next run carries on.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';
import { actionLines, boxes, executions, journal, PgProxy, reflexAsync, runs, scaleProject, start, until, waitExpiry } from './harness.js';

const schemas = schemaFactory('scaleout_outage');
afterAll(() => schemas.dropAll());

const TARGETS = boxes(8, 2);

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason)('scale-out: PostgreSQL unreachable or stopped during a run', () => {
  const url = pgSkipReason ? '' : requirePgUrl();
  let proxy: PgProxy;
  beforeAll(async () => {
    const u = new URL(url);
    proxy = new PgProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.listen();
  });
  afterAll(() => proxy?.cut());

  it('unreachable at the start: exit code 3 with the cause and the password-free address, nothing acts; the next run after it returns works', async () => {
    const schema = schemas.next();
    await proxy.cut();
    // The password comes from the environment (${VAR} in reflex.yaml), and is never printed.
    const withPassword = proxy.url(url).replace('://postgres@', '://postgres:${REFLEX_PG_PASSWORD}@');
    const env = { REFLEX_PG_PASSWORD: 's3cret' };
    const p = scaleProject({ url: withPassword, journalUrl: url, schema, targets: TARGETS, shards: '{ count: 2 }' });
    const down = await reflexAsync(p.dir, ['run'], env);
    expect(down.code, down.stdout + down.stderr).toBe(3);
    expect(down.stderr).toMatch(/reflex: cannot connect to the PostgreSQL store at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test: connection refused/);
    expect(down.stderr + down.stdout).not.toContain('s3cret');
    expect(actionLines(p.dir)).toEqual([]);

    await proxy.restore();
    const up = await reflexAsync(p.dir, ['run'], env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(
      actionLines(p.dir)
        .map((l) => l.target)
        .sort(),
    ).toEqual(TARGETS.map((t) => t.id));
  });

  it('gone mid-run: the action in flight finishes, nothing more starts, the run exits 3; the next run reports the execution as interrupted and acts on the rest', async () => {
    const schema = schemas.next();
    await proxy.restore();
    const p = scaleProject({ url: proxy.url(url), journalUrl: url, schema, targets: TARGETS, shards: '{ count: 2, lease: 2s }', maxConcurrency: 1 });
    writeFileSync(join(p.dir, 'hold'), '');
    const r = start(p.dir, ['run']);
    const first = await until(() => actionLines(p.dir)[0], 'the first action to start');
    await proxy.cut();
    writeFileSync(join(p.dir, 'gate'), '');
    const failed = await r.exited;
    expect(failed.code, failed.stdout + failed.stderr).toBe(3);
    expect(failed.stderr).toMatch(/reflex: cannot use the PostgreSQL store at postgres:\/\/postgres@127\.0\.0\.1:\d+\/test: /);

    const c = await journal(url, schema);
    try {
      // Only the action that had its intent committed (and was marked running) ran; no other intent exists.
      expect(actionLines(p.dir)).toEqual([first]);
      expect(first.journal).toBe('running');
      const ex = await executions(c);
      expect(ex.map((e) => [e.target, e.status])).toEqual([[first.target, 'running']]);

      // PostgreSQL returns. The failed run could not release its leases: the next run takes its shards once they expire.
      await proxy.restore();
      await waitExpiry(url, schema, [0, 1], 2);
      const next = await reflexAsync(p.dir, ['run']);
      expect(next.code, next.stdout + next.stderr).toBe(1);
      expect(next.stdout).toContain(`problem: interrupted: execution #${ex[0]!.id} (act-repair on ${first.target}`);
      const lines = actionLines(p.dir);
      expect(lines.filter((l) => l.target === first.target)).toHaveLength(1);
      expect(lines.map((l) => l.target).sort()).toEqual(TARGETS.map((t) => t.id));
      expect(lines.every((l) => l.journal === 'running')).toBe(true);
      // The failed run never finished: the next one closed its record as interrupted, and recorded its own.
      const all = await runs(c);
      expect(all.map((x) => x.status)).toEqual(['interrupted', 'problems']);
    } finally {
      await c.end();
    }
  });

  it('a network partition (connections open, nothing answers) fails the run instead of hanging it', async () => {
    const schema = schemas.next();
    await proxy.restore();
    const p = scaleProject({
      url: `${proxy.url(url)}?query_timeout=1500&connect_timeout=2`,
      journalUrl: url,
      schema,
      targets: TARGETS,
      shards: '{ count: 2 }',
      maxConcurrency: 1,
    });
    writeFileSync(join(p.dir, 'hold'), '');
    const r = start(p.dir, ['run']);
    await until(() => actionLines(p.dir)[0], 'the first action to start');
    proxy.freeze();
    writeFileSync(join(p.dir, 'gate'), '');
    const failed = await r.exited;
    expect(failed.code, failed.stdout + failed.stderr).toBe(3);
    expect(failed.stderr).toMatch(/the server stopped answering|no answer within/);
    expect(actionLines(p.dir)).toHaveLength(1);
    expect(existsSync(join(p.dir, 'gate'))).toBe(true);
  });
});
