// Opens the store a project names: a PostgreSQL URL, or a SQLite file path relative to the project.
import { isAbsolute, resolve } from 'node:path';
import { openSqliteStore } from './sqlite/index.js';
import { StoreError, type Store } from './types.js';

export * from './types.js';

/**
 * `postgres://` or `postgresql://` opens PostgreSQL (its driver is imported only then);
 * anything else is a SQLite file, relative to `projectDir` unless absolute (`:memory:` allowed).
 * The store is not migrated: call `migrate()` before use.
 */
export async function openStore(spec: string, projectDir: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    throw new StoreError('the PostgreSQL store is not available yet');
  }
  const path = spec === ':memory:' || isAbsolute(spec) ? spec : resolve(projectDir, spec);
  return openSqliteStore(path);
}
