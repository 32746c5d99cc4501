// The PagerDuty channel: Events API v2 trigger and resolve, deduplicated on the escalation's dedup key.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { PagerDutyChannel } from '../../config/schema.js';
import { REDACTED } from '../../redact.js';
import type { Channel, EscalationMessage } from '../types.js';
import { checkEndpoint, cleanMessage, describePost, postJson, type ChannelOptions, type SendContext } from './common.js';

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
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
}

/** The Events API v2 body. A resolve carries only routing_key, event_action and dedup_key. */
export function pagerDutyEvent(routingKey: string, msg: EscalationMessage): PagerDutyEvent {
  const dedup_key = pagerDutyDedupKey(msg.dedupKey);
  if (msg.event === 'resolve') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  const summary = msg.summary.length <= PD_SUMMARY_MAX ? msg.summary : `${msg.summary.slice(0, PD_SUMMARY_MAX - 1)}…`;
  const group = typeof msg.details.group === 'string' && msg.details.group ? msg.details.group : undefined;
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    client: 'Reflex',
    payload: {
      summary: summary || '(no summary)',
      source: msg.source || 'reflex',
      severity: SEVERITY[msg.severity] ?? 'warning',
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
  return {
    name,
    kind: 'pagerduty',
    describe: (msg) => describePost(url, {}, pagerDutyEvent(REDACTED, cleanMessage(msg, secrets)), secrets),
    send: async (msg, ctx: SendContext) => {
      const body = pagerDutyEvent(config.routing_key, cleanMessage(msg, [...secrets, ...ctx.secrets]));
      const outcome = await postJson(url, {}, body, ctx, secrets, options.resolver);
      if (outcome.httpStatus === 429) outcome.error = 'HTTP 429: PagerDuty is rate limiting; the escalation stays open and is sent again next run';
      else if (outcome.httpStatus === 400) outcome.error = `HTTP 400: PagerDuty rejected the event as invalid`;
      return outcome;
    },
  };
}
