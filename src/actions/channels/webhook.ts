// The webhook channel: POST a versioned JSON payload, signed in the Standard Webhooks scheme when a secret is set.
import { createHmac, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { WebhookChannel } from '../../config/schema.js';
import type { Channel, EscalationMessage } from '../types.js';
import { checkEndpoint, cleanMessage, describePost, postJson, type ChannelOptions, type SendContext } from './common.js';

/** The payload's version: a receiver can tell this shape from a later one. Fields are only ever added within a version. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

/**
 * What a receiver gets: the message's own fields (dedupKey, event, summary, severity, rule, target, details,
 * runbook) beside `version`, `type` (`escalation.trigger` or `escalation.resolve`), `id` (the delivery id,
 * also in the webhook-id header, the same on every retry of one delivery) and `timestamp` (ISO 8601).
 */
export function webhookPayload(msg: EscalationMessage, id: string, now: number): Record<string, unknown> {
  return { version: WEBHOOK_PAYLOAD_VERSION, type: `escalation.${msg.event}`, id, timestamp: new Date(msg.at ?? now).toISOString(), ...msg };
}

/**
 * The signing key of a Standard Webhooks secret: base64, with or without the `whsec_` prefix, 24 to 64 bytes
 * (https://www.standardwebhooks.com/). Anything else is a configuration error.
 */
export function webhookKey(channel: string, secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  const key = Buffer.from(b64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length < 24 || key.length > 64) {
    throw new Error(`channel ${channel}: secret must be a Standard Webhooks secret: whsec_ followed by 24 to 64 random bytes in base64`);
  }
  return key;
}

/** The Standard Webhooks headers for one attempt: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. */
export function webhookSignatureHeaders(key: Buffer, id: string, body: string, nowSeconds: number): Record<string, string> {
  const ts = String(nowSeconds);
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

export function webhookChannel(name: string, config: z.output<typeof WebhookChannel>, options: ChannelOptions = {}): Channel {
  checkEndpoint(name, config.url);
  const headers = { ...(config.headers ?? {}) };
  const key = config.secret ? webhookKey(name, config.secret) : null;
  const secrets = [...(options.secrets ?? []), ...(config.secret ? [config.secret] : [])];
  const now = options.now ?? Date.now;
  return {
    name,
    kind: 'webhook',
    describe: (msg: EscalationMessage) => {
      const shown = key ? { ...headers, 'webhook-id': 'msg_…', 'webhook-timestamp': '…', 'webhook-signature': 'v1,…' } : headers;
      return describePost(config.url, shown, webhookPayload(msg, 'msg_…', now()), secrets);
    },
    send: (msg: EscalationMessage, ctx: SendContext) => {
      // One delivery id for all attempts of this send, so a receiver can drop a retry it already has.
      const id = `msg_${randomUUID().replace(/-/g, '')}`;
      const body = webhookPayload(cleanMessage(msg, [...secrets, ...ctx.secrets]), id, now());
      const sign = key ? (text: string) => webhookSignatureHeaders(key, id, text, Math.floor(now() / 1000)) : undefined;
      return postJson(config.url, headers, body, ctx, secrets, { ...options, sign });
    },
  };
}
