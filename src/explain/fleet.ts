// `reflex why --rule R`: one rule in one run over the whole fleet: counts by outcome with the first targets of each,
// what stopped its decisions (guardrails with their numbers, its own context), and which condition failed most.
import type { DecisionOutcome, Target } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import type { Decision } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import type { LabelSelectorSpec } from '../rules/selector.js';
import type { DecisionRecord } from '../store/types.js';
import { selectorMisses } from './exclusions.js';
import { OUTCOME_ORDER, outcomeLabel } from './text.js';

/** How many targets each group names. */
const FIRST = 5;

export interface FleetGroup {
  outcome: DecisionOutcome;
  count: number;
  first: string[];
}

export interface FleetStop {
  reason: string;
  count: number;
  /** The distinct details (with their numbers), most frequent first, and how many decisions said each. */
  details: { detail: string; count: number }[];
  first: string[];
}

export interface FleetSummary {
  rule: string;
  kind: string;
  /** The rule's mode (`dry-run` is shadow) and the run's. */
  ruleMode: string;
  /** The fact a derive rule sets (it never acts: it has no mode that matters). */
  derive: string | null;
  run: { id: number; at: string; mode: string; shard: string | null };
  /** Targets of the rule's kind in the run (in a sharded run: of this run's shards). */
  targets: number;
  evaluated: number;
  excluded: { count: number; by: { clause: string; count: number }[]; first: string[] };
  outcomes: FleetGroup[];
  stopped: FleetStop[];
  /** Not-matched decisions by the first condition that failed. */
  notMatchedBy: { condition: string; count: number }[];
  /** Unknown decisions by what was unknown. */
  unknownBy: { detail: string; count: number }[];
}

/** Reasons that end a decision without anything stopping it: outcomes, not stops, for this view. */
const NOT_A_STOP: ReadonlySet<string> = new Set([
  REASON.NOT_MATCHED,
  REASON.UNKNOWN,
  REASON.PENDING_FOR,
  REASON.DERIVED,
  REASON.DRY_RUN,
  REASON.SHADOW,
  REASON.EXECUTED,
  REASON.FAILED,
  REASON.TIMED_OUT,
  REASON.INTERRUPTED,
]);

/**
 * Summarise one rule over the targets a run decided about. `stored` (what the run recorded, with guard and
 * action verdicts) wins over `recomputed` (the run's facts evaluated again: not-matched decisions, which runs
 * do not store).
 */
export function fleetSummary(o: {
  rule: CompiledRule;
  spec: LabelSelectorSpec | undefined;
  targets: readonly Target[];
  covers: (t: Target) => boolean;
  stored: readonly DecisionRecord[];
  recomputed: readonly Decision[];
  /** The decision about a target neither list has (a not-matched one): made again, for the condition that failed. */
  decide?: (t: Target) => Decision | null;
  run: { id: number; at: number; mode: string; shard?: string | null };
}): FleetSummary {
  const { rule } = o;
  const byTarget = new Map<string, { outcome: DecisionOutcome; trace: DecisionRecord['trace']; conditions: DecisionRecord['conditions'] }>();
  for (const d of o.recomputed) if (d.rule === rule) byTarget.set(d.target.id, d);
  for (const d of o.stored) if (d.rule === rule.name) byTarget.set(d.target, d);

  let targets = 0;
  let evaluated = 0;
  const excludedBy = new Map<string, number>();
  const excludedFirst: string[] = [];
  let excluded = 0;
  const groups = new Map<DecisionOutcome, string[]>();
  const stops = new Map<string, { count: number; details: Map<string, number>; first: string[] }>();
  const notMatched = new Map<string, number>();
  const unknown = new Map<string, number>();
  for (const t of o.targets) {
    if (t.kind !== rule.kind || !o.covers(t)) continue;
    targets++;
    if (rule.selector && !rule.selector(t.labels)) {
      excluded++;
      if (excludedFirst.length < FIRST) excludedFirst.push(t.id);
      for (const m of selectorMisses(o.spec, t.labels)) excludedBy.set(m.clause, (excludedBy.get(m.clause) ?? 0) + 1);
      continue;
    }
    evaluated++;
    const d = byTarget.get(t.id) ?? o.decide?.(t) ?? undefined;
    const outcome = d?.outcome ?? 'not_matched';
    let list = groups.get(outcome);
    if (!list) groups.set(outcome, (list = []));
    list.push(t.id);
    if (!d) continue;
    const stop = [...d.trace].reverse().find((v) => v.stops);
    if (outcome === 'not_matched') {
      const f = d.conditions.find((c) => c.result === false);
      if (f) notMatched.set(f.name, (notMatched.get(f.name) ?? 0) + 1);
    } else if (outcome === 'unknown') {
      const detail = stop?.detail ?? 'a condition is unknown';
      unknown.set(detail, (unknown.get(detail) ?? 0) + 1);
    }
    if (stop && !NOT_A_STOP.has(stop.reason)) {
      let s = stops.get(stop.reason);
      if (!s) stops.set(stop.reason, (s = { count: 0, details: new Map(), first: [] }));
      s.count++;
      s.details.set(stop.detail, (s.details.get(stop.detail) ?? 0) + 1);
      s.first.push(t.id);
    }
  }
  const byCount = <K>(m: Map<K, number>) => [...m].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
  return {
    rule: rule.name,
    kind: rule.kind,
    ruleMode: rule.mode,
    derive: rule.derive,
    run: { id: o.run.id, at: new Date(o.run.at).toISOString(), mode: o.run.mode, shard: o.run.shard ?? null },
    targets,
    evaluated,
    excluded: { count: excluded, by: byCount(excludedBy).map(([clause, count]) => ({ clause, count })), first: excludedFirst.sort(byId) },
    outcomes: [...groups]
      .sort((a, b) => OUTCOME_ORDER.indexOf(a[0]) - OUTCOME_ORDER.indexOf(b[0]))
      .map(([outcome, ids]) => ({ outcome, count: ids.length, first: ids.sort(byId).slice(0, FIRST) })),
    stopped: [...stops]
      .sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]))
      .map(([reason, s]) => ({
        reason,
        count: s.count,
        details: byCount(s.details).map(([detail, count]) => ({ detail, count })),
        first: s.first.sort(byId).slice(0, FIRST),
      })),
    notMatchedBy: byCount(notMatched).map(([condition, count]) => ({ condition, count })),
    unknownBy: byCount(unknown).map(([detail, count]) => ({ detail, count })),
  };
}

/** Ids in the order people count them: web-2 before web-10. */
function byId(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The fleet view as text. */
export function fleetText(f: FleetSummary): string {
  const out: string[] = [];
  const mode = f.derive ? `derives ${f.derive}` : `rule in ${f.ruleMode === 'dry-run' ? 'shadow' : 'enforce'} mode`;
  out.push(`rule ${f.rule} in run #${f.run.id} at ${f.run.at} (${mode}${f.run.mode === 'dry-run' ? '; the run was a dry run' : ''})`);
  // A sharded run decided only for the targets of its own shards.
  if (f.run.shard) out.push(`  this run held ${f.run.shard}: only its targets are counted (other runs decided the others)`);
  out.push(
    `  ${plural(f.targets, `${f.kind} target`)}: ${f.evaluated} evaluated` +
      (f.excluded.count ? `, ${f.excluded.count} excluded by its target selector (${f.excluded.by.map((b) => `${b.clause}: ${b.count}`).join(', ')})` : ''),
  );
  const more = (n: number, shown: number) => (n > shown ? ` and ${n - shown} more` : '');
  for (const g of f.outcomes) {
    out.push(`  ${outcomeLabel(g.outcome).padEnd(11)} ${String(g.count).padStart(6)}  ${g.first.join(', ')}${more(g.count, g.first.length)}`);
    if (g.outcome === 'not_matched') for (const n of f.notMatchedBy.slice(0, 5)) out.push(`${' '.repeat(22)}${n.condition} does not hold: ${n.count}`);
    if (g.outcome === 'unknown') for (const n of f.unknownBy.slice(0, 3)) out.push(`${' '.repeat(22)}${n.count}: ${n.detail}`);
  }
  if (f.excluded.count)
    out.push(
      `  ${'EXCLUDED'.padEnd(11)} ${String(f.excluded.count).padStart(6)}  ${f.excluded.first.join(', ')}${more(f.excluded.count, f.excluded.first.length)}`,
    );
  if (f.stopped.length) {
    out.push('stopped by:');
    for (const s of f.stopped) {
      out.push(`  ${s.reason}: ${plural(s.count, 'decision')} (${s.first.join(', ')}${more(s.count, s.first.length)})`);
      for (const d of s.details.slice(0, 3)) out.push(`    ${d.count > 1 || s.details.length > 1 ? `${d.count} x ` : ''}${d.detail}`);
      if (s.details.length > 3) out.push(`    ... and ${plural(s.details.length - 3, 'other detail')}`);
    }
  }
  // The most telling target: one that something happened to, before an unknown or a not-matched one.
  const telling =
    f.outcomes.find((g) => g.outcome !== 'not_matched' && g.outcome !== 'unknown') ?? f.outcomes.find((g) => g.outcome === 'unknown') ?? f.outcomes[0];
  if (telling) out.push(`explain one: reflex why ${telling.first[0]} --rule ${f.rule} --run ${f.run.id}`);
  return out.join('\n');
}
