// What a condition sees of the world: the target, its relations (computed lazily, once) and group aggregates.
import type { FactValue, Target } from '../model.js';
import { UNKNOWN } from './cel/index.js';
import { LEFT_OUT, orderedAggregate } from './order.js';
import type { CompiledAggregate, RuleSet } from './ruleset.js';

/** A dependency named by a target but not reported by any source: every fact of it is unknown. */
function missingTarget(id: string): Target {
  return { id, kind: 'unknown', labels: {}, depends_on: [], facts: {}, unknown: { '*': `target "${id}" is not known to any source` } };
}

interface AggState {
  n: number;
  unknown: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  known: number;
}

/**
 * Per-run index of targets. Relations are resolved on first use and memoised, and each
 * aggregate is computed once for all of its groups when first read, so a run costs
 * O(targets x applicable rules), never O(targets^2).
 */
export class World {
  readonly byId = new Map<string, Target>();
  /** Targets of each kind, in input order (derive rules and aggregates only walk their own kind). */
  readonly byKind = new Map<string, Target[]>();
  readonly nowDate: Date;
  private dependentsIdx: Map<string, Target[]> | null = null;
  private readonly rel = new Map<string, Map<string, Target[]>>();
  private readonly aggValues = new Map<string, Map<string, AggValue>>();

  constructor(
    readonly targets: Target[],
    readonly now: number,
    readonly ruleSet: RuleSet,
    /**
     * Aggregate name -> the members to compute it over, in input order (an explanation: the groups its readers
     * belong to, src/explain/reach.ts); an aggregate not named here is computed over every target of its kind.
     */
    private readonly aggregateMembers?: Map<string, Target[]>,
  ) {
    for (const t of targets) {
      this.byId.set(t.id, t);
      let l = this.byKind.get(t.kind);
      if (!l) this.byKind.set(t.kind, (l = []));
      l.push(t);
    }
    this.nowDate = new Date(now);
  }

  private memo(name: string, t: Target, f: () => Target[]): Target[] {
    let m = this.rel.get(name);
    if (!m) this.rel.set(name, (m = new Map()));
    let v = m.get(t.id);
    if (!v) m.set(t.id, (v = f()));
    return v;
  }

  dependsOn(t: Target): Target[] {
    if (t.depends_on.length === 0) return EMPTY;
    return this.memo('depends_on', t, () => t.depends_on.map((id) => this.byId.get(id) ?? missingTarget(id)));
  }

  dependents(t: Target): Target[] {
    if (!this.dependentsIdx) {
      const idx = new Map<string, Target[]>();
      for (const x of this.targets) {
        for (const d of x.depends_on) {
          let l = idx.get(d);
          if (!l) idx.set(d, (l = []));
          l.push(x);
        }
      }
      this.dependentsIdx = idx;
    }
    return this.dependentsIdx.get(t.id) ?? EMPTY;
  }

  /** All targets reachable through depends_on (transitively), nearest first. */
  upstream(t: Target): Target[] {
    return this.memo('upstream', t, () => closure(t, (x) => this.dependsOn(x)));
  }

  downstream(t: Target): Target[] {
    return this.memo('downstream', t, () => closure(t, (x) => this.dependents(x)));
  }

  /** The group key(s) a member contributes to (for explanations and ordered aggregates; computeAggregate inlines this). */
  memberKeys(a: CompiledAggregate, t: Target): string[] {
    if (a.groupBy === 'all') return [''];
    if (a.groupBy === 'depends_on') return t.depends_on;
    const k = groupKey(a.groupBy, t.labels);
    return k === null ? [] : [k];
  }

  readerKey(a: CompiledAggregate, t: Target): string | null {
    if (a.groupBy === 'all') return '';
    if (a.groupBy === 'depends_on') return t.id;
    return groupKey(a.groupBy, t.labels);
  }

  /** The aggregate's value for the group `t` belongs to; UNKNOWN when it cannot be known. */
  aggregate(name: string, t: Target): AggValue {
    const a = this.ruleSet.aggregates.get(name);
    if (!a) return UNKNOWN;
    let values = this.aggValues.get(name);
    if (!values) this.aggValues.set(name, (values = a.compare === 'number' ? this.computeAggregate(a) : this.computeOrdered(a, a.compare)));
    const key = this.readerKey(a, t);
    if (key === null) return UNKNOWN;
    const v = values.get(key);
    // An empty group (no member carries the reader's key): nothing counted, nothing summed, no member
    // with the problem (fraction 0); avg, min and max have no value to give and stay unknown (docs/rules.md).
    if (v === undefined) return a.fn === 'count' || a.fn === 'sum' || a.fn === 'fraction' ? 0 : UNKNOWN;
    return v;
  }

  /** The members of the group `t` belongs to for an aggregate (for explanations). */
  groupMembers(name: string, t: Target): Target[] {
    const a = this.ruleSet.aggregates.get(name);
    if (!a) return [];
    const key = this.readerKey(a, t);
    if (key === null) return [];
    return this.membersOf(a).filter((m) => this.memberKeys(a, m).includes(key));
  }

  private membersOf(a: CompiledAggregate): Target[] {
    return this.aggregateMembers?.get(a.name) ?? this.byKind.get(a.of) ?? EMPTY;
  }

  /** min or max under `compare: version | string` (src/rules/order.ts): the greatest or least value itself. */
  private computeOrdered(a: CompiledAggregate, compare: 'version' | 'string'): Map<string, AggValue> {
    const act = new Activation(this);
    return orderedAggregate(
      { fn: a.fn, compare, maxUnknown: a.maxUnknown },
      this.membersOf(a),
      (m) => this.memberKeys(a, m),
      (m) => memberValue(a, act.reset(m, NO_AGG)),
      UNKNOWN,
    );
  }

  private computeAggregate(a: CompiledAggregate): Map<string, AggValue> {
    const states = new Map<string, AggState>();
    const act = new Activation(this);
    const members = this.membersOf(a);
    const single = Array.isArray(a.groupBy) && a.groupBy.length === 1 ? a.groupBy[0]! : null;
    const add = (k: string, unknown: boolean, include: boolean, num: number | null) => {
      let s = states.get(k);
      if (!s) states.set(k, (s = { n: 0, unknown: 0, count: 0, sum: 0, min: Infinity, max: -Infinity, known: 0 }));
      s.n++;
      if (unknown) s.unknown++;
      else if (include) {
        s.count++;
        if (num !== null) {
          s.known++;
          s.sum += num;
          if (num < s.min) s.min = num;
          if (num > s.max) s.max = num;
        }
      }
    };
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      // The member's group key(s), without allocating for the common one-label case.
      let key: string | null = null;
      let keys: readonly string[] | null = null;
      if (single !== null) {
        key = m.labels[single] ?? null;
        if (key === null) continue;
      } else if (a.groupBy === 'all') key = '';
      else if (a.groupBy === 'depends_on') {
        keys = m.depends_on;
        if (keys.length === 0) continue;
      } else {
        key = groupKey(a.groupBy, m.labels);
        if (key === null) continue;
      }
      act.reset(m, NO_AGG);
      let include: boolean | 'unknown' = true;
      if (a.where) {
        const w = a.where.eval(act);
        include = w === true ? true : w === false ? false : 'unknown';
      }
      let num: number | null = null;
      let unknown = include === 'unknown';
      if (!unknown && include && a.value) {
        const v = a.value.eval(act);
        if (typeof v === 'number' && Number.isFinite(v)) num = v;
        else if (typeof v === 'bigint') num = Number(v);
        else unknown = true;
      }
      if (keys === null) add(key!, unknown, include === true, num);
      else for (const k of keys) add(k, unknown, include === true, num);
    }
    const out = new Map<string, AggValue>();
    for (const [k, s] of states) {
      if (s.n === 0 || s.unknown / s.n > a.maxUnknown) {
        out.set(k, UNKNOWN);
        continue;
      }
      const known = s.n - s.unknown;
      let v: number | typeof UNKNOWN;
      switch (a.fn) {
        case 'count':
          v = s.count;
          break;
        case 'fraction':
          v = known === 0 ? UNKNOWN : s.count / known;
          break;
        case 'sum':
          v = s.sum;
          break;
        case 'avg':
          v = s.known === 0 ? UNKNOWN : s.sum / s.known;
          break;
        case 'min':
          v = s.known === 0 ? UNKNOWN : s.min;
          break;
        case 'max':
          v = s.known === 0 ? UNKNOWN : s.max;
          break;
      }
      out.set(k, v);
    }
    return out;
  }

  /** The `agg` map a target's conditions see: the aggregates its rules read, unknown ones left out. */
  aggFor(t: Target, names: readonly string[]): Record<string, FactValue> {
    if (names.length === 0) return EMPTY_AGG;
    const out: Record<string, FactValue> = {};
    for (const n of names) {
      const v = this.aggregate(n, t);
      if (v !== UNKNOWN) out[n] = v;
    }
    return out;
  }
}

/** An aggregate's value for one group: a number, the text min or max chose under `compare:`, or UNKNOWN. */
export type AggValue = number | string | typeof UNKNOWN;

/** A member's value for an ordered aggregate: LEFT_OUT by `where`, UNKNOWN when `where` is, else what `value` gives. */
export function memberValue(a: CompiledAggregate, act: Activation): unknown {
  if (a.where) {
    const w = a.where.eval(act);
    if (w === false) return LEFT_OUT;
    if (w !== true) return UNKNOWN;
  }
  return a.value ? a.value.eval(act) : UNKNOWN;
}

/**
 * The key of the group a target belongs to for aggregates grouped by these labels: the label's
 * value itself for one label (no string is built per target), the values joined by NUL for several.
 * Keys only meet keys of the same aggregate, so they need not name the labels.
 */
export function groupKey(labels: readonly string[], l: Record<string, string>): string | null {
  if (labels.length === 1) {
    const v = l[labels[0]!];
    return v === undefined ? null : v;
  }
  let key = '';
  for (let i = 0; i < labels.length; i++) {
    const v = l[labels[i]!];
    if (v === undefined) return null;
    key = i === 0 ? v : `${key}\u0000${v}`;
  }
  return key;
}

const EMPTY: Target[] = [];
const EMPTY_AGG: Record<string, FactValue> = Object.freeze({}) as Record<string, FactValue>;
const NO_AGG: readonly string[] = Object.freeze([]) as readonly string[];

/**
 * The activation a CEL expression evaluates against. One object is reused across
 * targets (reset per target). Relation lists and the `agg` map are resolved only when an
 * expression reads them: most targets fail a rule's `when` before its context (where
 * aggregates are usually read) is looked at.
 */
export class Activation {
  t!: Target;
  private aggNames: readonly string[] = NO_AGG;
  private aggMap: Record<string, FactValue> | null = EMPTY_AGG;
  constructor(readonly world: World) {}
  /** Evaluate for `t`, whose conditions may read the aggregates named (computed on first read). */
  reset(t: Target, aggNames: readonly string[]): this {
    this.t = t;
    this.aggNames = aggNames;
    this.aggMap = aggNames.length === 0 ? EMPTY_AGG : null;
    return this;
  }
  /** The aggregates of `t`'s groups that its rules read; unknown ones are left out. */
  get agg(): Record<string, FactValue> {
    return (this.aggMap ??= this.world.aggFor(this.t, this.aggNames));
  }
  get facts() {
    return this.t.facts;
  }
  get labels() {
    return this.t.labels;
  }
  get target() {
    return this.t;
  }
  get depends_on() {
    return this.world.dependsOn(this.t);
  }
  get dependents() {
    return this.world.dependents(this.t);
  }
  get upstream() {
    return this.world.upstream(this.t);
  }
  get downstream() {
    return this.world.downstream(this.t);
  }
  get now() {
    return this.world.nowDate;
  }
}

/** Every target reachable from `start` through `next`, breadth first, each once, `start` left out (upstream, downstream). */
export function closure(start: Target, next: (t: Target) => Target[]): Target[] {
  const seen = new Set<string>([start.id]);
  const out: Target[] = [];
  let frontier = [start];
  while (frontier.length) {
    const nf: Target[] = [];
    for (const t of frontier) {
      for (const n of next(t)) {
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        out.push(n);
        nf.push(n);
      }
    }
    frontier = nf;
  }
  return out;
}
