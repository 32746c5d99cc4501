// Reads a recorded run back: its facts snapshot and the rule set it ran with, so any decision can be recomputed.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadProject, type Project } from '../config/load.js';
import { evaluate, type Decision, type EvalResult } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import { buildRuleSet, type RuleSet } from '../rules/ruleset.js';
import type { RunRecord, Store } from '../store/types.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import { sourceProblems } from '../pipeline/decision.js';
import { UserError } from '../errors.js';

export async function readSnapshot(store: Store, run: RunRecord): Promise<Snapshot> {
  const bytes = await store.getSnapshot(run.id);
  if (!bytes)
    throw new UserError(
      `run #${run.id} has no facts snapshot (it ${run.status === 'failed' ? 'failed before collecting facts' : 'was pruned or recorded without one'})`,
    );
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as Snapshot;
}

/** The rule set a run used: today's if unchanged, else rebuilt from the texts stored with the run. */
export async function ruleSetOf(
  store: Store,
  run: RunRecord,
  current: { project: Project; ruleSet: RuleSet },
): Promise<{ ruleSet: RuleSet; project: Project; current: boolean }> {
  if (run.ruleSetHash === current.project.hash) return { ...current, current: true };
  const texts = await store.getRuleSet(run.ruleSetHash);
  if (!texts) return { ...current, current: true };
  const dir = mkdtempSync(join(tmpdir(), 'reflex-ruleset-'));
  try {
    for (const [rel, text] of Object.entries(texts)) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
    }
    const cfg = Object.keys(texts).find((k) => !k.includes('/') && /\.ya?ml$/.test(k) && k === current.project.configPath.split('/').pop()) ?? 'reflex.yaml';
    // Secrets are not needed to explain: unset variables become placeholders.
    const env = new Proxy({}, { get: (_t, k) => (typeof k === 'string' ? `\${${k}}` : undefined) }) as NodeJS.ProcessEnv;
    const { project } = loadProject(join(dir, cfg), env);
    if (!project) return { ...current, current: true };
    const built = buildRuleSet(project);
    if (!built.ruleSet) return { ...current, current: true };
    return { ruleSet: built.ruleSet, project, current: false };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Re-evaluate a recorded run (all targets, or some) with a rule set, keeping not-matched decisions. */
export function reevaluate(snap: Snapshot, ruleSet: RuleSet, runId: number, only?: Set<string>): Decision[] {
  return evaluateRecorded(snap, ruleSet, runId, only).decisions;
}

/**
 * Re-evaluate a recorded run as the run did (with `keepNotMatched`, also the not-matched decisions, for every
 * target of every derive rule too). The result's world (derived facts set, aggregates, relations) is what an
 * explanation reads through `Lineage`.
 */
export function evaluateRecorded(snap: Snapshot, ruleSet: RuleSet, runId: number, only?: Set<string>, keepNotMatched = true): EvalResult {
  // The snapshot is pre-derive; evaluation adds derived facts to these (fresh) objects.
  return evaluate(ruleSet, snap.targets, {
    now: snap.now,
    runId,
    forState: new Map(),
    factSources: snap.factSources,
    sourceProblems: sourceProblems(snap.sources),
    only,
    keepNotMatched,
  });
}

/** The rule set reduced to one acting rule and the derive rules (which every rule may read): `why --rule R` for a fleet. */
export function onlyRule(ruleSet: RuleSet, rule: CompiledRule): RuleSet {
  return {
    ...ruleSet,
    rules: ruleSet.rules.filter((r) => r.derive || r === rule),
    byKind: rule.derive ? new Map() : new Map([[rule.kind, [rule]]]),
  };
}
