// Budget per run: at most N actions in one run; decisions beyond it are deferred to the next run, highest severity first.
import { REASON } from '../pipeline/reasons.js';
import type { Limit, LimitVerdict } from './limits.js';

export const budgetLimit: Limit = {
  name: 'budget',
  async load(ctx) {
    const budget = ctx.project.config.guardrails.budget_per_run;
    let used = 0;
    const byRule = new Map<string, number>();
    const order = 'actions are taken highest severity first, then in rule order, then by target id';
    return {
      check(d): LimitVerdict | null {
        const need = d.rule.steps.length;
        const needs = need > 1 ? ` (this decision needs ${need})` : '';
        if (used + need > budget)
          return {
            reason: REASON.BUDGET,
            detail: `budget: ${used} of the run's budget of ${budget} actions used${needs}: deferred to the next run (${order})`,
            outcome: 'deferred',
          };
        const own = d.rule.limits.budgetPerRun;
        const mine = byRule.get(d.rule.name) ?? 0;
        if (own !== null && mine + need > own)
          return {
            reason: REASON.BUDGET,
            detail: `budget: ${mine} of rule "${d.rule.name}"'s own budget of ${own} actions per run used (limits.budget_per_run)${needs}: deferred to the next run (${order})`,
            outcome: 'deferred',
          };
        return null;
      },
      admit(d) {
        used += d.rule.steps.length;
        byRule.set(d.rule.name, (byRule.get(d.rule.name) ?? 0) + d.rule.steps.length);
      },
    };
  },
};
