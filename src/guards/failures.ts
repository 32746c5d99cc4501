// Failure breaker: a rule whose actions keep failing (N of its last M executions) disables itself, with an audit record and one
// escalation, both carried out by the notify stage after the fence (pipeline/outbox.ts).
import type { ExecutionStatus } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import { stop, type RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import type { DisableRecord } from '../store/types.js';
import { BREAKER_KEY_PREFIX, breakerMessage, queueResolve } from './escalate.js';
import { failClosed, type Guard } from './types.js';

/** Who the breaker's disables are by: `reflex status` shows it, and a human lifts it with `reflex enable --rule R`. */
export const FAILURE_BREAKER_BY = 'reflex (failure breaker)';

/**
 * Outcomes that count as failures: the action ran and did not succeed, or was refused. An interrupted
 * execution does not count: its outcome is unknown (a crash of Reflex, not a failure of the action).
 */
const FAILURES: ReadonlySet<Outcome> = new Set(['failed', 'timed_out', 'refused', 'ineffective']);

/** An execution's outcome as the breaker counts it: a succeeded one that did not help (verify:) is `ineffective`. */
type Outcome = ExecutionStatus | 'ineffective';

const FAILURE_PREFIX = `${BREAKER_KEY_PREFIX}failures/`;

/**
 * The last `n` finished outcomes of a rule that count now. When a human enabled the rule again after the
 * breaker disabled it, only executions recorded since then count: enabling a rule gives it a fresh start.
 */
export async function recentOutcomes(ctx: RunContext, rule: string, n: number, disables: DisableRecord[]): Promise<Outcome[]> {
  let since: number | null = null;
  for (const x of disables) {
    if (x.scope === 'rule' && x.value === rule && x.by === FAILURE_BREAKER_BY && x.removedAt !== null && (since === null || x.removedAt > since))
      since = x.removedAt;
  }
  if (since === null) return ctx.store.recentOutcomes(rule, n);
  const execs = (await ctx.store.listExecutions({ rule, since, limit: 10_000 }))
    .filter((e) => e.finishedAt !== null && e.status !== 'intent' && e.status !== 'running')
    .sort((a, b) => b.finishedAt! - a.finishedAt! || b.id - a.id)
    .slice(0, n);
  const ok = execs.filter((e) => e.status === 'succeeded').map((e) => e.id);
  const ineffective = new Set(
    ok.length ? (await ctx.store.listVerifications({ executionIds: ok, status: 'ineffective', limit: ok.length })).map((v) => v.executionId) : [],
  );
  return execs.map((e) => (ineffective.has(e.id) ? 'ineffective' : e.status));
}

export const failureBreakerGuard: Guard = {
  name: 'breaker:failures',
  always: true,
  async check(ctx, live) {
    const { failures, of_last } = ctx.project.config.guardrails.failure_breaker;
    const byRule = new Map<string, Decision[]>();
    for (const d of live) {
      let l = byRule.get(d.rule.name);
      if (!l) byRule.set(d.rule.name, (l = []));
      l.push(d);
    }
    let disables: DisableRecord[];
    try {
      disables = byRule.size ? await ctx.store.listDisables({}) : [];
    } catch (err) {
      failClosed(ctx, live, 'failure breaker', err);
      return;
    }
    for (const [rule, decisions] of byRule) {
      let outcomes: Outcome[];
      try {
        outcomes = await recentOutcomes(ctx, rule, of_last, disables);
      } catch (err) {
        failClosed(ctx, decisions, 'failure breaker', err);
        continue;
      }
      const failed = outcomes.filter((s) => FAILURES.has(s)).length;
      if (failed < failures) continue;
      const helpless = outcomes.filter((s) => s === 'ineffective').length;
      const counted = `${failed} of the last ${outcomes.length} executions of rule "${rule}" failed${helpless ? ` (${helpless} of them succeeded but did not help: verify)` : ''} (the breaker trips at ${failures} of the last ${of_last})`;
      if (ctx.dryRun) {
        for (const d of decisions) stop(d, 'guard', REASON.BREAKER_FAILURES, `failure breaker: ${counted}: the rule would disable itself`, 'blocked');
        continue;
      }
      const reason = `${counted}; enable it again when the cause is fixed: reflex enable --rule ${rule}`;
      for (const d of decisions)
        stop(
          d,
          'guard',
          REASON.BREAKER_FAILURES,
          `failure breaker: ${counted}: the rule disables itself until a human enables it (reflex enable --rule ${rule})`,
          'blocked',
        );
      ctx.log.warn(`failure breaker: ${counted}: the rule disables itself`);
      // Written after the fence, with its audit record, by the notify stage; its one message follows the write.
      ctx.outbox.disables.push({
        disable: { scope: 'rule', value: rule, selector: null, by: FAILURE_BREAKER_BY, reason, createdAt: ctx.now, until: null },
        audit: { at: ctx.now, by: FAILURE_BREAKER_BY, action: 'disable:rule', detail: { value: rule, reason, until: null, breaker: REASON.BREAKER_FAILURES } },
        message: breakerMessage(ctx, {
          dedupKey: FAILURE_PREFIX + rule,
          rule,
          summary: `rule ${rule} disabled itself: ${counted}`,
          decisions,
          details: { breaker: REASON.BREAKER_FAILURES, rule, failures: failed, of_last: outcomes.length },
        }),
      });
    }
    // A breaker escalation resolves once a human has enabled its rule again.
    if (ctx.dryRun) return;
    let active: DisableRecord[];
    try {
      active = await ctx.store.listDisables({ activeAt: ctx.now });
    } catch (err) {
      ctx.log.warn(`could not resolve failure breaker escalations: ${(err as Error).message}`);
      return;
    }
    queueResolve(
      ctx,
      FAILURE_PREFIX,
      (k) => !active.some((x) => x.scope === 'rule' && x.value === k.slice(FAILURE_PREFIX.length) && x.by === FAILURE_BREAKER_BY),
    );
  },
};
