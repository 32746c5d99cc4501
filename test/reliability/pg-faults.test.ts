// PostgreSQL connections terminated mid-run (pg_terminate_backend from another connection): the run ends cleanly with exit 3, closed, nothing orphaned (issue 13.7).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL, pgSkipReason } from '../store/pg.js';
import { crashProject, processesOf, setBroken, start, until, waitQuiet } from './harness.js';

/** The action: appends its target to actions.log, then holds until a file named `gate` exists (or the project is gone). */
const ACTION = `import { appendFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const here = new URL('.', import.meta.url).pathname;
appendFileSync(here + 'actions.log', process.argv[2] + '\\n');
while (existsSync(here + 'hold') && !existsSync(here + 'gate') && existsSync(here + 'action.mjs')) await sleep(10);
`;

export interface PgProject {
  dir: string;
  schema: string;
  /** The application_name of this project's connections: what the test terminates, and nothing of anyone else's. */
  app: string;
}

/** A project on its own schema whose one enforced rule runs `action.mjs` for every broken box, one at a time. */
export function pgProject(url: string, targets: string[]): PgProject {
  const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const schema = `t_harden_store_${tag}`;
  const app = `reflex_t_harden_store_${tag}`;
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  u.searchParams.set('application_name', app);
  const dir = crashProject({ store: u.toString(), action: ACTION, lease: '5s' });
  setBroken(dir, targets);
  return { dir, schema, app };
}

export function actionsRan(dir: string): string[] {
  const f = join(dir, 'actions.log');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/** Terminate this project's server connections (those matching `where`, e.g. waiting on a lock); how many were. */
export async function terminate(admin: pg.Client, app: string, where = 'true'): Promise<number> {
  const r = await admin.query(
    `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() AND (${where})`,
    [app],
  );
  return r.rows.filter((x) => x.t).length;
}

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason !== null)('PostgreSQL connections terminated mid-run', () => {
  const url = PG_URL!;
  const made: PgProject[] = [];
  afterAll(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const p of made) await c.query(`DROP SCHEMA IF EXISTS "${p.schema}" CASCADE`);
    } finally {
      await c.end();
    }
    for (const p of made) rmSync(p.dir, { recursive: true, force: true });
  });
  const project = (targets: string[]) => {
    const p = pgProject(url, targets);
    made.push(p);
    return p;
  };

  async function journal(p: PgProject) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const ex = (await c.query(`SELECT target, status FROM "${p.schema}".executions ORDER BY id`)).rows as { target: string; status: string }[];
      const runs = (await c.query(`SELECT id, status, finished_at FROM "${p.schema}".runs ORDER BY id`)).rows as {
        id: number;
        status: string;
        finished_at: string | null;
      }[];
      return { ex, runs };
    } finally {
      await c.end();
    }
  }

  it('a connection terminated inside the intent transaction: exit 3 with a message, the run closed as failed, no action started after it, none orphaned', async () => {
    const p = project(['a', 'b', 'c']);
    writeFileSync(join(p.dir, 'hold'), '');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const run = start(p.dir, ['run']);
      await until(() => actionsRan(p.dir).length === 1, 'the first action to start');
      // Every intent transaction of this schema takes this advisory lock first: holding it makes the next one wait
      // there, inside its transaction, on a connection the pool has handed out. That is the one to terminate.
      await admin.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`reflex:intent:${p.schema}`]);
      writeFileSync(join(p.dir, 'gate'), '');
      let killed = 0;
      const end = Date.now() + 30_000;
      while (killed === 0 && Date.now() < end) {
        killed = await terminate(admin, p.app, "wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'");
        if (killed === 0) await new Promise((r) => setTimeout(r, 10));
      }
      expect(killed, 'an intent transaction waiting on the lock').toBe(1);
      await admin.query('SELECT pg_advisory_unlock_all()');
      const exit = await run.exited;
      expect(exit.code, exit.out).toBe(3);
      expect(exit.stderr).toMatch(/reflex: cannot use the PostgreSQL store at .*: terminating connection due to administrator command/);
      expect(exit.out).not.toMatch(/internal error|Unhandled 'error' event|\n\s+at /);
      // b's intent was never committed, so b did not run; c was not started after the store failed.
      expect(actionsRan(p.dir)).toEqual(['a']);
      const { ex, runs } = await journal(p);
      expect(ex).toEqual([{ target: 'a', status: 'succeeded' }]);
      expect(runs.map((r) => r.status)).toEqual(['failed']);
      expect(runs[0]!.finished_at).not.toBeNull();
      await waitQuiet(p.dir);
      expect(processesOf(p.dir)).toEqual([]);
      // The next run acts on what is left, once.
      rmSync(join(p.dir, 'hold'));
      const next = await start(p.dir, ['run']).exited;
      expect(next.code, next.out).toBe(0);
      expect(actionsRan(p.dir).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await admin.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await admin.end();
    }
  });

  it("a run's idle connections terminated while an action runs: the pool reconnects and the run completes", async () => {
    const p = project(['a', 'b']);
    writeFileSync(join(p.dir, 'hold'), '');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const run = start(p.dir, ['run']);
      await until(() => actionsRan(p.dir).length === 1, 'the first action to start');
      expect(await terminate(admin, p.app)).toBeGreaterThan(0);
      writeFileSync(join(p.dir, 'gate'), '');
      const exit = await run.exited;
      expect(exit.code, exit.out).toBe(0);
      const { ex, runs } = await journal(p);
      expect(ex.map((e) => e.status)).toEqual(['succeeded', 'succeeded']);
      expect(runs.map((r) => r.status)).toEqual(['ok']);
    } finally {
      await admin.end();
    }
  });
});
