// The runner's own tests, as promtool's: a folder per case (a project, its scenario files, the exit code and output `reflex test` must produce).
// Regenerate the expected output after an intended change: REFLEX_UPDATE_GOLDEN=1 npx vitest run test/testing
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { reflex, ROOT } from '../helpers.js';

const CASES = join(ROOT, 'test/testing/cases');
const UPDATE = process.env.REFLEX_UPDATE_GOLDEN === '1';

interface Case {
  args: string[];
  exit: number;
  /** Files the command writes -> the file in the case folder they must equal (times normalised). */
  files?: Record<string, string>;
}

/** What the command printed: standard output, then standard error when there is any. */
const printed = (r: { stdout: string; stderr: string }) => r.stdout + (r.stderr ? `--- stderr\n${r.stderr}` : '');
/** Durations are real time: the only part of the output that is not reproducible. */
const timeless = (s: string) => s.replace(/time="[0-9.]+"/g, 'time="T"');

describe('reflex test, case by case (test/testing/cases)', () => {
  for (const name of readdirSync(CASES).sort()) {
    const dir = join(CASES, name);
    const c = parse(readFileSync(join(dir, 'case.yaml'), 'utf8')) as Case;
    it(`${name}: exit ${c.exit}`, () => {
      // A copy, so nothing the command writes lands in the repository.
      const work = mkdtempSync(join(tmpdir(), `reflex-case-${name}-`));
      cpSync(dir, work, { recursive: true });
      const r = reflex(c.args, { cwd: work });
      const out = printed(r);
      const golden = join(dir, 'expected.txt');
      if (UPDATE) writeFileSync(golden, out);
      expect(out).not.toMatch(/internal error/);
      expect(out).toBe(readFileSync(golden, 'utf8'));
      expect(r.status, out).toBe(c.exit);
      for (const [written, expectedFile] of Object.entries(c.files ?? {})) {
        expect(existsSync(join(work, written)), `${written} was not written`).toBe(true);
        const got = timeless(readFileSync(join(work, written), 'utf8'));
        if (UPDATE) writeFileSync(join(dir, expectedFile), got);
        expect(got).toBe(readFileSync(join(dir, expectedFile), 'utf8'));
      }
    });
  }
});
