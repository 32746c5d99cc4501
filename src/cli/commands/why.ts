// `reflex why TARGET`: what Reflex decided about a target in a run, and why, from the recorded run; `why --rule R`: one rule over the fleet.
import type { Project } from '../../config/load.js';
import { UserError } from '../../errors.js';
import { type Exclusion, exclusionOf } from '../../explain/exclusions.js';
import { fleetSummary, fleetText } from '../../explain/fleet.js';
import { Lineage, type AggregateInfo } from '../../explain/lineage.js';
import { nearestIds } from '../../explain/nearest.js';
import { evaluateRecorded, onlyRule, readSnapshot, ruleSetOf } from '../../explain/recorded.js';
import { explainDecision, formatValue, recordedVerdict } from '../../explain/text.js';
import type { Target } from '../../model.js';
import { sourceProblems, toRecord } from '../../pipeline/decision.js';
import type { Decision } from '../../rules/evaluate.js';
import { runCovers } from '../../pipeline/shards.js';
import type { Snapshot } from '../../pipeline/stages/collect.js';
import type { CompiledRule, RuleSet } from '../../rules/ruleset.js';
import type { DecisionRecord, ExecutionRecord, RunRecord, Store } from '../../store/types.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

interface WhyOptions {
  config?: string;
  rule?: string;
  run?: string;
  json?: boolean;
  depth?: string;
}

/** How deep `--depth` may go: each level is one derive rule further back. */
const MAX_DEPTH = 10;

export default async function why(opts: WhyOptions, args: string[]): Promise<number> {
  const targetId = args[0];
  const depth = parseDepth(opts.depth);
  if (targetId === undefined && !opts.rule) throw new UserError('name a target (reflex why web-2), or a rule for the fleet view (reflex why --rule R)');
  if (opts.run !== undefined && !/^\d+$/.test(opts.run)) throw new UserError(`--run ${opts.run}: expected a run number (reflex history --runs lists them)`);
  const loaded = await loadOrExit(opts);
  const store = await openStoreOrExit(loaded.project);
  try {
    const run = opts.run
      ? await store.getRun(Number(opts.run))
      : targetId !== undefined
        ? await latestRunOf(store, targetId, loaded.project.config.shards.by)
        : await latestRun(store);
    if (!run) throw new UserError(opts.run ? `no run #${opts.run} in the store` : 'no finished run recorded yet: run `reflex run --dry-run` first');
    const snap = await readSnapshot(store, run);
    const { ruleSet, project, current } = await ruleSetOf(store, run, loaded);
    const rule = opts.rule !== undefined ? ruleSet.rules.find((r) => r.name === opts.rule) : undefined;
    if (opts.rule !== undefined && !rule) {
      const names = ruleSet.rules.map((r) => r.name);
      const near = nearestIds(opts.rule, names, 5);
      throw new UserError(
        `no rule "${opts.rule}" in run #${run.id}${near.length ? `; nearest: ${near.join(', ')}` : ''} (rules: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''})`,
      );
    }
    if (targetId === undefined) return await fleet(store, run, snap, ruleSet, project, rule!, loaded.project.config.shards.by, !!opts.json);
    return await oneTarget(store, run, snap, { ruleSet, project, current }, targetId, rule, depth, !!opts.json);
  } finally {
    await store.close();
  }
}

async function oneTarget(
  store: Store,
  run: RunRecord,
  snap: Snapshot,
  rs: { ruleSet: RuleSet; project: Project; current: boolean },
  targetId: string,
  rule: CompiledRule | undefined,
  depth: number,
  json: boolean,
): Promise<number> {
  const { ruleSet, project, current } = rs;
  if (!snap.targets.some((t) => t.id === targetId)) throw new UserError(await unseenTarget(store, run, snap, targetId));
  // Decisions not stored (not matched, derived) are recomputed from the snapshot with the run's own rules; the
  // same evaluation says where each derived fact came from (lineage).
  const ev = evaluateRecorded(snap, ruleSet, run.id, new Set([targetId]), false);
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
  if (json) {
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
    process.stdout.write(
      `${JSON.stringify(
        {
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
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }

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
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

async function fleet(
  store: Store,
  run: RunRecord,
  snap: Snapshot,
  ruleSet: RuleSet,
  project: Project,
  rule: CompiledRule,
  by: string | undefined,
  json: boolean,
): Promise<number> {
  // Only this rule (and the derive rules it may read) is evaluated again: for the not-matched decisions, which
  // runs do not store, and for derive rules, whose decisions are all recomputed.
  const ev = evaluateRecorded(snap, onlyRule(ruleSet, rule), run.id, undefined, false);
  const lineage = new Lineage(ev.world, snap.factSources, sourceProblems(snap.sources), snap.sources);
  const stored = rule.derive ? [] : await store.getDecisions(run.id, { rule: rule.name });
  const f = fleetSummary({
    rule,
    spec: project.rules[rule.index]?.target.labels,
    targets: snap.targets,
    covers: (t: Target) => !run.shard || runCovers(run, t, by),
    stored,
    recomputed: ev.decisions,
    decide: (t) => lineage.decide(rule, t),
    run: { id: run.id, at: snap.now, mode: run.mode, shard: run.shard ?? null },
  });
  process.stdout.write(json ? `${JSON.stringify(f, null, 2)}\n` : `${fleetText(f)}\n`);
  return 0;
}

/** The error for a target the run never saw: the nearest ids it did see, the sources it asked, and when it was last seen. */
async function unseenTarget(store: Store, run: RunRecord, snap: Snapshot, id: string): Promise<string> {
  const ids = snap.targets.map((t) => t.id);
  const near = nearestIds(id, ids, 5);
  const lines = [`target "${id}" was not seen in run #${run.id}${near.length ? `, did you mean "${near[0]}"?` : ''}`];
  if (near.length > 1) lines.push(`  nearest ids seen in run #${run.id}: ${near.join(', ')}`);
  const asked = snap.sources.map((s) => `${s.name} (${s.kind}: ${s.status === 'ok' ? 'ok' : s.status}, ${s.targets} targets)`);
  lines.push(`  sources asked in run #${run.id}: ${asked.join(', ') || 'none'}; ${ids.length} targets in all`);
  const earlier = (await store.decisionHistory({ target: id, limit: 1 }))[0];
  if (earlier && earlier.runId !== run.id) lines.push(`  it was last decided about in run #${earlier.runId}: reflex why ${id} --run ${earlier.runId}`);
  return lines.join('\n');
}

function parseDepth(v: string | undefined): number {
  if (v === undefined) return 1;
  if (!/^\d+$/.test(v) || Number(v) > MAX_DEPTH) throw new UserError(`--depth ${v}: expected a whole number from 0 to ${MAX_DEPTH}`);
  return Number(v);
}

async function latestRun(store: Store): Promise<RunRecord | null> {
  const runs = await store.listRuns({ limit: 50 });
  return runs.find((r) => r.finishedAt !== null && r.status !== 'failed') ?? null;
}

/**
 * The newest finished run that decided about the target. With shards, runs of several runners
 * interleave and each decided only about its own shards' targets: take the newest that held the
 * target's shard (docs/scale-out.md), or else the newest run (its answer is then recomputed).
 */
async function latestRunOf(store: Store, targetId: string, by: string | undefined): Promise<RunRecord | null> {
  const runs = (await store.listRuns({ limit: 200 })).filter((r) => r.finishedAt !== null && r.status !== 'failed');
  let labels: Record<string, string> | undefined;
  for (const r of runs) {
    if (!r.shard) return r;
    // Sharded by a label: its value comes from a snapshot (every runner collects every target).
    if (by !== undefined && labels === undefined) labels = (await readSnapshot(store, r)).targets.find((t) => t.id === targetId)?.labels ?? {};
    if (runCovers(r, { id: targetId, labels: labels ?? {} }, by)) return r;
  }
  return runs[0] ?? null;
}
