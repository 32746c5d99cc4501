// `reflex replay RUN`: evaluate a recorded run's facts with today's rules and show which decisions would differ.
import { UserError } from '../../errors.js';
import { readSnapshot, recordedStore, reevaluate } from '../../explain/recorded.js';
import { runTargets } from '../../pipeline/shards.js';
import { outcomeLabel } from '../../explain/text.js';
import type { DecisionOutcome } from '../../model.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

/** What the engine alone decided (before guardrails, cooldowns and acting): the part replay can compare. */
function evaluated(outcome: DecisionOutcome, lastReason: string | undefined): string {
  if (outcome === 'not_matched' || outcome === 'unknown' || outcome === 'pending' || outcome === 'derived') return outcome;
  if (outcome === 'blocked' && lastReason === 'context') return 'blocked (context)';
  return 'matched';
}

export default async function replay(opts: { config?: string; json?: boolean }, args: string[]): Promise<number> {
  const id = Number(args[0]);
  if (!Number.isInteger(id) || id < 1) throw new UserError(`replay needs a run id (a whole number), not "${args[0]}"; see reflex history --runs`);
  const { project, ruleSet } = await loadOrExit(opts);
  // Decisions the run did not store (derived, unknown) are recomputed with its own rules (docs/performance.md).
  const store = recordedStore(await openStoreOrExit(project), { project, ruleSet });
  try {
    const run = await store.getRun(id);
    if (!run) throw new UserError(`no run #${id} in the store (see reflex history --runs)`);
    const snap = await readSnapshot(store, run);
    // Then: what the run recorded (not-matched decisions are not stored, so absence means not matched or not applicable).
    const stored = await store.getDecisions(id);
    const then = new Map<string, string>();
    for (const d of stored) then.set(`${d.rule}\u0000${d.target}`, evaluated(d.outcome, d.trace.filter((v) => v.stops)[0]?.reason));
    // Now: today's rules over the same facts, at the run's own time. `for` streaks are not replayed.
    // A sharded run decided only about its own shards' targets: compare those (docs/scale-out.md).
    const only = runTargets(run, snap.targets, project.config.shards.by);
    const now = reevaluate(snap, ruleSet, id, only).filter((d) => !only || only.has(d.target.id));
    const diffs: { rule: string; target: string; then: string; now: string; why: string }[] = [];
    const seen = new Set<string>();
    for (const d of now) {
      const key = `${d.rule.name}\u0000${d.target.id}`;
      seen.add(key);
      const b = evaluated(d.outcome, d.trace.filter((v) => v.stops)[0]?.reason);
      const a = then.get(key) ?? 'not_matched';
      // A `for` rule that was pending or matched then is compared on whether its conditions hold.
      const norm = (x: string) => (x === 'pending' ? 'matched' : x);
      if (norm(a) !== norm(b)) {
        const stopper = d.trace.filter((v) => v.stops)[0];
        diffs.push({
          rule: d.rule.name,
          target: d.target.id,
          // biome-ignore lint/suspicious/noThenProperty: a field of replay's --json output (the outcome then and now)
          then: a,
          now: b,
          why: stopper ? `${stopper.reason}: ${stopper.detail}` : d.conditions.map((c) => `${c.name}=${c.result}`).join(', '),
        });
      }
    }
    for (const [key, a] of then) {
      if (seen.has(key) || a === 'not_matched') continue;
      const [rule, target] = key.split('\u0000') as [string, string];
      const gone = !ruleSet.rules.some((r) => r.name === rule);
      diffs.push({
        rule,
        target,
        // biome-ignore lint/suspicious/noThenProperty: as above
        then: a,
        now: gone ? 'rule removed' : 'not applicable',
        why: gone ? 'the rule no longer exists' : 'the rule no longer applies to this target',
      });
    }
    diffs.sort((x, y) => x.rule.localeCompare(y.rule) || x.target.localeCompare(y.target));
    if (opts.json) {
      process.stdout.write(
        JSON.stringify({ run: id, at: new Date(snap.now).toISOString(), rulesThen: run.ruleSetHash, rulesNow: project.hash, differences: diffs }, null, 2) +
          '\n',
      );
      return 0;
    }
    const out = [
      `replay of run #${id} (${new Date(snap.now).toISOString()}, ${snap.targets.length} targets) with today's rules${run.ruleSetHash === project.hash ? ' (unchanged since)' : ''}:`,
    ];
    if (diffs.length === 0) out.push('  no decision would differ');
    for (const d of diffs) out.push(`  ${d.rule}  ${d.target}: ${label(d.then)} -> ${label(d.now)}  (${d.why})`);
    out.push('(guardrails, cooldowns and `for` streaks depend on state at the time and are not replayed; conditions are.)');
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

function label(x: string): string {
  return ['not_matched', 'unknown', 'pending', 'derived'].includes(x) ? outcomeLabel(x as DecisionOutcome).toLowerCase() : x;
}
