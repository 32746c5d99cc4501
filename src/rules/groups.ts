// Group targets: one pseudo-target per distinct value of the members' labels (a region per region), made from the collected targets in one pass.
import type { Target } from '../model.js';
import { compareCodePoints } from './order.js';

/** A `groups:` entry, compiled: targets of `kind` made from the distinct values of `by` among targets of `of`. */
export interface CompiledGroup {
  kind: string;
  of: string;
  by: string[];
}

/** Why a declared group made no targets, or not all of them, this run (a run problem: people must hear it). */
export interface GroupProblem {
  reason: 'group:kind-reported' | 'group:id-taken';
  detail: string;
}

/**
 * The id of a group target: its kind, then each label value, joined by "/": `region/eu-west-1`,
 * `zone/eu-west-1/b`. "%" and "/" inside a value are written %25 and %2F, so two groups never share an id.
 * A collected target of another kind can still be named so; then the group target is not made (GroupProblem).
 */
export function groupId(kind: string, values: readonly string[]): string {
  let id = kind;
  for (const v of values) id += `/${v.includes('%') || v.includes('/') ? v.replace(/%/g, '%25').replace(/\//g, '%2F') : v}`;
  return id;
}

const NONE: { targets: Target[]; problems: GroupProblem[] } = Object.freeze({ targets: [], problems: [] }) as never;

/**
 * The group targets of a fleet: for each group, one target per distinct combination of its `by` label values
 * among the targets of kind `of` (a member lacking a label, or with it empty, is in no group; a group with no
 * member does not exist), sorted by those values so the order does not depend on the sources'. Each carries the
 * `by` labels and no facts: what it knows of its members, it reads through aggregates grouped by the same labels.
 * One pass over the targets; no work at all without groups.
 */
export function groupTargets(groups: readonly CompiledGroup[], targets: readonly Target[]): { targets: Target[]; problems: GroupProblem[] } {
  if (groups.length === 0) return NONE;
  const byOf = new Map<string, { g: CompiledGroup; seen: Map<string, string[]> }[]>();
  const kinds = new Set<string>();
  const states = groups.map((g) => {
    const s = { g, seen: new Map<string, string[]>() };
    let l = byOf.get(g.of);
    if (!l) byOf.set(g.of, (l = []));
    l.push(s);
    kinds.add(g.kind);
    return s;
  });
  const reported = new Set<string>();
  const taken = new Set<string>();
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (kinds.has(t.kind)) reported.add(t.kind);
    // Only an id that starts with a group kind and "/" can be a group target's.
    const slash = t.id.indexOf('/');
    if (slash > 0 && kinds.has(t.id.slice(0, slash))) taken.add(t.id);
    const gs = byOf.get(t.kind);
    if (gs === undefined) continue;
    for (const s of gs) {
      const by = s.g.by;
      if (by.length === 1) {
        const v = t.labels[by[0]!];
        if (v === undefined || v === '' || s.seen.has(v)) continue;
        s.seen.set(v, [v]);
        continue;
      }
      const values: string[] = [];
      for (const l of by) {
        const v = t.labels[l];
        if (v === undefined || v === '') break;
        values.push(v);
      }
      if (values.length < by.length) continue;
      const key = values.join('\u0000');
      if (!s.seen.has(key)) s.seen.set(key, values);
    }
  }
  const out: Target[] = [];
  const problems: GroupProblem[] = [];
  for (const { g, seen } of states) {
    if (reported.has(g.kind)) {
      problems.push({
        reason: 'group:kind-reported',
        detail: `group kind "${g.kind}": a source reports targets of this kind, so no group targets were made for it (rename the group's kind)`,
      });
      continue;
    }
    const keys = [...seen.keys()].sort(compareCodePoints);
    for (const k of keys) {
      const values = seen.get(k)!;
      const id = groupId(g.kind, values);
      if (taken.has(id)) {
        problems.push({ reason: 'group:id-taken', detail: `group target "${id}" was not made: a source reports a target with that id` });
        continue;
      }
      // fromEntries: a label named like an Object member (`__proto__`) is an own label like any other.
      const labels: Record<string, string> = Object.fromEntries(g.by.map((l, i) => [l, values[i]!]));
      out.push({ id, kind: g.kind, labels, depends_on: [], facts: {} });
    }
  }
  return { targets: out, problems };
}
