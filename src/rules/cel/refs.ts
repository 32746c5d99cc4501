// Static references of an expression (facts.x, agg.y, labels.z, relations), and field-name checks on known shapes.
import { suggest } from '../../config/diagnostics.js';
import { children, MACROS, type CelNode } from './ast.js';

export type RefKind = 'facts' | 'agg' | 'labels' | 'relations';

/** Where a reference appears in the expression text. */
export interface RefSite {
  kind: RefKind;
  name: string;
  offset: number;
  length: number;
}

export interface Refs {
  /** Facts read with a constant name: `facts.x`, `facts["x"]`, `has(facts.x)`, `"x" in facts`, and facts read on related targets (`depends_on.all(d, d.facts.x)`). */
  facts: string[];
  agg: string[];
  /** Labels read with a constant name, on the target or on related targets. */
  labels: string[];
  /** Relation lists the expression reads (`depends_on`, `dependents`, `upstream`, `downstream`). */
  relations: string[];
  /** Some fact, aggregate or label is read by a computed name (`facts[labels.k]`) or as a whole map: the lists are incomplete. */
  dynamic: boolean;
  /** The first place each reference appears, for diagnostics that point into the expression. */
  sites: RefSite[];
}

export const RELATIONS: ReadonlySet<string> = new Set(['depends_on', 'dependents', 'upstream', 'downstream']);
const MAPS: ReadonlySet<string> = new Set(['facts', 'agg', 'labels']);

export interface FieldProblem {
  message: string;
  offset: number;
  length: number;
}

/** What an iteration variable stands for. */
type Binding = { relation: string } | null;

export function collectRefs(
  ast: CelNode,
  declared: ReadonlySet<string>,
  fields: Readonly<Record<string, readonly string[]>> = {},
): { refs: Refs; problems: FieldProblem[] } {
  const refs: Refs = { facts: [], agg: [], labels: [], relations: [], dynamic: false, sites: [] };
  const problems: FieldProblem[] = [];

  function add(kind: RefKind, name: string, offset: number, length: number): void {
    if (refs[kind].includes(name)) return;
    refs[kind].push(name);
    refs.sites.push({ kind, name, offset, length });
  }

  /** A declared variable that no iteration variable shadows. */
  function variable(n: CelNode, scope: Map<string, Binding>): string | null {
    if (n.op !== 'id') return null;
    const name = n.args as string;
    return scope.has(name) || !declared.has(name) ? null : name;
  }

  /** The relation whose list `n` is: `depends_on`, or `depends_on.filter(d, ...)`. */
  function relationList(n: CelNode, scope: Map<string, Binding>): string | null {
    const v = variable(n, scope);
    if (v) return RELATIONS.has(v) ? v : null;
    if (n.op === 'rcall' && n.args[0] === 'filter') return relationList(n.args[1], scope);
    return null;
  }

  /** The relation whose element `n` is: an iteration variable over one, or `depends_on[0]`. */
  function relationElement(n: CelNode, scope: Map<string, Binding>): string | null {
    if (n.op === 'id') return scope.get(n.args as string)?.relation ?? null;
    if (n.op === '[]') return relationList(n.args[0], scope);
    return null;
  }

  /** `facts` / `agg` / `labels` of the target, or `facts` / `labels` of a related target. */
  function mapOf(n: CelNode, scope: Map<string, Binding>): RefKind | null {
    const v = variable(n, scope);
    if (v) return MAPS.has(v) ? (v as RefKind) : null;
    if (n.op === '.' && (n.args[1] === 'facts' || n.args[1] === 'labels') && relationElement(n.args[0], scope)) {
      return n.args[1] as RefKind;
    }
    return null;
  }

  function checkField(owner: string, what: string, name: string, n: CelNode): void {
    const known = fields[owner];
    if (!known || known.includes(name)) return;
    const s = suggest(name, known);
    problems.push({
      message: `unknown field \`${name}\` of ${what}${s ? `, did you mean \`${s}\`?` : ` (it has ${known.map((k) => `\`${k}\``).join(', ')})`}`,
      offset: n.pos,
      length: n.end - n.pos,
    });
  }

  function walk(n: CelNode, scope: Map<string, Binding>): void {
    switch (n.op) {
      case 'id': {
        const v = variable(n, scope);
        if (!v) return;
        if (RELATIONS.has(v)) add('relations', v, n.start, n.end - n.start);
        else if (MAPS.has(v)) refs.dynamic = true;
        return;
      }
      case '.': {
        const recv = n.args[0] as CelNode;
        const name = n.args[1] as string;
        const kind = mapOf(recv, scope);
        if (kind) {
          add(kind, name, n.pos, n.end - n.pos);
          if (recv.op !== 'id') walk(recv.args[0], scope);
          return;
        }
        const v = variable(recv, scope);
        if (v) checkField(v, `\`${v}\``, name, n);
        const rel = relationElement(recv, scope);
        if (rel && !(name === 'facts' || name === 'labels')) checkField(rel, `an element of \`${rel}\``, name, n);
        walk(recv, scope);
        return;
      }
      case '[]': {
        const [recv, key] = n.args as [CelNode, CelNode];
        const kind = mapOf(recv, scope);
        if (kind) {
          if (key.op === 'value' && typeof key.args === 'string') add(kind, key.args, key.start, key.end - key.start);
          else {
            refs.dynamic = true;
            walk(key, scope);
          }
          if (recv.op !== 'id') walk(recv.args[0], scope);
          return;
        }
        break;
      }
      case 'in': {
        const [key, coll] = n.args as [CelNode, CelNode];
        const kind = mapOf(coll, scope);
        if (kind) {
          if (key.op === 'value' && typeof key.args === 'string') add(kind, key.args, key.start, key.end - key.start);
          else {
            refs.dynamic = true;
            walk(key, scope);
          }
          if (coll.op !== 'id') walk(coll.args[0], scope);
          return;
        }
        break;
      }
      case 'rcall': {
        const [name, recv, args] = n.args as [string, CelNode, CelNode[]];
        const iter = args[0];
        if (iter?.op === 'id' && (MACROS.has(name) || (name === 'bind' && recv.op === 'id' && recv.args === 'cel'))) {
          const inner = new Map(scope);
          if (name === 'bind') {
            walk(args[1]!, scope);
            inner.set(iter.args as string, null);
            walk(args[2]!, inner);
            return;
          }
          walk(recv, scope);
          const rel = relationList(recv, scope);
          inner.set(iter.args as string, rel ? { relation: rel } : null);
          for (const a of args.slice(1)) walk(a, inner);
          return;
        }
        break;
      }
    }
    for (const c of children(n)) walk(c, scope);
  }

  walk(ast, new Map());
  return { refs, problems };
}
