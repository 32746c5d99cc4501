// What one run changes in the stored metrics: counters it adds to, the last success it moves, and its own last-run
// gauges (which replace its runner's previous ones). Pure but for reading the run's own executions from the journal.
import type { ExecutionStatus } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import { summarize } from '../pipeline/summary.js';
import type { RunContext } from '../pipeline/types.js';
import type { MetricPoint, MetricUpdate, Store } from '../store/types.js';
import { FAMILIES } from './families.js';

/** How a run ended, as `reflex_runs_total{status}` counts it (the same words as the run record). */
export type RunStatus = 'ok' | 'problems' | 'failed';
export const RUN_STATUSES: readonly RunStatus[] = ['ok', 'problems', 'failed'];

/** Why a run did nothing, as `reflex_runs_skipped_total{reason}` counts it. */
export type SkipReason = 'lease_held';
export const SKIP_REASONS: readonly SkipReason[] = ['lease_held'];

/** Runner scopes not updated for this long are dropped (a sharded runner whose set of shards changed). */
export const STALE_SCOPE_MS = 24 * 3_600_000;

/** Journal states that are an end: executions still in intent or running are counted when they end, not before. */
const FINAL: ReadonlySet<ExecutionStatus> = new Set(['succeeded', 'failed', 'timed_out', 'refused', 'interrupted']);

/** Breakers a run sees for itself (the failure breaker's state is its disable, read from the store). */
const RUN_BREAKERS: ReadonlyMap<string, string> = new Map([
  [REASON.BREAKER_WIDESPREAD, 'widespread'],
  [REASON.BREAKER_IMPLAUSIBLE, 'implausible'],
  [REASON.BREAKER_STORM, 'storm'],
]);

/** The scope of a run's own gauges: '' unsharded, its shard leases otherwise (`shard:1/16,shard:5/16`). */
export const scopeOfRun = (ctx: Pick<RunContext, 'shards'>): string => ctx.shards?.describe() ?? '';

const seconds = (ms: number) => Math.round(ms) / 1000;

/** The update a skipped run makes: one more skip, nothing else (it holds no lease, so it has no last run). */
export function skippedUpdate(reason: SkipReason, at: number): MetricUpdate {
  return { at, add: [{ name: FAMILIES.skipped.name, labels: { reason }, value: 1 }], max: [] };
}

/**
 * The update of a run that ended (`status`), read from its context. `finishedAt` is the run's clock at its end.
 * The executions counted are the run's own (from the journal, once they ended) and the ones it found interrupted.
 */
export async function runUpdate(
  ctx: RunContext,
  status: RunStatus,
  finishedAt: number,
  store: Pick<Store, 'listExecutions' | 'getExecution'>,
): Promise<MetricUpdate> {
  const add: MetricPoint[] = [{ name: FAMILIES.runs.name, labels: { status }, value: 1 }];
  const max: MetricPoint[] = status === 'failed' ? [] : [{ name: FAMILIES.lastSuccess.name, labels: {}, value: seconds(finishedAt) }];

  // Executions: by rule, action and status.
  const executions = new Map<string, { rule: string; action: string; status: string; n: number }>();
  const count = (rule: string, action: string, st: string) => {
    const k = `${rule}\u0000${action}\u0000${st}`;
    const e = executions.get(k);
    if (e) e.n++;
    else executions.set(k, { rule, action, status: st, n: 1 });
  };
  if (ctx.runId > 0) {
    for (const e of await store.listExecutions({ runId: ctx.runId, limit: 1_000_000 })) if (FINAL.has(e.status)) count(e.rule, e.action, e.status);
  }
  for (const id of ctx.interrupted) {
    const e = await store.getExecution(id);
    if (e && e.runId !== ctx.runId) count(e.rule, e.action, 'interrupted');
  }
  for (const e of executions.values()) add.push({ name: FAMILIES.executions.name, labels: { rule: e.rule, action: e.action, status: e.status }, value: e.n });

  // Messages to people, by channel and result; every configured channel from its first run on, at 0 if need be, so
  // that increase() sees its first failure (a counter born at 1 shows no increase).
  const results = ctx.escalationResults ?? {};
  for (const channel of new Set([...Object.keys(ctx.project.config.channels), ...Object.keys(results)])) {
    for (const result of ['sent', 'failed'] as const)
      add.push({ name: FAMILIES.escalations.name, labels: { channel, result }, value: results[channel]?.[result] ?? 0 });
  }

  // The runner's last run.
  const own: MetricPoint[] = [
    { name: FAMILIES.lastRun.name, labels: {}, value: seconds(finishedAt) },
    { name: FAMILIES.lastRunDuration.name, labels: {}, value: seconds(finishedAt - ctx.now) },
    { name: FAMILIES.targets.name, labels: {}, value: ctx.targets.length },
  ];
  for (const [stage, ms] of Object.entries(ctx.timings)) own.push({ name: FAMILIES.stageDuration.name, labels: { stage }, value: seconds(ms) });
  for (const r of ctx.sourceReports) {
    own.push({ name: FAMILIES.sourceUp.name, labels: { source: r.name, kind: r.kind }, value: r.status === 'ok' || r.status === 'cached' ? 1 : 0 });
    own.push({ name: FAMILIES.sourceDuration.name, labels: { source: r.name }, value: seconds(r.durationMs) });
  }
  for (const [rule, outcomes] of Object.entries(summarize(ctx).rules)) {
    for (const [outcome, n] of Object.entries(outcomes)) {
      if (outcome !== 'evaluated') own.push({ name: FAMILIES.decisions.name, labels: { rule, outcome }, value: n });
    }
  }
  const breakers = new Set<string>();
  for (const d of ctx.decisions) {
    const stop = d.trace.filter((v) => v.stops).pop();
    const breaker = stop ? RUN_BREAKERS.get(stop.reason) : undefined;
    if (breaker) breakers.add(`${breaker}\u0000${d.rule.name}`);
  }
  for (const b of breakers) {
    const [breaker, rule] = b.split('\u0000') as [string, string];
    own.push({ name: FAMILIES.breakers.name, labels: { breaker, rule }, value: 1 });
  }
  const blind = new Set(ctx.blindRules ?? []);
  for (const r of ctx.ruleSet.rules) if (!r.derive) own.push({ name: FAMILIES.blind.name, labels: { rule: r.name }, value: blind.has(r.name) ? 1 : 0 });

  return { at: finishedAt, add, max, replace: { scope: scopeOfRun(ctx), samples: own }, dropBefore: finishedAt - STALE_SCOPE_MS };
}
