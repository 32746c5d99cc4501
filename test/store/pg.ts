// PostgreSQL for tests: the server named by REFLEX_TEST_PG, a fresh schema per store, all dropped at the end.
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const PG_URL = process.env.REFLEX_TEST_PG;
/** Why PostgreSQL tests are skipped, or null when they run. With REFLEX_REQUIRE_SERVICES set they never skip. */
export const pgSkipReason: string | null =
  PG_URL || process.env.REFLEX_REQUIRE_SERVICES ? null : 'REFLEX_TEST_PG is not set (e.g. postgres://postgres@127.0.0.1:5432/test)';

/** Unique schema names for one test file, and the means to drop them all. */
export function schemaFactory(file: string) {
  const prefix = `reflex_test_${file}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const made: string[] = [];
  let n = 0;
  return {
    next(): string {
      const name = `${prefix}_${n++}`;
      made.push(name);
      return name;
    },
    async dropAll(): Promise<void> {
      if (!PG_URL || made.length === 0) return;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        for (const s of made) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

export function requirePgUrl(): string {
  if (!PG_URL)
    throw new Error('REFLEX_REQUIRE_SERVICES is set but REFLEX_TEST_PG is not: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test)');
  return PG_URL;
}
