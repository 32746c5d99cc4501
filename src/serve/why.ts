// The decision detail: what `reflex why TARGET --run N [--rule R]` prints and its --json document, built from the store.
import { didYouMean } from '../config/diagnostics.js';
import type { Project } from '../config/load.js';
import { UserError } from '../errors.js';
import { reevaluate, ruleSetOf } from '../explain/recorded.js';
import { explainDecision, formatValue } from '../explain/text.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import { toRecord } from '../pipeline/decision.js';
import type { RuleSet } from '../rules/ruleset.js';
import type { DecisionRecord, ExecutionRecord, RunRecord, Store } from '../store/types.js';

export interface WhyDoc {
  run: number;
  at: string;
  rulesChangedSince: boolean;
  target: Snapshot['targets'][number];
  factSources: Record<string, string>;
  decisions: DecisionRecord[];
  executions: ExecutionRecord[];
}

/**
 * The explanation of one target in one recorded run, as `reflex why` gives it: the document of `--json` and the
 * lines it prints. Decisions the run did not store (not matched) are recomputed from its snapshot with its own rules.
 * Keep this in step with src/cli/commands/why.ts: test/serve/why.test.ts compares the two byte for byte.
 */
export async function explainTarget(
  store: Store,
  loaded: { project: Project; ruleSet: RuleSet },
  run: RunRecord,
  snap: Snapshot,
  targetId: string,
  rule?: string,
): Promise<{ doc: WhyDoc; text: string }> {
  const target = snap.targets.find((t) => t.id === targetId);
  if (!target) {
    throw new UserError(
      `target "${targetId}" was not seen in run #${run.id}${didYouMean(
        targetId,
        snap.targets.map((t) => t.id),
      )}`,
    );
  }
  const stored = await store.getDecisions(run.id, { target: targetId, rule });
  const { ruleSet, current } = await ruleSetOf(store, run, loaded);
  if (rule && !ruleSet.rules.some((r) => r.name === rule)) {
    throw new UserError(
      `no rule "${rule}" in run #${run.id}${didYouMean(
        rule,
        ruleSet.rules.map((r) => r.name),
      )}`,
    );
  }
  // The evaluation adds derived facts to the targets it is given: work on a copy, the snapshot is shared (cached).
  const fresh = { ...snap, targets: snap.targets.map((t) => ({ ...t, facts: { ...t.facts } })) };
  const recomputed = reevaluate(fresh, ruleSet, run.id, new Set([targetId]))
    .filter((d) => d.target.id === targetId && (!rule || d.rule.name === rule))
    .map((d) => toRecord({ runId: run.id, now: snap.now }, d));
  const byRule = new Map<string, DecisionRecord>();
  for (const d of recomputed) byRule.set(d.rule, d);
  for (const d of stored) byRule.set(d.rule, d); // what the run recorded wins (it has the guard and action verdicts)
  const shown = [...byRule.values()];
  const executions = new Map<number, ExecutionRecord>();
  for (const d of shown)
    for (const a of d.actions ?? [])
      if (a.executionId !== undefined) {
        const e = await store.getExecution(a.executionId);
        if (e) executions.set(e.id, e);
      }
  // The target as the evaluation left it: with the facts derive rules set for it, as `reflex why` shows it.
  const evaluated = fresh.targets.find((t) => t.id === targetId)!;
  const facts = evaluated.facts;
  const doc: WhyDoc = {
    run: run.id,
    at: new Date(snap.now).toISOString(),
    rulesChangedSince: !current,
    target: { ...evaluated, facts },
    factSources: snap.factSources,
    decisions: shown,
    executions: [...executions.values()],
  };
  const out: string[] = [];
  out.push(`target ${target.id} (${target.kind}) in run #${run.id} at ${new Date(snap.now).toISOString()} (${run.mode})`);
  if (!current) out.push('note: the rules have changed since this run; this explanation uses the rules the run used');
  const labels = Object.entries(target.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (labels) out.push(`  labels: ${labels}`);
  if (target.depends_on.length) out.push(`  depends on: ${target.depends_on.join(', ')}`);
  const entries = Object.entries(facts);
  if (entries.length) {
    out.push('  facts:');
    for (const [k, v] of entries) out.push(`    ${k} = ${formatValue(v)}  (${snap.factSources[k] ?? (k in evaluated.facts ? 'source' : 'derived')})`);
  }
  for (const [k, why] of Object.entries(evaluated.unknown ?? {})) out.push(`    ${k} = unknown (${why})`);
  for (const s of snap.sources.filter((x) => x.status === 'failed' || x.status === 'timeout'))
    out.push(`  source ${s.name} ${s.status}: ${s.error ?? ''} (its facts are unknown in this run)`);
  if (shown.length === 0) out.push('  no rule applies to this target');
  const order = (d: DecisionRecord) => (d.outcome === 'not_matched' ? 1 : 0);
  for (const d of [...shown].sort((a, b) => order(a) - order(b))) {
    out.push('');
    out.push(explainDecision(d, { factSources: snap.factSources, executions }));
  }
  return { doc, text: `${out.join('\n')}\n` };
}
