// What every HTTP channel shares: a checked endpoint, a JSON POST, redaction of what is printed.
import type { ExecutionOutcome } from '../../model.js';
import { makeRedactor, redactHeaders, redactUrl } from '../../redact.js';
import { USER_AGENT } from '../../util/version.js';
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
  /** How a refused send is tried again within the run (defaults: RETRY). */
  retry?: Partial<RetryPolicy>;
  /** Waits between attempts; tests pass one that records the wait instead of sleeping. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Retrying within the run: a 429 or a 5xx answer, or a connection that failed, is tried again after a
 * growing pause, or after the pause the receiver asked for in Retry-After; a 4xx answer other than 429
 * is final (sending the same request again cannot succeed). What still fails is reported, and the
 * message stays unsent for the next run.
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** The first pause; each next one doubles. */
  baseMs: number;
  /** A Retry-After longer than this is not waited for in the run: the next run sends again. */
  maxWaitMs: number;
}

export const RETRY: RetryPolicy = { attempts: 3, baseMs: 500, maxWaitMs: 10_000 };

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

/**
 * Cut text to at most `max` UTF-16 units, on a code point boundary (never half of a surrogate pair,
 * which receivers reject or show as garbage), ending with an ellipsis when something was cut.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return `${text.slice(0, end)}…`;
}

/** The pause a Retry-After header asks for (seconds or an HTTP date), or null when it says nothing usable. */
export function retryAfterMs(value: string | string[] | undefined, now: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Whether an outcome is worth another attempt: rate limited, a server error, or no answer at all. */
export function retryable(o: ExecutionOutcome): boolean {
  if (o.status === 'succeeded' || o.status === 'refused') return false;
  if (o.httpStatus === undefined) return o.status === 'failed' && o.error !== 'cancelled';
  return o.httpStatus === 429 || o.httpStatus >= 500;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

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

export interface PostOptions {
  resolver?: Resolver;
  retry?: Partial<RetryPolicy>;
  sleep?: ChannelOptions['sleep'];
  /** Headers computed for each attempt from the exact body sent (a signature and its timestamp). */
  sign?: (body: string) => Record<string, string>;
}

/**
 * POST JSON to a configured endpoint; redirects are not followed, link-local and metadata addresses are refused.
 * A refused attempt is retried as RetryPolicy says; the outcome says how many attempts were made.
 */
export async function postJson(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  ctx: SendContext,
  secrets: readonly string[],
  options: PostOptions = {},
): Promise<ExecutionOutcome> {
  const has = (name: string) => Object.keys(headers).some((h) => h.toLowerCase() === name);
  const base = { ...headers };
  if (!has('content-type')) base['Content-Type'] = 'application/json';
  if (!has('user-agent')) base['User-Agent'] = USER_AGENT;
  const text = JSON.stringify(body);
  const policy = { ...RETRY, ...options.retry };
  const sleep = options.sleep ?? defaultSleep;
  let outcome: ExecutionOutcome;
  let attempt = 0;
  for (;;) {
    attempt++;
    let retryAfter: string | string[] | undefined;
    outcome = await runHttp(
      { method: 'POST', url, headers: { ...base, ...options.sign?.(text) }, body: text },
      {
        timeoutMs: ctx.timeoutMs,
        followRedirects: false,
        allowPrivate: true,
        resolver: options.resolver,
        onHeaders: (h) => {
          retryAfter = h['retry-after'];
        },
      },
      ctx,
      [...secrets, ...ctx.secrets],
    );
    if (!retryable(outcome) || attempt >= policy.attempts || ctx.signal.aborted) break;
    const asked = retryAfterMs(retryAfter, Date.now());
    const wait = asked ?? policy.baseMs * 2 ** (attempt - 1);
    if (wait > policy.maxWaitMs) {
      outcome.error = `${outcome.error ?? 'failed'}; the receiver asked to wait ${Math.ceil(wait / 1000)} s (Retry-After), longer than a run waits`;
      break;
    }
    await sleep(wait, ctx.signal);
  }
  if (attempt > 1 && outcome.status !== 'succeeded') outcome.error = `${outcome.error ?? 'failed'} (after ${attempt} attempts)`;
  return outcome;
}
