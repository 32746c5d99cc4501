// Where a value a condition read came from: a source, a derive rule of the same run (with that rule's own
// conditions and inputs, as deep as asked), or an aggregate (its group, members, unknown members and value).
import type { FactValue, Target } from '../model.js';
import { UNKNOWN } from '../rules/cel/index.js';
import { Activation, memberValue, type World } from '../rules/context.js';
import { LEFT_OUT, orderKey } from '../rules/order.js';
import { type Decision, Explainer } from '../rules/evaluate.js';
import type { CompiledAggregate, CompiledRule } from '../rules/ruleset.js';
import { inputName } from './verdict.js';

/** What an aggregate was for one reading target: the numbers `reflex why` shows. */
export interface AggregateInfo {
  name: string;
  function: CompiledAggregate['fn'];
  /** How min and max ordered text (version, string); absent for numbers. */
  compare?: 'version' | 'string';
  of: string;
  /** `service=webshop`, `depending on db-main`, `all` */
  group: string;
  members: number;
  unknown: number;
  /** Members `where` selected (count and fraction), or whose value was known (the others). */
  counted: number;
  maxUnknown: number;
  /** A number, or the text min or max chose under compare: version or string. */
  value: number | string | null;
  /** A few member ids of each kind, for --depth 2 and more. */
  first: { counted: string[]; unknown: string[] };
}

/** Where one input of a condition came from. */
export type Origin =
  | { kind: 'source'; source: string }
  | { kind: 'derived'; rule: string; decision: Decision }
  | { kind: 'aggregate'; info: AggregateInfo }
  | { kind: 'label' }
  | { kind: 'none' };

const FIRST = 5;

export class Lineage {
  private readonly memo = new Map<string, Decision | null>();
  private readonly aggMemo = new Map<string, AggregateInfo | null>();
  private readonly explainer: Explainer;
  private readonly act: Activation;
  private readonly rules: Map<string, CompiledRule>;

  /**
   * Over the world of an evaluation that has run (its derived facts set). A derive rule reads only facts set
   * before it runs, so evaluating its conditions again afterwards sees what it saw: decisions are made here on
   * demand, for the few targets an explanation reaches, not kept for the whole fleet.
   */
  constructor(
    private readonly world: World,
    private readonly factSources: Record<string, string>,
    sourceProblems: Record<string, string>,
    private readonly sources: readonly { name: string; facts: string[] }[] = [],
  ) {
    this.explainer = new Explainer({ factSources, sourceProblems });
    this.act = new Activation(world);
    this.rules = new Map(world.ruleSet.rules.map((r) => [r.name, r]));
  }

  /**
   * The decision of `rule` about `t` as the run's evaluation made it, before any later stage (not-matched,
   * unknown, derived or matched; `for` streaks are not known here). Null when the rule does not apply to `t`.
   */
  decide(rule: CompiledRule, t: Target): Decision | null {
    if (rule.kind !== t.kind || (rule.selector && !rule.selector(t.labels))) return null;
    this.act.reset(t, [...rule.refs.agg]);
    let sawUnknown = false;
    let fails = false;
    for (const c of rule.when) {
      const v = c.expr.eval(this.act);
      if (v === false) {
        fails = true;
        break;
      }
      if (v !== true) sawUnknown = true;
    }
    const outcome = fails ? 'not_matched' : sawUnknown ? 'unknown' : rule.derive ? (rule.derive in t.facts ? 'derived' : 'unknown') : 'matched';
    return this.explainer.decision(rule, t, this.act, outcome, !fails && !sawUnknown);
  }

  /**
   * The source a fact came from: `"queues"`. The run records one source per fact name, so when several sources
   * report a fact of that name this says which could have (`"inv" or "queues"`) rather than guess.
   */
  sourceOf(fact: string): string | undefined {
    const named = this.factSources[fact];
    if (named === undefined) return undefined;
    const all = this.sources.filter((s) => s.facts.includes(fact)).map((s) => s.name);
    if (all.length > 1) return all.join('" or "');
    return named;
  }

  /** The derive rule's decision that set (or left unset) `fact` on `target` in this run. */
  derivation(target: string, fact: string): Decision | undefined {
    const key = `${target}\u0000${fact}`;
    let d = this.memo.get(key);
    if (d === undefined) {
      const name = this.world.ruleSet.derived.get(fact);
      const rule = name !== undefined ? this.rules.get(name) : undefined;
      const t = this.world.byId.get(target);
      d = rule && t ? this.decide(rule, t) : null;
      this.memo.set(key, d);
    }
    return d ?? undefined;
  }

  /** Facts a derive rule of the run decided for this target, in the order the rules ran. */
  derivedFactsOf(target: string): Map<string, Decision> {
    const out = new Map<string, Decision>();
    for (const r of this.world.ruleSet.rules) {
      if (!r.derive) continue;
      const d = this.derivation(target, r.derive);
      if (d) out.set(r.derive, d);
    }
    return out;
  }

  /** Where the input `key` of a condition evaluated for `self` came from. */
  origin(key: string, self: string): Origin {
    const own = /^facts\.(.+)$/.exec(key);
    const rel = own ? null : /^[a-z_]+\[(.*)\]\.facts\.(.+)$/.exec(key);
    if (own || rel) {
      const target = rel ? rel[1]! : self;
      const fact = own ? own[1]! : rel![2]!;
      const d = this.derivation(target, fact);
      if (d) return { kind: 'derived', rule: d.rule.name, decision: d };
      const source = this.sourceOf(fact);
      return source ? { kind: 'source', source } : { kind: 'none' };
    }
    if (key.startsWith('agg.')) {
      const info = this.aggregate(key.slice(4), self);
      return info ? { kind: 'aggregate', info } : { kind: 'none' };
    }
    if (key.startsWith('labels.')) return { kind: 'label' };
    return { kind: 'none' };
  }

  /** For sentences: `derived by storage-slow from p99_latency_ms = 350` (undefined for a source's fact or an aggregate). */
  provenance(self: string): (key: string) => string | undefined {
    return (key) => {
      const o = this.origin(key, self);
      if (o.kind === 'derived') {
        // What decided it: the inputs of the conditions that held, or of the first that failed.
        const when = o.decision.conditions.filter((c) => !c.name.startsWith('context.'));
        const failed = when.find((c) => c.result === false);
        const from = (failed ? [failed] : when.filter((c) => c.result === true))
          .flatMap((c) => Object.entries(c.inputs ?? {}))
          .slice(0, 3)
          .map(([k, v]) => `${inputName(k)} = ${v === undefined ? 'unknown' : JSON.stringify(v)}`);
        return `derived by ${o.rule}${from.length ? ` from ${from.join(', ')}` : ''}`;
      }
      return undefined;
    };
  }

  /** The aggregate as `target` saw it. */
  aggregate(name: string, targetId: string): AggregateInfo | null {
    const memoKey = `${name}\u0000${targetId}`;
    if (this.aggMemo.has(memoKey)) return this.aggMemo.get(memoKey)!;
    const info = this.computeAggregate(name, targetId);
    this.aggMemo.set(memoKey, info);
    return info;
  }

  private computeAggregate(name: string, targetId: string): AggregateInfo | null {
    const a = this.world.ruleSet.aggregates.get(name);
    const t = this.world.byId.get(targetId);
    if (!a || !t) return null;
    const members = this.world.groupMembers(name, t);
    const act = new Activation(this.world);
    let unknown = 0;
    let counted = 0;
    const first = { counted: [] as string[], unknown: [] as string[] };
    for (const m of members) {
      act.reset(m, []);
      if (a.compare !== 'number') {
        // The same reading as the aggregate's own (context.ts memberValue): left out, unknown, or a value in the order.
        const v = memberValue(a, act);
        if (v === LEFT_OUT) continue;
        if (orderKey(a.compare, v) === null) {
          unknown++;
          if (first.unknown.length < FIRST) first.unknown.push(m.id);
        } else {
          counted++;
          if (first.counted.length < FIRST) first.counted.push(m.id);
        }
        continue;
      }
      let include: boolean | 'unknown' = true;
      if (a.where) {
        const w = a.where.eval(act);
        include = w === true ? true : w === false ? false : 'unknown';
      }
      let isUnknown = include === 'unknown';
      if (!isUnknown && include && a.value) {
        const v = a.value.eval(act);
        isUnknown = !(typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v)));
      }
      if (isUnknown) {
        unknown++;
        if (first.unknown.length < FIRST) first.unknown.push(m.id);
      } else if (include === true) {
        counted++;
        if (first.counted.length < FIRST) first.counted.push(m.id);
      }
    }
    const v = this.world.aggregate(name, t);
    return {
      name,
      function: a.fn,
      ...(a.compare !== 'number' ? { compare: a.compare } : {}),
      of: a.of,
      group: groupText(a, t),
      members: members.length,
      unknown,
      counted,
      maxUnknown: a.maxUnknown,
      value: v === UNKNOWN ? null : v,
      first,
    };
  }

  /**
   * The lines under a condition input that say where it came from: for a derived fact, the rule and, while
   * `depth` lasts, its conditions with their own inputs; for an aggregate, its group and counts.
   */
  originLines(key: string, self: string, depth: number, indent: string): string[] {
    const o = this.origin(key, self);
    if (o.kind === 'aggregate' && depth >= 2) {
      const out: string[] = [];
      const { first, counted, unknown } = o.info;
      if (counted)
        out.push(`${indent}counted: ${first.counted.join(', ')}${counted > first.counted.length ? ` and ${counted - first.counted.length} more` : ''}`);
      if (unknown)
        out.push(`${indent}unknown: ${first.unknown.join(', ')}${unknown > first.unknown.length ? ` and ${unknown - first.unknown.length} more` : ''}`);
      return out;
    }
    if (o.kind !== 'derived' || depth < 1) return [];
    const owner = o.decision.target.id;
    return this.conditionLines(o.decision, owner, depth - 1, indent);
  }

  /** A derive decision's conditions, each with its inputs and their origins. */
  conditionLines(d: Decision, owner: string, depth: number, indent: string): string[] {
    const out: string[] = [];
    for (const c of d.conditions) {
      const mark = c.result === true ? 'holds' : c.result === false ? 'FAILS' : 'UNKNOWN';
      out.push(`${indent}${mark.padEnd(7)} ${c.name}: ${c.expr}`);
      for (const [k, v] of Object.entries(c.inputs ?? {})) {
        out.push(`${indent}          ${k} = ${fmt(v)}${this.originNote(k, owner)}`);
        out.push(...this.originLines(k, owner, depth, `${indent}            `));
      }
      if (c.unknown) out.push(`${indent}          why unknown: ${c.unknown}`);
    }
    return out;
  }

  /** ` (from source "health")`, ` (derived by rule storage-slow in this run)`, ` (fraction over ...)`. */
  originNote(key: string, self: string): string {
    const o = this.origin(key, self);
    switch (o.kind) {
      case 'source':
        return ` (from source "${o.source}")`;
      case 'derived':
        return ` (derived by rule ${o.rule} in this run${o.decision.outcome === 'unknown' ? ', whose conditions are unknown' : ''})`;
      case 'aggregate':
        return ` (${aggregateText(o.info)})`;
      default:
        return '';
    }
  }
}

/** `fraction over the 4 instance targets with service=webshop, 0 unknown` */
export function aggregateText(i: AggregateInfo): string {
  const group = i.group === 'all' ? `all ${i.of} targets` : `the ${i.of} targets ${i.group}`;
  const over = i.members && i.unknown / i.members > i.maxUnknown ? `: more than max_unknown ${Math.round(i.maxUnknown * 100)}%, so it is unknown` : '';
  const counted = i.function === 'count' || i.function === 'fraction' ? `, ${i.counted} counted` : '';
  const fn = i.compare ? `${i.function} (compare: ${i.compare})` : i.function;
  return `${fn} over ${group}: ${i.members} members, ${i.unknown} unknown${counted}${over}`;
}

function groupText(a: CompiledAggregate, t: Target): string {
  if (a.groupBy === 'all') return 'all';
  if (a.groupBy === 'depends_on') return `depending on ${t.id}`;
  return `with ${a.groupBy.map((l) => `${l}=${t.labels[l] ?? '(none)'}`).join(',')}`;
}

function fmt(v: FactValue | undefined): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
