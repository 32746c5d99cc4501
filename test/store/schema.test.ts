// The schema each migration prefix makes, on both databases, against the committed dumps: a store made today after
// version N has exactly the tables, columns and indexes of one made by the Reflex that shipped version N.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { PG_MIGRATIONS } from '../../src/store/sql/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { SQLITE_MIGRATIONS as MIGRATIONS } from '../../src/store/sql/migrations.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from './pg.js';

const dir = mkdtempSync(join(tmpdir(), 'reflex-schema-'));
const schemas = schemaFactory('schema');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await schemas.dropAll();
});

const VERSIONS = [...new Set(MIGRATIONS.map((m) => m.version))].sort((a, b) => a - b);
const oneLine = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();

/** What SQLite says it holds: every table, index and their definitions (whitespace folded), and the rows the migrations seed. */
function sqliteDump(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const objects = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as {
      type: string;
      name: string;
      tbl_name: string;
      sql: string | null;
    }[];
    const head = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'snapshot_head'").get() ? db.prepare('SELECT id, seq FROM snapshot_head').all() : [];
    return [...objects.map((o) => `${o.type} ${o.name} on ${o.tbl_name}: ${oneLine(o.sql)}`), `snapshot_head rows: ${JSON.stringify(head)}`].join('\n');
  } finally {
    db.close();
  }
}

/** What PostgreSQL says the schema holds: columns with types, nullability, defaults and identity; indexes; constraints. */
async function pgDump(schema: string): Promise<string> {
  const c = new pg.Client({ connectionString: requirePgUrl() });
  await c.connect();
  try {
    const cols = await c.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity, identity_generation FROM information_schema.columns
       WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
      [schema],
    );
    const idx = await c.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema]);
    const cons = await c.query(
      `SELECT t.relname AS t, k.conname, pg_get_constraintdef(k.oid) AS def FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 ORDER BY t.relname, k.conname`,
      [schema],
    );
    const head = (await c.query(`SELECT to_regclass($1) AS t`, [`"${schema}".snapshot_head`])).rows[0].t
      ? (await c.query(`SELECT id, seq FROM "${schema}".snapshot_head`)).rows
      : [];
    const s = (x: string) => x.split(`"${schema}".`).join('{s}.').split(`${schema}.`).join('{s}.');
    return [
      ...cols.rows.map(
        (r) =>
          `column ${r.table_name}.${r.column_name}: ${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}${r.column_default ? ` default ${r.column_default}` : ''}${r.is_identity === 'YES' ? ` identity ${r.identity_generation}` : ''}`,
      ),
      ...idx.rows.map((r) => `index ${r.indexname}: ${s(r.indexdef)}`),
      ...cons.rows.map((r) => `constraint ${r.t}.${r.conname}: ${s(r.def)}`),
      `snapshot_head rows: ${JSON.stringify(head.map((r) => ({ id: Number(r.id), seq: Number(r.seq) })))}`,
    ].join('\n');
  } finally {
    await c.end();
  }
}

describe('sqlite schema', () => {
  it('every migration prefix makes the schema of the dump in test/store/fixtures/schema.sqlite.txt', async () => {
    const dumps: string[] = [];
    for (const v of VERSIONS) {
      const path = join(dir, `v${v}.db`);
      const store = openSqliteStore(path, { migrations: MIGRATIONS.filter((m) => m.version <= v) });
      await store.close();
      dumps.push(`## after version ${v}\n${sqliteDump(path)}`);
    }
    await expect(`${dumps.join('\n\n')}\n`).toMatchFileSnapshot('./fixtures/schema.sqlite.txt');
  });
});

if (pgSkipReason !== null) {
  // Skipped only on a developer machine without REFLEX_TEST_PG; CI sets it and REFLEX_REQUIRE_SERVICES, so there these tests always run.
  describe.skip(`postgres schema (skipped: ${pgSkipReason})`, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  describe('postgres schema', () => {
    it('every migration prefix makes the schema of the dump in test/store/fixtures/schema.postgres.txt', async () => {
      const dumps: string[] = [];
      for (const v of VERSIONS) {
        const schema = schemas.next();
        const store = await openPostgresStore(requirePgUrl(), { schema, migrations: PG_MIGRATIONS.filter((m) => m.version <= v) });
        await store.migrate();
        await store.close();
        dumps.push(`## after version ${v}\n${await pgDump(schema)}`);
      }
      await expect(`${dumps.join('\n\n')}\n`).toMatchFileSnapshot('./fixtures/schema.postgres.txt');
    });
  });
}
