import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCodePoints, compareVersions, LEFT_OUT, orderedAggregate, parseVersion } from './order.js';

const cmp = (a: string, b: string) => compareVersions(parseVersion(a)!, parseVersion(b)!);
const UNK = Symbol('unknown');

describe('version order', () => {
  it('compares MAJOR.MINOR.PATCH numerically, not as text', () => {
    expect(cmp('1.10.0', '1.9.3')).toBe(1);
    expect(cmp('2.13.4', '2.9.10')).toBe(1);
    expect(cmp('10.0.0', '9.99.99')).toBe(1);
    expect(cmp('1.2.3', '1.2.3')).toBe(0);
    expect(cmp('01.2.3', '1.2.3')).toBe(0);
    expect(cmp('v1.28.3', '1.28.2')).toBe(1);
    // Beyond 2^53: digits compare by length, then text.
    expect(cmp('1.2.18446744073709551616', '1.2.18446744073709551615')).toBe(1);
  });

  it('puts a pre-release below its release, in semver precedence, and ignores build metadata', () => {
    const asc = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 1; i < asc.length; i++) expect(cmp(asc[i - 1]!, asc[i]!), `${asc[i - 1]} < ${asc[i]}`).toBe(-1);
    expect(cmp('1.2.3-rc.1', '1.2.3')).toBe(-1);
    expect(cmp('1.2.3+build.5', '1.2.3+build.9')).toBe(0);
    expect(cmp('1.2.3-rc.1+b', '1.2.3-rc.1')).toBe(0);
  });

  it('is not a version: text that lacks a part, has a fourth, or an empty identifier', () => {
    for (const s of ['latest', '1.2', '1.2.3.4', '1.2.3-', '1.2.3-rc..1', '1.2.3+', ' 1.2.3', '1.2.x', '', 'v']) expect(parseVersion(s), s).toBeNull();
  });
});

describe('text order', () => {
  it('is code-point order, not UTF-16 order nor a locale', () => {
    expect(compareCodePoints('B', 'a')).toBe(-1); // a locale would put a first
    expect(compareCodePoints('\u{FF5E}', '\u{1F600}')).toBe(-1); // UTF-16 would say the emoji is lower
    expect(compareCodePoints('ab', 'abc')).toBe(-1);
    expect(compareCodePoints('é', 'é')).toBe(0);
  });

  it('agrees with comparing the code points themselves on any text', () => {
    const ref = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
      return Math.sign(x.length - y.length);
    };
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => compareCodePoints(a, b) === ref(a, b)));
  });
});

describe('orderedAggregate', () => {
  const run = (fn: 'min' | 'max', compare: 'version' | 'string', values: unknown[], maxUnknown = 0.5) =>
    orderedAggregate(
      { fn, compare, maxUnknown },
      values,
      () => ['g'],
      (v) => v,
      UNK,
    ).get('g');

  it('gives the value itself: the greatest or least version text', () => {
    expect(run('max', 'version', ['2.9.10', '2.13.4', '2.13.4-rc.2', '1.10.0'])).toBe('2.13.4');
    expect(run('min', 'version', ['2.9.10', '2.13.4', '2.13.4-rc.2', '1.10.0'])).toBe('1.10.0');
    expect(run('max', 'string', ['eu-west-1', 'us-east-1', 'ap-south-1'])).toBe('us-east-1');
  });

  it('counts a value that is not a version (or not text) as an unknown member, against max_unknown', () => {
    expect(run('max', 'version', ['1.2.3', 'latest', '1.3.0'], 0.5)).toBe('1.3.0');
    expect(run('max', 'version', ['1.2.3', 'latest', 7], 0.5)).toBe(UNK);
    expect(run('max', 'string', ['a', 3, 'b'], 0.1)).toBe(UNK);
  });

  it('leaves out members `where` leaves out, and is unknown when no member is left', () => {
    expect(run('max', 'version', [LEFT_OUT, '1.0.0', LEFT_OUT])).toBe('1.0.0');
    expect(run('max', 'version', [LEFT_OUT, LEFT_OUT])).toBe(UNK);
  });

  it('does not depend on the order members come in when versions tie (1.2.3+a, v1.2.3)', () => {
    expect(run('max', 'version', ['1.2.3+b', 'v1.2.3', '1.2.3+a'])).toBe('v1.2.3');
    expect(run('max', 'version', ['1.2.3+a', '1.2.3+b', 'v1.2.3'])).toBe('v1.2.3');
    expect(run('min', 'version', ['v1.2.3', '1.2.3+b', '1.2.3+a'])).toBe('1.2.3+a');
  });

  it('agrees with a reference sort on random versions', () => {
    // Versions built from their parts, ordered by those parts (the reference), then written as text.
    const ident = fc.oneof(fc.nat(30).map(String), fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/));
    const version = fc.record({
      core: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)),
      pre: fc.array(ident, { maxLength: 3 }),
    });
    const refCmp = (a: { core: number[]; pre: string[] }, b: { core: number[]; pre: string[] }) => {
      for (let i = 0; i < 3; i++) if (a.core[i] !== b.core[i]) return a.core[i]! - b.core[i]!;
      if (!a.pre.length || !b.pre.length) return (a.pre.length ? 0 : 1) - (b.pre.length ? 0 : 1);
      for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
        const [x, y] = [a.pre[i]!, b.pre[i]!];
        const [xn, yn] = [/^\d+$/.test(x), /^\d+$/.test(y)];
        if (xn && yn && Number(x) !== Number(y)) return Number(x) - Number(y);
        if (xn !== yn) return xn ? -1 : 1;
        if (!xn && x !== y) return x < y ? -1 : 1;
      }
      return a.pre.length - b.pre.length;
    };
    const text = (v: { core: number[]; pre: string[] }) => v.core.join('.') + (v.pre.length ? `-${v.pre.join('.')}` : '');
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 30 }), (vs) => {
        const sorted = [...vs].sort(refCmp);
        const max = run('max', 'version', vs.map(text)) as string;
        const min = run('min', 'version', vs.map(text)) as string;
        expect(refCmp(vs.find((v) => text(v) === max)!, sorted.at(-1)!)).toBe(0);
        expect(refCmp(vs.find((v) => text(v) === min)!, sorted[0]!)).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
