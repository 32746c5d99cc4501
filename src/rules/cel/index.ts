// CEL for Reflex: compile once per run, evaluate per target with three-valued (unknown) logic, explain unknowns.
//
// # The language rule authors write
//
// Conditions and values are CEL (https://cel.dev), checked by `reflex check` before
// anything runs (unknown variables and functions, type mismatches, with suggestions).
// Reflex's semantics on top of CEL:
//
// Numbers. Rule authors do not think about int and double. Facts come from JSON, so
// they are doubles; literals such as `3` are ints and `size()` returns an int. Mixed
// arithmetic works (`facts.restarts + 1`, `size(l) * 0.5`, `1 == 1.0`), mixing gives a
// double; int with int stays int (`7 / 2` is 3, `7.0 / 2` is 3.5; int overflow beyond
// 64 bits is unknown). `%` works on doubles too. Division or modulo by zero is UNKNOWN
// for every number type (CEL would give ±Infinity or NaN for doubles): a rule never
// acts on `errors / requests` over an empty window. Results are JS numbers.
//
// Unknown. The activation's `facts` (and `agg`) hold only known values: reading a
// missing one is UNKNOWN. Every evaluation error is UNKNOWN too: no such key, no such
// overload (`facts.up < 1` when up is a string), a non-bool operand of `&&`, division
// by zero, an index out of range, an invalid timestamp string. Unknown spreads through
// every operator except where CEL absorbs errors:
//   false && X, X && false  -> false      true || X, X || true -> true
//   !U -> U;  U ? a : b -> U;  U == x -> U (equality does not absorb)
//   l.all(x, p):    false if p is false for some element, else UNKNOWN if p was unknown
//                   (or not a bool) for some element, else true
//   l.exists(x, p): true if p is true for some element, else UNKNOWN if unknown for some,
//                   else false
//   exists_one, map, filter: UNKNOWN if the predicate is unknown for any element
//   has(facts.x) is false for a missing fact (never unknown); has(facts.a.b) is
//   unknown when facts.a is missing or is not a map (CEL: has() on a non-map is an error).
// Equality across types is false, not unknown (`facts.s == 1` with s a string), as in
// CEL; ordering across types (`<`) is unknown. `x in list` compares like `==`;
// `k in map` tests for the key.
//
// Timestamps and durations. `now` is the run's clock (a timestamp); `timestamp("…")`
// parses RFC 3339; `duration("10m")` takes Go-style units (ns, us, ms, s, m, h).
// `now - timestamp(facts.deployed_at) > duration("10m")` works as expected; timestamps
// compare with timestamps and durations with durations. Timestamps hold milliseconds
// and run from year 1 to 9999; durations fit int64 nanoseconds (about ±292 years);
// a result outside is UNKNOWN. Accessors take a zone: `now.getHours("Europe/Berlin")`,
// `now.getHours("+02:00")`.
//
// Regular expressions. `matches()` is RE2 (re2.ts), in both paths; a literal pattern
// RE2 refuses is a compile error at its position, a computed one is UNKNOWN.
//
// Results (what eval returns): UNKNOWN, or a plain JS value: number, string, boolean,
// null, array, object, Date for a timestamp, and a number of SECONDS (possibly
// fractional) for a duration. Types (`type(x)`) come back as their names.
//
// Variables. The caller declares the variables an expression may use with their CEL
// types; rule conditions use facts (map), labels (map of strings), target ({id, kind}),
// agg (map of aggregates), depends_on / dependents / upstream / downstream (lists of
// related targets {id, kind, labels, facts}) and now (timestamp). Declare numbers as
// `double`: activations carry JS numbers. The activation is read lazily, property by
// property, as the expression needs it (relation lists may be getters). Values in it
// are expected to be JSON-like (plain objects, arrays, strings, numbers, booleans,
// null) or Dates; the fast path hands Maps, Sets and BigInts to the interpreter, but it
// reads a field of any other object (a class instance) as if the object were a map.
//
// # How it runs
//
// The reference is the interpreter of @marcbachmann/cel-js, with the overloads above.
// The fast path compiles the checked AST to one JavaScript function with no per-node
// closures, no exceptions on the hot path and no allocation beyond the values the
// expression builds. Constructs it does not compile fall back to the interpreter for
// the whole expression (`fast: false`, `fallback` says why): timestamp accessors
// (getHours...), duration arithmetic other than timestamp ± literal, list
// concatenation, bytes and uint, cel.bind, optional types, and expressions where an int
// could hide behind a dyn value and then meet arithmetic (`(c ? 1 : facts.x) / 2`).
// At run time compiled code hands an evaluation to the interpreter when it meets what
// it does not model exactly (Maps, BigInts, ints beyond 2^53, equality of two lists or
// maps, durations over 104 days). A property-based test holds both paths to the same
// results.
import type { ParseResult } from '@marcbachmann/cel-js';
import { children, type CelNode } from './ast.js';
import { compileFast, Unsupported } from './compiler.js';
import { diagnosticFromError, type CelDiagnostic } from './diagnostics.js';
import { environment, patchSemantics, toPlain, prepareForCheck, variableTypes } from './env.js';
import { literalOffsets } from './literal.js';
import { regexProblem } from './re2.js';
import { explainError } from './explain.js';
import { collectRefs, type Refs } from './refs.js';
import { UNKNOWN } from './runtime.js';

export { UNKNOWN, type Unknown } from './runtime.js';
export type { CelDiagnostic } from './diagnostics.js';
export type { Refs, RefKind, RefSite } from './refs.js';
export { RELATIONS } from './refs.js';

export interface CompileOptions {
  /** Variables the expression may use: name -> CEL type (`map`, `list`, `string`, `double`, `timestamp`, `map<string, string>`...). */
  variables: Readonly<Record<string, string>>;
  /**
   * Known field names of map variables and of the elements of list variables, e.g.
   * `{ target: ['id', 'kind'], depends_on: ['id', 'kind', 'labels', 'facts'] }`:
   * `target.idd` is then an error with a suggestion instead of an unknown at run time.
   */
  fields?: Readonly<Record<string, readonly string[]>>;
  /** `bool` for conditions: anything that cannot be a bool is an error. */
  expect?: 'bool';
}

export interface CompiledExpr {
  readonly source: string;
  /** The checked CEL type of the result (`bool`, `double`, `dyn`...). */
  readonly type: string;
  /** Compiled to JavaScript; false when the interpreter evaluates it. */
  readonly fast: boolean;
  /** Why the interpreter evaluates it, when it does. */
  readonly fallback?: string;
  /** Static references: which facts, aggregates, labels and relations the expression reads. */
  readonly refs: Refs;
  /** The value, or UNKNOWN; never throws because of data. */
  eval(activation: object): unknown;
  /** The same, by the reference interpreter (slower; for tests and explanations). */
  interpret(activation: object): unknown;
  /** Why the value is UNKNOWN for this activation, e.g. `fact "up" is unknown`. */
  explainUnknown(activation: object): string;
}

export interface CompileResult {
  expr?: CompiledExpr;
  errors: CelDiagnostic[];
}

/** Parses and type-checks an expression, collects its references and compiles it. */
export function compile(source: string, opts: CompileOptions): CompileResult {
  const env = environment(opts.variables as Record<string, string>);
  const declared = Object.keys(opts.variables);
  let parsed: ParseResult;
  try {
    parsed = env.parse(source);
  } catch (e) {
    return { errors: [diagnosticFromError(e, source, env, declared)] };
  }
  prepareForCheck(parsed.ast as unknown as CelNode);
  const checked = parsed.check();
  if (!checked.valid) return { errors: [diagnosticFromError(checked.error, source, env, declared)] };
  const ast = parsed.ast as unknown as CelNode;
  const type = checked.type ?? 'dyn';

  const { refs, problems } = collectRefs(ast, new Set(declared), opts.fields);
  const errors: CelDiagnostic[] = problems.map((p) => ({ ...p }));
  errors.push(...regexLiteralProblems(ast, source));
  if (opts.expect === 'bool' && type !== 'bool' && type !== 'dyn') {
    errors.push({ message: `a condition must be true or false, but this expression is a ${type}`, offset: 0, length: source.length });
  }
  if (errors.length) return { errors };

  patchSemantics(ast);
  const interpret = (activation: object): unknown => {
    try {
      const v: unknown = parsed(activation as Record<string, unknown>);
      return v instanceof Promise ? UNKNOWN : toPlain(v);
    } catch {
      return UNKNOWN;
    }
  };
  const explainUnknown = (activation: object): string => {
    try {
      const v: unknown = parsed(activation as Record<string, unknown>);
      return `not unknown: the expression evaluates to ${String(toPlain(v))}`;
    } catch (e) {
      return explainError(e, source, activation);
    }
  };

  let fast: ((a: object) => unknown) | undefined;
  let fallback: string | undefined;
  try {
    fast = compileFast(ast, {
      variables: variableTypes(env, opts.variables as Record<string, string>),
      constant: (s) => env.evaluate(s),
    }).fn;
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    fallback = e.message;
  }

  const run = fast;
  const expr: CompiledExpr = {
    source,
    type,
    fast: run !== undefined,
    ...(fallback !== undefined ? { fallback } : {}),
    refs,
    eval: run
      ? (activation) => {
          try {
            return run(activation);
          } catch {
            // Defer (a case the fast path leaves to the interpreter), or a bad activation.
            return interpret(activation);
          }
        }
      : interpret,
    interpret,
    explainUnknown,
  };
  return { expr, errors: [] };
}

/** `x.matches("…")` with a literal pattern RE2 refuses: an error at its position in the pattern, before anything runs. */
function regexLiteralProblems(ast: CelNode, source: string): CelDiagnostic[] {
  const out: CelDiagnostic[] = [];
  const stack = [ast];
  while (stack.length) {
    const n = stack.pop()!;
    const pattern =
      n.op === 'rcall' && n.args[0] === 'matches' && (n.args[2] as CelNode[]).length === 1
        ? (n.args[2] as CelNode[])[0]
        : n.op === 'call' && n.args[0] === 'matches' && (n.args[1] as CelNode[]).length === 2
          ? (n.args[1] as CelNode[])[1]
          : undefined;
    if (pattern) {
      const p = pattern;
      if (p.op === 'value' && typeof p.args === 'string') {
        const problem = regexProblem(p.args);
        if (problem) {
          const map = literalOffsets(source.slice(p.start, p.end));
          const from = map?.[problem.offset];
          const to = map?.[Math.min(problem.offset + problem.length, p.args.length)];
          out.push(
            from !== undefined && to !== undefined
              ? { message: problem.message, offset: p.start + from, length: Math.max(1, to - from) }
              : { message: problem.message, offset: p.start, length: p.end - p.start },
          );
        }
      }
    }
    stack.push(...children(n));
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** A condition's value as three-valued truth: anything but true or false is unknown. */
export function truth(v: unknown): true | false | 'unknown' {
  return v === true ? true : v === false ? false : 'unknown';
}
