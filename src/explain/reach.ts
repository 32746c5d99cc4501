// What the explanation of one target reaches in a run's fleet: the target, the targets its rules' relations follow,
// the members of the groups its aggregates read, and so on through the derive rules those read. `reflex why` and the
// console evaluate only these (the rest of a 100,000-target fleet cannot change the answer), and derive rules only on
// the targets whose derived facts are read.
import type { Target } from '../model.js';
import { closure, groupKey } from '../rules/context.js';
import type { CompiledAggregate, RuleSet } from '../rules/ruleset.js';
import type { Snapshot } from '../pipeline/stages/collect.js';

/**
 * `world`: the targets the evaluation must see; `derive`: those of them whose derived facts are read (a subset);
 * `groups`: per aggregate read, the members of the groups its readers belong to.
 */
export interface Reach {
  world: Set<string>;
  derive: Set<string>;
  groups: Map<string, Set<string>>;
  /**
   * Aggregates that read only what sources reported (no derived fact, no relation): the evaluation computes them over
   * the snapshot's own members of the groups read, which it never changes, so those members need not be in `world`
   * (a region's instances, a sixth of the fleet, for every instance explained).
   */
  fixed: Map<string, Target[][]>;
}

/** A snapshot's fleet indexed once (by id, who depends on whom, aggregate groups); kept per snapshot while it lives. */
class FleetIndex {
  readonly byId = new Map<string, Target>();
  /** Where each target is in the run's order. */
  readonly pos = new Map<string, number>();
  private dependentsIdx: Map<string, Target[]> | null = null;
  private readonly groups = new Map<string, Map<string, Target[]>>();

  constructor(private readonly targets: readonly Target[]) {
    for (let i = 0; i < targets.length; i++) {
      this.byId.set(targets[i]!.id, targets[i]!);
      this.pos.set(targets[i]!.id, i);
    }
  }

  private dependents(t: Target): Target[] {
    if (!this.dependentsIdx) {
      const idx = new Map<string, Target[]>();
      for (const x of this.targets)
        for (const d of x.depends_on) {
          let l = idx.get(d);
          if (!l) idx.set(d, (l = []));
          l.push(x);
        }
      this.dependentsIdx = idx;
    }
    return this.dependentsIdx.get(t.id) ?? [];
  }

  private dependsOn(t: Target): Target[] {
    const out: Target[] = [];
    for (const id of t.depends_on) {
      const x = this.byId.get(id);
      if (x) out.push(x); // an id no source reported is a placeholder the evaluation makes itself
    }
    return out;
  }

  /** The targets a relation of `t` names (the variables of rules/ruleset.ts RULE_VARIABLES). */
  related(rel: string, t: Target): Target[] {
    switch (rel) {
      case 'depends_on':
        return this.dependsOn(t);
      case 'dependents':
        return this.dependents(t);
      case 'upstream':
        return closure(t, (x) => this.dependsOn(x));
      case 'downstream':
        return closure(t, (x) => this.dependents(x));
      default:
        return [];
    }
  }

  /** The members of the group of aggregate `a` that `reader` belongs to (World.groupMembers, over the whole fleet). */
  members(a: CompiledAggregate, reader: Target): Target[] {
    const key = a.groupBy === 'all' ? '' : a.groupBy === 'depends_on' ? reader.id : groupKey(a.groupBy, reader.labels);
    if (key === null) return [];
    let g = this.groups.get(a.name);
    if (!g) {
      g = new Map();
      for (const m of this.targets) {
        if (m.kind !== a.of) continue;
        const keys = a.groupBy === 'all' ? [''] : a.groupBy === 'depends_on' ? m.depends_on : [groupKey(a.groupBy, m.labels)];
        for (const k of keys) {
          if (k === null) continue;
          let l = g.get(k);
          if (!l) g.set(k, (l = []));
          l.push(m);
        }
      }
      this.groups.set(a.name, g);
    }
    return g.get(key) ?? [];
  }
}

const indexes = new WeakMap<readonly Target[], FleetIndex>();

function indexOf(targets: readonly Target[]): FleetIndex {
  let ix = indexes.get(targets);
  if (!ix) indexes.set(targets, (ix = new FleetIndex(targets)));
  return ix;
}

/**
 * What explaining `targetId` reaches: every rule of its kind, and, for each target whose derived facts are read, the
 * derive rules of its kind; each rule's relations and aggregates add targets (to `derive` when the expressions read a
 * derived fact, else only to `world`). Null when the fleet has no such target.
 */
export function reachOf(targets: readonly Target[], ruleSet: RuleSet, targetId: string): Reach | null {
  const ix = indexOf(targets);
  const start = ix.byId.get(targetId);
  if (!start) return null;
  const derivedFacts = ruleSet.derived;
  const readsDerived = (facts: Set<string>) => {
    for (const f of facts) if (derivedFacts.has(f)) return true;
    return false;
  };
  const world = new Set<string>();
  const derive = new Set<string>();
  const groups = new Map<string, Set<string>>();
  const fixed = new Map<string, Target[][]>();
  const queue: Target[] = [];
  const need = (x: Target, derived: boolean) => {
    world.add(x.id);
    if (derived && !derive.has(x.id)) {
      derive.add(x.id);
      queue.push(x);
    }
  };
  need(start, true);
  while (queue.length) {
    const x = queue.pop()!;
    for (const r of ruleSet.rules) {
      if (r.kind !== x.kind || (!r.derive && x !== start) || (r.selector && !r.selector(x.labels))) continue;
      const derivedRead = readsDerived(r.refs.facts);
      for (const rel of r.refs.relations) for (const y of ix.related(rel, x)) need(y, derivedRead);
      for (const name of r.refs.agg) {
        const a = ruleSet.aggregates.get(name);
        if (!a) continue;
        const memberDerived = readsDerived(a.refs.facts);
        if (!memberDerived && a.refs.relations.size === 0) {
          let f = fixed.get(name);
          if (!f) fixed.set(name, (f = []));
          const list = ix.members(a, x);
          if (!f.includes(list)) f.push(list);
          continue;
        }
        let g = groups.get(name);
        if (!g) groups.set(name, (g = new Set()));
        for (const m of ix.members(a, x)) {
          need(m, memberDerived);
          g.add(m.id);
          for (const rel of a.refs.relations) for (const y of ix.related(rel, m)) need(y, memberDerived);
        }
      }
    }
  }
  return { world, derive, groups, fixed };
}

/**
 * The snapshot reduced to what an explanation reaches, in the run's order, and the members of each aggregate's groups
 * among them (for `evaluate`'s `aggregateMembers`). The targets whose derived facts the evaluation sets are new objects
 * (the snapshot itself is shared, the console caches it); the others are read only.
 */
export function narrowSnapshot(snap: Snapshot, reach: Reach): { snap: Snapshot; aggregateMembers: Map<string, Target[]> } {
  const ix = indexOf(snap.targets);
  const targets: Target[] = [];
  const byId = new Map<string, Target>();
  for (const i of inRunOrder(ix, reach.world)) {
    const t = snap.targets[i]!;
    const id = t.id;
    const mine = !reach.derive.has(id) ? t : t.unknown ? { ...t, facts: { ...t.facts }, unknown: { ...t.unknown } } : { ...t, facts: { ...t.facts } };
    targets.push(mine);
    byId.set(id, mine);
  }
  const aggregateMembers = new Map<string, Target[]>();
  for (const [name, ids] of reach.groups)
    aggregateMembers.set(
      name,
      Array.from(inRunOrder(ix, ids), (i) => byId.get(snap.targets[i]!.id)!),
    );
  for (const [name, lists] of reach.fixed) {
    if (lists.length === 1) aggregateMembers.set(name, lists[0]!);
    else {
      const ids = new Set<string>();
      for (const l of lists) for (const m of l) ids.add(m.id);
      aggregateMembers.set(
        name,
        Array.from(inRunOrder(ix, ids), (i) => snap.targets[i]!),
      );
    }
  }
  return { snap: { ...snap, targets }, aggregateMembers };
}

/** The positions of these targets in the run's order, sorted (a typed array sorts numbers without a comparator). */
function inRunOrder(ix: FleetIndex, ids: Set<string>): Int32Array {
  const out = new Int32Array(ids.size);
  let n = 0;
  for (const id of ids) out[n++] = ix.pos.get(id)!;
  return out.sort();
}
