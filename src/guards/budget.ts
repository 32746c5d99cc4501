// Budget per run: at most N actions in one run; decisions beyond it are deferred to the next run, highest severity first.
import { REASON } from '../pipeline/reasons.js';
import type { Limit, LimitVerdict } from './limits.js';

export const budgetLimit: Limit = {
  name: 'budget',
  async load(ctx) {
    const budget = ctx.project.config.guardrails.budget_per_run;
    let used = 0;
    return {
      check(d): LimitVerdict | null {
        const need = d.rule.steps.length;
        if (used + need <= budget) return null;
        return {
          reason: REASON.BUDGET,
          detail: `budget: ${used} of the run's budget of ${budget} actions used${need > 1 ? ` (this decision needs ${need})` : ''}: deferred to the next run (actions are taken highest severity first, then in rule order, then by target id)`,
          outcome: 'deferred',
        };
      },
      admit(d) {
        used += d.rule.steps.length;
      },
    };
  },
};
