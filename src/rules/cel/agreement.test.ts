// The compiled fast path and the reference interpreter must agree on random expressions and activations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFast, type FastFn } from './compiler.js';
import { environment, prepareForCheck, variableTypes } from './env.js';
import { compile, UNKNOWN, type CompiledExpr } from './index.js';
import { Defer } from './runtime.js';

const VARS = {
  facts: 'map<string, dyn>',
  labels: 'map<string, string>',
  target: 'map<string, string>',
  agg: 'map<string, dyn>',
  depends_on: 'list<map<string, dyn>>',
  now: 'timestamp',
};

// ---------------------------------------------------------------- expressions

const num = fc.constantFrom('0', '1', '2', '3', '-1', '10', '0.0', '-0.0', '0.5', '2.5', '1e308', '-1e308', '1e-300', '9007199254740991');
const numRef = fc.constantFrom(
  'facts.n1',
  'facts.n2',
  'facts.n3',
  'agg.x',
  'facts.s1',
  'facts.b1',
  'facts.missing',
  'facts.nul',
  'facts.m1.a',
  'facts.m1.valueOf',
  'facts.toString',
);
const str = fc.constantFrom('""', '"a"', '"abc"', '"Hello"', '"ß"', '"😀"', '"a,b"', '"a,b,,c"', '" x "', '"2"', '"1.5"');
const strRef = fc.constantFrom(
  'facts.s1',
  'facts.s2',
  'labels.env',
  'labels.missing',
  'target.id',
  'facts.n1',
  'facts.m1.b',
  'facts.m1.description',
  'labels.toString',
  'depends_on[3].description',
);
const cmp = fc.constantFrom('<', '<=', '>', '>=', '==', '!=');
const arith = fc.constantFrom('+', '-', '*', '/', '%');
const factName = fc.constantFrom('n1', 's1', 'b1', 'l1', 'missing', 'nul', 'm1', 'toString', 'hasOwnProperty');
const mapKey = fc.constantFrom('a', 'b', 'c', 'zz', 'valueOf', 'description');

// CEL_SEED and CEL_DEPTH let a long local run hunt further than the default one.
const depth = { maxDepth: Number(process.env.CEL_DEPTH ?? 3), depthIdentifier: 'cel' } as const;

const { bool, number, string, numbers } = fc.letrec((tie) => ({
  number: fc.oneof(
    depth,
    num,
    numRef,
    fc.tuple(tie('number'), arith, tie('number')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('number').map((a) => `-${a}`),
    fc.tuple(tie('bool'), tie('number'), tie('number')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    tie('string').map((s) => `size(${s})`),
    tie('numbers').map((l) => `size(${l})`),
    fc.tuple(tie('numbers'), fc.constantFrom('0', '1', '2', '-1', '1.0', '0.5')).map(([l, i]) => `${l}[${i}]`),
    tie('number').map((a) => `int(${a})`),
    tie('number').map((a) => `double(${a})`),
    tie('string').map((s) => `int(${s})`),
    tie('string').map((s) => `${s}.indexOf("a")`),
    fc.constantFrom('depends_on.size()', 'facts.m1["a"]', 'depends_on[0].facts.lag'),
    tie('number').map((a) => `dyn(${a})`),
    tie('number').map((a) => `{"k": ${a}}.k`),
    fc.tuple(tie('number'), tie('string')).map(([a, b]) => `{"k": ${a}, "j": ${b}}.k`),
    fc.tuple(tie('numbers'), tie('number')).map(([l, i]) => `${l}[${i}]`),
    tie('string').map((s) => `facts.m1[${s}]`),
    tie('string').map((s) => `${s}.lastIndexOf("a")`),
    tie('strings').map((l) => `${l}.size()`),
  ),
  bool: fc.oneof(
    depth,
    fc.constantFrom('true', 'false', 'facts.b1', 'facts.b2', 'facts.n1'),
    fc.tuple(tie('number'), cmp, tie('number')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(tie('string'), cmp, tie('string')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(tie('bool'), fc.constantFrom('&&', '||'), tie('bool')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(tie('bool'), cmp, tie('bool')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc
      .tuple(
        fc.constantFrom('facts.n1', 'facts.s1', 'facts.b1', 'facts.l1', 'facts.m1', 'facts.nul'),
        fc.constantFrom('==', '!='),
        fc.oneof(tie('number'), tie('string'), tie('bool')),
      )
      .map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('string').map((s) => `bool(${s})`),
    tie('bool').map((b) => `dyn(${b})`),
    fc.tuple(tie('string'), tie('number')).map(([k, v]) => `(${k} in {"a": ${v}, "b": 1})`),
    fc.constantFrom('depends_on.all(d, has(d.facts.lag))', 'depends_on.exists(d, !has(d.facts.healthy))', 'facts.l1.map(facts, facts + 1).all(x, x > 0)'),
    fc
      .tuple(
        fc.constantFrom('true', 'false', '"a"', '1', '2.5', 'null'),
        cmp,
        fc.constantFrom('facts.n1', 'facts.b1', 'facts.s1', 'facts.nul', 'facts.l1', 'facts.m1'),
      )
      .map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('bool').map((a) => `!${a}`),
    fc.tuple(tie('bool'), tie('bool'), tie('bool')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    factName.map((f) => `has(facts.${f})`),
    mapKey.map((k) => `has(facts.m1.${k})`),
    fc.tuple(factName, mapKey).map(([f, k]) => `has(facts.${f}.${k})`),
    fc.constantFrom('[].exists(e, e == 2)', '[].all(e, e > 0)', 'has({"a": 1}.a)', 'facts.l1.exists(x, has(x.a))'),
    fc.constantFrom(
      'timestamp("9999-12-31T23:59:59Z") + duration("1s") > now',
      'now + duration("2562048h") > now',
      'now.getHours("+02:00") > 3',
      'now.getDayOfWeek("Europe/Berlin") == 1',
      'int(facts.n1 * 1e300) > 0',
      '-(-9223372036854775807 - 1) > 0',
    ),
    mapKey.map((k) => `("${k}" in facts.m1)`),
    fc.tuple(tie('number'), tie('numbers')).map(([a, l]) => `(${a} in ${l})`),
    fc.tuple(tie('string'), tie('strings')).map(([a, l]) => `(${a} in ${l})`),
    fc.tuple(tie('string'), fc.constantFrom('contains', 'startsWith', 'endsWith'), tie('string')).map(([a, m, b]) => `${a}.${m}(${b})`),
    fc
      .tuple(
        tie('string'),
        fc.constantFrom(
          '"^a"',
          '"b$"',
          '"[0-9]+"',
          '"("',
          '"\\\\Aa"',
          '"^[[:alpha:]]+$"',
          '"(?i)HELLO"',
          '"^.$"',
          '"(?P<x>b)"',
          '"\\\\s"',
          '"a{2,1}"',
          'r"\\d"',
        ),
      )
      .map(([a, re]) => `${a}.matches(${re})`),
    fc
      .tuple(tie('numbers'), fc.constantFrom('all', 'exists', 'exists_one'), arith, tie('number'), cmp, tie('number'))
      .map(([l, m, op, a, c, b]) => `${l}.${m}(x, (x ${op} ${a}) ${c} ${b})`),
    fc.tuple(tie('strings'), fc.constantFrom('all', 'exists'), tie('string')).map(([l, m, s]) => `${l}.${m}(x, x.startsWith(${s}) || x == ${s})`),
    fc
      .tuple(fc.constantFrom('all', 'exists', 'exists_one'), cmp, tie('number'))
      .map(([m, c, n]) => `depends_on.${m}(d, d.facts.healthy && d.facts.lag ${c} ${n})`),
    fc.constantFrom('depends_on.all(d, d.facts.healthy)', 'depends_on.exists(d, d.labels.role == "primary")', 'facts.l1 == [1, 2]', 'facts.m1 == {"a": 1}'),
    fc.constantFrom(
      'now - timestamp(facts.t1) > duration("1h")',
      'timestamp(facts.t1) < now',
      'timestamp(facts.s1) == now',
      'now - duration("30m") >= timestamp(facts.t1)',
    ),
  ),
  string: fc.oneof(
    depth,
    str,
    strRef,
    fc.tuple(tie('string'), tie('string')).map(([a, b]) => `(${a} + ${b})`),
    fc.tuple(tie('string'), fc.constantFrom('lowerAscii', 'upperAscii', 'trim')).map(([a, m]) => `${a}.${m}()`),
    tie('number').map((a) => `string(${a})`),
    fc.tuple(tie('bool'), tie('string'), tie('string')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    tie('strings').map((l) => `${l}[0]`),
    tie('strings').map((l) => `${l}.join(",")`),
  ),
  numbers: fc.oneof(
    depth,
    fc.constantFrom('facts.l1', 'facts.l3', '[1, 2, 3]', '[0.5, -1.5]', '[]', 'depends_on.map(d, d.facts.lag)'),
    fc.tuple(tie('number'), tie('number')).map(([a, b]) => `[${a}, ${b}]`),
    fc.tuple(tie('numbers'), arith, tie('number')).map(([l, op, a]) => `${l}.map(x, x ${op} ${a})`),
    fc.tuple(tie('numbers'), cmp, tie('number')).map(([l, c, a]) => `${l}.filter(x, x ${c} ${a})`),
    fc.tuple(tie('numbers'), cmp, tie('number'), tie('number')).map(([l, c, a, b]) => `${l}.map(x, x ${c} ${a}, x * ${b})`),
  ),
  strings: fc.oneof(
    depth,
    fc.constantFrom('facts.l2', '["a", "b"]', 'facts.alerts.map(a, a.labels.alertname)', 'facts.m1.map(k, k)', 'labels.env.split(",")'),
    tie('string').map((s) => `${s}.split(",")`),
    fc.tuple(tie('strings'), tie('string')).map(([l, s]) => `${l}.filter(x, x.startsWith(${s}))`),
  ),
}));

const expression = fc.oneof(
  { weight: 4, arbitrary: bool },
  { weight: 2, arbitrary: number },
  { weight: 1, arbitrary: string },
  { weight: 1, arbitrary: numbers },
);

// ---------------------------------------------------------------- activations

const ABSENT = Symbol('absent');
const numVal = fc.constantFrom(0, -0, 1, -1, 2, 3, 0.5, -2.5, 1e308, -1e308, 5e-324, 2 ** 53, 0.1, 100, 7);
const strVal = fc.constantFrom('', 'a', 'abc', 'Hello', 'ß', '😀x', 'a,b', 'a,,b,c', ' x ', '2', '1.5', 'true', 'b1');
const scalar = fc.oneof(numVal, strVal, fc.boolean(), fc.constant(null));
const time = fc.constantFrom('2024-05-01T11:00:00Z', '2024-05-01T11:45:00.5Z', '2024-05-01T12:00:00Z', 'not a time', '2024-05-01');
function maybe<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> {
  return fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: scalar }, { weight: 2, arbitrary: fc.constant(ABSENT) });
}
function present<T extends Record<string, unknown>>(o: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ABSENT));
}

const activation = fc
  .record({
    facts: fc
      .record({
        n1: maybe(numVal),
        n2: maybe(numVal),
        n3: maybe(numVal),
        s1: maybe(strVal),
        s2: maybe(strVal),
        b1: maybe(fc.boolean()),
        b2: maybe(fc.boolean()),
        nul: fc.constant(null),
        l1: maybe(fc.array(numVal, { maxLength: 4 })),
        l2: maybe(fc.array(strVal, { maxLength: 4 })),
        l3: maybe(fc.array(scalar, { maxLength: 3 })),
        m1: maybe(fc.dictionary(mapKey, scalar, { maxKeys: 3 })),
        alerts: maybe(fc.array(fc.record({ labels: fc.record({ alertname: maybe(strVal) }).map(present) }), { maxLength: 3 })),
        t1: maybe(time),
      })
      .map(present),
    labels: fc.record({ env: maybe(strVal) }).map(present),
    agg: fc.record({ x: maybe(numVal) }).map(present),
    depends_on: fc.array(
      fc.record({
        id: strVal,
        kind: fc.constant('db'),
        labels: fc.record({ role: fc.constantFrom('primary', 'replica') }),
        facts: fc.record({ healthy: maybe(fc.boolean()), lag: maybe(numVal) }).map(present),
      }),
      { maxLength: 3 },
    ),
  })
  .map((a) => ({ ...a, target: { id: 'api-1', kind: 'instance' }, now: new Date('2024-05-01T12:00:00Z') }));

// ---------------------------------------------------------------- comparison

/** Deep equality that tells -0 from 0 and accepts NaN = NaN (Object.is on leaves). */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function show(v: unknown): string {
  if (v === UNKNOWN) return 'UNKNOWN';
  return JSON.stringify(v, (_k, x: unknown) => (Object.is(x, -0) ? '-0' : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}

function rawFast(source: string): FastFn | null {
  const env = environment(VARS);
  const p = env.parse(source);
  prepareForCheck(p.ast as never);
  if (!p.check().valid) return null;
  try {
    return compileFast(p.ast as never, { variables: variableTypes(env, VARS), constant: (s) => env.evaluate(s) }).fn;
  } catch {
    return null;
  }
}

describe('compiled and interpreted CEL agree', () => {
  it('on random expressions and activations', () => {
    const stats = { cases: 0, checkErrors: 0, compiled: 0, evaluations: 0, deferred: 0, unknown: 0, known: 0 };
    fc.assert(
      fc.property(expression, fc.array(activation, { minLength: 3, maxLength: 3 }), (src, acts) => {
        stats.cases++;
        const r = compile(src, { variables: VARS });
        if (!r.expr) {
          stats.checkErrors++;
          return;
        }
        const e: CompiledExpr = r.expr;
        const fast = e.fast ? rawFast(src) : null;
        if (e.fast) {
          expect(fast, `${src} compiles in compile() but not alone`).not.toBeNull();
          stats.compiled++;
        }
        for (const act of acts) {
          const want = e.interpret(act);
          const got = e.eval(act);
          if (!same(got, want)) throw new Error(`eval disagrees on ${src}\n  compiled: ${show(got)}\n  reference: ${show(want)}\n  activation: ${show(act)}`);
          if (want === UNKNOWN) stats.unknown++;
          else stats.known++;
          if (!fast) continue;
          stats.evaluations++;
          let raw: unknown;
          try {
            raw = fast(act);
          } catch (err) {
            if (!(err instanceof Defer)) throw err;
            stats.deferred++;
            continue;
          }
          if (!same(raw, want))
            throw new Error(`fast path disagrees on ${src}\n  compiled: ${show(raw)}\n  reference: ${show(want)}\n  activation: ${show(act)}`);
        }
      }),
      { numRuns: 4000, seed: Number(process.env.CEL_SEED ?? 20240501) },
    );
    // The test means something only if most expressions type-check, compile and evaluate on the fast path.
    expect(stats.checkErrors / stats.cases).toBeLessThan(0.3);
    expect(stats.compiled / (stats.cases - stats.checkErrors)).toBeGreaterThan(0.75);
    expect(stats.deferred / stats.evaluations).toBeLessThan(0.1);
    expect(stats.known / (stats.known + stats.unknown)).toBeGreaterThan(0.3);
    console.log('agreement:', JSON.stringify(stats));
  });
});
