// The run summary: counts by outcome and rule, sources, problems and timings; the stable core of `reflex run --json`.
import type { RunContext } from './types.js';

export interface RunSummary {
  run: number;
  mode: 'dry-run' | 'enforce';
  startedAt: string;
  targets: number;
  outcomes: Record<string, number>;
  rules: Record<string, Record<string, number>>;
  sources: RunContext['sourceReports'];
  problems: RunContext['problems'];
  interrupted: number[];
  timingsMs: Record<string, number>;
}

export function summarize(ctx: RunContext): RunSummary {
  const outcomes: Record<string, number> = {};
  const rules: Record<string, Record<string, number>> = {};
  const ev = ctx.evaluation;
  if (ev) {
    for (const [name, c] of Object.entries(ev.counts)) {
      rules[name] = { evaluated: c.evaluated, not_matched: c.not_matched };
      outcomes.not_matched = (outcomes.not_matched ?? 0) + c.not_matched;
    }
  }
  for (const d of ctx.decisions) {
    if (d.outcome === 'not_matched') continue;
    outcomes[d.outcome] = (outcomes[d.outcome] ?? 0) + 1;
    const r = (rules[d.rule.name] ??= { evaluated: 0, not_matched: 0 });
    r[d.outcome] = (r[d.outcome] ?? 0) + 1;
  }
  return {
    run: ctx.runId,
    mode: ctx.dryRun ? 'dry-run' : 'enforce',
    startedAt: new Date(ctx.now).toISOString(),
    targets: ctx.targets.length,
    outcomes,
    rules,
    sources: ctx.sourceReports,
    problems: ctx.problems,
    interrupted: ctx.interrupted,
    timingsMs: ctx.timings,
  };
}
