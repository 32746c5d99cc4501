// Opens the store a project names: a PostgreSQL URL, or a SQLite file path relative to the project.
import { isAbsolute, resolve } from 'node:path';
import { sqlitePathProblems, type PathProblem } from './sqlite/path.js';
import type { Store } from './types.js';

export * from './types.js';

/**
 * `postgres://` or `postgresql://` opens PostgreSQL (its driver is imported only then);
 * anything else is a SQLite file, relative to `projectDir` unless absolute (`:memory:` allowed).
 * A `schema=` query parameter of the URL names the PostgreSQL schema (default `public`), and
 * `connect_timeout=` (seconds, as in libpq) how long to wait for a connection or another runner's lock.
 * The store is not migrated: call `migrate()` before use. Something at the place that is not a Reflex store (an
 * empty file, another application's tables) is refused, unless `initialize` says to make a store there.
 */
export async function openStore(spec: string, projectDir: string, opts: { initialize?: boolean } = {}): Promise<Store> {
  const initialize = opts.initialize === true;
  if (isPostgres(spec)) {
    // Imported only here: SQLite users never pay for loading the PostgreSQL driver.
    const { openPostgresStore } = await import('./postgres/index.js');
    const { url, schema, timeoutMs } = splitSchema(spec);
    return openPostgresStore(url, { ...(schema === undefined ? {} : { schema }), ...(timeoutMs === undefined ? {} : { timeoutMs }), initialize });
  }
  const { openSqliteStore } = await import('./sqlite/index.js');
  return openSqliteStore(sqlitePath(spec, projectDir), { initialize });
}

const isPostgres = (spec: string) => /^postgres(ql)?:\/\//i.test(spec);
const sqlitePath = (spec: string, projectDir: string) => (spec === ':memory:' || isAbsolute(spec) ? spec : resolve(projectDir, spec));

/**
 * What `reflex check` says about the `store:` of a project, found without opening, creating or connecting to
 * anything: a SQLite path that cannot work (through a file, on /proc or /sys, a folder), a file there that is not a
 * Reflex store (a warning: commands refuse it with exit 3), a PostgreSQL URL that does not parse.
 */
export function storeProblems(spec: string, projectDir: string): PathProblem[] {
  if (spec.trim() === '') return [{ severity: 'error', message: 'the store is empty: give a SQLite file path or a postgres:// URL' }];
  if (isPostgres(spec)) {
    try {
      const u = new URL(spec);
      const problems: PathProblem[] = [];
      const schema = u.searchParams.get('schema');
      if (schema !== null && schema.trim() === '')
        problems.push({ severity: 'error', message: 'the PostgreSQL URL has an empty schema= (leave it out for public)' });
      return problems;
    } catch {
      return [{ severity: 'error', message: 'the PostgreSQL URL does not parse (postgres://user@host:5432/database?schema=reflex)' }];
    }
  }
  if (spec === ':memory:')
    return [{ severity: 'warning', message: 'the store is in memory: nothing (off switch, disables, cooldowns, the journal) outlives one command' }];
  const path = sqlitePath(spec, projectDir);
  // (a path of a megabyte is not echoed whole)
  const shown = path.length > 240 ? `${path.slice(0, 160)}…${path.slice(-60)} (${path.length} characters)` : path;
  return sqlitePathProblems(path).map((p) => ({ ...p, message: `the SQLite store at ${shown}: ${p.message}` }));
}

/** Take Reflex's own parameters (`schema`, `connect_timeout`) out of a PostgreSQL URL (the driver would pass them to the server). */
function splitSchema(spec: string): { url: string; schema?: string; timeoutMs?: number } {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    return { url: spec };
  }
  const schema = u.searchParams.get('schema');
  const connect = u.searchParams.get('connect_timeout');
  if (schema === null && connect === null) return { url: spec };
  u.searchParams.delete('schema');
  u.searchParams.delete('connect_timeout');
  const seconds = connect === null ? NaN : Number(connect);
  return {
    url: u.toString(),
    ...(schema === null ? {} : { schema }),
    ...(Number.isFinite(seconds) && seconds > 0 ? { timeoutMs: Math.round(seconds * 1000) } : {}),
  };
}
