// One message for many decisions: what a breaker asks for instead of a flood, deduplicated by the breaker's own key.
// Guards only append to the run's outbox; the notify stage sends after the fence (pipeline/outbox.ts).
import type { EscalationMessage } from '../actions/types.js';
import { SEVERITIES, type Severity } from '../model.js';
import type { OutboxMessage } from '../pipeline/outbox.js';
import type { RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import { isShadow } from './types.js';

/** Breaker escalations use their own prefix: the notify stage resolves only `reflex/RULE/TARGET` keys by decision. */
export const BREAKER_KEY_PREFIX = 'reflex-breaker/';

export interface BreakerMessage {
  /** e.g. `reflex-breaker/widespread/instance/service=checkout` */
  dedupKey: string;
  summary: string;
  /** The decisions this one message stands for. */
  decisions: Decision[];
  details: Record<string, unknown>;
  rule?: string;
}

/** The channel a breaker tells: `defaults.escalate_to`, else the first channel one of its rules names. */
export function breakerChannel(ctx: Pick<RunContext, 'project'>, decisions: Decision[]): string | null {
  return ctx.project.config.defaults.escalate_to ?? decisions.find((d) => d.rule.escalate?.to)?.rule.escalate?.to ?? null;
}

/**
 * The one message of a breaker, as the notify stage will send it. Decisions it stands for end `escalated`
 * (the message is their escalation: notify will not page once per decision) when it is sent or open already.
 * Rules in dry-run (shadow) mode and --dry-run only describe it (the decisions stay `blocked`). When it cannot
 * be sent, they stay `blocked` and are escalated as their rules say.
 */
export function breakerMessage(ctx: Pick<RunContext, 'project' | 'runId' | 'now' | 'dryRun'>, m: BreakerMessage): OutboxMessage {
  const severity = m.decisions.reduce<Severity>((s, d) => (SEVERITIES.indexOf(d.rule.severity) > SEVERITIES.indexOf(s) ? d.rule.severity : s), 'info');
  const message: EscalationMessage = {
    dedupKey: m.dedupKey,
    event: 'trigger',
    summary: m.summary,
    severity: severity === 'info' ? 'warning' : severity,
    source: 'reflex',
    rule: m.rule,
    at: ctx.now,
    details: { run: ctx.runId, ...m.details, decisions: m.decisions.slice(0, 50).map((d) => `${d.rule.name} on ${d.target.id}`), count: m.decisions.length },
  };
  return { channel: breakerChannel(ctx, m.decisions), message, decisions: m.decisions, shadow: m.decisions.every((d) => isShadow(ctx, d)) };
}

/** Ask for a breaker's message (sent by the notify stage after the fence). */
export function queueBreakerMessage(ctx: RunContext, m: BreakerMessage): void {
  ctx.outbox.messages.push(breakerMessage(ctx, m));
}

/**
 * Ask the notify stage to resolve the open escalations of a breaker (keys under `prefix`) whose problem this run
 * saw gone: `settled(key)` says the run looked at that group and it is no longer tripped. Never in --dry-run.
 */
export function queueResolve(ctx: RunContext, prefix: string, settled: (dedupKey: string) => boolean): void {
  if (!ctx.dryRun) ctx.outbox.resolves.push({ prefix, settled });
}
