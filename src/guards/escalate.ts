// One escalation for many decisions: what a breaker sends instead of a flood, deduplicated by the breaker's own key.
import type { EscalationMessage } from '../actions/types.js';
import { SEVERITIES, type Severity } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import { Channels } from '../pipeline/stages/notify.js';
import type { RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import { isShadow } from './types.js';

/** Breaker escalations use their own prefix: the notify stage resolves only `reflex/RULE/TARGET` keys. */
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
export function breakerChannel(ctx: RunContext, decisions: Decision[]): string | null {
  return ctx.project.config.defaults.escalate_to ?? decisions.find((d) => d.rule.escalate?.to)?.rule.escalate?.to ?? null;
}

/**
 * Send one message for a breaker. Decisions it stands for end `escalated` (the message is their
 * escalation: the notify stage will not page once per decision) when it was sent or is open already.
 * Rules in dry-run (shadow) mode and --dry-run only describe the message (the decisions stay `blocked`).
 * When it could not be sent, they stay `blocked` and the notify stage escalates them as their rules say.
 */
export async function sendBreakerEscalation(ctx: RunContext, m: BreakerMessage): Promise<void> {
  const channel = breakerChannel(ctx, m.decisions);
  if (!channel) {
    for (const d of m.decisions) d.trace.push({ stage: 'guard', reason: REASON.ESCALATION_FAILED, detail: 'no channel to tell (set defaults.escalate_to)' });
    return;
  }
  const severity = m.decisions.reduce<Severity>((s, d) => (SEVERITIES.indexOf(d.rule.severity) > SEVERITIES.indexOf(s) ? d.rule.severity : s), 'info');
  const msg: EscalationMessage = {
    dedupKey: m.dedupKey,
    event: 'trigger',
    summary: m.summary,
    severity: severity === 'info' ? 'warning' : severity,
    source: 'reflex',
    rule: m.rule,
    details: { run: ctx.runId, ...m.details, decisions: m.decisions.slice(0, 50).map((d) => `${d.rule.name} on ${d.target.id}`), count: m.decisions.length },
  };
  const shadow = m.decisions.every((d) => isShadow(ctx, d));
  let r: { sent: boolean; note: string };
  try {
    r = await new Channels(ctx).send(channel, msg, shadow);
  } catch (err) {
    // The decisions stay stopped; the notify stage escalates them as their rules say.
    r = { sent: false, note: `escalation to ${channel} failed: ${ctx.redact((err as Error).message)}` };
    ctx.problems.push({ stage: 'guard', reason: REASON.ESCALATION_FAILED, detail: r.note });
  }
  const dedup = !r.sent && r.note.startsWith('already');
  const dry = !r.sent && r.note.startsWith('would');
  const reason = r.sent ? REASON.ESCALATED : dedup ? REASON.ESCALATION_DEDUP : dry ? REASON.DRY_RUN : REASON.ESCALATION_FAILED;
  // One short line per decision (a breaker may stand for thousands); the message itself is described once.
  const all = `one escalation for all ${m.decisions.length} (dedup key ${m.dedupKey})`;
  const note = r.sent
    ? `${all}: sent on ${channel}`
    : dedup
      ? `${all}: already open on ${channel}, not paging again`
      : dry
        ? `${all}: would trigger on ${channel}${shadow ? ' (rules in dry-run mode)' : ''}`
        : `${all}: ${r.note}`;
  m.decisions.forEach((d, i) => {
    d.trace.push({ stage: 'guard', reason, detail: i === 0 && dry ? r.note : note });
    if (r.sent || dedup) d.outcome = 'escalated';
    // The message stands for the decision (a preview too, so it shows what a real run would send): notify skips it.
    if (r.sent || dedup || dry) d.escalation = { channel, dedupKey: m.dedupKey, summary: m.summary, sent: r.sent };
  });
}

/**
 * Resolve the open escalations of a breaker (keys under `prefix`) whose problem this run saw gone:
 * `settled(key)` says the run looked at that group and it is no longer tripped. Never in --dry-run.
 */
export async function resolveBreakers(ctx: RunContext, prefix: string, settled: (dedupKey: string) => boolean): Promise<void> {
  if (ctx.dryRun) return;
  try {
    const open = await ctx.store.listEscalations({ status: 'open', limit: 10_000 });
    const channels = new Channels(ctx);
    for (const e of open) {
      if (!e.dedupKey.startsWith(prefix) || !settled(e.dedupKey)) continue;
      await channels.send(e.channel, {
        dedupKey: e.dedupKey,
        event: 'resolve',
        summary: `resolved: ${e.summary}`,
        severity: 'warning',
        source: 'reflex',
        details: { run: ctx.runId },
      });
    }
  } catch (err) {
    // Resolving late is harmless (the next run tries again); it never blocks or allows anything.
    ctx.log.warn(`could not resolve breaker escalations: ${(err as Error).message}`);
  }
}
