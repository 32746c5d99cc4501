// Every example ships scenario tests and passes them; the scenario files' JSON Schema is committed and in step with the zod schema.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonSchema } from '../../src/check/schema-json.js';
import { reflex, ROOT } from '../helpers.js';

const examples = readdirSync(join(ROOT, 'examples')).filter((e) => existsSync(join(ROOT, 'examples', e, 'reflex.yaml')));
const scenarioFiles = (ex: string) => {
  const rules = join(ROOT, 'examples', ex, 'rules');
  return existsSync(rules)
    ? readdirSync(rules)
        .filter((f) => /_test\.ya?ml$/.test(f))
        .map((f) => join(rules, f))
    : [];
};

describe('the examples pass their scenario tests', () => {
  for (const ex of examples) {
    it(`examples/${ex}: reflex test passes, and every rule is tested`, () => {
      expect(scenarioFiles(ex).length, `examples/${ex} has no rules/*_test.yaml`).toBeGreaterThan(0);
      const r = reflex(['test'], { cwd: join(ROOT, 'examples', ex) });
      expect(r.status, r.out).toBe(0);
      expect(r.stdout).not.toContain('not tested by any scenario');
      expect(r.stdout).toMatch(/\d+ scenarios?: \d+ passed, 0 failed\n$/);
    });
  }
});

describe('schema/tests.schema.json', () => {
  it('matches the zod schema (regenerate: node dist/cli/main.js schema --kind tests > schema/tests.schema.json)', async () => {
    const fresh = `${JSON.stringify(await jsonSchema('tests'), null, 2)}\n`;
    expect(readFileSync(join(ROOT, 'schema/tests.schema.json'), 'utf8') === fresh, 'schema/tests.schema.json is out of date').toBe(true);
  });

  it('validates every example scenario file, which points at it with a yaml-language-server line', () => {
    const validate = new Ajv2020({ strict: true, allErrors: true, keywords: ['patternErrorMessage'] }).compile(
      JSON.parse(readFileSync(join(ROOT, 'schema/tests.schema.json'), 'utf8')),
    );
    for (const ex of examples) {
      for (const f of scenarioFiles(ex)) {
        const text = readFileSync(f, 'utf8');
        expect(validate(parse(text)), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
        const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
        expect(m && resolve(dirname(f), m[1]!), f).toBe(join(ROOT, 'schema/tests.schema.json'));
      }
    }
  });

  it('rejects what reflex test rejects as a shape error', () => {
    const validate = new Ajv2020({ strict: true, keywords: ['patternErrorMessage'] }).compile(
      JSON.parse(readFileSync(join(ROOT, 'schema/tests.schema.json'), 'utf8')),
    );
    const file = (c: string) => parse(readFileSync(join(ROOT, 'test/testing/cases', c, 'rules/app_test.yaml'), 'utf8'));
    expect(validate(file('invalid-schema'))).toBe(false);
    expect(validate(file('passing'))).toBe(true);
  });
});
