// RE2 regular expressions for matches(): the syntax and meaning CEL specifies, in both evaluation paths.
//
// CEL's `matches()` is RE2 (https://github.com/google/re2/wiki/Syntax). JavaScript's
// RegExp is a different dialect: `\A`, `\z`, `[[:alpha:]]`, `(?i)`, `(?P<n>…)`, `\pL`
// are errors or mean something else there, `.` matches UTF-16 code units and `\s`
// matches Unicode spaces. A pattern copied from Prometheus or a Go tool must mean the
// same here, or a guard such as `!facts.name.matches("…")` could pass because of a
// dialect difference. So every pattern is parsed and matched by re2js, a JavaScript
// port of RE2 (RE2J's parser and automata: linear time, no backtracking).
//
// Speed: re2js matches a short anchored pattern about 2 M times a second here, JS
// RegExp about 16 M. Patterns made only of constructs whose meaning is the same in
// both dialects (literals, `.`, `^`, `$`, `|`, groups, repetition, simple classes,
// `\d \w \s \b`) are translated to an equivalent JS RegExp with the `u` flag; anything
// else runs on re2js. The translation is checked against re2js by a property test.
import { RE2JS } from 're2js';

/** A pattern RE2 refuses; offset and length are within the pattern (in UTF-16 units). */
export interface RegexError {
  message: string;
  offset: number;
  length: number;
}

/** A compiled pattern: `test` says whether the pattern matches anywhere in the string. */
export interface Regex {
  readonly source: string;
  /** Which engine runs it: a translated JS RegExp, or re2js. */
  readonly engine: 'js' | 're2';
  test(s: string): boolean;
}

function re2Error(e: unknown, pattern: string): RegexError {
  const err = e as { error?: string; input?: string | null; message?: string };
  const what = err.error ?? err.message ?? String(e);
  const frag = typeof err.input === 'string' ? err.input : null;
  let offset = 0;
  let length = pattern.length;
  if (frag === null) {
    // A trailing backslash: the last character.
    if (/trailing backslash/.test(what)) {
      offset = Math.max(0, pattern.length - 1);
      length = 1;
    }
  } else if (/duplicate capture group name/.test(what)) {
    const at = pattern.lastIndexOf(`<${frag}>`);
    if (at >= 0) {
      offset = at + 1;
      length = frag.length;
    }
  } else {
    const at = pattern.indexOf(frag);
    if (at >= 0) {
      offset = at;
      length = frag.length;
    }
  }
  const shown = frag !== null ? `: \`${frag}\`` : '';
  return { message: `invalid RE2 regular expression: ${what}${shown}`, offset, length: Math.max(1, length) };
}

// ---------------------------------------------------------------- the JS translation of a safe subset

/** Characters that are literal in both dialects outside a class (no escape needed, none special). */
const PLAIN = /[A-Za-z0-9 _\-,:;'"!@#%&=~<>/`]/;
/** Characters allowed literally inside a class in both dialects. */
const CLASS_PLAIN = /[A-Za-z0-9 _,:;'"!@#%&=~<>/`.*+?(){}|$]/;
/** Escaped punctuation that means the literal character in both dialects (JS `u` mode accepts these). */
const ESCAPED = new Set(['\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$', '/']);
const S_CLASS = '\\t\\n\\f\\r ';

/**
 * The JS RegExp source with the same meaning as an RE2 pattern, or null when the pattern
 * uses anything outside the subset whose meaning is known to be identical.
 * RE2 differences handled: `.` excludes only `\n` (JS also excludes `\r`, U+2028/9),
 * `\s` is ASCII `[\t\n\f\r ]` (JS includes `\v` and Unicode spaces).
 */
export function translate(p: string): string | null {
  let out = '';
  let i = 0;
  let atomBefore = false;
  while (i < p.length) {
    const c = p[i]!;
    if (PLAIN.test(c)) {
      out += c;
      i++;
      atomBefore = true;
      continue;
    }
    switch (c) {
      case '.':
        out += '[^\\n]';
        i++;
        atomBefore = true;
        continue;
      case '^':
      case '$':
        out += c;
        i++;
        atomBefore = false;
        continue;
      case '|':
        out += c;
        i++;
        atomBefore = false;
        continue;
      case '(':
        if (p[i + 1] === '?') {
          if (p[i + 2] !== ':') return null;
          out += '(?:';
          i += 3;
        } else {
          out += '(';
          i++;
        }
        atomBefore = false;
        continue;
      case ')':
        out += ')';
        i++;
        atomBefore = true;
        continue;
      case '*':
      case '+':
      case '?': {
        if (!atomBefore) return null;
        out += c;
        i++;
        if (p[i] === '?') {
          out += '?';
          i++;
        }
        if (p[i] === '*' || p[i] === '+' || p[i] === '?' || p[i] === '{') return null;
        atomBefore = false;
        continue;
      }
      case '{': {
        const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(p.slice(i));
        if (!m || !atomBefore) return null;
        const min = Number(m[1]);
        const max = m[3] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (min > 1000 || (max !== Infinity && (max > 1000 || max < min))) return null;
        out += m[0];
        i += m[0].length;
        if (p[i] === '?') {
          out += '?';
          i++;
        }
        if (p[i] === '*' || p[i] === '+' || p[i] === '?' || p[i] === '{') return null;
        atomBefore = false;
        continue;
      }
      case '\\': {
        const e = p[i + 1];
        if (e === undefined) return null;
        if (ESCAPED.has(e)) out += `\\${e}`;
        else if (e === 'd' || e === 'D' || e === 'w' || e === 'W' || e === 'n' || e === 't' || e === 'r' || e === 'f') out += `\\${e}`;
        else if (e === 's') out += `[${S_CLASS}]`;
        else if (e === 'S') out += `[^${S_CLASS}]`;
        else if (e === 'b' || e === 'B') {
          out += `\\${e}`;
          i += 2;
          atomBefore = false;
          continue;
        } else return null;
        i += 2;
        atomBefore = true;
        continue;
      }
      case '[': {
        const cls = translateClass(p, i);
        if (!cls) return null;
        out += cls.js;
        i = cls.end;
        atomBefore = true;
        continue;
      }
    }
    return null;
  }
  return out;
}

/** A simple class: literal characters, ranges of letters or digits, `\d \w \s` (and negations), `^` first. */
function translateClass(p: string, start: number): { js: string; end: number } | null {
  let i = start + 1;
  let js = '[';
  if (p[i] === '^') {
    js += '^';
    i++;
  }
  let items = 0;
  while (i < p.length && p[i] !== ']') {
    const c = p[i]!;
    if (c === '\\') {
      const e = p[i + 1];
      if (e === undefined) return null;
      if (e === 'd' || e === 'w' || e === 'n' || e === 't' || e === 'r' || e === 'f') js += `\\${e}`;
      else if (e === 's') js += S_CLASS;
      else if (ESCAPED.has(e) || e === '-') js += `\\${e}`;
      else return null; // \D \W \S inside a class, \p... : left to re2js
      i += 2;
      items++;
      continue;
    }
    if (c === '-') {
      // A range a-z, A-Z, 0-9 (both ends of the same kind, ascending); a '-' first or last is literal.
      const prev = p[i - 1]!;
      const next = p[i + 1];
      if (items === 0 || next === ']') {
        js += '\\-';
        i++;
        items++;
        continue;
      }
      const kind = (x: string) => (/[a-z]/.test(x) ? 1 : /[A-Z]/.test(x) ? 2 : /[0-9]/.test(x) ? 3 : 0);
      if (next === undefined || !kind(prev) || kind(prev) !== kind(next) || next < prev || p[i - 2] === '-' || p[i - 2] === '\\') return null;
      js += `-${next}`;
      i += 2;
      items++;
      continue;
    }
    if (!CLASS_PLAIN.test(c)) return null;
    js += c === '$' || c === '|' || c === '(' || c === ')' || c === '{' || c === '}' || c === '*' || c === '+' || c === '?' || c === '.' ? `\\${c}` : c;
    i++;
    items++;
  }
  if (p[i] !== ']' || items === 0) return null;
  return { js: `${js}]`, end: i + 1 };
}

// ---------------------------------------------------------------- compiling, with a cache

const CACHE_LIMIT = 2000;
const cache = new Map<string, Regex | RegexError>();

function isRegex(r: Regex | RegexError): r is Regex {
  return typeof (r as Regex).test === 'function';
}

/** Compiles an RE2 pattern (cached); a pattern RE2 refuses gives a RegexError, never a throw. */
export function compileRegex(pattern: string): Regex | RegexError {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let r: Regex | RegexError;
  try {
    const re2 = RE2JS.compile(pattern);
    const js = translate(pattern);
    let jsRe: RegExp | null = null;
    if (js !== null) {
      try {
        jsRe = new RegExp(js, 'u');
      } catch {
        jsRe = null;
      }
    }
    r = jsRe ? { source: pattern, engine: 'js', test: (s: string) => jsRe.test(s) } : { source: pattern, engine: 're2', test: (s: string) => re2.test(s) };
  } catch (e) {
    r = re2Error(e, pattern);
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, r);
  return r;
}

/** The RegexError when RE2 refuses the pattern, else null. */
export function regexProblem(pattern: string): RegexError | null {
  const r = compileRegex(pattern);
  return isRegex(r) ? null : r;
}

export class InvalidRegex extends Error {
  constructor(readonly problem: RegexError) {
    super(problem.message);
  }
}

/** Does the RE2 pattern match anywhere in s? Throws InvalidRegex for a pattern RE2 refuses. */
export function re2Matches(s: string, pattern: string): boolean {
  const r = compileRegex(pattern);
  if (!isRegex(r)) throw new InvalidRegex(r);
  return r.test(s);
}

/** The compiled pattern, or the problem (for compiled code, which holds the pattern as a constant). */
export function regexOrProblem(pattern: string): Regex | RegexError {
  return compileRegex(pattern);
}

export { isRegex };

/** Matching by re2js alone, bypassing the translation (for the property test). */
export function re2Only(pattern: string): { test(s: string): boolean } {
  return RE2JS.compile(pattern);
}
