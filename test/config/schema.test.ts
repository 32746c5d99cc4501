// The JSON Schema for editors: generated from the zod schema, committed under schema/, and valid for every example.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonSchema, type SchemaKind } from '../../src/check/schema-json.js';
import { reflex, ROOT } from '../helpers.js';

/** What `reflex schema --kind KIND` prints. */
const textOf = async (kind: SchemaKind) => `${JSON.stringify(await jsonSchema(kind), null, 2)}\n`;
const committed = (kind: SchemaKind) => readFileSync(join(ROOT, `schema/${kind}.schema.json`), 'utf8');

function validator(kind: SchemaKind) {
  // strict: the generated schema itself must use only keywords that JSON Schema 2020-12 knows, and the one editors'
  // extension it carries on purpose (patternErrorMessage: VS Code shows it instead of the regex).
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addKeyword('patternErrorMessage');
  return ajv.compile(JSON.parse(committed(kind)));
}

/** Every example project: its reflex.yaml and its rule files (scenario tests, *_test.yaml, excepted). */
function exampleFiles(): { kind: SchemaKind; path: string }[] {
  const out: { kind: SchemaKind; path: string }[] = [];
  for (const ex of readdirSync(join(ROOT, 'examples'))) {
    const cfg = join(ROOT, 'examples', ex, 'reflex.yaml');
    if (!existsSync(cfg)) continue;
    out.push({ kind: 'config', path: cfg });
    const rules = join(ROOT, 'examples', ex, 'rules');
    if (existsSync(rules)) {
      for (const f of readdirSync(rules)) if (/\.ya?ml$/.test(f) && !/_test\.ya?ml$/.test(f)) out.push({ kind: 'rules', path: join(rules, f) });
    }
  }
  return out;
}

describe('JSON Schema', () => {
  for (const kind of ['config', 'rules'] as const) {
    it(`schema/${kind}.schema.json matches the zod schema`, async () => {
      const fresh = await textOf(kind);
      expect(
        committed(kind) === fresh,
        `schema/${kind}.schema.json is out of date: run npm run schema to update (or: node dist/cli/main.js schema --kind ${kind} > schema/${kind}.schema.json)`,
      ).toBe(true);
    });

    it(`reflex schema --kind ${kind} prints the committed schema`, () => {
      const r = reflex(['schema', '--kind', kind]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(committed(kind));
    });
  }

  it('reflex schema prints the rule-file schema by default, and a scenario-test schema with --kind tests', () => {
    expect(reflex(['schema']).stdout).toBe(committed('rules'));
    const tests = JSON.parse(reflex(['schema', '--kind', 'tests']).stdout);
    expect(tests.type).toBe('object');
    expect(tests.title).toBe('Reflex scenario test file');
  });

  it('validates every example file', () => {
    const files = exampleFiles();
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const v = validator(f.kind);
      const ok = v(parse(readFileSync(f.path, 'utf8')));
      expect(ok, `${f.path}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
  });

  it('points every example at the schema with a yaml-language-server line that resolves', () => {
    for (const f of exampleFiles()) {
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(f.path, 'utf8'));
      expect(m, `${f.path} has no "# yaml-language-server: $schema=" line`).not.toBeNull();
      expect(resolve(dirname(f.path), m![1]!)).toBe(join(ROOT, `schema/${f.kind}.schema.json`));
    }
  });

  it('rejects what reflex check rejects as a shape error: unknown fields, bad enums, bad durations', () => {
    const broken = (p: string) => parse(readFileSync(join(ROOT, 'test/fixtures/broken', p), 'utf8'));
    expect(validator('config')(broken('unknown-field/reflex.yaml'))).toBe(false);
    expect(validator('rules')(broken('unknown-field/rules/app.yaml'))).toBe(false);
    expect(validator('rules')(broken('enum-suggestion/rules/app.yaml'))).toBe(false);
    expect(validator('config')(broken('bad-duration/reflex.yaml'))).toBe(false);
    expect(validator('config')(broken('unknown-source-kind/reflex.yaml'))).toBe(false);
  });
});
