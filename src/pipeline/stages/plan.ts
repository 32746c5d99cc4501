// Plan: render every action of every matched decision (pure). A value that cannot be placed safely stops the decision here.
import { renderParams } from '../../actions/params.js';
import { planAction } from '../../actions/index.js';
import { PlanError, type ActionPlan } from '../../actions/types.js';
import { scopeOf } from '../decision.js';
import type { Decision } from '../../rules/evaluate.js';
import { parseDuration } from '../../util/duration.js';
import { REASON } from '../reasons.js';
import { stop, type RunContext, type Stage } from '../types.js';

/** Plan all steps of one decision; throws PlanError for the first step that cannot be planned. */
export function planDecision(ctx: Pick<RunContext, 'project'>, d: Decision): ActionPlan[] {
  const { config, secrets } = ctx.project;
  const out: ActionPlan[] = [];
  d.rule.steps.forEach((step) => {
    const cfg = config.actions[step.action];
    if (!cfg) throw new PlanError(`unknown action "${step.action}"`);
    const scope0 = scopeOf(d);
    const params = renderParams(step.action, cfg, step.with, scope0);
    const timeoutMs = parseDuration(step.timeout ?? cfg.timeout ?? config.defaults.action_timeout);
    const plan = planAction(step.action, cfg, { name: step.action, scope: { ...scope0, params }, defaultTimeoutMs: timeoutMs, secrets });
    if (step.timeout) plan.timeoutMs = timeoutMs;
    out.push(plan);
  });
  return out;
}

export const planStage: Stage = {
  name: 'plan',
  async run(ctx) {
    for (const d of ctx.decisions) {
      if (d.outcome !== 'matched' || d.rule.steps.length === 0) continue;
      try {
        const p = planDecision(ctx, d);
        d.plans = p;
        d.actions = p.map((x, i) => ({ action: d.rule.steps[i]!.action, step: i, describe: x.describe }));
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        stop(d, 'plan', REASON.PLAN_INVALID, ctx.redact(err.message), 'blocked');
      }
    }
  },
};
