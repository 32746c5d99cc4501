// Opens the store a project names: a PostgreSQL URL, or a SQLite file path relative to the project.
import { isAbsolute, resolve } from 'node:path';
import type { Store } from './types.js';

export * from './types.js';

/**
 * `postgres://` or `postgresql://` opens PostgreSQL (its driver is imported only then);
 * anything else is a SQLite file, relative to `projectDir` unless absolute (`:memory:` allowed).
 * A `schema=` query parameter of the URL names the PostgreSQL schema (default `public`), and
 * `connect_timeout=` (seconds, as in libpq) how long to wait for a connection or another runner's lock.
 * The store is not migrated: call `migrate()` before use.
 */
export async function openStore(spec: string, projectDir: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    // Imported only here: SQLite users never pay for loading the PostgreSQL driver.
    const { openPostgresStore } = await import('./postgres/index.js');
    const { url, schema, timeoutMs } = splitSchema(spec);
    return openPostgresStore(url, { ...(schema === undefined ? {} : { schema }), ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }
  const path = spec === ':memory:' || isAbsolute(spec) ? spec : resolve(projectDir, spec);
  const { openSqliteStore } = await import('./sqlite/index.js');
  return openSqliteStore(path);
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
