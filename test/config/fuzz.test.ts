// Fuzzing the front door: mutated copies of examples/webshop and the broken fixtures. For every mutation, `reflex
// check` answers (no exception: the CLI would exit 70), and the path every acting command takes (loadOrExit)
// refuses exactly what check refuses (exit 2) and nothing else. A sample also goes through the real CLI: exit 0 or
// 2, no stack trace, bounded time, and `run` never starts (no store) where check fails.
// REFLEX_FUZZ_RUNS raises the number of in-process cases (default 300; 10,000 for a long local hunt), and
// REFLEX_FUZZ_SEED replays a failure (the seed is printed when a case fails).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrExit } from '../../src/cli/project.js';
import { checkConfigFile } from '../../src/check/index.js';
import { EXIT, ExitError } from '../../src/errors.js';
import { CLI, ROOT } from '../helpers.js';

const RUNS = Number(process.env.REFLEX_FUZZ_RUNS ?? 300);
const SEED = process.env.REFLEX_FUZZ_SEED ? Number(process.env.REFLEX_FUZZ_SEED) : Date.now() % 2 ** 31;
const CLI_SAMPLE = Math.min(20, RUNS);

const BASES = [join(ROOT, 'examples/webshop'), ...readdirSync(join(ROOT, 'test/fixtures/broken')).map((d) => join(ROOT, 'test/fixtures/broken', d))];
const YAML_FILES = (dir: string) => {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'demo' && e.name !== '.reflex') walk(join(d, e.name));
      else if (/\.ya?ml$/.test(e.name)) out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out;
};

/** Edits a YAML author (or a bad merge, or a broken disk) makes. */
const PIECES = [
  '',
  ' ',
  '\n',
  '\t',
  ':',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '*a',
  '&a ',
  '!!',
  '${X}',
  '#',
  '~',
  'null',
  '-1e400',
  'true',
  '__proto__: 1',
  '\u202e',
  '\u0000',
  '{{ x }}',
  '!',
  'facts.',
  '&&',
  '1 runs',
  '0m',
];
const edit = fc.record({
  file: fc.nat(),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  len: fc.nat({ max: 12 }),
  insert: fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 8 })),
  kind: fc.constantFrom('replace', 'duplicate-line', 'delete-line', 'truncate'),
});

type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function mutate(base: string, edits: Edit[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-fuzz-'));
  cpSync(base, dir, { recursive: true, filter: (src) => !src.includes('/.reflex') });
  const files = YAML_FILES(dir);
  for (const e of edits) {
    const f = join(dir, files[e.file % files.length]!);
    const text = readFileSync(f, 'utf8');
    const at = Math.floor(e.at * text.length);
    const lines = text.split('\n');
    const li = Math.floor(e.at * lines.length);
    let out = text;
    if (e.kind === 'replace') out = text.slice(0, at) + e.insert + text.slice(at + e.len);
    else if (e.kind === 'duplicate-line') out = [...lines.slice(0, li + 1), lines[li] ?? '', ...lines.slice(li + 1)].join('\n');
    else if (e.kind === 'delete-line') out = [...lines.slice(0, li), ...lines.slice(li + 1)].join('\n');
    else out = text.slice(0, at);
    writeFileSync(f, out);
  }
  return dir;
}

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const cases = fc.tuple(fc.nat({ max: BASES.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }));

describe(`fuzzing the front door (seed ${SEED}, ${RUNS} cases)`, () => {
  it(
    'check never throws, and loadOrExit refuses exactly what check refuses',
    async () => {
      const tally = { ok: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(cases, async ([b, edits]) => {
          const dir = mutate(BASES[b]!, edits);
          made.push(dir);
          const config = join(dir, 'reflex.yaml');
          const checked = await checkConfigFile(config);
          let refusedBy: number | null = null;
          try {
            await loadOrExit({ config });
          } catch (err) {
            if (!(err instanceof ExitError)) throw err;
            refusedBy = err.exitCode;
          }
          if (checked.errors > 0) {
            expect(refusedBy).toBe(EXIT.CONFIG);
            tally.refused++;
          } else {
            expect(refusedBy).toBeNull();
            tally.ok++;
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      console.log(`fuzz: ${tally.ok} accepted, ${tally.refused} refused, 0 internal errors`);
    },
    60_000 + RUNS * 50,
  );

  it(`through the CLI (${CLI_SAMPLE} cases): exit 0 or 2, no stack trace, and run starts nothing where check fails`, () => {
    fc.assert(
      fc.property(cases, ([b, edits]) => {
        const dir = mutate(BASES[b]!, edits);
        made.push(dir);
        const opts = { cwd: dir, encoding: 'utf8' as const, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } };
        const check = spawnSync(process.execPath, [CLI, 'check'], opts);
        expect(check.error, 'check hung').toBeUndefined();
        expect([0, 2], check.stdout + check.stderr).toContain(check.status);
        expect(check.stderr).not.toMatch(/internal error|\n\s+at /);
        if (check.status !== 2) return;
        const run = spawnSync(process.execPath, [CLI, 'run', '--dry-run'], opts);
        expect(run.status, run.stdout + run.stderr).toBe(2);
        expect(existsSync(join(dir, '.reflex'))).toBe(false);
      }),
      { numRuns: CLI_SAMPLE, seed: SEED, endOnFailure: true },
    );
  });
});
