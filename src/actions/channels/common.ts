// What every HTTP channel shares: a checked endpoint, a JSON POST, redaction of what is printed.
import type { ExecutionOutcome } from '../../model.js';
import { makeRedactor, redactHeaders, redactUrl } from '../../redact.js';
import { runHttp } from '../http.js';
import type { Resolver } from '../net.js';
import { displayJson } from '../output.js';
import type { EscalationMessage, ExecuteContext } from '../types.js';

export interface ChannelOptions {
  /** Values to remove from what is printed and kept (the project's secrets). */
  secrets?: readonly string[];
  /** The clock, for the log channel's timestamps. */
  now?: () => number;
  /** Where the log channel writes when it has no path (default: standard error). */
  stderr?: (line: string) => void;
  /** For tests: resolve host names to chosen addresses. */
  resolver?: Resolver;
}

export type SendContext = ExecuteContext & { timeoutMs: number };

/** A channel's endpoint must be an absolute http(s) URL; a mistake here is a configuration error, found at start-up. */
export function checkEndpoint(channel: string, url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`channel ${channel}: url is not a valid absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`channel ${channel}: url must be http or https`);
  return u;
}

/** Redact every string in a JSON value (before it is stringified, so escaping cannot hide a secret). */
export function redactValue<T>(value: T, redact: (s: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, redact)])) as T;
  }
  return value;
}

/** The message with the project's secrets removed from every string it carries. */
export function cleanMessage(msg: EscalationMessage, secrets: readonly string[]): EscalationMessage {
  return redactValue(msg, makeRedactor(secrets));
}

/** How a POST looks in a dry run. */
export function describePost(url: string, headers: Record<string, string>, body: unknown, secrets: readonly string[]): string {
  const redact = makeRedactor(secrets);
  const lines = [`POST ${redact(redactUrl(url))}`];
  for (const [k, v] of Object.entries(redactHeaders(headers))) lines.push(`  ${k}: ${redact(v)}`);
  lines.push(`  ${displayJson(redactValue(body, redact))}`);
  return lines.join('\n');
}

/** POST JSON to a configured endpoint; redirects are not followed, link-local and metadata addresses are refused. */
export function postJson(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  ctx: SendContext,
  secrets: readonly string[],
  resolver?: Resolver,
): Promise<ExecutionOutcome> {
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  return runHttp(
    {
      method: 'POST',
      url,
      headers: hasType ? headers : { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    },
    { timeoutMs: ctx.timeoutMs, followRedirects: false, allowPrivate: true, resolver },
    ctx,
    [...secrets, ...ctx.secrets],
  );
}
