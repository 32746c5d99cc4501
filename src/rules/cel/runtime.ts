// Values and helpers shared by the compiled fast path and the reference interpreter: UNKNOWN, DEFER, runtime kinds.
import { compileRegex, isRegex, type Regex } from './re2.js';

/** The value of an expression that cannot be known: a missing fact, a type mismatch, a division by zero... */
export const UNKNOWN: unique symbol = Symbol('UNKNOWN');
export type Unknown = typeof UNKNOWN;

/**
 * Thrown by compiled code when it meets a value it does not model exactly (a BigInt,
 * a Map, an integer beyond 2^53, equality of two lists...). The caller catches it and
 * evaluates the same activation with the interpreter, so the fast path never has to
 * be right about rare cases: it only has to notice them.
 */
export class Defer {
  constructor(readonly why: string) {}
}

export function defer(why: string): never {
  throw new Defer(why);
}

const U = UNKNOWN;
const hasOwn = Object.hasOwn;
const isArray = Array.isArray;

/** A CEL map as cel-js sees one: a plain object (or one without a prototype). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const c = (v as { constructor?: unknown }).constructor;
  return c === Object || c === undefined;
}

/** A timestamp as cel-js sees one. */
export function isDate(v: unknown): v is Date {
  return typeof v === 'object' && v !== null && (v as { constructor?: unknown }).constructor === Date;
}

// Runtime kinds of values in dynamically typed positions. In compiled code a JS number
// in a dyn position is always a CEL double: the compiler refuses expressions in which a
// CEL int (also a JS number there) could reach a dyn position and then an operator.
export const K = { Unknown: 0, Num: 1, Str: 2, Bool: 3, Null: 4, List: 5, Map: 6, Time: 7 } as const;

export function kindOf(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return K.Num;
    case 'string':
      return K.Str;
    case 'boolean':
      return K.Bool;
    case 'symbol':
      if (v === U) return K.Unknown;
      break;
    case 'object':
      if (v === null) return K.Null;
      if (isArray(v)) return K.List;
      if (isPlainMap(v)) return K.Map;
      if (isDate(v)) return K.Time;
      break;
  }
  return defer(`a value of an unexpected type (${describeType(v)})`);
}

function describeType(v: unknown): string {
  if (typeof v !== 'object' || v === null) return typeof v;
  return (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}

// ---------------------------------------------------------------- reading variables and fields

/** A variable declared as a map: anything else is unknown (a Map is left to the interpreter). */
export function badMap(v: unknown): unknown {
  if (v instanceof Map) defer('a Map');
  return U;
}

export function badList(v: unknown): unknown {
  if (v instanceof Set) defer('a Set');
  return U;
}

/** The value's CEL type must match a declared element/value type; `t` is a compiled type code. */
export function conforms(v: unknown, t: number): boolean {
  switch (t) {
    case T_DYN:
      return v !== undefined;
    case T_STRING:
      return typeof v === 'string';
    case T_DOUBLE:
      return typeof v === 'number';
    case T_BOOL:
      return typeof v === 'boolean';
    case T_NULL:
      return v === null;
    case T_LIST:
      return isArray(v);
    case T_MAP:
      return isPlainMap(v);
    case T_TIME:
      return isDate(v);
  }
  return false;
}
export const T_DYN = 0;
export const T_STRING = 1;
export const T_DOUBLE = 2;
export const T_BOOL = 3;
export const T_NULL = 4;
export const T_LIST = 5;
export const T_MAP = 6;
export const T_TIME = 7;

/** A value read from the activation that must be of declared type `t` (undefined: not provided). */
export function checkVar(v: unknown, t: number): unknown {
  if (v === undefined) return U;
  if (conforms(v, t)) return v;
  if (v instanceof Map || v instanceof Set || typeof v === 'bigint') defer('an activation value cel-js converts');
  return U;
}

/** `m.k` on a value statically known to be a map (or UNKNOWN); `t` is the declared value type. */
export function mapGet(m: unknown, k: unknown, t: number): unknown {
  if (m === U || k === U) return U;
  if (!isPlainMap(m)) return m instanceof Map ? defer('a Map') : U;
  const v = hasOwn(m, k as PropertyKey) ? m[k as string] : undefined;
  if (v === undefined) return U;
  if (conforms(v, t)) return v;
  if (t === T_DYN) return v;
  return U;
}

/** `x.k` or `x[k]` on a dynamically typed value. */
export function dynGet(x: unknown, k: unknown): unknown {
  if (x === U || k === U) return U;
  if (typeof x !== 'object' || x === null) return U;
  if (isArray(x)) return listAt(x, k, T_DYN);
  if (isPlainMap(x)) {
    const v = hasOwn(x, k as PropertyKey) ? x[k as string] : undefined;
    return v === undefined ? U : v;
  }
  return defer('field access on an unusual object');
}

/** `l[i]`: i must be a number naming an existing element (1.0 is fine, 1.5 is not). */
export function listAt(l: unknown, i: unknown, t: number): unknown {
  if (l === U || i === U) return U;
  if (!isArray(l)) return l instanceof Set ? defer('a Set') : U;
  if (typeof i !== 'number') return typeof i === 'bigint' ? defer('a BigInt index') : U;
  const v = l[i];
  if (v === undefined) return U;
  if (conforms(v, t)) return v;
  if (t === T_DYN) return v;
  return U;
}

/** `has(x.k)` once `x` is evaluated: a map is tested for the key; anything else is an error (UNKNOWN), as in CEL. */
export function has(x: unknown, k: string, t: number): unknown {
  if (x === U) return U;
  if (isPlainMap(x)) {
    const v = hasOwn(x, k) ? x[k] : undefined;
    if (v === undefined) return false;
    return t === T_DYN || conforms(v, t) ? true : U;
  }
  switch (typeof x) {
    case 'string':
    case 'number':
    case 'boolean':
      return U;
  }
  if (x === null || isArray(x) || isDate(x)) return U;
  return defer('has() on an unusual value');
}

// ---------------------------------------------------------------- operators on dynamically typed values

export function eq(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== 'object' && tb !== 'object') {
    if (ta === 'bigint' || tb === 'bigint' || ta === 'undefined' || tb === 'undefined') defer('equality of unusual values');
    return a === b;
  }
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) return false;
  if (ka === K.Null) return true;
  if (ka === K.Time) return (a as Date).getTime() === (b as Date).getTime();
  // Lists and maps: CEL picks the overload from the first elements' types; leave it to the interpreter.
  return defer('equality of lists or maps');
}

export function ne(a: unknown, b: unknown): unknown {
  const r = eq(a, b);
  return r === U ? U : !r;
}

function comparable(a: unknown, b: unknown): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  return ka === kb && (ka === K.Num || ka === K.Str || ka === K.Bool || ka === K.Time);
}

export function lt(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return comparable(a, b) ? (a as number) < (b as number) : U;
}
export function le(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return comparable(a, b) ? (a as number) <= (b as number) : U;
}
export function gt(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return comparable(a, b) ? (a as number) > (b as number) : U;
}
export function ge(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return comparable(a, b) ? (a as number) >= (b as number) : U;
}

export function add(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) return U;
  if (ka === K.Num) return (a as number) + (b as number);
  if (ka === K.Str) return (a as string) + (b as string);
  if (ka === K.List) return defer('list concatenation');
  return U;
}

export function sub(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === K.Num && kb === K.Num) return (a as number) - (b as number);
  if (ka === K.Time && kb === K.Time) return defer('timestamp difference in a dynamic position');
  return U;
}

export function mul(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return kindOf(a) === K.Num && kindOf(b) === K.Num ? (a as number) * (b as number) : U;
}

export function div(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return kindOf(a) === K.Num && kindOf(b) === K.Num && b !== 0 ? (a as number) / (b as number) : U;
}

export function mod(a: unknown, b: unknown): unknown {
  if (a === U || b === U) return U;
  return kindOf(a) === K.Num && kindOf(b) === K.Num && b !== 0 ? (a as number) % (b as number) : U;
}

export function neg(a: unknown): unknown {
  if (a === U) return U;
  return kindOf(a) === K.Num ? -(a as number) : U;
}

/** An int result: exact while it is a safe integer; beyond that the interpreter's BigInts take over. */
export function isafe(x: number): number {
  return Number.isSafeInteger(x) ? x : defer('an integer beyond 2^53');
}

export function imul(a: number, b: number): number {
  return isafe(a * b) + 0;
}

/** `x in l` with CEL's equality: primitives by value; lists and maps left to the interpreter. */
export function inList(x: unknown, l: unknown): unknown {
  if (x === U || l === U) return U;
  if (!isArray(l)) return l instanceof Set ? defer('a Set') : U;
  switch (typeof x) {
    case 'string':
    case 'boolean':
      for (let i = 0; i < l.length; i++) if (l[i] === x) return true;
      return false;
    case 'number':
      for (let i = 0; i < l.length; i++) {
        const e = l[i];
        if (e === x) return true;
        if (typeof e === 'bigint') defer('a BigInt in a list');
      }
      return false;
  }
  return defer('membership of a non-primitive value');
}

export function inMap(x: unknown, m: unknown): unknown {
  if (x === U || m === U) return U;
  if (!isPlainMap(m)) return m instanceof Map ? defer('a Map') : U;
  if (typeof x === 'object' && x !== null) defer('a non-primitive map key');
  return hasOwn(m, x as PropertyKey) ? m[x as string] !== undefined : false;
}

export function inDyn(x: unknown, c: unknown): unknown {
  if (x === U || c === U) return U;
  if (isArray(c)) return inList(x, c);
  if (isPlainMap(c)) return inMap(x, c);
  kindOf(c);
  return U;
}

// ---------------------------------------------------------------- functions

/** size() counts Unicode code points of strings, like cel-js. */
export function strSize(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

export function size(x: unknown): unknown {
  if (x === U) return U;
  if (x instanceof Map || x instanceof Set) defer('size of a Map or Set');
  switch (kindOf(x)) {
    case K.Str:
      return strSize(x as string);
    case K.List:
      return (x as unknown[]).length;
    case K.Map:
      return Object.keys(x as object).length;
  }
  return U;
}

export function str(x: unknown): unknown {
  switch (kindOf(x)) {
    case K.Str:
      return x;
    case K.Bool:
      return `${x as boolean}`;
    case K.Num:
      return x === Infinity ? '+Inf' : x === -Infinity ? '-Inf' : `${x as number}`;
  }
  return U;
}

export function intOf(x: unknown): unknown {
  switch (kindOf(x)) {
    case K.Num: {
      const v = x as number;
      if (!Number.isFinite(v)) return U;
      return isafe(Math.trunc(v)) + 0;
    }
    case K.Str: {
      const v = x as string;
      if (v !== v.trim() || v.length > 20 || v.includes('0x')) return U;
      let n: bigint;
      try {
        n = BigInt(v);
      } catch {
        return U;
      }
      if (n > 9223372036854775807n || n < -9223372036854775808n) return U;
      return isafe(Number(n));
    }
  }
  return U;
}

export function doubleOf(x: unknown): unknown {
  switch (kindOf(x)) {
    case K.Num:
      return x;
    case K.Str: {
      const v = x as string;
      if (!v || v !== v.trim()) return U;
      switch (v.toLowerCase()) {
        case 'inf':
        case '+inf':
        case 'infinity':
        case '+infinity':
          return Infinity;
        case '-inf':
        case '-infinity':
          return -Infinity;
        case 'nan':
          return NaN;
      }
      const n = Number(v);
      return Number.isNaN(n) ? U : n;
    }
  }
  return U;
}

export function boolOf(x: unknown): unknown {
  switch (kindOf(x)) {
    case K.Bool:
      return x;
    case K.Str:
      switch (x) {
        case '1':
        case 't':
        case 'true':
        case 'TRUE':
        case 'True':
          return true;
        case '0':
        case 'f':
        case 'false':
        case 'FALSE':
        case 'False':
          return false;
      }
  }
  return U;
}

/** timestamp(string), as cel-js parses it. */
export function tsOfString(x: unknown): unknown {
  if (typeof x !== 'string') {
    if (x !== U) kindOf(x);
    return U;
  }
  if (x.length < 20 || x.length > 30) return U;
  const d = new Date(x);
  const t = d.getTime();
  return t <= 253402300799999 && t >= -62135596800000 ? d : U;
}

/** timestamp(int): seconds since the epoch. */
export function tsOfInt(x: unknown): unknown {
  if (x === U) return U;
  const ms = (x as number) * 1000;
  return ms <= 253402300799999 && ms >= -62135596800000 ? new Date(ms) : U;
}

/** Arguments of string methods must be strings (or the call has no overload). */
function s2(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return true;
  if (a !== U) kindOf(a);
  if (b !== U) kindOf(b);
  return false;
}

export function contains(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).includes(b as string) : U;
}
export function startsWith(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).startsWith(b as string) : U;
}
export function endsWith(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).endsWith(b as string) : U;
}
export function indexOf(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).indexOf(b as string) : U;
}
export function lastIndexOf(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).lastIndexOf(b as string) : U;
}
export function split(a: unknown, b: unknown): unknown {
  return s2(a, b) ? (a as string).split(b as string) : U;
}
/** `a.matches(b)`: RE2, compiled once per pattern; a pattern RE2 refuses is UNKNOWN. */
export function matches(a: unknown, b: unknown): unknown {
  if (!s2(a, b)) return U;
  const re = compileRegex(b as string);
  return isRegex(re) ? re.test(a as string) : U;
}
/** `a.matches("literal")`: the pattern compiled with the expression. */
export function matchesRe(a: unknown, re: Regex): unknown {
  if (typeof a !== 'string') {
    if (a !== U) kindOf(a);
    return U;
  }
  return re.test(a);
}
export function lowerAscii(a: unknown): unknown {
  if (typeof a === 'string') return a.toLowerCase();
  if (a !== U) kindOf(a);
  return U;
}
export function upperAscii(a: unknown): unknown {
  if (typeof a === 'string') return a.toUpperCase();
  if (a !== U) kindOf(a);
  return U;
}
export function trim(a: unknown): unknown {
  if (typeof a === 'string') return a.trim();
  if (a !== U) kindOf(a);
  return U;
}
export function join(l: unknown, sep: unknown): unknown {
  if (l === U || sep === U) return U;
  if (!isArray(l) || typeof sep !== 'string') {
    kindOf(l);
    kindOf(sep);
    return U;
  }
  for (let i = 0; i < l.length; i++) if (typeof l[i] !== 'string') return U;
  return l.join(sep);
}

/** The items a macro iterates: a list's elements or a map's keys; null when the range is invalid. */
export function range(x: unknown): unknown[] | null {
  if (isArray(x)) return x;
  if (isPlainMap(x)) return Object.keys(x);
  if (x !== U) kindOf(x);
  return null;
}

/** `t + ms` for a timestamp and a duration literal: outside years 1-9999 is UNKNOWN (CEL's range). */
export function tsAdd(t: Date, ms: number): unknown {
  const x = t.getTime() + ms;
  return x <= 253402300799999 && x >= -62135596800000 ? new Date(x) : U;
}

/** `a - b` of two timestamps, in milliseconds; long spans go to the interpreter, whose BigInt arithmetic rounds them its own way. */
export function tsDiff(a: Date, b: Date): number {
  const d = a.getTime() - b.getTime();
  return Math.abs(d) < 9e9 ? d : defer('a duration beyond 104 days');
}
