// The reference interpreter: a cel-js Environment with Reflex's number semantics, and results made plain.
import { Environment, EvaluationError } from '@marcbachmann/cel-js';
import { children, type CelNode, type CelType } from './ast.js';

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
 * CEL says double division by zero is ±Infinity or NaN; Reflex makes every division and
 * modulo by zero unknown, so `errors / requests > 0.05` never acts on an empty window.
 * cel-js cannot replace its built-in `double / double`, so after type checking we wrap
 * the handler it chose for each `/` node (the handler takes the operands as evaluated).
 */
export function guardDivisions(ast: CelNode): void {
  const stack = [ast];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.op === '/' && typeof n.handle === 'function') {
      const h = n.handle;
      n.handle = (l: unknown, r: unknown, ...rest: unknown[]) => {
        if (r === 0 || r === 0n) throw divisionByZero(n);
        return h(l, r, ...rest);
      };
    }
    stack.push(...children(n));
  }
}

// biome-ignore lint/complexity/noBannedTypes: constructors of cel-js classes it does not export, compared by identity
let durationCtor: Function | undefined;
// biome-ignore lint/complexity/noBannedTypes: as above
let typeCtor: Function | undefined;

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
      durationCtor ??= (environment({}).evaluate('duration("1s")') as object).constructor;
      if (v.constructor === durationCtor) return (v as { valueOf(): number }).valueOf() / 1000;
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
