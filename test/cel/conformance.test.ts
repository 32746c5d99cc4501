// The CEL specification's conformance tests (vendored from google/cel-spec) through both of Reflex's CEL paths.
//
// Every test must give the specification's answer in the compiled path and in the
// interpreter, or be listed in deviations.ts with the reason (and in docs/rules.md).
// A new difference fails this test, and so does a listed one that went away.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, UNKNOWN } from '../../src/rules/cel/index.js';
import { DEVIATIONS } from './deviations.js';
import { type Field, type Message, one, parseTextproto } from './textproto.js';

const DATA = join(import.meta.dirname, 'testdata');
const ROOT = join(import.meta.dirname, '../..');

interface Case {
  id: string;
  expr: string;
  disableCheck: boolean;
  /** The expected value (plain JS, as Reflex returns values), or ERROR for an eval_error. */
  expected: unknown;
}

const ERROR = Symbol('error');
/** An expected value Reflex has no plain form for (a protobuf message, bytes, uint). */
const NOT_COMPARABLE = Symbol('not comparable');

/** A cel-spec `Value` message as the plain JS value Reflex returns (ints become numbers). */
function plain(v: Message): unknown {
  const [kind] = Object.keys(v);
  const x = v[kind!]![0] as Field;
  switch (kind) {
    case 'int64_value':
      return Number(x as bigint);
    case 'double_value':
      return typeof x === 'bigint' ? Number(x) : x;
    case 'string_value':
    case 'bool_value':
    case 'type_value':
      return x;
    case 'null_value':
      return null;
    case 'list_value':
      return ((x as Message).values ?? []).map((e) => plain(e as Message));
    case 'map_value': {
      const out: Record<string, unknown> = {};
      for (const e of (x as Message).entries ?? []) {
        const entry = e as Message;
        out[String(plain(one<Message>(entry, 'key')!))] = plain(one<Message>(entry, 'value')!);
      }
      return out;
    }
  }
  return NOT_COMPARABLE;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const f of readdirSync(DATA)
    .filter((n) => n.endsWith('.textproto'))
    .sort()) {
    const file = parseTextproto(readFileSync(join(DATA, f), 'utf8'), f);
    const fileName = one<string>(file, 'name')!;
    for (const s of (file.section ?? []) as Message[]) {
      const section = one<string>(s, 'name')!;
      for (const t of (s.test ?? []) as Message[]) {
        const value = one<Message>(t, 'value');
        out.push({
          id: `${fileName}/${section}/${one<string>(t, 'name')}`,
          expr: one<string>(t, 'expr')!,
          disableCheck: one<boolean>(t, 'disable_check') === true,
          expected: value ? plain(value) : t.eval_error ? ERROR : NOT_COMPARABLE,
        });
      }
    }
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || (a === b && a !== 0) || (Number.isNaN(a) && Number.isNaN(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !(a instanceof Date) && !(b instanceof Date)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

function show(v: unknown): string {
  if (v === UNKNOWN) return 'unknown';
  if (v === ERROR) return 'an error';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return JSON.stringify(v) ?? String(v);
}

interface Outcome {
  id: string;
  /** Evaluated by compiled code (else the interpreter evaluated it in both paths). */
  fast: boolean;
  expr: string;
  conforms: boolean;
  got: string;
  want: string;
}

function run(c: Case): Outcome {
  const r = compile(c.expr, { variables: {} });
  const want = show(c.expected);
  if (!r.expr) {
    // Reflex checks every expression before it runs: a rejected expression never decides anything,
    // which is what an evaluation error means too.
    const got = `rejected by check: ${r.errors.map((e) => e.message).join('; ')}`;
    return { id: c.id, fast: false, expr: c.expr, conforms: c.expected === ERROR, got, want };
  }
  const fast = r.expr.eval({});
  const slow = r.expr.interpret({});
  // The two paths must never disagree, conformance or not.
  expect(show(fast), `${c.id}: compiled and interpreted disagree on ${c.expr}`).toBe(show(slow));
  const ok = c.expected === ERROR ? slow === UNKNOWN : slow !== UNKNOWN && same(slow, c.expected);
  return { id: c.id, fast: r.expr.fast, expr: c.expr, conforms: ok, got: show(slow), want };
}

describe('CEL conformance (google/cel-spec tests/simple/testdata)', () => {
  const all = cases();
  const outcomes = all.map(run);

  it('reads the vendored files', () => {
    expect(all.length).toBeGreaterThan(200);
    expect(all.filter((c) => c.expected === NOT_COMPARABLE).map((c) => c.id)).toEqual([]);
    // Most of them run through compiled code as well as the interpreter (the rest are left to the interpreter).
    expect(outcomes.filter((o) => o.fast).length).toBeGreaterThan(all.length * 0.7);
  });

  it('gives the specification’s answer in both paths, except for the listed deviations', () => {
    const deviating = outcomes.filter((o) => !o.conforms);
    const unlisted = deviating.filter((o) => !DEVIATIONS[o.id]).map((o) => `${o.id}: ${o.expr} gave ${o.got}, the specification says ${o.want}`);
    expect(unlisted, 'new deviations from the CEL specification').toEqual([]);
    const fixed = Object.keys(DEVIATIONS).filter((id) => !deviating.some((o) => o.id === id));
    expect(fixed, 'listed deviations that now conform (remove them from deviations.ts and docs/rules.md)').toEqual([]);
  });

  it('documents every deviation with its reason in docs/rules.md', () => {
    const doc = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
    const missing = Object.keys(DEVIATIONS).filter((id) => !doc.includes(`\`${id}\``));
    expect(missing, 'deviations missing from the table in docs/rules.md').toEqual([]);
  });
});
