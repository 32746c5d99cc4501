// The JS translation of RE2 patterns must match exactly what re2js matches; what it cannot translate runs on re2js.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRegex, isRegex, re2Only, regexProblem, translate } from './re2.js';

const TOKENS = [
  'a',
  'b',
  'c',
  '1',
  '-',
  ' ',
  '_',
  '.',
  '^',
  '$',
  '|',
  '(',
  ')',
  '(?:',
  '*',
  '+',
  '?',
  '*?',
  '{2}',
  '{1,2}',
  '{0,}',
  '\\d',
  '\\D',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '\\b',
  '\\B',
  '\\.',
  '\\-',
  '\\n',
  '[a-c]',
  '[^a]',
  '[\\d.]',
  '[\\s-]',
  '[-a]',
  '[a\\-z]',
  '[^\\s]',
  '[.*+?]',
  '\\A',
  '\\z',
  '[[:alpha:]]',
  '(?i)',
  '(?s)',
  '\\pL',
  'é',
  '😀',
];
const CHARS = [
  'a',
  'b',
  'c',
  'A',
  '1',
  '-',
  ' ',
  '_',
  '.',
  '\n',
  '\r',
  '\t',
  '\v',
  '\f',
  '\u00a0',
  '\u2028',
  'é',
  'K',
  '\u212a',
  '😀',
  '*',
  '\ud800',
  '\udc00',
];

const pattern = fc.array(fc.constantFrom(...TOKENS), { minLength: 0, maxLength: 7 }).map((t) => t.join(''));
const text = fc.array(fc.constantFrom(...CHARS), { minLength: 0, maxLength: 8 }).map((t) => t.join(''));

describe('RE2 patterns', () => {
  it('translated to JS match exactly what re2js matches', () => {
    const stats = { patterns: 0, invalid: 0, js: 0, re2: 0 };
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 4, maxLength: 4 }), (p, texts) => {
        stats.patterns++;
        const r = compileRegex(p);
        if (!isRegex(r)) {
          stats.invalid++;
          return;
        }
        stats[r.engine]++;
        const ref = re2Only(p);
        for (const s of texts) expect(r.test(s), `${JSON.stringify(p)} on ${JSON.stringify(s)} (${r.engine})`).toBe(ref.test(s));
      }),
      { numRuns: Number(process.env.RE2_RUNS ?? 3000), seed: process.env.RE2_SEED ? Number(process.env.RE2_SEED) : undefined },
    );
    // The translation must actually carry the common patterns, and re2js the rest.
    expect(stats.js).toBeGreaterThan(stats.patterns / 10);
    expect(stats.re2).toBeGreaterThan(stats.patterns / 10);
  });

  it('translates the everyday patterns and leaves dialect-specific ones to re2js', () => {
    for (const p of ['^web-[0-9]+$', 'error|timeout', '^(prod|staging)-db-\\d{2}$', 'a.b', '\\s+', '[a-z_]+\\.log$']) {
      expect(translate(p), p).not.toBeNull();
      expect((compileRegex(p) as { engine: string }).engine, p).toBe('js');
    }
    for (const p of ['\\Aweb', '^[[:alpha:]]$', '(?i)web', '(?P<n>a)', '\\pL', 'é', 'a{,2}', '\\Qa.b\\E', '^*']) {
      expect(translate(p) === null || (compileRegex(p) as { engine: string }).engine === 're2', p).toBe(true);
    }
  });

  it('says where RE2 refuses a pattern', () => {
    const cases: [string, string][] = [
      ['ab\\Cd', '\\C'],
      ['a{2,1}x', '{2,1}'],
      ['x(?=a)', '(?='],
      ['x[z-a]', 'z-a'],
      ['a**', '**'],
      ['(?P<n>a)(?P<n>b)', 'n'],
    ];
    for (const [p, at] of cases) {
      const e = regexProblem(p);
      expect(e, p).not.toBeNull();
      expect(p.slice(e!.offset, e!.offset + e!.length), p).toBe(at);
    }
    expect(regexProblem('x\\')).toMatchObject({ offset: 1, length: 1 });
    expect(regexProblem('^web-[0-9]+$')).toBeNull();
  });
});
