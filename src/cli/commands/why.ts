// `reflex why TARGET`: what Reflex decided about a target in a run, and why, from the recorded run; `why --rule R`: one rule over the fleet.
import type { Project } from '../../config/load.js';
import { UserError } from '../../errors.js';
import { fleetSummary, fleetText } from '../../explain/fleet.js';
import { Lineage } from '../../explain/lineage.js';
import { nearestIds } from '../../explain/nearest.js';
import { evaluateRecorded, onlyRule, readSnapshot, ruleSetOf } from '../../explain/recorded.js';
import type { Target } from '../../model.js';
import { sourceProblems } from '../../pipeline/decision.js';
import { runCovers } from '../../pipeline/shards.js';
import type { Snapshot } from '../../pipeline/stages/collect.js';
import type { CompiledRule, RuleSet } from '../../rules/ruleset.js';
import type { RunRecord, Store } from '../../store/types.js';
import { explainTarget } from '../../explain/target.js';
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
  // The explanation is built in src/explain/target.ts, so that reflex serve shows exactly this.
  const { doc, text } = await explainTarget(store, run, snap, rs, targetId, rule, depth);
  process.stdout.write(json ? `${JSON.stringify(doc, null, 2)}\n` : text);
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
