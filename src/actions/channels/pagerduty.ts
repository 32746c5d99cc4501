// The PagerDuty channel: Events API v2 trigger and resolve, deduplicated on the escalation's dedup key.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { PagerDutyChannel } from '../../config/schema.js';
import { REDACTED } from '../../redact.js';
import type { Channel, EscalationMessage } from '../types.js';
import { checkEndpoint, cleanMessage, cutText, describePost, postJson, type ChannelOptions, type SendContext } from './common.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Events API v2 limits. */
export const PD_SUMMARY_MAX = 1024;
export const PD_DEDUP_KEY_MAX = 255;

/** Reflex severities have PagerDuty equivalents of the same name; PagerDuty's `error` is not used. */
const SEVERITY: Record<EscalationMessage['severity'], 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  warning: 'warning',
  info: 'info',
};

/** A dedup key within PagerDuty's 255 characters, stable for one problem: long keys keep a prefix and gain a hash. */
export function pagerDutyDedupKey(key: string): string {
  if (key.length <= PD_DEDUP_KEY_MAX) return key;
  const hash = createHash('sha256').update(key).digest('hex');
  return `${key.slice(0, PD_DEDUP_KEY_MAX - hash.length - 1)}~${hash}`;
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  client?: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
}

/**
 * The Events API v2 body. A resolve carries only routing_key, event_action and dedup_key.
 * `payload.source` is the affected system (the target; for a message about a group, the group; else the
 * rule), as the specification asks, not the tool that sends it: that is `client`.
 */
export function pagerDutyEvent(routingKey: string, msg: EscalationMessage, now: number = Date.now()): PagerDutyEvent {
  const dedup_key = pagerDutyDedupKey(msg.dedupKey);
  if (msg.event === 'resolve') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  const summary = cutText(msg.summary, PD_SUMMARY_MAX);
  const group = typeof msg.details.group === 'string' && msg.details.group ? msg.details.group : undefined;
  const source = cutText(msg.target || group || (msg.rule ? `rule ${msg.rule}` : '') || msg.source || 'reflex', PD_SUMMARY_MAX);
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    client: 'Reflex',
    payload: {
      summary: summary || '(no summary)',
      source,
      severity: SEVERITY[msg.severity] ?? 'warning',
      timestamp: new Date(msg.at ?? now).toISOString(),
      ...(msg.target ? { component: msg.target } : {}),
      ...(group ? { group } : {}),
      ...(msg.rule ? { class: msg.rule } : {}),
      custom_details: msg.details,
    },
  };
  if (msg.runbook && /^https?:\/\//i.test(msg.runbook)) event.links = [{ href: msg.runbook, text: 'Runbook' }];
  return event;
}

export function pagerDutyChannel(name: string, config: z.output<typeof PagerDutyChannel>, options: ChannelOptions = {}): Channel {
  const url = config.url ?? PAGERDUTY_EVENTS_URL;
  checkEndpoint(name, url);
  if (!config.routing_key) throw new Error(`channel ${name}: routing_key is empty`);
  const secrets = [...(options.secrets ?? []), config.routing_key];
  const now = options.now ?? Date.now;
  return {
    name,
    kind: 'pagerduty',
    describe: (msg) => describePost(url, {}, pagerDutyEvent(REDACTED, cleanMessage(msg, secrets), now()), secrets),
    send: async (msg, ctx: SendContext) => {
      const body = pagerDutyEvent(config.routing_key, cleanMessage(msg, [...secrets, ...ctx.secrets]), now());
      const outcome = await postJson(url, {}, body, ctx, secrets, options);
      // PagerDuty's answers (Events API v2): 400 is final (the event is invalid: not retried), 429 and 5xx were retried.
      if (outcome.httpStatus === 429)
        outcome.error = `${(outcome.error ?? 'HTTP 429').replace(/^HTTP 429/, 'HTTP 429: PagerDuty is rate limiting')}; the escalation is sent again next run`;
      else if (outcome.httpStatus === 400) outcome.error = `HTTP 400: PagerDuty rejected the event as invalid (not retried): ${outcome.output.slice(0, 300)}`;
      return outcome;
    },
  };
}
