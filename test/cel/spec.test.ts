// Regression tests for issue 20: CEL means what the specification says, in both evaluation paths.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadProject } from '../../src/config/load.js';
import { compile, type CompiledExpr, UNKNOWN } from '../../src/rules/cel/index.js';
import { buildRuleSet } from '../../src/rules/ruleset.js';
import { fixture } from '../helpers.js';

const U = UNKNOWN;
const VARS = { facts: 'map<string, dyn>', labels: 'map<string, string>', now: 'timestamp' };

function expr(source: string): CompiledExpr {
  const r = compile(source, { variables: VARS });
  if (!r.expr) throw new Error(`${source}: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.expr;
}

/** Both paths, which must agree; returns the value. */
function ev(source: string, activation: object = {}): unknown {
  const e = expr(source);
  const fast = e.eval(activation);
  const slow = e.interpret(activation);
  expect(fast, `${source}: compiled and interpreted disagree`).toEqual(slow);
  return slow;
}

describe('matches() is RE2', () => {
  it.each([
    ['"web-1".matches("\\\\Aweb")', true],
    ['"xweb-1".matches("\\\\Aweb")', false],
    ['"web-1".matches("web-1\\\\z")', true],
    ['"a".matches("^[[:alpha:]]$")', true],
    ['"1".matches("^[[:alpha:]]$")', false],
    ['"😀".matches("^.$")', true],
    ['"Web-1".matches("(?i)^web")', true],
    ['"web-1".matches("(?P<name>web)-(?P<n>\\\\d)")', true],
    ['"é".matches("^\\\\pL$")', true],
    ['"a\\nb".matches("a.b")', false],
    ['"a\\nb".matches("(?s)a.b")', true],
    ['"a\\rb".matches("a.b")', true],
    ['"\\u00a0".matches("\\\\s")', false],
    ['"\\v".matches("^\\\\s$")', false],
    ['"a b".matches("a\\\\sb")', true],
    ['"ab".matches(r"a\\Qb\\E")', true],
  ])('%s is %s in both paths', (source, want) => {
    expect(ev(source)).toBe(want);
  });

  it('has the function form matches(text, pattern) too', () => {
    expect(ev('matches("web-1", "\\\\Aweb")')).toBe(true);
    expect(ev('matches(facts.n, "(?i)^WEB$")', { facts: { n: 'web' } })).toBe(true);
    expect(ev('!matches(facts.n, facts.p)', { facts: { n: 'web', p: '(?=w)' } })).toBe(U);
    const r = compile('matches(facts.n, "a(?=b)")', { variables: VARS });
    expect(r.errors.map((e) => 'matches(facts.n, "a(?=b)")'.slice(e.offset, e.offset + e.length))).toEqual(['(?=']);
  });

  it('is RE2 inside macros and on dynamic values', () => {
    const facts = { names: ['web-1', 'db-1'], n: 'web' };
    expect(ev('facts.names.exists(a, a.matches("(?i)^WEB"))', { facts })).toBe(true);
    expect(ev('facts.names.filter(a, a.matches("^[[:alpha:]]+-1$")).size()', { facts })).toBe(2);
    expect(ev('dyn(facts.n).matches("\\\\Aw")', { facts })).toBe(true);
  });

  it('gives the same answer on facts as on literals', () => {
    const facts = { name: 'web-1', emoji: '😀', mixed: 'Web-1' };
    expect(ev('facts.name.matches("\\\\Aweb")', { facts })).toBe(true);
    expect(ev('facts.emoji.matches("^.$")', { facts })).toBe(true);
    expect(ev('facts.mixed.matches("(?i)^web")', { facts })).toBe(true);
    expect(ev('facts.name.matches(facts.pattern)', { facts: { ...facts, pattern: '[[:digit:]]$' } })).toBe(true);
  });

  it('never lets a negated guard pass because a pattern could not be read', () => {
    // A computed pattern RE2 refuses is unknown, and so is its negation: the rule does not act.
    for (const pattern of ['(?=web)', '(a', '\\1', 'a{1001}', 'x\\C']) {
      expect(ev('!facts.name.matches(facts.pattern)', { facts: { name: 'web-1', pattern } }), pattern).toBe(U);
    }
    // Dialect-specific syntax that JavaScript would read differently gives RE2's answer.
    expect(ev('!facts.name.matches("\\\\Aweb")', { facts: { name: 'web-1' } })).toBe(false);
    expect(ev('!facts.name.matches("^[[:alpha:]]+-[[:digit:]]$")', { facts: { name: 'web-1' } })).toBe(false);
    expect(ev('!facts.name.matches("(?i)WEB")', { facts: { name: 'web-1' } })).toBe(false);
  });

  it('refuses a literal pattern RE2 cannot read, at its position in the expression', () => {
    const cases: [string, string, string][] = [
      ['facts.name.matches("^(?=web)")', '(?=', 'invalid or unsupported Perl syntax'],
      ['facts.name.matches("a{2,1}")', '{2,1}', 'invalid repeat count'],
      ['facts.name.matches("(web")', '(web', 'missing closing )'],
      ['facts.name.matches("web\\\\1")', '\\\\1', 'invalid escape sequence'],
      ['facts.name.matches(r"web\\1")', '\\1', 'invalid escape sequence'],
      ['facts.name.matches("😀\\\\C")', '\\\\C', 'invalid escape sequence'],
    ];
    for (const [source, at, message] of cases) {
      const r = compile(source, { variables: VARS });
      expect(r.expr, source).toBeUndefined();
      expect(r.errors, source).toHaveLength(1);
      const e = r.errors[0]!;
      expect(e.message).toContain('invalid RE2 regular expression');
      expect(e.message).toContain(message);
      expect(source.slice(e.offset, e.offset + e.length), source).toBe(at);
    }
  });

  it('reports a refused pattern in a rule file at file:line:column', () => {
    const dir = fixture({
      'reflex.yaml':
        'rules: [rules.yaml]\nactions:\n  restart: { kind: exec, argv: ["true"] }\nchannels:\n  oncall: { kind: log }\ndefaults: { escalate_to: oncall }\n',
      'rules.yaml': [
        'rules:',
        '  - name: restart-web',
        '    target: { kind: instance }',
        '    when:',
        '      down: facts.up == 0',
        '      not_canary: \'!target.id.matches("^web-(?!canary)")\'',
        '    do: [{ action: restart }]',
        '',
      ].join('\n'),
    });
    const { project, diagnostics } = loadProject(join(dir, 'reflex.yaml'), {});
    const all = [...diagnostics, ...(project ? buildRuleSet(project).diagnostics : [])].filter((d) => d.severity === 'error').map(formatDiagnostic);
    const line = all.find((l) => l.includes('invalid RE2 regular expression'));
    expect(line, all.join('\n')).toBeDefined();
    // Line 6, at the "(?!" inside the quoted pattern.
    const col = 'not_canary: \'!target.id.matches("^web-'.length + 7;
    expect(line).toContain(`rules.yaml:6:${col}`);
  });
});

describe('has() on a value that is not a map', () => {
  it('is unknown, so !has() does not let a rule act', () => {
    for (const maintenance of ['until tomorrow', 3, true, ['a'], null]) {
      const facts = { maintenance };
      expect(ev('has(facts.maintenance.until)', { facts }), String(maintenance)).toBe(U);
      expect(ev('!has(facts.maintenance.until)', { facts }), String(maintenance)).toBe(U);
    }
  });

  it('is unknown inside macros too, in both paths', () => {
    const facts = { windows: [{ until: 'x' }, 'not a map'], m: { a: 'str' } };
    expect(ev('facts.windows.exists(w, !has(w.until))', { facts })).toBe(U);
    expect(ev('facts.windows.all(w, has(w.until))', { facts })).toBe(U);
    expect(ev('facts.m.map(k, facts.m[k]).exists(v, !has(v.until))', { facts })).toBe(U);
  });

  it('tests a map for the key, and a missing fact stays false', () => {
    expect(ev('has(facts.maintenance.until)', { facts: { maintenance: { until: '2026-12-03T12:00:00Z' } } })).toBe(true);
    expect(ev('has(facts.maintenance.until)', { facts: { maintenance: {} } })).toBe(false);
    expect(ev('has(facts.maintenance)', { facts: {} })).toBe(false);
    expect(ev('has(facts.maintenance.until)', { facts: {} })).toBe(U);
    expect(ev('has(facts.a.b.c)', { facts: { a: { b: 'x' } } })).toBe(U);
    expect(ev('has(facts.a.b.c)', { facts: { a: { b: { c: 1 } } } })).toBe(true);
  });
});

describe('explanations', () => {
  it('say why a has(), a pattern, a conversion or a zone was unknown', () => {
    const why = (source: string, facts: object) => expr(source).explainUnknown({ facts, now: new Date() });
    expect(why('!has(facts.maintenance.until)', { maintenance: 'tomorrow' })).toBe(
      'has() needs a map, not a string in `facts.maintenance.until` (facts.maintenance = "tomorrow")',
    );
    expect(why('!facts.name.matches(facts.p)', { name: 'x', p: '(?=a)' })).toBe(
      'invalid RE2 regular expression: invalid or unsupported Perl syntax: `(?=` in `facts.name.matches(facts.p)` (facts.name = "x", facts.p = "(?=a)")',
    );
    expect(why('int(facts.n) > 1', { n: 1e99 })).toContain('out of the int64 range');
    expect(why('now.getHours(facts.tz) > 1', { tz: 'Mars/X' })).toContain('unknown time zone "Mars/X"');
  });
});

describe('range and overflow are unknown', () => {
  it.each([
    'int(1e99)',
    'int(-1e99)',
    'int(9223372036854775807.0)',
    'int(-9223372036854775808.0)',
    '-(-9223372036854775807 - 1)',
    '(-9223372036854775807 - 1) / -1',
    '(-9223372036854775807 - 1) * -1',
    '9223372036854775807 + 1',
    '5000000000 * 5000000000',
    'int(facts.big)',
    'timestamp("9999-12-31T23:59:59Z") + duration("1s")',
    'timestamp("0001-01-01T00:00:00Z") - duration("1s")',
    'timestamp("10000-01-01T00:00:00Z")',
    'timestamp("0000-01-01T00:00:00Z")',
    'now + duration("2562048h")',
    'duration("320000000000s")',
    'duration("-320000000000s")',
    'duration("200000000000s") + duration("200000000000s")',
    'timestamp("9999-12-31T23:59:59Z") - timestamp("0001-01-01T00:00:00Z")',
  ])('%s', (source) => {
    expect(ev(source, { facts: { big: 1e300 }, now: new Date('2026-12-03T12:00:00Z') })).toBe(U);
  });

  it('keeps values at the edges of the ranges', () => {
    expect(ev('int(9007199254740991.0)')).toBe(9007199254740991);
    expect(ev('-9223372036854775807 - 1 < 0')).toBe(true);
    expect(ev('timestamp("9999-12-31T23:59:59Z") + duration("999ms")')).toEqual(new Date('9999-12-31T23:59:59.999Z'));
    expect(ev('timestamp("0001-01-01T00:00:00Z")')).toEqual(new Date('0001-01-01T00:00:00Z'));
    expect(ev('duration("2562047h") > duration("1h")')).toBe(true);
  });
});

describe('time zones', () => {
  const now = new Date('2009-02-13T23:31:30.123Z'); // a Friday
  it.each([
    ['now.getHours("+02:00")', 1],
    ['now.getHours("02:00")', 1],
    ['now.getHours("-05:30")', 18],
    ['now.getMinutes("-05:30")', 1],
    ['now.getMinutes("+05:45")', 16],
    ['now.getDayOfWeek("+02:00")', 6],
    ['now.getDate("+11:00")', 14],
    ['now.getDayOfMonth("+11:00")', 13],
    ['now.getMonth("+02:00")', 1],
    ['now.getFullYear("-09:30")', 2009],
    ['now.getSeconds("-00:00")', 30],
    ['now.getMilliseconds("+02:00")', 123],
    ['now.getDayOfYear("+02:00")', 44],
    ['now.getHours("Europe/Berlin")', 0],
    ['now.getHours("America/St_Johns")', 20],
    ['now.getDayOfYear("US/Central")', 43],
    ['now.getHours("UTC")', 23],
    ['now.getHours()', 23],
  ])('%s is %s', (source, want) => {
    expect(ev(source, { now })).toBe(want);
  });

  it('is unknown for a zone that does not exist', () => {
    expect(ev('now.getHours("Mars/Olympus")', { now })).toBe(U);
    expect(ev('now.getHours("+25:00")', { now })).toBe(U);
  });

  it("counts the day of the year in UTC whatever the machine's zone", () => {
    const tz = process.env.TZ;
    try {
      process.env.TZ = 'Europe/Berlin';
      expect(ev('now.getDayOfYear()', { now: new Date('2026-07-01T12:00:00Z') })).toBe(181);
      expect(ev('now.getDayOfYear()', { now: new Date('2026-01-01T00:30:00Z') })).toBe(0);
      expect(ev('now.getDayOfYear("+00:00")', { now: new Date('2026-07-01T12:00:00Z') })).toBe(181);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('follows daylight saving time for named zones', () => {
    expect(ev('now.getHours("Europe/Berlin")', { now: new Date('2026-07-01T12:00:00Z') })).toBe(14);
    expect(ev('now.getHours("Europe/Berlin")', { now: new Date('2026-01-01T12:00:00Z') })).toBe(13);
  });
});

describe('empty literals in macros', () => {
  it.each([
    ['[].exists(e, e == 2)', false],
    ['[].all(e, e > 0)', true],
    ['[].exists_one(e, e == 2)', false],
    ['[].map(e, e + 1)', []],
    ['[].filter(e, e > 1)', []],
    ['{}.exists(k, k == "a")', false],
    ['{}.all(k, k == 1)', true],
  ])('%s type-checks and is %j', (source, want) => {
    expect(ev(source)).toEqual(want);
  });
});

describe('conversions the specification has', () => {
  it('converts timestamps and durations', () => {
    expect(ev('int(timestamp("2009-02-13T23:31:30Z"))')).toBe(1234567890);
    expect(ev('string(timestamp("2009-02-13T23:31:30Z"))')).toBe('2009-02-13T23:31:30Z');
    expect(ev('string(timestamp("2009-02-13T23:31:30.120Z"))')).toBe('2009-02-13T23:31:30.12Z');
    expect(ev('string(duration("1000000s"))')).toBe('1000000s');
    expect(ev('string(now)', { now: new Date('2026-12-03T12:00:00Z') })).toBe('2026-12-03T12:00:00Z');
  });
});
