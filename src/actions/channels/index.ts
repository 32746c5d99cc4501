// Escalation channels: one module per kind behind the Channel interface.
import type { ChannelConfig } from '../../config/schema.js';
import type { Channel } from '../types.js';
import type { ChannelOptions } from './common.js';
import { logChannel } from './log.js';
import { pagerDutyChannel } from './pagerduty.js';
import { slackChannel } from './slack.js';
import { webhookChannel } from './webhook.js';

export type { ChannelOptions } from './common.js';
export { slackPayload, escapeMrkdwn } from './slack.js';
export { pagerDutyEvent, pagerDutyDedupKey, PAGERDUTY_EVENTS_URL } from './pagerduty.js';

/** Build a channel from its configuration; throws (a configuration error) for a URL that is not absolute http(s). */
export function createChannel(name: string, config: ChannelConfig, options: ChannelOptions = {}): Channel {
  switch (config.kind) {
    case 'webhook':
      return webhookChannel(name, config, options);
    case 'slack':
      return slackChannel(name, config, options);
    case 'pagerduty':
      return pagerDutyChannel(name, config, options);
    case 'log':
      return logChannel(name, config, options);
  }
}
