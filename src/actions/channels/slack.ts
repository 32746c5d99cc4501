// The Slack channel: an incoming-webhook message with a plain-text fallback and blocks for people.
import type { z } from 'zod';
import type { SlackChannel } from '../../config/schema.js';
import type { Channel, EscalationMessage } from '../types.js';
import { checkEndpoint, cleanMessage, cutText, describePost, postJson, type ChannelOptions, type SendContext } from './common.js';

/** Slack's limits on block text (characters). */
export const SLACK_LIMITS = { sectionText: 3000, fieldText: 2000, headerText: 150, contextText: 2000, buttonUrl: 3000 } as const;

/**
 * Escape text for Slack mrkdwn: `<`, `>` and `&` are control characters there,
 * and a target id holding `<!channel>` would otherwise notify everyone.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cut = cutText;

/**
 * Text Slack shows as written: values from targets and facts go here, so `*`, `_`, `~` or a backtick in them
 * format nothing. `&`, `<` and `>` are still escaped, as Slack asks of all message text.
 */
const plain = (text: string, max: number) => ({ type: 'plain_text', text: cut(escapeMrkdwn(text) || ' ', max), emoji: false });

function httpLink(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && url.length <= SLACK_LIMITS.buttonUrl ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The incoming-webhook payload: `text` (notifications, fallback) and `blocks` (summary, severity, rule, target,
 * runbook link). Everything that carries a value (a summary, a target id, a rule name) is plain text, which Slack
 * does not format: a value cannot bold, strike or link anything, nor mention anyone. The fallback `text` is sent
 * with `mrkdwn: false` and escaped as well.
 */
export function slackPayload(msg: EscalationMessage): { text: string; mrkdwn: false; blocks: Record<string, unknown>[] } {
  const resolved = msg.event === 'resolve';
  const label = resolved ? 'RESOLVED' : msg.severity.toUpperCase();
  const text = cut(`[${label}] ${escapeMrkdwn(msg.summary)}`, SLACK_LIMITS.sectionText);
  const field = (title: string, value: string) => plain(`${title}: ${value}`, SLACK_LIMITS.fieldText);
  const fields = [field('Severity', msg.severity)];
  if (msg.rule) fields.push(field('Rule', msg.rule));
  if (msg.target) fields.push(field('Target', msg.target));
  fields.push(field('Source', msg.source));
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: plain(resolved ? 'Reflex: resolved' : `Reflex escalation: ${msg.severity}`, SLACK_LIMITS.headerText) },
    { type: 'section', text: plain(msg.summary, SLACK_LIMITS.sectionText) },
    { type: 'section', fields },
  ];
  // What the notify stage adds to every trigger (pipeline/message.ts): the rule's description, the facts behind the
  // decision, and the command that shows more.
  const d = msg.details;
  if (!resolved && typeof d.verdict === 'string' && d.verdict) blocks.push({ type: 'section', text: plain(d.verdict, SLACK_LIMITS.sectionText) });
  if (!resolved && typeof d.description === 'string' && d.description) blocks.push({ type: 'section', text: plain(d.description, SLACK_LIMITS.sectionText) });
  const facts = Array.isArray(d.facts) ? d.facts.filter((f): f is string => typeof f === 'string') : [];
  if (!resolved && facts.length) blocks.push({ type: 'section', text: plain(`Facts:\n${facts.join('\n')}`, SLACK_LIMITS.sectionText) });
  const runbook = httpLink(msg.runbook);
  if (runbook) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Runbook' }, url: runbook }] });
  }
  const more = typeof d.more === 'string' && !resolved ? `more: ${d.more} · ` : '';
  const run = typeof d.run === 'number' ? `run ${d.run} · ` : '';
  blocks.push({ type: 'context', elements: [plain(`${run}${more}dedup key: ${msg.dedupKey}`, SLACK_LIMITS.contextText)] });
  return { text, mrkdwn: false, blocks };
}

export function slackChannel(name: string, config: z.output<typeof SlackChannel>, options: ChannelOptions = {}): Channel {
  const endpoint = checkEndpoint(name, config.url);
  const secrets = options.secrets ?? [];
  // The whole webhook URL is the credential: show only where it goes.
  const shown = `${endpoint.origin}/***`;
  return {
    name,
    kind: 'slack',
    describe: (msg) => describePost(shown, {}, slackPayload(cleanMessage(msg, secrets)), secrets),
    send: (msg, ctx: SendContext) =>
      postJson(config.url, {}, slackPayload(cleanMessage(msg, [...secrets, ...ctx.secrets])), ctx, [...secrets, config.url], options),
  };
}
