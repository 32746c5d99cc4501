// Says why an expression was unknown, from the error the interpreter stopped on (slow path, for explanations).
import type { CelNode } from './ast.js';

interface CelErrorLike {
  code?: string;
  summary?: string;
  message?: string;
  node?: CelNode;
}

/** `facts.x` (or `facts["x"]`): the fact's name. */
function factName(n: CelNode | undefined): string | null {
  if (!n) return null;
  if ((n.op === '.' || n.op === '[]') && n.args[0]?.op === 'id' && n.args[0].args === 'facts') {
    if (n.op === '.') return n.args[1] as string;
    if (n.args[1]?.op === 'value' && typeof n.args[1].args === 'string') return n.args[1].args;
  }
  return null;
}

function show(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

const WHAT: Record<string, (key: string) => string> = {
  facts: (k) => `fact "${k}" is unknown`,
  agg: (k) => `aggregate "${k}" is unknown`,
  labels: (k) => `label "${k}" is not set`,
};

export function explainError(e: unknown, source: string, activation: object): string {
  const err = (e ?? {}) as CelErrorLike;
  const summary = (err.summary ?? err.message ?? String(e)).replace(/dyn<([^<>]+)>/g, '$1');
  const node = err.node;
  const snippet = node && typeof node.start === 'number' ? source.slice(node.start, node.end) : '';

  if (err.code === 'no_such_key' && node && (node.op === '.' || node.op === '[]')) {
    const recv = node.args[0] as CelNode;
    const keyNode = node.args[1] as CelNode | string;
    const key = typeof keyNode === 'string' ? keyNode : keyNode.op === 'value' ? String(keyNode.args) : summary.replace(/^No such key: /, '');
    if (recv.op === 'id' && WHAT[recv.args as string]) return WHAT[recv.args as string]!(key);
    if (recv.op === '.' && (recv.args[1] === 'facts' || recv.args[1] === 'labels')) {
      return `${recv.args[1] === 'facts' ? `fact "${key}"` : `label "${key}"`} of a related target (${source.slice(recv.start, recv.end)}) is ${recv.args[1] === 'facts' ? 'unknown' : 'not set'}`;
    }
    return `no such key "${key}" in \`${snippet}\``;
  }
  if (err.code === 'unknown_variable') {
    return `${summary.replace(/^Unknown variable: (.*)$/, 'variable "$1" is not available')}`;
  }
  // Name the facts the failing operation read, with their values: "no such overload: string < int in `facts.up < 1` (facts.up = "yes")".
  const values: string[] = [];
  if (node) {
    const facts = (activation as { facts?: Record<string, unknown> }).facts;
    const operands: CelNode[] = Array.isArray(node.args)
      ? (node.args as unknown[]).filter((a): a is CelNode => !!a && typeof a === 'object' && 'op' in a)
      : node.args && typeof node.args === 'object' && 'op' in node.args
        ? [node.args as CelNode]
        : [];
    if (node.op === 'call') operands.push(...(node.args[1] as CelNode[]));
    if (node.op === 'rcall') operands.push(node.args[1] as CelNode, ...(node.args[2] as CelNode[]));
    for (const o of operands) {
      const f = factName(o);
      if (f && facts && typeof facts === 'object' && Object.hasOwn(facts, f)) values.push(`facts.${f} = ${show(facts[f])}`);
    }
  }
  const shown = [...new Set(values)];
  return `${summary}${snippet ? ` in \`${snippet}\`` : ''}${shown.length ? ` (${shown.join(', ')})` : ''}`;
}
