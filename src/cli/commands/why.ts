// `reflex why TARGET`: what Reflex decided about a target in a run, and why, from the recorded run.
import { didYouMean } from '../../config/diagnostics.js';
import { UserError } from '../../errors.js';
import { readSnapshot, reevaluate, ruleSetOf } from '../../explain/recorded.js';
import { explainDecision, formatValue } from '../../explain/text.js';
import { approvalLine, verificationLine } from '../../explain/verify.js';
import { toRecord } from '../../pipeline/decision.js';
import { runCovers } from '../../pipeline/shards.js';
import type { DecisionRecord, ExecutionRecord, RunRecord, Store } from '../../store/types.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

export default async function why(opts: { config?: string; rule?: string; run?: string; json?: boolean }, args: string[]): Promise<number> {
  const targetId = args[0]!;
  const loaded = await loadOrExit(opts);
  const store = await openStoreOrExit(loaded.project);
  try {
    const run = opts.run ? await store.getRun(Number(opts.run)) : await latestRunOf(store, targetId, loaded.project.config.shards.by);
    if (!run) throw new UserError(opts.run ? `no run #${opts.run} in the store` : 'no finished run recorded yet: run `reflex run --dry-run` first');
    const snap = await readSnapshot(store, run);
    const target = snap.targets.find((t) => t.id === targetId);
    if (!target) {
      throw new UserError(
        `target "${targetId}" was not seen in run #${run.id}${didYouMean(
          targetId,
          snap.targets.map((t) => t.id),
        )}`,
      );
    }
    const stored = await store.getDecisions(run.id, { target: targetId, rule: opts.rule });
    const { ruleSet, current } = await ruleSetOf(store, run, loaded);
    if (opts.rule && !ruleSet.rules.some((r) => r.name === opts.rule)) {
      throw new UserError(
        `no rule "${opts.rule}" in run #${run.id}${didYouMean(
          opts.rule,
          ruleSet.rules.map((r) => r.name),
        )}`,
      );
    }
    // Decisions not stored (not matched) are recomputed from the snapshot with the run's own rules.
    const recomputed = reevaluate(snap, ruleSet, run.id, new Set([targetId]))
      .filter((d) => d.target.id === targetId && (!opts.rule || d.rule.name === opts.rule))
      .map((d) => toRecord({ runId: run.id, now: snap.now }, d));
    const byRule = new Map<string, DecisionRecord>();
    for (const d of recomputed) byRule.set(d.rule, d);
    for (const d of stored) byRule.set(d.rule, d); // what the run recorded wins (it has the guard and action verdicts)
    // Every rule that applies to the target is shown, matched or not.
    const shown = [...byRule.values()];

    const executions = new Map<number, ExecutionRecord>();
    for (const d of shown)
      for (const a of d.actions ?? [])
        if (a.executionId !== undefined) {
          const e = await store.getExecution(a.executionId);
          if (e) executions.set(e.id, e);
        }
    const derivedTarget = recomputedTargetFacts(snap, targetId);
    // What was checked after acting (verify:) and what waits for a person, as the store has it now.
    const verifications = await store.listVerifications({ target: targetId, rule: opts.rule, limit: 5 });
    const approvals = await store.listApprovals({ target: targetId, rule: opts.rule, limit: 5 });
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            run: run.id,
            at: new Date(snap.now).toISOString(),
            rulesChangedSince: !current,
            target: { ...target, facts: derivedTarget },
            factSources: snap.factSources,
            decisions: shown,
            executions: [...executions.values()],
            verifications,
            approvals,
          },
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    const out: string[] = [];
    out.push(`target ${target.id} (${target.kind}) in run #${run.id} at ${new Date(snap.now).toISOString()} (${run.mode})`);
    if (!current) out.push('note: the rules have changed since this run; this explanation uses the rules the run used');
    const labels = Object.entries(target.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    if (labels) out.push(`  labels: ${labels}`);
    if (target.depends_on.length) out.push(`  depends on: ${target.depends_on.join(', ')}`);
    const facts = Object.entries(derivedTarget);
    if (facts.length) {
      out.push('  facts:');
      for (const [k, v] of facts) out.push(`    ${k} = ${formatValue(v)}  (${snap.factSources[k] ?? (k in target.facts ? 'source' : 'derived')})`);
    }
    for (const [k, why] of Object.entries(target.unknown ?? {})) out.push(`    ${k} = unknown (${why})`);
    const failed = snap.sources.filter((s) => s.status === 'failed' || s.status === 'timeout');
    for (const s of failed) out.push(`  source ${s.name} ${s.status}: ${s.error ?? ''} (its facts are unknown in this run)`);
    if (shown.length === 0) out.push('  no rule applies to this target');
    const order = (d: DecisionRecord) => (d.outcome === 'not_matched' ? 1 : 0);
    for (const d of shown.sort((a, b) => order(a) - order(b))) {
      out.push('');
      out.push(explainDecision(d, { factSources: snap.factSources, executions }));
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
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** The target's facts with derived facts included (re-evaluated from the snapshot). */
function recomputedTargetFacts(snap: Awaited<ReturnType<typeof readSnapshot>>, id: string) {
  return snap.targets.find((t) => t.id === id)?.facts ?? {};
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
