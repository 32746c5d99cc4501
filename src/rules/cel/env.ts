// The reference interpreter: a cel-js Environment with Reflex's number semantics, and results made plain.
import { Environment, EvaluationError } from '@marcbachmann/cel-js';
import { children, MACROS, type CelNode, type CelType } from './ast.js';
import { InvalidRegex, re2Matches } from './re2.js';

/** Variable types use CEL names; `timestamp` and `duration` are accepted for the protobuf types. */
export function normalizeType(t: string): string {
  return t
    .trim()
    .replace(/\btimestamp\b/g, 'google.protobuf.Timestamp')
    .replace(/\bduration\b/g, 'google.protobuf.Duration');
}

const MIXED_OPS: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

function divisionByZero(node?: unknown): EvaluationError {
  return new EvaluationError({ code: 'division_by_zero', message: 'division by zero', node: node as never });
}

function createEnvironment(variables: Record<string, string>): Environment {
  // Mixed literals such as [1, 2.5] are fine: rule authors do not think about int and double.
  const env = new Environment({ homogeneousAggregateLiterals: false });
  for (const [op, f] of Object.entries(MIXED_OPS)) {
    const zeroCheck = op === '/' || op === '%';
    const h = (a: unknown, b: unknown) => {
      const y = Number(b);
      if (zeroCheck && y === 0) throw divisionByZero();
      return f(Number(a), y);
    };
    env.registerOperator(`int ${op} double: double`, h);
    env.registerOperator(`double ${op} int: double`, h);
  }
  env.registerOperator('double % double: double', (a: number, b: number) => {
    if (b === 0) throw divisionByZero();
    return a % b;
  });
  // biome-ignore lint/suspicious/noDoubleEquals: CEL compares int and double by value, which only loose equality does across bigint and number
  env.registerOperator('int == double', (a: bigint, b: number) => a == (b as unknown as bigint));
  // Conversions the specification has and cel-js lacks. Timestamps hold milliseconds.
  env.registerFunction('int(google.protobuf.Timestamp): int', (t: Date) => BigInt(Math.floor(t.getTime() / 1000)));
  env.registerFunction('string(google.protobuf.Timestamp): string', (t: Date) => t.toISOString().replace(/\.?0*Z$/, 'Z'));
  env.registerFunction('string(google.protobuf.Duration): string', (d: object) => String(d));
  // The function form of matches(), as CEL has it; RE2 like the method.
  env.registerFunction('matches(string, string): bool', (s: string, p: string) => {
    try {
      return re2Matches(s, p);
    } catch (e) {
      if (e instanceof InvalidRegex) throw evalError('invalid_regular_expression', e.message);
      throw e;
    }
  });
  for (const [name, type] of Object.entries(variables)) {
    if (/\b(u?int|bytes)\b/.test(type)) {
      throw new Error(`CEL variable "${name}": declare numbers as double (activations carry JS numbers, not ${type})`);
    }
    env.registerVariable(name, normalizeType(type));
  }
  return env;
}

const environments = new Map<string, Environment>();

/** One Environment per variable set: creating one is far more expensive than parsing an expression. */
export function environment(variables: Record<string, string>): Environment {
  const key = JSON.stringify(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  let env = environments.get(key);
  if (!env) {
    try {
      env = createEnvironment(variables);
    } catch (e) {
      throw new Error(`invalid CEL variable declarations ${JSON.stringify(variables)}: ${(e as Error).message}`, { cause: e });
    }
    environments.set(key, env);
  }
  return env;
}

const typesCache = new WeakMap<Environment, Map<string, CelType>>();

/** The types cel-js resolved for the declared variables. */
export function variableTypes(env: Environment, variables: Record<string, string>): Map<string, CelType> {
  const cached = typesCache.get(env);
  if (cached) return cached;
  const out = new Map<string, CelType>();
  typesCache.set(env, out);
  for (const name of Object.keys(variables)) {
    const p = env.parse(name);
    p.check();
    const t = (p.ast as unknown as CelNode).checkedType;
    if (t) out.set(name, t);
  }
  return out;
}

/**
 * Fixes to cel-js's type checking, applied to the parsed AST before it is checked:
 * - `[].exists(e, e == 2)`: cel-js types an empty literal as `list<T>`, then finds two
 *   overloads for `e == 2` (int and double) and refuses the expression. An empty
 *   literal that a macro iterates is typed `list<dyn>` (or `map<dyn, dyn>`) instead:
 *   there is nothing in it, so nothing is lost.
 * - `has({'a': 1}.a)`: cel-js accepts only a variable at the root of has(); CEL
 *   accepts any expression (patchHas evaluates it).
 */
export function prepareForCheck(ast: CelNode): void {
  const stack = [ast];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.op === 'rcall' && MACROS.has(n.args[0] as string)) {
      const r = n.args[1] as CelNode & { setMeta?(k: string, v: unknown): unknown };
      if ((r.op === 'list' || r.op === 'map') && (r.args as unknown[]).length === 0 && typeof r.setMeta === 'function') {
        const t = r.op === 'list' ? 'list<dyn>' : 'map<dyn, dyn>';
        r.setMeta('check', (chk: { getType(t: string): unknown }) => chk.getType(t));
      }
    }
    if (n.op === 'call' && n.args[0] === 'has') widenHasRoot(n);
    stack.push(...children(n));
  }
}

interface Checker {
  check(n: CelNode, ctx: unknown): unknown;
  getType(t: string): unknown;
  createError(code: string, message: string, node: CelNode): Error;
}

function widenHasRoot(n: CelNode): void {
  const macro = (n as unknown as { meta?: { macro?: { typeCheck?: unknown; macroHasProps?: CelNode[] } } }).meta?.macro;
  if (!macro || typeof macro.typeCheck !== 'function') return;
  macro.typeCheck = (chk: Checker, m: { args: CelNode[]; macroHasProps?: CelNode[] }, ctx: unknown) => {
    let node = m.args[0]!;
    if (node.op !== '.') throw chk.createError('invalid_macro_argument', 'has() needs a field selection, such as has(facts.x)', node);
    if (!m.macroHasProps) {
      const props: CelNode[] = [];
      while (node.op === '.') {
        props.push(node);
        node = node.args[0] as CelNode;
      }
      chk.check(node, ctx);
      props.push(node);
      m.macroHasProps = props;
    }
    return chk.getType('bool');
  };
}

function evalError(code: string, message: string, node?: unknown): EvaluationError {
  return new EvaluationError({ code, message, node: node as never });
}

/** CEL's int64 range; timestamps from year 1 to 9999; durations that fit int64 nanoseconds (about ±292 years), as cel-go and the conformance tests have it. */
export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
export const TS_MAX_MS = 253402300799999;
export const TS_MIN_MS = -62135596800000;
export const DURATION_MAX_NS = 9223372036854775807n;

/** A value CEL cannot represent is an error: ints beyond int64, timestamps beyond 0001-9999, durations beyond ±292 years. */
function checkRange(v: unknown, node: CelNode): unknown {
  switch (typeof v) {
    case 'bigint':
      if (v > INT64_MAX || v < INT64_MIN) throw evalError('numeric_overflow', `integer overflow: ${v}`, node);
      return v;
    case 'object':
      if (v instanceof Date) {
        const t = v.getTime();
        if (!(t <= TS_MAX_MS && t >= TS_MIN_MS)) throw evalError('timestamp_overflow', 'timestamp out of range (years 1 to 9999)', node);
        return v;
      }
      if (v !== null && v.constructor === durationConstructor()) {
        const d = v as { seconds: bigint; nanos: number };
        const ns = d.seconds * 1_000_000_000n + BigInt(d.nanos);
        if (ns > DURATION_MAX_NS || ns < -DURATION_MAX_NS - 1n) throw evalError('duration_overflow', 'duration out of range (about ±292 years)', node);
      }
      return v;
  }
  return v;
}

const RANGE_CHECKED = new Set(['-_', '+', '-', '*', '/', 'call', 'rcall']);
const TIME_GETTERS = new Set([
  'getDate',
  'getDayOfMonth',
  'getDayOfWeek',
  'getDayOfYear',
  'getFullYear',
  'getHours',
  'getMilliseconds',
  'getMinutes',
  'getMonth',
  'getSeconds',
]);

/**
 * Where cel-js departs from the CEL specification, Reflex's interpreter follows the
 * specification (and the fast path follows the interpreter). cel-js cannot replace its
 * built-in overloads, so after type checking we replace or wrap the handler it chose
 * for each node (a handler takes the operands as evaluated):
 * - division and modulo by zero are errors for every number type (CEL says ±Inf or
 *   NaN for doubles): `errors / requests > 0.05` never acts on an empty window;
 * - results out of range are errors: ints beyond int64 (`int(1e99)`, `-(-2^63)`,
 *   `-2^63 / -1`), timestamps beyond years 1-9999, durations beyond int64
 *   nanoseconds (about ±292 years);
 * - `matches()` is RE2 (re2.ts);
 * - `has()` on a value that is not a map is an error, not false;
 * - timestamp accessors take numeric offsets (`getHours("+02:00")`) and IANA zones.
 */
export function patchSemantics(ast: CelNode): void {
  const stack = [ast];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.op === 'call' && n.args[0] === 'has') patchHas(n);
    if (typeof n.handle === 'function') {
      let h = n.handle;
      if ((n.op === '/' || n.op === '%') && h) {
        const inner = h;
        h = (l: unknown, r: unknown, ...rest: unknown[]) => {
          if (r === 0 || r === 0n) throw divisionByZero(n);
          return inner(l, r, ...rest);
        };
      }
      if (n.op === 'rcall' && n.args[0] === 'matches' && (n.args[2] as unknown[]).length === 1) h = matchesHandle(n) as (...a: unknown[]) => unknown;
      if (n.op === 'call' && n.args[0] === 'int' && (n.args[1] as unknown[]).length === 1) h = strictIntOfDouble(n, h);
      if (n.op === 'rcall' && TIME_GETTERS.has(n.args[0] as string) && (n.args[2] as unknown[]).length === 1)
        h = zonedGetter(n, h) as (...a: unknown[]) => unknown;
      // cel-js counts getDayOfYear() in the machine's local time, a day short after a DST change: UTC, as CEL says.
      if (n.op === 'rcall' && n.args[0] === 'getDayOfYear' && (n.args[2] as unknown[]).length === 0) h = utcDayOfYear(h) as (...a: unknown[]) => unknown;
      if (RANGE_CHECKED.has(n.op)) {
        const inner = h;
        h = (...a: unknown[]) => checkRange(inner(...a), n);
      }
      n.handle = h;
    }
    stack.push(...children(n));
  }
}

const TWO_63 = 2 ** 63;

/** `int(x)` of a double: only doubles strictly between -2^63 and 2^63 convert (the rest have no int64 value). */
function strictIntOfDouble(n: CelNode, inner: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
  return (args: unknown, ...rest: unknown[]) => {
    const v = (args as unknown[])[0];
    if (typeof v === 'number' && !(v > -TWO_63 && v < TWO_63)) {
      throw evalError('numeric_overflow', `int() of ${v}: out of the int64 range`, n);
    }
    return inner(args, ...rest);
  };
}

/** The handler of `s.matches(p)`: RE2 semantics (rcall handlers take [receiver, ...args]). */
function matchesHandle(n: CelNode): (args: unknown[]) => unknown {
  return (args: unknown[]) => {
    const [s, p] = args;
    if (typeof s !== 'string' || typeof p !== 'string') throw evalError('no_matching_overload', 'found no matching overload for matches()', n);
    try {
      return re2Matches(s, p);
    } catch (e) {
      if (e instanceof InvalidRegex) throw evalError('invalid_regular_expression', e.message, n);
      throw e;
    }
  };
}

function utcDayOfYear(fallback: (...a: unknown[]) => unknown): (args: unknown[], ...rest: unknown[]) => unknown {
  return (args: unknown[], ...rest: unknown[]) => {
    const [d] = args;
    if (!(d instanceof Date)) return fallback(args, ...rest);
    return BigInt(Math.round((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000));
  };
}

/** Timestamp accessors with a time zone argument: numeric offsets and IANA names, computed from the instant. */
function zonedGetter(n: CelNode, fallback: (...a: unknown[]) => unknown): (args: unknown[], ...rest: unknown[]) => unknown {
  const name = n.args[0] as string;
  return (args: unknown[], ...rest: unknown[]) => {
    const [d, tz] = args;
    if (!(d instanceof Date) || typeof tz !== 'string') return fallback(args, ...rest);
    const f = zonedFields(d, tz);
    if (!f) throw evalError('invalid_time_zone', `unknown time zone "${tz}"`, n);
    switch (name) {
      case 'getDate':
        return BigInt(f.day);
      case 'getDayOfMonth':
        return BigInt(f.day - 1);
      case 'getDayOfWeek':
        return BigInt(f.weekday);
      case 'getDayOfYear':
        return BigInt(Math.round((Date.UTC(f.year, f.month, f.day) - Date.UTC(f.year, 0, 1)) / 86_400_000));
      case 'getFullYear':
        return BigInt(f.year);
      case 'getHours':
        return BigInt(f.hours);
      case 'getMilliseconds':
        return BigInt(f.ms);
      case 'getMinutes':
        return BigInt(f.minutes);
      case 'getMonth':
        return BigInt(f.month);
      case 'getSeconds':
        return BigInt(f.seconds);
    }
    return fallback(args, ...rest);
  };
}

interface Fields {
  year: number;
  month: number; // 0-11
  day: number;
  weekday: number; // 0 = Sunday
  hours: number;
  minutes: number;
  seconds: number;
  ms: number;
}

/** `+02:00`, `-05:30`, `02:00` (CEL's numeric forms), or an IANA name such as `Europe/Berlin`. */
export function zonedFields(d: Date, tz: string): Fields | null {
  const m = /^([+-]?)(\d{2}):(\d{2})$/.exec(tz);
  if (m) {
    const h = Number(m[2]);
    const min = Number(m[3]);
    if (h > 23 || min > 59) return null;
    const off = (m[1] === '-' ? -1 : 1) * (h * 60 + min) * 60_000;
    const u = new Date(d.getTime() + off);
    return {
      year: u.getUTCFullYear(),
      month: u.getUTCMonth(),
      day: u.getUTCDate(),
      weekday: u.getUTCDay(),
      hours: u.getUTCHours(),
      minutes: u.getUTCMinutes(),
      seconds: u.getUTCSeconds(),
      ms: u.getUTCMilliseconds(),
    };
  }
  let fmt = formats.get(tz);
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        weekday: 'short',
        era: 'short',
      });
    } catch {
      return null;
    }
    if (formats.size > 200) formats.clear();
    formats.set(tz, fmt);
  }
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(d)) parts[p.type] = p.value;
  const year = Number(parts.year) * (parts.era === 'BC' || parts.era === 'B' ? -1 : 1) + (parts.era === 'BC' || parts.era === 'B' ? 1 : 0);
  return {
    year,
    month: Number(parts.month) - 1,
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
    hours: Number(parts.hour),
    minutes: Number(parts.minute),
    seconds: Number(parts.second),
    ms: d.getUTCMilliseconds(),
  };
}
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formats = new Map<string, Intl.DateTimeFormat>();

function isMapValue(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (v instanceof Map) return true;
  const c = (v as { constructor?: unknown }).constructor;
  return c === Object || c === undefined;
}

/**
 * `has(a.b.c)`: a and a.b are selected as usual (a missing key is an error); the test
 * itself needs a map (CEL: a map or a message). On anything else it is an error, so
 * `!has(facts.maintenance.until)` is unknown, never true, when maintenance is a string.
 */
function patchHas(n: CelNode): void {
  const macro = (n as unknown as { meta?: { macro?: { evaluate?: unknown; macroHasProps?: CelNode[] } } }).meta?.macro;
  if (!macro || typeof macro.evaluate !== 'function') return;
  macro.evaluate = (ev: { run(node: CelNode, ctx: unknown): unknown }, m: { macroHasProps: CelNode[] }, ctx: unknown) => {
    const nodes = m.macroHasProps;
    let i = nodes.length - 1;
    let obj = ev.run(nodes[i]!, ctx);
    while (i--) {
      const node = nodes[i]!;
      const key = node.args[1] as string;
      if (!isMapValue(obj)) throw evalError('no_such_field', `has() needs a map, not ${describe(obj)}`, node);
      const v = obj instanceof Map ? obj.get(key) : Object.hasOwn(obj as object, key) ? (obj as Record<string, unknown>)[key] : undefined;
      if (i === 0) return v !== undefined;
      if (v === undefined) throw evalError('no_such_key', `No such key: ${key}`, node);
      obj = v;
    }
    return false;
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a timestamp';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a double';
    case 'bigint':
      return 'an int';
    case 'boolean':
      return 'a bool';
  }
  return 'a value of another type';
}

// biome-ignore lint/complexity/noBannedTypes: constructors of cel-js classes it does not export, compared by identity
let durationCtor: Function | undefined;
// biome-ignore lint/complexity/noBannedTypes: as above
let typeCtor: Function | undefined;

// biome-ignore lint/complexity/noBannedTypes: as above
function durationConstructor(): Function {
  durationCtor ??= (environment({}).evaluate('duration("1s")') as object).constructor;
  return durationCtor;
}

/** Results leave CEL as plain JS values: ints become numbers, durations seconds, types their names. */
export function toPlain(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return Number(v);
    case 'object':
      if (v === null) return v;
      if (Array.isArray(v)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const p = toPlain(v[i]);
          if (p !== v[i] && !out) out = v.slice(0, i);
          if (out) out.push(p);
        }
        return out ?? v;
      }
      if (v instanceof Date) return v;
      if (v.constructor === durationConstructor()) return (v as { valueOf(): number }).valueOf() / 1000;
      typeCtor ??= (environment({}).evaluate('type(1)') as object).constructor;
      if (v.constructor === typeCtor) return (v as { name: string }).name;
      if (v.constructor === Object || v.constructor === undefined) {
        let out: Record<string, unknown> | undefined;
        for (const [k, x] of Object.entries(v)) {
          const p = toPlain(x);
          if (p !== x && !out) out = { ...(v as Record<string, unknown>) };
          if (out) out[k] = p;
        }
        return out ?? v;
      }
      if (typeof (v as { valueOf?: unknown }).valueOf === 'function') {
        const p = (v as { valueOf(): unknown }).valueOf();
        if (typeof p === 'bigint') return Number(p); // uint
      }
      return v;
  }
  return v;
}
