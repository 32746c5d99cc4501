// Reads a recorded run back: its facts snapshot and the rule set it ran with, so any decision can be recomputed.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadProject, type Project } from '../config/load.js';
import { evaluate, type Decision, type EvalResult } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import { buildRuleSet, type RuleSet } from '../rules/ruleset.js';
import type { DecisionRecord, RunRecord, Store } from '../store/types.js';
import type { Target } from '../model.js';
import { parseSnapshot } from '../store/snapshot.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import { sourceProblems, toRecord } from '../pipeline/decision.js';
import { runTargets } from '../pipeline/shards.js';
import { UserError } from '../errors.js';

export async function readSnapshot(store: Store, run: RunRecord): Promise<Snapshot> {
  const parts = await store.getSnapshotParts(run.id);
  if (!parts)
    throw new UserError(
      `run #${run.id} has no facts snapshot (it ${run.status === 'failed' ? 'failed before collecting facts' : 'was pruned or recorded without one'})`,
    );
  // Stored whole (before migration 3, or given as bytes) or by change: the same document either way.
  return parseSnapshot(parts) as Snapshot;
}

/**
 * Every decision of a recorded run but the not-matched ones, as the run made them: the stored ones
 * (everything a stage after evaluate spoke of), and the rest (derived, unknown: what the engine
 * alone decides from the facts) recomputed from the run's snapshot with the run's own rules, in the
 * order the run made them. `filter` narrows to one target or rule. A run without a snapshot (failed)
 * has only what it stored.
 */
export async function recordedDecisions(
  store: Store,
  run: RunRecord,
  current: { project: Project; ruleSet: RuleSet },
  filter: { target?: string; rule?: string } = {},
  /** The run's snapshot when the caller has it already (the console's cache): read, never changed. */
  read?: Snapshot,
): Promise<DecisionRecord[]> {
  const stored = await store.getDecisions(run.id, filter);
  if (!read && !(await store.getSnapshotParts(run.id))) return stored;
  const snap = read ? freshCopy(read) : await readSnapshot(store, run);
  const { ruleSet } = await ruleSetOf(store, run, current);
  // A sharded run decided about its own shards' targets only (docs/scale-out.md).
  let only = runTargets(run, snap.targets, current.project.config.shards.by);
  if (filter.target !== undefined) only = !only || only.has(filter.target) ? new Set([filter.target]) : new Set();
  const byKey = new Map<string, DecisionRecord>();
  for (const d of stored) byKey.set(`${d.rule}\u0000${d.target}`, d);
  const out: DecisionRecord[] = [];
  for (const d of evaluateRecorded(snap, ruleSet, run.id, only, false).decisions) {
    if (only && !only.has(d.target.id)) continue;
    if (filter.rule !== undefined && d.rule.name !== filter.rule) continue;
    const key = `${d.rule.name}\u0000${d.target.id}`;
    const s = byKey.get(key);
    // What the run stored wins: it has the guard, cooldown and action verdicts.
    if (s) byKey.delete(key);
    out.push(s ?? toRecord({ runId: run.id, now: snap.now }, d));
  }
  // Stored decisions the recomputation did not reach (a rule whose text could not be rebuilt) are kept as stored.
  for (const d of byKey.values()) out.push(d);
  return out;
}

/**
 * The store as readers of recorded runs see it (why, replay, status, the console): `getDecisions`
 * answers with every decision of the run but the not-matched ones, recomputing what the run did not
 * store (recordedDecisions), as if every run had stored them all. Everything else is the store itself.
 */
export function recordedStore(store: Store, current: { project: Project; ruleSet: RuleSet }): Store {
  const cache = new Map<number, Promise<DecisionRecord[]>>();
  const all = (runId: number): Promise<DecisionRecord[]> => {
    let p = cache.get(runId);
    if (!p) {
      p = store.getRun(runId).then((run) => (run ? recordedDecisions(store, run, current) : store.getDecisions(runId)));
      cache.set(runId, p);
    }
    return p;
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getDecisions') {
        return async (runId: number, filter: { target?: string; rule?: string } = {}) =>
          (await all(runId)).filter(
            (d) => (filter.target === undefined || d.target === filter.target) && (filter.rule === undefined || d.rule === filter.rule),
          );
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * A snapshot whose targets an evaluation may change (it adds derived facts): new target and fact objects, the rest
 * shared. `ids`: only those targets (the others left out).
 */
export function freshCopy(snap: Snapshot, ids?: Set<string>): Snapshot {
  const copy = (t: Snapshot['targets'][number]) => (t.unknown ? { ...t, facts: { ...t.facts }, unknown: { ...t.unknown } } : { ...t, facts: { ...t.facts } });
  return { ...snap, targets: ids ? snap.targets.filter((t) => ids.has(t.id)).map(copy) : snap.targets.map(copy) };
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
export function evaluateRecorded(
  snap: Snapshot,
  ruleSet: RuleSet,
  runId: number,
  only?: Set<string>,
  keepNotMatched = true,
  narrow?: { deriveOnly: Set<string>; aggregateMembers?: Map<string, Target[]> },
): EvalResult {
  // The snapshot is pre-derive; evaluation adds derived facts to these (fresh) objects.
  return evaluate(ruleSet, snap.targets, {
    now: snap.now,
    runId,
    forState: new Map(),
    factSources: snap.factSources,
    sourceProblems: sourceProblems(snap.sources),
    only,
    keepNotMatched,
    deriveOnly: narrow?.deriveOnly,
    aggregateMembers: narrow?.aggregateMembers,
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
