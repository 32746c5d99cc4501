// The run summary: counts by outcome and rule, sources, problems and timings; the stable core of `reflex run --json`.
import type { RunContext } from './types.js';

export interface RunSummary {
  run: number;
  mode: 'dry-run' | 'enforce';
  startedAt: string;
  targets: number;
  outcomes: Record<string, number>;
  rules: Record<string, Record<string, number>>;
  /** How many rules act for real (`enforce`), only say what they would do (`shadow`), or derive facts (`derive`). */
  ruleModes: { enforce: number; shadow: number; derive: number };
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
    ruleModes: ruleModes(ctx.ruleSet.rules),
    sources: ctx.sourceReports,
    problems: ctx.problems,
    interrupted: ctx.interrupted,
    timingsMs: ctx.timings,
  };
}

/** The mix of rule modes: derive rules never act, so they count apart from shadow ones. */
export function ruleModes(rules: readonly { derive: string | null; mode: string }[]): RunSummary['ruleModes'] {
  const m = { enforce: 0, shadow: 0, derive: 0 };
  for (const r of rules) {
    if (r.derive) m.derive++;
    else if (r.mode === 'enforce') m.enforce++;
    else m.shadow++;
  }
  return m;
}

/**
 * The first line of a run summary: `run #4: 2 rules enforce, 3 shadow, 1 derive; at ...`. A dry run says that
 * nothing acts whatever the modes, so the header never claims enforcement that did not happen.
 */
export function summaryHeader(s: Pick<RunSummary, 'run' | 'mode' | 'startedAt' | 'targets' | 'ruleModes'>, ms: number): string {
  const { enforce, shadow, derive } = s.ruleModes;
  const parts = [...(enforce ? [`${enforce} enforce`] : []), ...(shadow ? [`${shadow} shadow`] : []), ...(derive ? [`${derive} derive`] : [])];
  // The first number carries the word: `1 rule enforce, 3 shadow`, `2 rules enforce, 3 shadow`.
  if (parts.length) parts[0] = parts[0]!.replace(/^(\d+) /, (_m, n: string) => `${n} ${n === '1' ? 'rule' : 'rules'} `);
  const mix = parts.join(', ') || 'no rules';
  const dry = s.mode === 'dry-run' ? ' (dry run: nothing acts)' : '';
  return `run #${s.run}${dry}: ${mix}; at ${s.startedAt}: ${s.targets} targets, ${ms} ms`;
}
