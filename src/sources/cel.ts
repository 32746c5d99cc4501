// CEL for sources: expressions over a response (body, status, latency_ms, record) compiled once per source, results turned into facts.
import { Environment, Optional } from '@marcbachmann/cel-js';
import type { FactValue } from '../model.js';

export type Program = (vars: Record<string, unknown>) => unknown;

let env: Environment | undefined;

/** The variables an HTTP source's expressions may use. */
function environment(): Environment {
  env ??= new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true })
    .registerVariable('body', 'dyn', { description: 'The response body: parsed JSON, or the text when it is not JSON' })
    .registerVariable('record', 'dyn', { description: 'The current record (the body itself when there is no `records`)' })
    .registerVariable('status', 'int', { description: 'The HTTP status code' })
    .registerVariable('latency_ms', 'double', { description: 'Milliseconds from the request to the whole body' });
  return env;
}

/** Compile (parse and type-check) once; throws an Error whose message names the problem and shows a caret. */
export function compileCel(expr: string): Program {
  const e = environment();
  const checked = e.check(expr);
  if (!checked.valid) throw new Error(firstLines(checked.error?.message ?? 'invalid expression'));
  const program = e.parse(expr);
  return (vars) => program(vars);
}

function firstLines(msg: string): string {
  // cel-js messages carry the expression with a caret; stack lines are not for people.
  return msg
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    .join('\n')
    .trim();
}

/** Variables as CEL wants them: `status` is an int (BigInt). */
export function celVars(v: { body: unknown; record: unknown; status: number; latencyMs: number }): Record<string, unknown> {
  return { body: v.body, record: v.record, status: BigInt(v.status), latency_ms: v.latencyMs };
}

/** Stands for a value nested deeper than the limit: CEL cannot read into it, toFactValue names it. */
export class TooDeep {
  constructor(readonly limit: number) {}
}

/**
 * A CEL result as a fact value: ints become numbers, timestamps ISO text, durations seconds,
 * bytes base64, optionals their value (an empty optional is an error: the fact is unknown), and a
 * value nested deeper than `maxDepth` an error too (never a stack overflow).
 */
export function toFactValue(v: unknown, maxDepth = 32, depth = 1): FactValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (depth > maxDepth || v instanceof TooDeep) {
    throw new Error(`the value is nested deeper than the limit of ${maxDepth} levels (max_depth)`);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`the value is ${v}, not a usable number`);
    return v;
  }
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Optional) {
    if (!v.hasValue()) throw new Error('the optional value is empty');
    return toFactValue(v.value(), maxDepth, depth);
  }
  if (Array.isArray(v)) return v.map((x) => toFactValue(x, maxDepth, depth + 1));
  if (v instanceof Map) {
    const out: Record<string, FactValue> = {};
    for (const [k, x] of v) if (String(k) !== '__proto__') out[String(k)] = toFactValue(x, maxDepth, depth + 1);
    return out;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.constructor === 'function' && o.constructor !== Object && typeof o.seconds !== 'undefined' && typeof o.nanos !== 'undefined') {
      return Number(o.seconds) + Number(o.nanos) / 1e9;
    }
    const out: Record<string, FactValue> = {};
    for (const k of Object.keys(o)) if (k !== '__proto__') out[k] = toFactValue(o[k], maxDepth, depth + 1);
    return out;
  }
  throw new Error(`a ${typeof v} cannot be a fact`);
}
