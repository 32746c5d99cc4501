// Turns cel-js parse and type errors into diagnostics that point into the expression, with suggestions.
import type { Environment } from '@marcbachmann/cel-js';
import { suggest } from '../../config/diagnostics.js';
import type { CelNode } from './ast.js';

/** A problem in an expression: offset and length are within the expression text. */
export interface CelDiagnostic {
  message: string;
  offset: number;
  length: number;
}

interface CelErrorLike {
  code?: string;
  summary?: string;
  message?: string;
  range?: { start: number; end: number };
  node?: Partial<CelNode>;
}

interface Names {
  functions: Set<string>;
  methods: Set<string>;
}

const namesCache = new WeakMap<Environment, Names>();

function names(env: Environment): Names {
  let n = namesCache.get(env);
  if (!n) {
    n = { functions: new Set(), methods: new Set() };
    for (const f of env.getDefinitions().functions) (f.receiverType ? n.methods : n.functions).add(f.name);
    namesCache.set(env, n);
  }
  return n;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s ? `, did you mean \`${s}\`?` : '';
}

export function diagnosticFromError(e: unknown, source: string, env: Environment, variables: readonly string[]): CelDiagnostic {
  const err = (e ?? {}) as CelErrorLike;
  const summary = err.summary ?? err.message ?? String(e);
  const range = err.range ?? { start: 0, end: source.length };
  const base: CelDiagnostic = { message: summary, offset: range.start, length: Math.max(0, range.end - range.start) };
  const node = err.node;

  if (err.code === 'unknown_variable') {
    const name = typeof node?.args === 'string' ? node.args : summary.replace(/^Unknown variable: /, '');
    return { ...base, message: `unknown variable \`${name}\`${didYouMean(name, variables) || `; known variables: ${variables.join(', ')}`}` };
  }

  if (err.code === 'no_matching_overload' && node && (node.op === 'call' || node.op === 'rcall')) {
    const fn = node.args[0] as string;
    const known = names(env);
    if (node.op === 'call' && !known.functions.has(fn)) {
      return { message: `unknown function \`${fn}\`${didYouMean(fn, known.functions)}`, offset: node.start ?? 0, length: fn.length };
    }
    if (node.op === 'rcall' && !known.methods.has(fn)) {
      const recvEnd = (node.args[1] as CelNode).end;
      const at = source.indexOf(fn, recvEnd);
      return { message: `unknown method \`${fn}\`${didYouMean(fn, known.methods)}`, offset: at >= 0 ? at : base.offset, length: fn.length };
    }
  }
  return base;
}
