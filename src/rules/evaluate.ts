// Derive & evaluate: facts + clock in, decisions out. Pure: no I/O, no hidden clock.
import type { ConditionResult, DecisionOutcome, FactValue, Target, Truth, Verdict } from '../model.js';
import type { ForState } from '../store/types.js';
import { formatDuration } from '../util/duration.js';
import { UNKNOWN } from './cel/index.js';
import { Activation, World } from './context.js';
import type { CompiledCondition, CompiledRule, RuleSet } from './ruleset.js';

/** One rule on one target in one run, and what every stage said of it. */
export interface Decision {
  rule: CompiledRule;
  target: Target;
  outcome: DecisionOutcome;
  /** The `when` conditions held: the target has the problem this rule is about (counted by the widespread breaker). */
  problem: boolean;
  conditions: ConditionResult[];
  trace: Verdict[];
  /** Planned or executed actions (filled by later stages). */
  actions: { action: string; step: number; describe: string; executionId?: number; status?: string }[];
  /** Set by the cooldown/guard stages when the decision is escalated. */
  escalation?: { channel: string; dedupKey: string; summary: string; sent?: boolean };
  /** The plan stage's rendered actions, in step order (they hold functions: never stored). */
  plans?: import('../actions/types.js').ActionPlan[];
  /**
   * A person's approval this decision goes ahead with (stages/approve.ts): it lets the decision past the one guard
   * it was asked for, and is used in the transaction that journals the first action.
   */
  approval?: { id: number; guard: import('../store/types.js').ApprovalGuard; by: string; reason: string };
}

export interface EvalOptions {
  now: number;
  runId: number;
  /** `for` streaks from earlier runs (rule\0target -> state). */
  forState: Map<string, ForState>;
  /** fact -> source name, for explanations. */
  factSources: Record<string, string>;
  /** source name -> why its facts are unknown (failed, timed out), for explanations. */
  sourceProblems: Record<string, string>;
  /** Only evaluate acting rules for these targets (why/replay of one target); all targets still feed context. */
  only?: Set<string>;
  /**
   * With `only`: also decide about the other targets, returned apart in `others` (not counted, no effect on `for`
   * streaks). A sharded run's breakers that span shards count them, from this one evaluation.
   */
  others?: boolean;
  /**
   * Derive rules only for these targets (an explanation: the targets whose derived facts it reads,
   * src/explain/reach.ts); the other targets keep the facts they came with.
   */
  deriveOnly?: Set<string>;
  /** With `deriveOnly`: aggregate name -> the members to compute it over (the groups an explanation reads). */
  aggregateMembers?: Map<string, Target[]>;
  /** Keep not-matched decisions too (why/replay); a normal run only counts them. */
  keepNotMatched?: boolean;
  /**
   * false: a derived decision carries its verdict but not its conditions. A run does not store
   * derived decisions (they are recomputed with their explanation when read, src/explain/recorded.ts),
   * and explaining a fact derived on every target cost more than deriving it. Default true.
   */
  explainDerived?: boolean;
}

export interface RuleCounts {
  evaluated: number;
  not_matched: number;
  unknown: number;
  pending: number;
  matched: number;
  blocked: number;
  derived: number;
}

export interface EvalResult {
  decisions: Decision[];
  /** With `only` and `others`: the decisions about targets outside `only` (not-matched ones left out). */
  others: Decision[];
  counts: Record<string, RuleCounts>;
  forUpserts: ForState[];
  forDeletes: { rule: string; target: string }[];
  world: World;
}

export const forKey = (rule: string, target: string) => `${rule}\u0000${target}`;

const emptyCounts = (): RuleCounts => ({ evaluated: 0, not_matched: 0, unknown: 0, pending: 0, matched: 0, blocked: 0, derived: 0 });

// checkAll's answer as one number (no object per rule per target): every condition holds,
// none fails but one is unknown, or the index (>= 0) of the first that fails.
const HOLDS = -1;
const UNDECIDED = -2;

/** Evaluate conditions in order: false wins (definitely not), else unknown, else true. */
function checkAll(conds: CompiledCondition[], act: Activation): number {
  let sawUnknown = false;
  for (let i = 0; i < conds.length; i++) {
    const v = conds[i]!.expr.eval(act);
    if (v === true) continue;
    if (v === false) return i;
    sawUnknown = true; // UNKNOWN, or a non-boolean value: neither holds nor fails
  }
  return sawUnknown ? UNDECIDED : HOLDS;
}

export function evaluate(ruleSet: RuleSet, targets: Target[], opts: EvalOptions): EvalResult {
  const world = new World(targets, opts.now, ruleSet, opts.aggregateMembers);
  const act = new Activation(world);
  const decisions: Decision[] = [];
  const counts: Record<string, RuleCounts> = {};
  for (const r of ruleSet.rules) counts[r.name] = emptyCounts();
  const explainer = new Explainer(opts);
  const lean = opts.explainDerived === false;

  // Aggregates each kind's rules read, so the `agg` map holds only what is needed.
  const aggNamesByKind = new Map<string, string[]>();
  const aggNames = (kind: string, rules: CompiledRule[]) => {
    let n = aggNamesByKind.get(kind);
    if (!n) {
      const s = new Set<string>();
      for (const r of rules) r.refs.agg.forEach((a) => s.add(a));
      aggNamesByKind.set(kind, (n = [...s]));
    }
    return n;
  };

  // ---- derive rules, in dependency order, each over all its targets
  for (const r of ruleSet.rules) {
    if (!r.derive) continue;
    const c = counts[r.name]!;
    const names = [...r.refs.agg];
    const fact = r.derive;
    for (const t of world.byKind.get(r.kind) ?? []) {
      if (r.selector && !r.selector(t.labels)) continue;
      if (opts.deriveOnly && !opts.deriveOnly.has(t.id)) continue;
      c.evaluated++;
      act.reset(t, names);
      const w = checkAll(r.when, act);
      if (w === HOLDS) {
        const v = r.value ? r.value.eval(act) : true;
        if (v === UNKNOWN || v === undefined) {
          c.unknown++;
          decisions.push(explainer.decision(r, t, act, 'unknown', false));
        } else {
          t.facts[fact] = toFact(v);
          c.derived++;
          if (opts.keepNotMatched || v !== false) decisions.push(lean ? explainer.derived(r, t) : explainer.decision(r, t, act, 'derived', true));
        }
      } else if (w >= 0) {
        if (!r.value) t.facts[fact] = false;
        c.not_matched++;
        if (opts.keepNotMatched) decisions.push(explainer.decision(r, t, act, 'not_matched', false));
      } else {
        c.unknown++;
        (t.unknown ??= {})[fact] = `derived by rule "${r.name}", whose conditions are unknown`;
        decisions.push(explainer.decision(r, t, act, 'unknown', false));
      }
    }
  }

  // ---- acting rules, per target: only the rules of its kind
  const forUpserts: ForState[] = [];
  const others: Decision[] = [];
  const seenFor = new Set<string>();
  // Per kind, once: its rules, the aggregates they read, their counters. Targets stay in input
  // order, so decisions come out in the same order as ever (later stages and the store see it).
  const perKind = new Map<string, { rules: CompiledRule[]; names: string[]; counts: RuleCounts[] } | null>();
  for (const t of targets) {
    let k = perKind.get(t.kind);
    if (k === undefined) {
      const rules = ruleSet.byKind.get(t.kind);
      k = rules ? { rules, names: aggNames(t.kind, rules), counts: rules.map((r) => counts[r.name]!) } : null;
      perKind.set(t.kind, k);
    }
    if (k === null) continue;
    const mine = !opts.only || opts.only.has(t.id);
    if (!mine && !opts.others) continue;
    const { rules } = k;
    const ruleCounts = mine ? k.counts : rules.map(emptyCounts);
    const into = mine ? decisions : others;
    act.reset(t, k.names);
    for (let ri = 0; ri < rules.length; ri++) {
      const r = rules[ri]!;
      if (r.selector && !r.selector(t.labels)) continue;
      const c = ruleCounts[ri]!;
      c.evaluated++;
      const w = checkAll(r.when, act);
      if (w >= 0) {
        c.not_matched++;
        if (opts.keepNotMatched && mine) decisions.push(explainer.decision(r, t, act, 'not_matched', false));
        continue;
      }
      if (w === UNDECIDED) {
        c.unknown++;
        into.push(explainer.decision(r, t, act, 'unknown', false));
        continue;
      }
      // The problem is there. `for` counts how long the problem has held, context or not.
      let outcome: DecisionOutcome = 'matched';
      let pendingNote: Verdict | null = null;
      if (r.forMs !== null || r.forRuns !== null) {
        const key = forKey(r.name, t.id);
        const prev = opts.forState.get(key);
        const st: ForState = prev
          ? { rule: r.name, target: t.id, since: prev.since, runs: prev.runs + 1, lastRunId: opts.runId }
          : { rule: r.name, target: t.id, since: opts.now, runs: 1, lastRunId: opts.runId };
        if (mine) {
          seenFor.add(key);
          forUpserts.push(st);
        }
        const held = opts.now - st.since;
        const firing = r.forMs !== null ? held >= r.forMs : st.runs >= r.forRuns!;
        if (!firing) {
          outcome = 'pending';
          pendingNote = {
            stage: 'evaluate',
            reason: 'pending:for',
            detail:
              r.forMs !== null
                ? `conditions have held for ${formatDuration(held)} of the required ${formatDuration(r.forMs)}`
                : `conditions have held for ${st.runs} of the required ${r.forRuns} consecutive runs`,
            stops: true,
          };
        }
      }
      const ctx = r.context.length ? checkAll(r.context, act) : HOLDS;
      const d = explainer.decision(r, t, act, outcome, true);
      if (pendingNote) {
        d.trace.push(pendingNote);
        c.pending++;
      } else if (ctx >= 0) {
        d.outcome = 'blocked';
        const failed = r.context[ctx]!;
        d.trace.push({ stage: 'evaluate', reason: 'context', detail: `context "${failed.name}" does not hold: ${failed.source}`, stops: true });
        c.blocked++;
      } else if (ctx === UNDECIDED) {
        d.outcome = 'unknown';
        const u = d.conditions.find((x) => x.result === 'unknown');
        d.trace.push({ stage: 'evaluate', reason: 'unknown', detail: `context "${u?.name}" is unknown: ${u?.unknown ?? 'unknown'}`, stops: true });
        c.unknown++;
      } else {
        c.matched++;
      }
      into.push(d);
    }
  }

  // Streaks that did not continue this run end (a resolved or unknown condition resets `for`).
  const forDeletes: { rule: string; target: string }[] = [];
  for (const [key, st] of opts.forState) {
    if (seenFor.has(key)) continue;
    if (opts.only && !opts.only.has(st.target)) continue;
    forDeletes.push({ rule: st.rule, target: st.target });
  }
  return { decisions, others, counts, forUpserts, forDeletes, world };
}

function toFact(v: unknown): FactValue {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v as FactValue;
}

/** Builds the explanation of a decision: each condition with the values it saw and where they came from. */
export class Explainer {
  constructor(private readonly opts: Pick<EvalOptions, 'factSources' | 'sourceProblems'>) {}

  decision(r: CompiledRule, t: Target, act: Activation, outcome: DecisionOutcome, problem: boolean): Decision {
    const conditions = this.conditions(r, t, act);
    const trace: Verdict[] = [];
    if (outcome === 'unknown') {
      const u = conditions.find((c) => c.result === 'unknown');
      trace.push({ stage: 'evaluate', reason: 'unknown', detail: u ? `"${u.name}" is unknown: ${u.unknown}` : 'a condition is unknown', stops: true });
    } else if (outcome === 'not_matched') {
      const f = conditions.find((c) => c.result === false);
      trace.push({ stage: 'evaluate', reason: 'not_matched', detail: f ? `"${f.name}" does not hold: ${f.expr}` : 'conditions do not hold', stops: true });
    } else if (outcome === 'derived') {
      trace.push({ stage: 'evaluate', reason: 'derived', detail: `set fact ${r.derive} = ${JSON.stringify(t.facts[r.derive!])}` });
    }
    return { rule: r, target: t, outcome, problem, conditions, trace, actions: [] };
  }

  /** A derived decision without its conditions (EvalOptions.explainDerived false). */
  derived(r: CompiledRule, t: Target): Decision {
    const trace: Verdict[] = [{ stage: 'evaluate', reason: 'derived', detail: `set fact ${r.derive} = ${JSON.stringify(t.facts[r.derive!])}` }];
    return { rule: r, target: t, outcome: 'derived', problem: true, conditions: [], trace, actions: [] };
  }

  conditions(r: CompiledRule, t: Target, act: Activation): ConditionResult[] {
    const out: ConditionResult[] = [];
    for (const [group, list] of [
      ['when', r.when],
      ['context', r.context],
    ] as const) {
      for (const c of list) {
        const v = c.expr.eval(act);
        const result: Truth = v === true ? true : v === false ? false : 'unknown';
        const cr: ConditionResult = { name: group === 'context' ? `context.${c.name}` : c.name, expr: c.source, result, inputs: this.inputs(c, t, act) };
        if (result === 'unknown') cr.unknown = v === UNKNOWN ? this.whyUnknown(c, t, act) : `evaluates to ${JSON.stringify(v)}, not true or false`;
        out.push(cr);
      }
    }
    return out;
  }

  private inputs(c: CompiledCondition, t: Target, act: Activation): Record<string, FactValue | undefined> {
    const inputs: Record<string, FactValue | undefined> = {};
    const rels = c.expr.refs.relations;
    const k = inputKeys(c);
    const facts = c.expr.refs.facts;
    for (let i = 0; i < facts.length; i++) {
      const f = facts[i]!;
      if (rels.length === 0 || f in t.facts || !k.relationOnly[i]) inputs[k.facts[i]!] = t.facts[f];
    }
    const aggs = c.expr.refs.agg;
    for (let i = 0; i < aggs.length; i++) inputs[k.agg[i]!] = aggs[i]! in act.agg ? act.agg[aggs[i]!] : undefined;
    const labels = c.expr.refs.labels;
    for (let i = 0; i < labels.length; i++) inputs[k.labels[i]!] = t.labels[labels[i]!];
    for (const rel of rels) {
      const list = (act as unknown as Record<string, Target[]>)[rel] ?? [];
      for (const x of list.slice(0, 20)) {
        for (const f of c.expr.refs.facts) inputs[`${rel}[${x.id}].facts.${f}`] = x.facts[f];
      }
      if (list.length > 20) inputs[`${rel}...`] = `${list.length - 20} more`;
      if (list.length === 0) inputs[rel] = [];
    }
    return inputs;
  }

  /** Name the unknown input and its source: `fact "up" is unknown: source prom failed: timeout after 5s`. */
  whyUnknown(c: CompiledCondition, t: Target, act: Activation): string {
    for (const f of c.expr.refs.facts) {
      if (!(f in t.facts) && !relationOnly(c, f)) return `fact "${f}" is unknown: ${this.factUnknownReason(t, f)}`;
    }
    for (const a of c.expr.refs.agg) {
      if (!(a in act.agg)) return `aggregate "${a}" is unknown (too many of its group's members are unknown, or the group is empty)`;
    }
    for (const rel of c.expr.refs.relations) {
      const list = (act as unknown as Record<string, Target[]>)[rel] ?? [];
      for (const x of list) {
        for (const f of c.expr.refs.facts) {
          if (!(f in x.facts)) return `fact "${f}" of ${rel} ${x.id} is unknown: ${this.factUnknownReason(x, f)}`;
        }
      }
    }
    return c.expr.explainUnknown(act);
  }

  factUnknownReason(t: Target, f: string): string {
    const explicit = t.unknown?.[f] ?? t.unknown?.['*'];
    if (explicit) return explicit;
    const src = this.opts.factSources[f];
    if (src && this.opts.sourceProblems[src]) return `source "${src}" ${this.opts.sourceProblems[src]}`;
    if (src) return `source "${src}" reported no value for this target`;
    return 'no source reported it';
  }
}

/** The input names of a condition's own facts, aggregates and labels, built once per condition (not per decision). */
interface InputKeys {
  facts: string[];
  relationOnly: boolean[];
  agg: string[];
  labels: string[];
}
const inputKeysMemo = new WeakMap<CompiledCondition, InputKeys>();

function inputKeys(c: CompiledCondition): InputKeys {
  let k = inputKeysMemo.get(c);
  if (!k) {
    const r = c.expr.refs;
    k = {
      facts: r.facts.map((f) => `facts.${f}`),
      relationOnly: r.facts.map((f) => relationOnly(c, f)),
      agg: r.agg.map((a) => `agg.${a}`),
      labels: r.labels.map((l) => `labels.${l}`),
    };
    inputKeysMemo.set(c, k);
  }
  return k;
}

const relationOnlyMemo = new WeakMap<CompiledCondition, Map<string, boolean>>();

/** True when a fact is only read on related targets (d.facts.x inside depends_on.all(...)), not on the target itself. */
function relationOnly(c: CompiledCondition, f: string): boolean {
  if (c.expr.refs.relations.length === 0) return false;
  let m = relationOnlyMemo.get(c);
  if (!m) relationOnlyMemo.set(c, (m = new Map()));
  let v = m.get(f);
  if (v === undefined) {
    v = !new RegExp(`(^|[^.\\w])facts\\s*(\\.\\s*${f}\\b|\\[\\s*["']${f}["']\\s*\\])`).test(c.source);
    m.set(f, v);
  }
  return v;
}
