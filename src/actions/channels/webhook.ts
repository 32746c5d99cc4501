// The webhook channel: POST the escalation message as JSON to a configured URL.
import type { z } from 'zod';
import type { WebhookChannel } from '../../config/schema.js';
import type { Channel, EscalationMessage } from '../types.js';
import { checkEndpoint, cleanMessage, describePost, postJson, type ChannelOptions, type SendContext } from './common.js';

export function webhookChannel(name: string, config: z.output<typeof WebhookChannel>, options: ChannelOptions = {}): Channel {
  checkEndpoint(name, config.url);
  const headers = { ...(config.headers ?? {}) };
  const secrets = options.secrets ?? [];
  return {
    name,
    kind: 'webhook',
    describe: (msg: EscalationMessage) => describePost(config.url, headers, msg, secrets),
    send: (msg: EscalationMessage, ctx: SendContext) =>
      postJson(config.url, headers, cleanMessage(msg, [...secrets, ...ctx.secrets]), ctx, secrets, options.resolver),
  };
}
