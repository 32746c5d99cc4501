import { describe, expect, it } from 'vitest';
import { compileFast } from './compiler.js';
import { environment, variableTypes } from './env.js';
import { compile, truth, UNKNOWN, type CompileOptions, type CompiledExpr } from './index.js';
import { Defer } from './runtime.js';

const VARS = {
  facts: 'map<string, dyn>',
  labels: 'map<string, string>',
  target: 'map<string, string>',
  agg: 'map<string, dyn>',
  depends_on: 'list<map<string, dyn>>',
  dependents: 'list<map<string, dyn>>',
  upstream: 'list',
  downstream: 'list',
  now: 'timestamp',
};
const FIELDS = { target: ['id', 'kind'], depends_on: ['id', 'kind', 'labels', 'facts'], dependents: ['id', 'kind', 'labels', 'facts'] };
const NOW = new Date('2024-05-01T12:00:00Z');

function activation(facts: Record<string, unknown> = {}, more: Record<string, unknown> = {}): object {
  return {
    facts,
    labels: { env: 'prod', service: 'api' },
    target: { id: 'api-1', kind: 'instance' },
    agg: { service_unhealthy: 0.5 },
    depends_on: [
      { id: 'db-1', kind: 'datastore', labels: { role: 'primary' }, facts: { healthy: true, lag: 2 } },
      { id: 'db-2', kind: 'datastore', labels: { role: 'replica' }, facts: { healthy: false } },
    ],
    dependents: [],
    upstream: [],
    downstream: [],
    now: NOW,
    ...more,
  };
}

function compiled(source: string, opts: Partial<CompileOptions> = {}): CompiledExpr {
  const r = compile(source, { variables: VARS, ...opts });
  if (!r.expr) throw new Error(`${source}: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.expr;
}

/** The raw compiled function: throws instead of handing over to the interpreter. */
function rawFast(source: string): (a: object) => unknown {
  const env = environment(VARS);
  const p = env.parse(source);
  p.check();
  return compileFast(p.ast as never, { variables: variableTypes(env, VARS), constant: (s) => env.evaluate(s) }).fn;
}

/**
 * Evaluates with both paths and insists they agree; by default also that the fast path
 * compiled the expression and evaluated it without help.
 */
function ev(source: string, act: object = activation(), { fast = true } = {}): unknown {
  const e = compiled(source);
  const a = e.eval(act);
  const b = e.interpret(act);
  expect(a, `${source}: compiled vs interpreter`).toEqual(b);
  if (fast) {
    expect(e.fast, `${source} should compile (${e.fallback})`).toBe(true);
    expect(rawFast(source)(act), `${source}: raw fast path`).toEqual(a);
  }
  return a;
}

const U = UNKNOWN;

describe('three-valued logic', () => {
  const f = { up: 0, healthy: true, s: 'text' };
  it.each([
    ['facts.missing == 1 && false', false],
    ['false && facts.missing == 1', false],
    ['facts.missing == 1 && true', U],
    ['true && facts.missing == 1', U],
    ['facts.missing == 1 || true', true],
    ['true || facts.missing == 1', true],
    ['facts.missing == 1 || false', U],
    ['false || facts.missing == 1', U],
    ['!(facts.missing == 1)', U],
    ['facts.missing == 1 ? 1 : 2', U],
    ['facts.healthy ? 1 : 2', 1],
    ['facts.s ? 1 : 2', U],
    ['facts.s && false', false],
    ['facts.s || true', true],
    ['facts.s && true', U],
    ['facts.missing == 1 && facts.other == 2', U],
  ])('%s is %s', (src, want) => {
    expect(ev(src, activation(f))).toBe(want);
  });

  it('orders only values of the same type', () => {
    const a = activation({ n: 5, b: true, s: 'b' });
    expect(ev('true < facts.n', a)).toBe(U);
    expect(ev('false < facts.b', a)).toBe(true);
    expect(ev('"a" < facts.s', a)).toBe(true);
    expect(ev('"a" < facts.n', a)).toBe(U);
    expect(ev('1 < facts.s', a)).toBe(U);
    expect(ev('null == facts.n', a)).toBe(false);
  });

  it('makes every evaluation error unknown instead of throwing', () => {
    for (const src of ['facts.s < 1', 'facts.s + 1', '-facts.s', 'facts.up.x', 'facts.l[5]', 'int(facts.s)', 'timestamp(facts.s)', '!facts.up']) {
      expect(ev(src, activation({ ...f, l: [1, 2] })), src).toBe(U);
    }
  });

  it('is unknown when the activation lacks a variable or has the wrong shape', () => {
    expect(ev('facts.up == 0', {})).toBe(U);
    expect(ev('facts.up == 0', { facts: [1, 2] })).toBe(U);
    expect(ev('facts.up == 0', { facts: 'up' })).toBe(U);
    expect(ev('labels.env == "prod"', { labels: { env: 5 } })).toBe(U);
    expect(ev('facts.up == 0', { facts: null })).toBe(U);
    // Field reads look first and check the receiver after: inherited and numeric names must not leak through.
    expect(ev('facts.length', { facts: 'abc' })).toBe(U);
    expect(ev('facts["0"]', { facts: 'abc' })).toBe(U);
    expect(ev('facts.length', { facts: [1, 2] })).toBe(U);
    expect(ev('facts.constructor', { facts: {} })).toBe(U);
    expect(ev('size(facts)', { facts: [1, 2] })).toBe(U);
    expect(ev('facts.x.length', { facts: { x: 'abc' } })).toBe(U);
    expect(ev('facts.x.description', { facts: {} })).toBe(U);
    expect(ev('has(facts.x.length)', { facts: { x: [1] } })).toBe(U);
  });

  it('maps values to truth', () => {
    expect(truth(true)).toBe(true);
    expect(truth(false)).toBe(false);
    expect(truth(UNKNOWN)).toBe('unknown');
    expect(truth(1)).toBe('unknown');
  });
});

describe('numbers', () => {
  it('mixes int literals and double facts', () => {
    const a = activation({ restarts: 2, up: 0, ratio: 0.25 });
    expect(ev('facts.restarts + 1', a)).toBe(3);
    expect(ev('1 + facts.restarts', a)).toBe(3);
    expect(ev('facts.restarts * 2 - 1', a)).toBe(3);
    expect(ev('facts.restarts % 2', a)).toBe(0);
    expect(ev('5 % facts.restarts', a)).toBe(1);
    expect(ev('facts.up == 0', a)).toBe(true);
    expect(ev('facts.ratio < 1', a)).toBe(true);
    expect(ev('size([1, 2, 3]) * 0.5', a)).toBe(1.5);
    expect(ev('1 == 1.0', a)).toBe(true);
    expect(ev('[1, 2.5][1]', a)).toBe(2.5);
  });

  it('keeps int division for ints and double division otherwise', () => {
    expect(ev('7 / 2')).toBe(3);
    expect(ev('-7 / 2')).toBe(-3);
    expect(ev('7.0 / 2')).toBe(3.5);
    expect(ev('facts.x / 2', activation({ x: 7 }))).toBe(3.5);
    expect(ev('-7 % 3')).toBe(-1);
    expect(ev('7 % -3')).toBe(1);
  });

  it('never returns -0 for ints, like BigInts', () => {
    expect(Object.is(ev('0 * -1'), 0)).toBe(true);
    expect(Object.is(ev('0 / -5'), 0)).toBe(true);
    expect(Object.is(ev('-4 % 2'), 0)).toBe(true);
    expect(Object.is(ev('-0'), 0)).toBe(true);
    expect(Object.is(ev('-facts.z', activation({ z: 0 })), -0)).toBe(true);
  });

  it('makes division and modulo by zero unknown for every number type', () => {
    const a = activation({ zero: 0, one: 1 });
    for (const src of [
      '1 / 0',
      '1 % 0',
      'facts.one / 0',
      'facts.one / facts.zero',
      '1.0 / 0.0',
      'facts.one % facts.zero',
      'facts.zero / 0.0',
      '2 / facts.zero',
    ]) {
      expect(ev(src, a), src).toBe(U);
    }
    expect(ev('[1.0, 2.0].map(x, x / 0.0)', a)).toBe(U);
    expect(ev('facts.l.exists(x, 1 / x > 0.5)', activation({ l: [0, 1] }))).toBe(true);
    expect(compiled('facts.one / facts.zero').explainUnknown(a)).toBe('division by zero in `facts.one / facts.zero` (facts.one = 1, facts.zero = 0)');
  });

  it('hands integers beyond 2^53 to the interpreter, which is exact', () => {
    // biome-ignore lint/correctness/noPrecisionLoss: the literal is the exact sum as written; JS rounds it as the interpreter's result is rounded
    expect(ev('9007199254740991 + 2', activation(), { fast: false })).toBe(9007199254740993);
    expect(() => rawFast('9007199254740991 + 2')(activation())).toThrow(Defer);
    expect(ev('9223372036854775807 + 1', activation(), { fast: false })).toBe(U);
    expect(compiled('9223372036854775807 + 1').fast).toBe(false);
  });

  it('follows IEEE for doubles that overflow', () => {
    expect(ev('1e308 * 10')).toBe(Infinity);
    expect(ev('facts.big * facts.big > 1.0', activation({ big: 1e308 }))).toBe(true);
  });

  it('converts between numbers and strings like cel-js', () => {
    const a = activation({ n: 2.9, s: '42', neg: -0.5 });
    expect(ev('int(facts.n)', a)).toBe(2);
    expect(Object.is(ev('int(facts.neg)', a), 0)).toBe(true);
    expect(ev('int(facts.s) + 1', a)).toBe(43);
    expect(ev('double(facts.s)', a)).toBe(42);
    expect(ev('string(facts.n)', a)).toBe('2.9');
    expect(ev('string(7)', a)).toBe('7');
    expect(ev('string(1.0 / 3.0)', a)).toBe(String(1 / 3));
    expect(ev('int("0x10")', a)).toBe(U);
    expect(ev('double("abc")', a)).toBe(U);
    expect(ev('bool("true") && !bool("f")', a)).toBe(true);
  });
});

describe('strings, lists and maps', () => {
  const a = activation({
    s: 'Hello World',
    alerts: [{ labels: { alertname: 'HighErrorRate', severity: 'page' } }, { labels: { alertname: 'DiskFull' } }],
    codes: [500, 502],
    m: { a: 1, b: null },
    emoji: 'a😀b',
  });
  it.each([
    ['facts.s.contains("World")', true],
    ['facts.s.startsWith("Hell") && facts.s.endsWith("d")', true],
    ['facts.s.lowerAscii()', 'hello world'],
    ['facts.s.upperAscii() == "HELLO WORLD"', true],
    ['facts.s.matches("^H.*d$")', true],
    ['facts.s.indexOf("o")', 4],
    ['facts.s.split(" ")', ['Hello', 'World']],
    ['facts.s.split(" ").join("-")', 'Hello-World'],
    ['size(facts.s)', 11],
    ['size(facts.emoji)', 3],
    ['facts.emoji.size()', 3],
    ['"  x ".trim()', 'x'],
    ['facts.s + "!"', 'Hello World!'],
    ['facts.s < "Z"', true],
    ['"HighErrorRate" in facts.alerts.map(a, a.labels.alertname)', true],
    ['"Nope" in facts.alerts.map(a, a.labels.alertname)', false],
    ['502 in facts.codes', true],
    ['facts.codes[0] in [500, 503]', true],
    ['"a" in facts.m', true],
    ['"b" in facts.m', true],
    ['"c" in facts.m', false],
    ['size(facts.m)', 2],
    ['facts.m.a', 1],
    ['facts.m["a"] + 1', 2],
    ['facts.m.b == null', true],
    ['facts.codes[1]', 502],
    ['facts.codes[1.0]', 502],
    ['facts.codes[1.5]', U],
    ['facts.codes[-1]', U],
    ['facts.codes[2]', U],
    ['facts.s == 1', false],
    ['facts.s != 1', true],
    ['facts.m.b == 0', false],
    ['facts.s.contains(1 == 1 ? "W" : "x")', true],
    ['labels.service + "-" + target.id', 'api-api-1'],
    ['{"a": facts.codes[0], "b": "x"}', { a: 500, b: 'x' }],
    ['[facts.codes[0], 1]', [500, 1]],
  ])('%s is %j', (src, want) => {
    expect(ev(src, a)).toEqual(want);
  });

  it('compares lists and maps by value through the interpreter', () => {
    expect(ev('facts.codes == [500, 502]', a, { fast: false })).toBe(true);
    expect(ev('facts.m == {"a": 1, "b": null}', a, { fast: false })).toBe(true);
    expect(ev('facts.codes == ["x"]', a, { fast: false })).toBe(false);
  });
});

describe('macros', () => {
  const a = activation({ l: [1, 2, 3], mixed: [1, 'x', 3], m: { x: 1, y: 2 }, empty: [] });
  it.each([
    ['facts.l.all(x, x > 0)', true],
    ['facts.l.all(x, x > 1)', false],
    ['facts.l.exists(x, x > 2)', true],
    ['facts.l.exists(x, x > 5)', false],
    ['facts.l.exists_one(x, x > 2)', true],
    ['facts.l.exists_one(x, x > 1)', false],
    ['facts.l.filter(x, x > 1)', [2, 3]],
    ['facts.l.map(x, x * 10)', [10, 20, 30]],
    ['facts.l.map(x, x > 1, x * 10)', [20, 30]],
    ['facts.empty.all(x, x > 100)', true],
    ['facts.empty.exists(x, true)', false],
    ['facts.m.all(k, k.size() == 1)', true],
    ['facts.m.map(k, k)', ['x', 'y']],
    // all: a false element wins over unknown ones; exists: a true element does.
    ['facts.mixed.all(x, x > 2)', false],
    ['facts.mixed.all(x, x > 0)', U],
    ['facts.mixed.exists(x, x == 3)', true],
    ['facts.mixed.exists(x, x > 5)', U],
    ['facts.mixed.exists_one(x, x == 3)', true],
    ['facts.mixed.exists_one(x, x > 2)', U],
    ['facts.mixed.map(x, x + 1)', U],
    ['facts.mixed.filter(x, x > 1)', U],
    ['facts.l.all(x, x)', U],
    ['facts.missing.all(x, true)', U],
    ['facts.l[0].all(x, true)', U],
    ['depends_on.all(d, d.facts.healthy)', false],
    ['depends_on.exists(d, d.facts.healthy && d.labels.role == "primary")', true],
    ['depends_on.filter(d, d.kind == "datastore").map(d, d.id)', ['db-1', 'db-2']],
    ['depends_on.all(d, d.facts.lag < 5)', U],
    ['depends_on.exists(d, d.facts.lag < 5)', true],
    ['depends_on.all(d, d.facts.lag < 1)', false],
    ['dependents.all(d, d.facts.healthy)', true],
    ['facts.l.exists(x, facts.l.all(y, y <= x))', true],
    ['facts.l.map(facts, facts + 1)', [2, 3, 4]],
  ])('%s is %j', (src, want) => {
    expect(ev(src, a)).toEqual(want);
  });

  it('fails the whole macro when an element is not of the declared type', () => {
    const bad = activation({}, { depends_on: ['oops', { id: 'x', facts: { healthy: false } }] });
    expect(ev('depends_on.all(d, d.facts.healthy)', bad)).toBe(U);
    // Elements are checked as they are reached: a false element before the bad one decides.
    const late = activation({}, { depends_on: [{ id: 'x', facts: { healthy: false } }, 'oops'] });
    expect(ev('depends_on.all(d, d.facts.healthy)', late)).toBe(false);
  });

  it('reads relation lists only when evaluation reaches them', () => {
    let reads = 0;
    const act = {
      facts: { up: 1 },
      get depends_on() {
        reads++;
        return [];
      },
    };
    const e = compiled('facts.up == 0 && depends_on.all(d, d.facts.healthy)');
    expect(e.eval(act)).toBe(false);
    expect(reads).toBe(0);
    expect(e.eval({ ...act, facts: { up: 0 } })).toBe(true);
  });
});

describe('has()', () => {
  const a = activation({ up: 0, n: null, m: { a: 1 }, s: 'x' });
  it.each([
    ['has(facts.up)', true],
    ['has(facts.n)', true],
    ['has(facts.missing)', false],
    ['has(facts.m.a)', true],
    ['has(facts.m.b)', false],
    ['has(facts.missing.a)', U],
    ['has(facts.s.x)', U],
    ['has(labels.env)', true],
    ['has(facts.missing) && facts.missing > 1', false],
    ['!has(facts.missing) || facts.missing > 1', true],
    ['depends_on.all(d, has(d.facts.healthy))', true],
    ['depends_on.all(d, has(d.facts.lag))', false],
  ])('%s is %j', (src, want) => {
    expect(ev(src, a)).toEqual(want);
  });
});

describe('timestamps and durations', () => {
  const a = activation({ deployed_at: '2024-05-01T11:30:00Z', bad: 'yesterday', when: '2024-05-01T12:00:00Z' });
  it.each([
    ['now - timestamp(facts.deployed_at) > duration("10m")', true],
    ['now - timestamp(facts.deployed_at) > duration("1h")', false],
    ['now - timestamp(facts.deployed_at)', 1800],
    ['duration("1m30s")', 90],
    ['duration("1.5ms")', 0.0015],
    ['timestamp(facts.deployed_at) < now', true],
    ['timestamp(facts.when) == now', true],
    ['timestamp(facts.when) != now', false],
    ['now - duration("1h") > timestamp(facts.deployed_at)', false],
    ['timestamp(facts.deployed_at) + duration("30m") == now', true],
    ['now - timestamp(facts.bad) > duration("10m")', U],
    ['timestamp(facts.missing) < now', U],
    ['timestamp(1714564800) == now', true],
    ['duration("bogus") > duration("1s")', U],
  ])('%s is %j', (src, want) => {
    expect(ev(src, a)).toEqual(want);
  });

  it('returns timestamps as Dates', () => {
    expect(ev('timestamp(facts.deployed_at)', a)).toEqual(new Date('2024-05-01T11:30:00Z'));
    expect(ev('now + duration("1s")', a)).toEqual(new Date('2024-05-01T12:00:01Z'));
  });

  it('leaves timestamp accessors and duration arithmetic to the interpreter', () => {
    for (const src of ['now.getHours() >= 9', 'duration("1m") + duration("1m") == duration("2m")', 'type(facts.deployed_at) == string']) {
      const e = compiled(src);
      expect(e.fast, src).toBe(false);
      expect(e.fallback, src).toBeTruthy();
      expect(e.eval(a), src).toBe(true);
    }
  });

  it('hands long spans to the interpreter at run time', () => {
    const old = activation({ deployed_at: '2020-01-01T00:00:00Z' });
    expect(ev('now - timestamp(facts.deployed_at) > duration("720h")', old, { fast: false })).toBe(true);
  });
});

describe('the fast path refuses what it would get wrong', () => {
  it('does not compile an int hidden behind dyn that reaches arithmetic', () => {
    const e = compiled('(facts.x > 0 ? 1 : facts.x) / 2');
    expect(e.fast).toBe(false);
    expect(e.eval(activation({ x: 3 }))).toBe(0); // int division: 1 / 2
    expect(e.eval(activation({ x: -3 }))).toBe(-1.5);
  });

  it('compiles the same shapes when no int can hide', () => {
    expect(compiled('(facts.x > 0 ? 1.0 : facts.x) / 2').fast).toBe(true);
    expect(compiled('(facts.x > 0 ? 1 : facts.x) == 1').fast).toBe(true);
  });

  it('survives activations with unusual values by deferring to the interpreter', () => {
    const odd = activation({ big: 10n, map: new Map([['a', 1]]) });
    expect(ev('facts.big + 1', odd, { fast: false })).toBe(11);
    expect(ev('facts.map.a', odd, { fast: false })).toBe(1);
    expect(compiled('facts.up == 0').eval(null as unknown as object)).toBe(U);
  });
});

describe('other variable sets', () => {
  it('compiles expressions over an HTTP response', () => {
    const vars = { body: 'dyn', status: 'double', latency_ms: 'double', record: 'map' };
    const r = compile('status == 200 && latency_ms < 500 && record.healthy', { variables: vars });
    expect(r.errors).toEqual([]);
    const e = r.expr!;
    expect(e.fast).toBe(true);
    expect(e.eval({ status: 200, latency_ms: 120, record: { healthy: true } })).toBe(true);
    expect(e.eval({ status: 503, latency_ms: 120, record: {} })).toBe(false);
    expect(e.eval({ status: '200', latency_ms: 120, record: { healthy: true } })).toBe(U);
    expect(e.eval({ latency_ms: 120, record: { healthy: true } })).toBe(U);
    expect(compile('body.items.map(i, i.name)', { variables: vars }).expr!.eval({ body: { items: [{ name: 'a' }, { name: 'b' }] } })).toEqual(['a', 'b']);
    expect(compile('facts.up == 0', { variables: vars }).errors[0]!.message).toBe(
      'unknown variable `facts`; known variables: body, status, latency_ms, record',
    );
  });
});

describe('refs', () => {
  it('lists facts, aggregates, labels and relations read by name', () => {
    const e = compiled(
      'facts.up == 0 && has(facts.restarts) && facts["deployed at"] != "" && "alerts" in facts && agg.service_unhealthy > 0.3 && labels.env == "prod" && depends_on.all(d, d.facts.healthy && d.labels.role == "primary") && upstream[0].facts.lag < 5',
    );
    expect(e.refs.facts).toEqual(['up', 'restarts', 'deployed at', 'alerts', 'healthy', 'lag']);
    expect(e.refs.agg).toEqual(['service_unhealthy']);
    expect(e.refs.labels).toEqual(['env', 'role']);
    expect(e.refs.relations).toEqual(['depends_on', 'upstream']);
    expect(e.refs.dynamic).toBe(false);
    const up = e.refs.sites.find((s) => s.name === 'up')!;
    expect(e.source.slice(up.offset, up.offset + up.length)).toBe('up');
    const healthy = e.refs.sites.find((s) => s.name === 'healthy')!;
    expect(e.source.slice(healthy.offset, healthy.offset + healthy.length)).toBe('healthy');
  });

  it('follows filtered relations and ignores iteration variables that shadow names', () => {
    const e = compiled('depends_on.filter(d, d.kind == "db").exists(x, x.facts.lag > 1) && facts.l.all(facts, facts > 0)');
    expect(e.refs.facts).toEqual(['lag', 'l']);
    expect(e.refs.relations).toEqual(['depends_on']);
    expect(e.refs.dynamic).toBe(false);
  });

  it('says when a name is computed', () => {
    expect(compiled('facts[labels.metric] > 1').refs).toMatchObject({ facts: [], labels: ['metric'], dynamic: true });
    expect(compiled('size(facts) > 1').refs.dynamic).toBe(true);
  });
});

describe('check errors', () => {
  function errors(src: string, opts: Partial<CompileOptions> = {}) {
    const r = compile(src, { variables: VARS, ...opts });
    expect(r.expr).toBeUndefined();
    return r.errors.map((e) => ({ ...e, text: src.slice(e.offset, e.offset + e.length) }));
  }

  it('suggests the variable that was meant', () => {
    expect(errors('fact.up == 1')).toEqual([{ message: 'unknown variable `fact`, did you mean `facts`?', offset: 0, length: 4, text: 'fact' }]);
    expect(errors('facts.up == 1 && lables.env == "x"')[0]).toMatchObject({ message: 'unknown variable `lables`, did you mean `labels`?', text: 'lables' });
    expect(errors('zzz > 1')[0]!.message).toMatch(/^unknown variable `zzz`; known variables: facts, labels/);
  });

  it('suggests the function or method that was meant', () => {
    expect(errors('sizee(facts.l) > 0')[0]).toMatchObject({ message: 'unknown function `sizee`, did you mean `size`?', text: 'sizee' });
    expect(errors('facts.s.containz("x")')[0]).toMatchObject({ message: 'unknown method `containz`, did you mean `contains`?', text: 'containz' });
  });

  it('reports syntax errors where they are', () => {
    expect(errors('facts.up = 1')[0]).toMatchObject({ message: 'Unexpected character: =', offset: 9 });
    expect(errors('facts.up == 1 &&')[0]).toMatchObject({ message: 'Unexpected token: EOF', offset: 16 });
  });

  it('reports type mismatches', () => {
    expect(errors('labels.env == 1')[0]).toMatchObject({ message: 'no such overload: string == int', offset: 0 });
    expect(errors('facts.up && "x"')[0]!.message).toMatch(/bool operands/);
  });

  it('checks field names of known shapes', () => {
    expect(errors('target.idd == "x"', { fields: FIELDS })[0]).toMatchObject({ message: 'unknown field `idd` of `target`, did you mean `id`?', text: 'idd' });
    expect(errors('depends_on.all(d, d.fact.healthy)', { fields: FIELDS })[0]).toMatchObject({
      message: 'unknown field `fact` of an element of `depends_on`, did you mean `facts`?',
      text: 'fact',
    });
    expect(compile('target.id == "x" && depends_on.all(d, d.kind == "db")', { variables: VARS, fields: FIELDS }).errors).toEqual([]);
  });

  it('insists on a bool for conditions', () => {
    expect(errors('labels.env + "x"', { expect: 'bool' })[0]).toMatchObject({
      message: 'a condition must be true or false, but this expression is a string',
      offset: 0,
    });
    expect(errors('size(facts.l)', { expect: 'bool' })[0]!.message).toBe('a condition must be true or false, but this expression is a int');
    expect(compile('facts.up == 0', { variables: VARS, expect: 'bool' }).errors).toEqual([]);
  });

  it('rejects int variables (activations carry JS numbers) and unknown types, as programming errors', () => {
    expect(() => compile('x > 1', { variables: { x: 'int' } })).toThrow(/declare numbers as double/);
    expect(() => compile('x > 1', { variables: { x: 'mapp' } })).toThrow(/invalid CEL variable declarations/);
  });
});

describe('explainUnknown', () => {
  it('names the missing fact, aggregate or label', () => {
    const a = activation({ up: 0 });
    expect(compiled('facts.up == 0 && facts.restarts_1h < 3').explainUnknown(a)).toBe('fact "restarts_1h" is unknown');
    expect(compiled('agg.nope > 0.3').explainUnknown(a)).toBe('aggregate "nope" is unknown');
    expect(compiled('labels.team == "x"').explainUnknown(a)).toBe('label "team" is not set');
    expect(compiled('depends_on.all(d, d.facts.lag < 5)').explainUnknown(a)).toBe('fact "lag" of a related target (d.facts) is unknown');
  });

  it('describes type errors with the values involved', () => {
    expect(compiled('facts.up < 1').explainUnknown(activation({ up: 'yes' }))).toBe('no such overload: string < int in `facts.up < 1` (facts.up = "yes")');
  });

  it('says when the value is known', () => {
    expect(compiled('facts.up == 0').explainUnknown(activation({ up: 0 }))).toMatch(/^not unknown/);
  });
});
