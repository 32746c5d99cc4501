// `reflex test --junit` against the common JUnit schema (Jenkins' junit-10.xsd, read by most CI systems), with
// Debian's xmllint; and a failure's message names the expectation that failed.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reflex, ROOT } from '../helpers.js';

const XSD = join(ROOT, 'test/operations/junit-10.xsd');
const XMLLINT = '/usr/bin/xmllint';

function junit(extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-junit-'));
  cpSync(join(ROOT, 'test/testing/cases/junit'), dir, { recursive: true });
  const r = reflex(['test', '--junit', 'junit.xml', ...extra], { cwd: dir });
  expect(r.status).toBe(2); // one scenario fails and one file is invalid
  return join(dir, 'junit.xml');
}

const validate = (file: string) => spawnSync(XMLLINT, ['--noout', '--schema', XSD, file], { encoding: 'utf8', timeout: 30_000 });

describe('reflex test --junit', () => {
  it('validates against the common JUnit schema', () => {
    if (!existsSync(XMLLINT)) {
      if (process.env.REFLEX_REQUIRE_SERVICES) throw new Error(`${XMLLINT} is not installed (apt-get install libxml2-utils; .ci/run does it)`);
      return;
    }
    const file = junit();
    const r = validate(file);
    expect(r.stderr.trim()).toBe(`${file} validates`);
    expect(r.status).toBe(0);
  });

  it('--junit-locations adds file and line to each testcase, which that schema does not allow (the reason it is a flag)', () => {
    const file = junit(['--junit-locations']);
    expect(readFileSync(file, 'utf8')).toMatch(/<testcase classname="rules\/app_test.yaml" name="passes" file="rules\/app_test.yaml" line="5" /);
    if (!existsSync(XMLLINT)) return;
    expect(validate(file).stderr).toContain("attribute 'file': The attribute 'file' is not allowed");
  });

  it("a failure's message names the failed expectation: its step, position and what went wrong", () => {
    const xml = readFileSync(junit(), 'utf8');
    expect(xml).toContain(
      '<failure message="step 1 (at 0s, run #1): rules/app_test.yaml:13:17: restart-unhealthy on app-1: acted, but this step does not expect it" type="ExpectationFailed">',
    );
    expect(xml).not.toContain('expectation failed"');
  });
});
