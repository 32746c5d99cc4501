// One target in one recorded run, explained: the document of `reflex why TARGET --json` and the text it prints. The CLI
// prints it; `reflex serve` shows the same (src/serve/why.ts).
import type { Project } from '../config/load.js';
import { UserError } from '../errors.js';
import { type Exclusion, exclusionOf } from './exclusions.js';
import { Lineage, type AggregateInfo } from './lineage.js';
import { nearestIds } from './nearest.js';
import { evaluateRecorded, freshCopy, readSnapshot } from './recorded.js';
import { narrowSnapshot, reachOf } from './reach.js';
import { explainDecision, formatValue, recordedVerdict } from './text.js';
import { sourceProblems, toRecord } from '../pipeline/decision.js';
import type { Decision } from '../rules/evaluate.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import type { CompiledRule, RuleSet } from '../rules/ruleset.js';
import type { DecisionRecord, ExecutionRecord, RunRecord, Store } from '../store/types.js';
import { approvalLine, verificationLine } from './verify.js';

export async function explainTarget(
  store: Store,
  run: RunRecord,
  snap: Snapshot,
  rs: { ruleSet: RuleSet; project: Project; current: boolean },
  targetId: string,
  rule: CompiledRule | undefined,
  depth: number,
  opts: { wholeFleet?: boolean } = {},
): Promise<{ doc: Record<string, unknown>; text: string }> {
  const { ruleSet, project, current } = rs;
  // Decisions not stored (not matched, derived) are recomputed from the snapshot with the run's own rules, over what
  // the explanation reaches (reach.ts; `wholeFleet`: every target, as the run did, which gives the same answer); the
  // same evaluation says where each derived fact came from (lineage). The snapshot given is never changed.
  const reach = opts.wholeFleet ? null : reachOf(snap.targets, ruleSet, targetId);
  if (!reach && !snap.targets.some((t) => t.id === targetId)) throw new UserError(await unseenTarget(store, run, snap, targetId, ruleSet));
  const narrowed = reach ? narrowSnapshot(snap, reach) : null;
  const ev = narrowed
    ? evaluateRecorded(narrowed.snap, ruleSet, run.id, new Set([targetId]), false, { deriveOnly: reach!.derive, aggregateMembers: narrowed.aggregateMembers })
    : evaluateRecorded(freshCopy(snap), ruleSet, run.id, new Set([targetId]), false);
  const target = ev.world.byId.get(targetId)!;
  const lineage = new Lineage(ev.world, snap.factSources, sourceProblems(snap.sources), snap.sources);
  const stored = await store.getDecisions(run.id, { target: targetId, rule: rule?.name });
  const byRule = new Map<string, DecisionRecord>();
  const rec = (d: Decision) => toRecord({ runId: run.id, now: snap.now }, d);
  // In rule order: derive rules (made again here), then what the evaluation decided, else not matched.
  const mine = new Map(ev.decisions.filter((d) => d.target.id === targetId && !d.rule.derive).map((d) => [d.rule.name, d]));
  for (const r of rule ? [rule] : ruleSet.rules) {
    const d = r.derive ? lineage.derivation(targetId, r.derive) : (mine.get(r.name) ?? lineage.decide(r, target));
    if (d) byRule.set(r.name, rec(d));
  }
  for (const d of stored) byRule.set(d.rule, d); // what the run recorded wins (it has the guard and action verdicts)
  const order = (d: DecisionRecord) => (d.outcome === 'not_matched' ? 1 : 0);
  const shown = [...byRule.values()].sort((a, b) => order(a) - order(b));

  // Rules of the target's kind that its selector leaves out (or, with --rule, why that rule does not apply).
  const excluded: Exclusion[] = [];
  for (const r of rule ? [rule] : ruleSet.rules.filter((x) => x.kind === target.kind)) {
    const e = exclusionOf(r, project.rules[r.index]?.target.labels, target);
    if (e) excluded.push(e);
  }

  const ruleByName = new Map(ruleSet.rules.map((r) => [r.name, r]));
  const runInfo = { id: run.id, at: snap.now, dryRun: run.mode === 'dry-run' };
  const provenance = lineage.provenance(targetId);
  const asOf = Date.now();
  const verdictOf = (d: DecisionRecord) => {
    const r = ruleByName.get(d.rule);
    return recordedVerdict(d, r, runInfo, { asOf, provenance, value: r?.derive ? target.facts[r.derive] : undefined });
  };
  const verdicts = new Map(shown.map((d) => [d.rule, verdictOf(d)]));

  const executions = new Map<number, ExecutionRecord>();
  for (const d of shown)
    for (const a of d.actions ?? [])
      if (a.executionId !== undefined) {
        const e = await store.getExecution(a.executionId);
        if (e) executions.set(e.id, e);
      }

  const derived = lineage.derivedFactsOf(targetId);
  const aggregates: Record<string, AggregateInfo> = {};
  for (const d of shown)
    for (const c of d.conditions)
      for (const k of Object.keys(c.inputs ?? {}))
        if (k.startsWith('agg.') && !(k.slice(4) in aggregates)) {
          const info = lineage.aggregate(k.slice(4), targetId);
          if (info) aggregates[info.name] = info;
        }
  const factOrigins: Record<string, { source: string; sources?: string[] } | { derivedBy: string; outcome: string }> = {};
  for (const k of Object.keys(target.facts)) {
    const d = derived.get(k);
    if (d) factOrigins[k] = { derivedBy: d.rule.name, outcome: d.outcome };
    else if (snap.factSources[k]) {
      // Several sources report a fact of this name: the run recorded one of them; all are named.
      const all = snap.sources.filter((s) => s.facts.includes(k)).map((s) => s.name);
      factOrigins[k] = all.length > 1 ? { source: snap.factSources[k]!, sources: all } : { source: snap.factSources[k]! };
    }
  }
  // What was checked after acting (verify:) and what waits for a person, as the store has it now.
  const verifications = await store.listVerifications({ target: targetId, rule: rule?.name, limit: 5 });
  const approvals = await store.listApprovals({ target: targetId, rule: rule?.name, limit: 5 });
  const doc = {
    run: run.id,
    at: new Date(snap.now).toISOString(),
    mode: run.mode,
    rulesChangedSince: !current,
    target,
    factSources: snap.factSources,
    factOrigins,
    verdicts: [
      ...shown.map((d) => ({ rule: d.rule, outcome: d.outcome, verdict: verdicts.get(d.rule)! })),
      ...excluded.map((e) => ({ rule: e.rule, outcome: 'excluded', verdict: e.verdict })),
    ],
    decisions: shown.map((d) => ({ ...d, verdict: verdicts.get(d.rule)! })),
    derivations: [...derived].map(([fact, d]) => ({ fact, rule: d.rule.name, outcome: d.outcome, value: target.facts[fact], conditions: d.conditions })),
    aggregates: Object.values(aggregates),
    excluded,
    executions: [...executions.values()],
    verifications,
    approvals,
  };

  const out: string[] = [];
  // One plain sentence per rule first; the details follow.
  for (const d of shown) out.push(`${d.rule}: ${verdicts.get(d.rule)}`);
  for (const e of excluded) out.push(`${e.rule}: ${e.verdict}`);
  if (!shown.length && !excluded.length) out.push(`no rule is for targets of kind ${target.kind}`);
  out.push('');
  out.push(`target ${target.id} (${target.kind}) in run #${run.id} at ${new Date(snap.now).toISOString()} (${run.mode})`);
  if (!current) out.push('note: the rules have changed since this run; this explanation uses the rules the run used');
  const labels = Object.entries(target.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (labels) out.push(`  labels: ${labels}`);
  if (target.depends_on.length) out.push(`  depends on: ${target.depends_on.join(', ')}`);
  const facts = Object.entries(target.facts);
  if (facts.length || derived.size) out.push('  facts:');
  for (const [k, v] of facts) {
    const d = derived.get(k);
    if (!d) {
      const src = lineage.sourceOf(k);
      out.push(`    ${k} = ${formatValue(v)}  (${src ? `from source "${src}"` : 'from a source'})`);
      continue;
    }
    out.push(`    ${k} = ${formatValue(v)}  (derived by rule ${d.rule.name} in this run)`);
    if (depth > 0) out.push(...lineage.conditionLines(d, targetId, depth - 1, '      '));
  }
  for (const [k, d] of derived) {
    if (k in target.facts) continue; // shown above
    out.push(`    ${k} = unknown  (derived by rule ${d.rule.name} in this run: ${d.outcome === 'unknown' ? 'its conditions are unknown' : 'not set'})`);
    if (depth > 0) out.push(...lineage.conditionLines(d, targetId, depth - 1, '      '));
  }
  for (const [k, reason] of Object.entries(target.unknown ?? {})) if (!derived.has(k)) out.push(`    ${k} = unknown (${reason})`);
  const failed = snap.sources.filter((s) => s.status === 'failed' || s.status === 'timeout');
  for (const s of failed) out.push(`  source ${s.name} ${s.status}: ${s.error ?? ''} (its facts are unknown in this run)`);
  for (const d of shown) {
    out.push('');
    out.push(explainDecision(d, { factSources: snap.factSources, executions, lineage, depth }));
  }
  for (const e of excluded) {
    out.push('');
    out.push(`rule ${e.rule}: does not apply`);
    if (e.by === 'kind') out.push(`  it is for targets of kind ${e.ruleKind}; ${target.id} is of kind ${target.kind}`);
    else for (const m of e.misses) out.push(`  selector ${m.clause}: ${m.seen}`);
  }
  const now = Date.now();
  if (verifications.length) {
    out.push('', 'verifications (latest first, as of now):');
    for (const v of verifications) out.push(`  ${verificationLine(v, now)}`);
  }
  if (approvals.length) {
    out.push('', 'approvals (latest first, as of now):');
    for (const a of approvals) out.push(`  ${approvalLine(a, now)}`);
  }
  return { doc, text: `${out.join('\n')}\n` };
}

/** The error for a target the run never saw: the nearest ids it did see, the sources it asked, and when it was last seen. */
/**
 * The newest run before `run` that had the target: a stored decision says so cheaply; runs store only what changed
 * (derived, not-matched and unknown decisions are recomputed), so otherwise the snapshots of the last runs are read.
 */
async function lastRunWith(store: Store, run: RunRecord, id: string): Promise<number | null> {
  const stored = (await store.decisionHistory({ target: id, limit: 1 }))[0];
  const runs = await store.listRuns({ limit: 20, before: run.startedAt + 1 });
  for (const r of runs) {
    if (r.id === run.id) continue;
    if (stored && stored.runId >= r.id) return stored.runId;
    try {
      if ((await readSnapshot(store, r)).targets.some((t) => t.id === id)) return r.id;
    } catch {
      /* a run without a snapshot (failed, pruned): look further back */
    }
  }
  return stored && stored.runId !== run.id ? stored.runId : null;
}

async function unseenTarget(store: Store, run: RunRecord, snap: Snapshot, id: string, ruleSet: RuleSet): Promise<string> {
  const ids = snap.targets.map((t) => t.id);
  const near = nearestIds(id, ids, 5);
  const lines = [`target "${id}" was not seen in run #${run.id}${near.length ? `, did you mean "${near[0]}"?` : ''}`];
  if (near.length > 1) lines.push(`  nearest ids seen in run #${run.id}: ${near.join(', ')}`);
  const asked = snap.sources.map((s) => `${s.name} (${s.kind}: ${s.status === 'ok' ? 'ok' : s.status}, ${s.targets} targets)`);
  lines.push(`  sources asked in run #${run.id}: ${asked.join(', ') || 'none'}; ${ids.length} targets in all`);
  // A group target exists only while a member carries its value (src/rules/groups.ts).
  const g = ruleSet.groups.find((x) => id.startsWith(`${x.kind}/`));
  if (g)
    lines.push(
      `  ${g.kind} targets are made from the ${g.of} targets' ${g.by.join(', ')} label${g.by.length > 1 ? 's' : ''}: one exists only in a run where some ${g.of} carries its value`,
    );
  const earlier = await lastRunWith(store, run, id);
  if (earlier !== null) lines.push(`  it was last decided about in run #${earlier}: reflex why ${id} --run ${earlier}`);
  return lines.join('\n');
}
