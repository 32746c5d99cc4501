// Property: whatever JSON-like data a source hands over, reading it as targets and passing the collector's net
// never throws (but ShapeError for a document that is no list of targets), and what comes out is sound data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { screenOutput } from '../../src/sources/collect.js';
import { readTargetsDocument, ShapeError, valueProblem } from '../../src/sources/shape.js';
import { compile, type CompiledExpr } from '../../src/rules/cel/index.js';

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

// Conditions read every screened target alike on the compiled path and in the reference interpreter: no data that
// passes the net makes a map the CEL library takes for another type (a `constructor` key did: true on one path,
// unknown on the other).
const VARS = { facts: 'map<string, dyn>', labels: 'map<string, string>' };
const EXPRS: CompiledExpr[] = [
  'facts.constructor == 1',
  'facts.toString == 1',
  'has(facts.toString)',
  'labels.toString == "x"',
  '"constructor" in facts',
  'size(facts) >= 0 && size(labels) >= 0',
  'facts.exists(k, k == "x")',
  'facts.all(k, has(facts.toString) || k != "")',
].map((src) => {
  const r = compile(src, { variables: VARS });
  if (!r.expr) throw new Error(`${src}: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.expr;
});
const both = (e: CompiledExpr, act: object) => [e.eval(act), e.interpret(act)];

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
          expect(['__proto__', 'constructor']).not.toContain(k);
          expect(typeof v).toBe('string');
        }
        for (const [k, v] of Object.entries(t.facts ?? {})) {
          expect(['__proto__', 'constructor']).not.toContain(k);
          expect(valueProblem(v, 3)).toBeNull();
        }
        for (const v of Object.values(t.unknown ?? {})) expect(typeof v).toBe('string');
        const act = { facts: t.facts ?? {}, labels: t.labels ?? {} };
        for (const e of EXPRS) {
          const [fast, slow] = both(e, act);
          expect(fast, `${e.source} on ${JSON.stringify(act)}`).toEqual(slow);
        }
      }
    }
  });
});
