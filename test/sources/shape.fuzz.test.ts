// Property: whatever JSON-like data a source hands over, reading it as targets and passing the collector's net
// never throws (but ShapeError for a document that is no list of targets), and what comes out is sound data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { screenOutput } from '../../src/sources/collect.js';
import { readTargetsDocument, ShapeError, valueProblem } from '../../src/sources/shape.js';

const RUNS = Number(process.env.REFLEX_FUZZ_RUNS ?? 300);
const key = fc.oneof(fc.constantFrom('id', 'kind', 'labels', 'lables', 'depends_on', 'facts', 'unknown', '__proto__', 'constructor', 'toString'), fc.string());
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -0, 1e308, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, '', '__proto__'),
    fc.double(),
    fc.string(),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;
const entry = fc.record(
  {
    id: fc.oneof(fc.string({ minLength: 1 }), value),
    kind: fc.oneof(fc.string(), value),
    labels: fc.oneof(fc.dictionary(key, fc.oneof(fc.string(), value), { maxKeys: 4 }), value),
    depends_on: fc.oneof(fc.array(fc.string()), value),
    facts: fc.oneof(fc.dictionary(key, value, { maxKeys: 4 }), value),
    unknown: fc.oneof(fc.dictionary(key, value, { maxKeys: 2 }), value),
  },
  { requiredKeys: [] },
);
const doc = fc.oneof(fc.array(fc.oneof(entry, value), { maxLength: 6 }), fc.record({ targets: fc.array(fc.oneof(entry, value), { maxLength: 6 }) }), value);

describe('targets documents, fuzzed', () => {
  it('read and screened: only ShapeError, and every fact left is sound', () => {
    fc.assert(
      fc.property(doc, (data) => {
        // As built (NaN, infinities), and through JSON.parse, which gives own __proto__ keys as a source's data does.
        for (const parsed of [data, JSON.parse(JSON.stringify(data) ?? 'null') as unknown]) check(parsed);
      }),
      { numRuns: RUNS },
    );
    function check(parsed: unknown): void {
      let out: ReturnType<typeof readTargetsDocument>;
      try {
        out = readTargetsDocument(parsed, { maxDepth: 3 });
      } catch (err) {
        expect(err).toBeInstanceOf(ShapeError);
        return;
      }
      const screened = screenOutput({ targets: out.targets, facts: out.facts, warnings: out.warnings }, { maxDepth: 3 });
      expect(() => JSON.stringify(screened)).not.toThrow();
      for (const t of screened.targets) {
        expect(typeof t.id === 'string' && t.id !== '').toBe(true);
        for (const [k, v] of Object.entries(t.labels ?? {})) {
          expect(k).not.toBe('__proto__');
          expect(typeof v).toBe('string');
        }
        for (const [k, v] of Object.entries(t.facts ?? {})) {
          expect(k).not.toBe('__proto__');
          expect(valueProblem(v, 3)).toBeNull();
        }
        for (const v of Object.values(t.unknown ?? {})) expect(typeof v).toBe('string');
      }
    }
  });
});
