// `reflex init` ships scenario tests that pass as written, with the editors' schema for them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fixture, reflex } from '../helpers.js';

describe('reflex init and reflex test', () => {
  it('the starter project passes its own scenarios, and every rule is tested', () => {
    const dir = fixture({});
    expect(reflex(['init'], { cwd: dir }).status).toBe(0);
    const r = reflex(['test'], { cwd: dir });
    expect(r.stdout).toMatch(/^ok {4}rules\/starter_test\.yaml:\d+ {2}an unhealthy instance would be restarted$/m);
    expect(r.stdout).toContain('coverage of reflex.yaml: 3 of 3 rules tested');
    expect(r.stdout).toMatch(/3 scenarios: 3 passed, 0 failed\n$/);
    expect(r.status).toBe(0);
    const schema = JSON.parse(readFileSync(join(dir, 'schema/tests.schema.json'), 'utf8'));
    const validate = new Ajv2020({ strict: true, keywords: ['patternErrorMessage'] }).compile(schema);
    expect(validate(parse(readFileSync(join(dir, 'rules/starter_test.yaml'), 'utf8')))).toBe(true);
  });
});
