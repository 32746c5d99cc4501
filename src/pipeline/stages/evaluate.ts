// Derive & evaluate: the pure rule engine over this run's facts, with `for` streaks from the store.
import { evaluate, forKey } from '../../rules/evaluate.js';
import type { ForState } from '../../store/types.js';
import type { Stage } from '../types.js';
import { sourceProblems } from '../decision.js';

export const evaluateStage: Stage = {
  name: 'evaluate',
  async run(ctx) {
    const states = await ctx.store.loadForState();
    const forState = new Map<string, ForState>();
    for (const s of states) forState.set(forKey(s.rule, s.target), s);
    // A sharded run (docs/scale-out.md) evaluates acting rules for its own shards' targets only;
    // aggregates, relations and derived facts still see every collected target.
    const only = ctx.shards?.targetsIn(ctx.targets);
    const r = evaluate(ctx.ruleSet, ctx.targets, {
      now: ctx.now,
      runId: ctx.runId,
      forState,
      factSources: ctx.factSources,
      sourceProblems: sourceProblems(ctx.sourceReports),
      only,
      // The other shards' targets are decided too, in the same pass, for the breakers that span shards.
      others: only !== undefined,
      // Derived decisions are not stored: readers recompute them, explanation included (docs/performance.md).
      // `reflex test` (its own sources) prints a failed expectation's decision with its conditions.
      explainDerived: ctx.sources !== undefined,
    });
    ctx.evaluation = r;
    // Derive rules run over the whole fleet; their decisions about other shards' targets are those shards' to record.
    ctx.decisions = only ? r.decisions.filter((d) => only.has(d.target.id)) : r.decisions;
    ctx.fleet = only ? [...ctx.decisions, ...r.others] : null;
  },
};
