// The shapes every stage and guard shares about a decision: its order, groups, cooldown key, template scope and
// stored form. A leaf module: it imports only types and utilities, so guards and stages can both use it without
// importing each other (docs/architecture.md).
import type { TemplateScope } from '../actions/types.js';
import { SEVERITIES } from '../model.js';
import type { Decision } from '../rules/evaluate.js';
import type { SourceReport } from '../sources/collect.js';
import type { DecisionRecord } from '../store/types.js';
import { parseDuration } from '../util/duration.js';
import type { RunContext } from './types.js';

export { REASON, type Reason } from './reasons.js';

/** The order actions run in: highest severity first, then rule order, then target id. */
export function actionOrder(a: Decision, b: Decision): number {
  return (
    SEVERITIES.indexOf(b.rule.severity) - SEVERITIES.indexOf(a.rule.severity) ||
    a.rule.index - b.rule.index ||
    (a.target.id < b.target.id ? -1 : a.target.id > b.target.id ? 1 : 0)
  );
}

/** Group keys of a target for blast-radius counting (e.g. `service=checkout`). */
export function groupsOf(ctx: Pick<RunContext, 'project'>, d: Pick<Decision, 'target'>): string[] {
  const out: string[] = [];
  for (const l of ctx.project.config.guardrails.blast_radius.group_by) {
    const v = d.target.labels[l];
    if (v !== undefined) out.push(`${l}=${v}`);
  }
  return out;
}

/**
 * One cooldown per rule, action and target. Its length comes from the step (`do: [{cooldown}]`), else the
 * action (`actions.NAME.cooldown`), else `defaults.cooldown`. The journal sets it when the intent is
 * recorded, before the action starts, so a failed or interrupted action cools down too.
 */
export function cooldownOf(ctx: Pick<RunContext, 'project'>, d: Decision, step: number): { key: string; ms: number } {
  const s = d.rule.steps[step]!;
  const cfg = ctx.project.config.actions[s.action];
  const ms = parseDuration(s.cooldown ?? cfg?.cooldown ?? ctx.project.config.defaults.cooldown);
  return { key: `action:${d.rule.name}:${s.action}:${d.target.id}`, ms };
}

/** What `{{ ... }}` templates of a decision's actions and messages can read. */
export function scopeOf(d: Decision): TemplateScope {
  return {
    target: { id: d.target.id, kind: d.target.kind },
    labels: d.target.labels,
    facts: d.target.facts,
    params: {},
    rule: { name: d.rule.name, severity: d.rule.severity },
  };
}

/** A decision as the store keeps it. */
export function toRecord(ctx: Pick<RunContext, 'runId' | 'now'>, d: Decision): DecisionRecord {
  return {
    runId: ctx.runId,
    target: d.target.id,
    rule: d.rule.name,
    outcome: d.outcome,
    severity: d.rule.severity,
    conditions: d.conditions,
    trace: d.trace,
    actions: d.actions.length ? d.actions.map((a) => ({ action: a.action, describe: a.describe, executionId: a.executionId })) : undefined,
    at: ctx.now,
  };
}

/** Problems of sources, as the explanation of unknown facts words them. */
export function sourceProblems(reports: readonly SourceReport[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of reports) {
    if (r.status === 'failed') out[r.name] = `failed: ${r.error ?? 'unknown error'}`;
    else if (r.status === 'timeout') out[r.name] = `timed out${r.error ? `: ${r.error}` : ''}`;
  }
  return out;
}

/** The decisions of the whole fleet for breakers that span shards; in an unsharded run, the run's own. */
export function fleetDecisions(ctx: Pick<RunContext, 'fleet' | 'decisions'>): Decision[] {
  return ctx.fleet ?? ctx.decisions;
}
