// How min and max order values that are not numbers: versions (semantic-version precedence) and text (code points).

/** What `compare:` of an aggregate names: how its min and max order the members' values. */
export type Compare = 'number' | 'version' | 'string';

/** A parsed version: the numeric core as digit strings (no leading zeros), the pre-release identifiers. */
export interface Version {
  core: [string, string, string];
  pre: string[];
}

// MAJOR.MINOR.PATCH, an optional pre-release (-rc.1) and build (+sha.5), an optional leading "v" (v1.28.3).
const VERSION_RE = /^[vV]?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** A version, or null for text that is not one (`latest`, `1.2`, `1.2.3.4`, an empty pre-release identifier). */
export function parseVersion(text: string): Version | null {
  const m = VERSION_RE.exec(text);
  if (!m) return null;
  return { core: [digits(m[1]!), digits(m[2]!), digits(m[3]!)], pre: m[4] === undefined ? [] : m[4].split('.') };
}

/** A number written in digits, without leading zeros, so that numbers of any size compare by length then text. */
function digits(s: string): string {
  let i = 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
  return i === 0 ? s : s.slice(i);
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const NUMERIC = /^\d+$/;

/**
 * Semantic-version precedence (semver.org, item 11): the core numerically; a version with a pre-release is
 * lower than the same core without one (1.2.3-rc.1 < 1.2.3); pre-release identifiers compare one by one,
 * numeric ones numerically and below alphanumeric ones, which compare in ASCII order; more identifiers win
 * when all before are equal. Build metadata is not part of precedence.
 */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const c = compareDigits(a.core[i]!, b.core[i]!);
    if (c !== 0) return c;
  }
  if (a.pre.length === 0 || b.pre.length === 0) return a.pre.length === b.pre.length ? 0 : a.pre.length === 0 ? 1 : -1;
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    const xn = NUMERIC.test(x);
    const yn = NUMERIC.test(y);
    const c = xn && yn ? compareDigits(digits(x), digits(y)) : xn ? -1 : yn ? 1 : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

/**
 * Text in code-point order, not a locale's and not UTF-16's: JavaScript's `<` compares UTF-16 units, which
 * puts U+1F600 (a surrogate pair, 0xD83D...) before U+FF5E. Surrogates are moved above the rest of the BMP.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) < fixup(y) ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function fixup(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  if (u >= 0xe000) return u - 0x800;
  return u;
}

/**
 * One member's value as `compare:` orders it, or null when it has no place in that order (then the member is
 * unknown, counted against max_unknown): a version must be text in the form above, text must be text.
 */
export function orderKey(compare: Exclude<Compare, 'number'>, v: unknown): Version | string | null {
  if (typeof v !== 'string') return null;
  return compare === 'version' ? parseVersion(v) : v;
}

/**
 * Compares two members' keys; equal versions (1.2.3+a and 1.2.3+b, v1.2.3 and 1.2.3) are then ordered by
 * their text, so that min and max do not depend on the order members were reported in.
 */
export function compareKeys(
  compare: Exclude<Compare, 'number'>,
  a: { key: Version | string; text: string },
  b: { key: Version | string; text: string },
): number {
  if (compare === 'string') return compareCodePoints(a.text, b.text);
  return compareVersions(a.key as Version, b.key as Version) || compareCodePoints(a.text, b.text);
}

/** What one member gives an ordered aggregate: left out by `where`, unknown, or its value. */
export const LEFT_OUT: unique symbol = Symbol('left out');

interface Best {
  n: number;
  unknown: number;
  best: { key: Version | string; text: string } | null;
}

/**
 * min or max under `compare: version | string`, for every group at once, in one pass over the members: the
 * value itself (the text "2.13.4"), or UNKNOWN for a group with more than `maxUnknown` unknown members or
 * none whose value is known. `keysOf` names the groups a member is in; `read` gives its value.
 */
export function orderedAggregate<T, U>(
  a: { fn: string; compare: Exclude<Compare, 'number'>; maxUnknown: number },
  members: readonly T[],
  keysOf: (m: T) => readonly string[],
  read: (m: T) => unknown | typeof LEFT_OUT,
  unknown: U,
): Map<string, string | U> {
  const states = new Map<string, Best>();
  const sign = a.fn === 'min' ? -1 : 1;
  for (const m of members) {
    const keys = keysOf(m);
    if (keys.length === 0) continue;
    const v = read(m);
    const key = v === LEFT_OUT ? null : orderKey(a.compare, v);
    for (const k of keys) {
      let s = states.get(k);
      if (!s) states.set(k, (s = { n: 0, unknown: 0, best: null }));
      s.n++;
      if (v === LEFT_OUT) continue;
      if (key === null) s.unknown++;
      else {
        const cand = { key, text: v as string };
        if (s.best === null || sign * compareKeys(a.compare, cand, s.best) > 0) s.best = cand;
      }
    }
  }
  const out = new Map<string, string | U>();
  for (const [k, s] of states) out.set(k, s.unknown / s.n > a.maxUnknown || s.best === null ? unknown : s.best.text);
  return out;
}
