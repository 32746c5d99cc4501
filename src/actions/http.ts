// The http action: the host comes from configuration; templated values are encoded for their place in the request.
import type { z } from 'zod';
import type { HttpAction } from '../config/schema.js';
import type { ExecutionOutcome } from '../model.js';
import { makeRedactor, redactHeaders, redactUrl } from '../redact.js';
import { AddressRefusedError, HttpTimeoutError, sendHttp, type Resolver } from './net.js';
import { DEFAULT_MAX_OUTPUT, displayJson, OutputCollector, quote } from './output.js';
import { hasPlaceholder, renderTemplate } from './template.js';
import { PlanError, type ActionPlan, type ExecuteContext, type TemplateScope } from './types.js';

export type HttpActionConfig = z.output<typeof HttpAction>;

/** Bytes of a response body kept in the execution record. */
export const MAX_RESPONSE_BODY = DEFAULT_MAX_OUTPUT;

/** The parts of a URL template: the origin (scheme, userinfo, host, port) is fixed by configuration. */
export interface UrlTemplateParts {
  origin: string;
  path: string;
  query: string;
  fragment: string;
}

/** Split a URL template without parsing it as a URL (placeholders are not valid URL text yet). */
export function splitUrlTemplate(url: string): UrlTemplateParts {
  const scheme = url.indexOf('://');
  if (scheme < 0) throw new PlanError(`url ${quote(url)} must be absolute: http://host/path or https://host/path`);
  let end = url.length;
  for (const c of ['/', '?', '#']) {
    const i = url.indexOf(c, scheme + 3);
    if (i >= 0 && i < end) end = i;
  }
  const origin = url.slice(0, end);
  let rest = url.slice(end);
  const hash = rest.indexOf('#');
  const fragment = hash >= 0 ? rest.slice(hash) : '';
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  return { origin, path: q >= 0 ? rest.slice(0, q) : rest, query: q >= 0 ? rest.slice(q) : '', fragment };
}

/** Checks that need no target: the origin is literal, the scheme is http(s). Throws PlanError. */
export function checkUrlTemplate(url: string): UrlTemplateParts {
  const parts = splitUrlTemplate(url);
  if (hasPlaceholder(parts.origin)) {
    throw new PlanError(`url ${quote(url)}: placeholders may not appear in the scheme, host or port; the host comes from configuration, never from facts`);
  }
  let origin: URL;
  try {
    origin = new URL(parts.origin);
  } catch {
    throw new PlanError(`url ${quote(url)} is not a valid URL`);
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') throw new PlanError(`url ${quote(url)}: only http and https are allowed`);
  return parts;
}

function encodeValue(value: string, source: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new PlanError(`${source} is not valid Unicode (a lone surrogate) and cannot be placed in a URL`);
  }
}

/** Dot segments, as the URL standard spells them: a request for `/a/{{x}}/b` with x = `..` would reach `/b`. */
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/** Render the URL: values are percent-encoded whole, so `/`, `?`, `#` and `&` in a value cannot change the path or query. */
export function renderUrl(name: string, url: string, scope: TemplateScope): string {
  const parts = checkUrlTemplate(url);
  const path = parts.path
    .split('/')
    .map((segment) => {
      const rendered = renderTemplate(segment, scope, (v, ref) => encodeValue(v, `{{ ${ref} }}`));
      if (hasPlaceholder(segment) && DOT_SEGMENT.test(rendered)) {
        throw new PlanError(`action ${name}: path segment ${quote(segment)} renders to "${rendered}", which would climb the path`);
      }
      return rendered;
    })
    .join('/');
  const query = renderTemplate(parts.query, scope, (v, ref) => encodeValue(v, `{{ ${ref} }}`));
  const fragment = renderTemplate(parts.fragment, scope, (v, ref) => encodeValue(v, `{{ ${ref} }}`));
  const full = parts.origin + path + query + fragment;
  try {
    new URL(full);
  } catch {
    throw new PlanError(`action ${name}: the rendered url is not valid`);
  }
  return full;
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A header value must arrive as written: no control characters (CR and LF
 * would start a new header), no characters outside printable ASCII (their
 * bytes on the wire are ambiguous), and no leading or trailing whitespace
 * (servers strip it).
 */
function checkHeaderValue(header: string, value: string, what: string): void {
  if (/[\x00-\x1f\x7f]/.test(value)) throw new PlanError(`header ${header}: ${what} contains a control character (CR, LF, NUL, tab...): refused`);
  if (/[^\x20-\x7e]/.test(value)) throw new PlanError(`header ${header}: ${what} contains characters outside printable ASCII: refused`);
  if (/^\s|\s$/.test(value)) throw new PlanError(`header ${header}: ${what} begins or ends with a space: refused`);
}

/** Headers Reflex sets itself: a wrong length or encoding would let one request be read as two. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer']);

/**
 * Configuration problems in header names, found without a target: invalid
 * names, framing headers, and a placeholder in Host (which would let a fact
 * choose the virtual host, when the host must come from configuration).
 */
export function checkHeaderNames(headers: Readonly<Record<string, string>> | undefined): string[] {
  const problems: string[] = [];
  for (const [header, template] of Object.entries(headers ?? {})) {
    const lower = header.toLowerCase();
    if (!TOKEN_RE.test(header)) problems.push(`${quote(header)} is not a valid header name`);
    else if (FRAMING_HEADERS.has(lower)) problems.push(`header ${header} is set by Reflex and may not be configured`);
    else if (lower === 'host' && hasPlaceholder(template))
      problems.push('header Host may not hold placeholders: the host comes from configuration, never from facts');
  }
  return problems;
}

export function renderHeaders(name: string, headers: Readonly<Record<string, string>> | undefined, scope: TemplateScope): Record<string, string> {
  const problems = checkHeaderNames(headers);
  if (problems.length) throw new PlanError(`action ${name}: ${problems[0]}`);
  const out: Record<string, string> = {};
  for (const [header, template] of Object.entries(headers ?? {})) {
    const value = renderTemplate(template, scope, (v, ref) => {
      checkHeaderValue(header, v, `the value of {{ ${ref} }}`);
      return v;
    });
    checkHeaderValue(header, value, 'the value');
    out[header] = value;
  }
  return out;
}

/**
 * Render a JSON body: every string value is a template, and what it renders
 * to stays one JSON string (values are never spliced into JSON text). Keys
 * are literal.
 */
export function renderBody(name: string, body: unknown, scope: TemplateScope, path = 'body'): unknown {
  if (typeof body === 'string') return renderTemplate(body, scope);
  if (body === null || typeof body === 'number' || typeof body === 'boolean') return body;
  if (Array.isArray(body)) return body.map((v, i) => renderBody(name, v, scope, `${path}[${i}]`));
  if (typeof body === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (hasPlaceholder(k)) throw new PlanError(`action ${name}: ${path} key ${quote(k)}: placeholders may appear in values, not keys`);
      out[k] = renderBody(name, v, scope, `${path}.${k}`);
    }
    return out;
  }
  throw new PlanError(`action ${name}: ${path} holds a ${typeof body}, which JSON cannot carry`);
}

function redactJson(value: unknown, redact: (s: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactJson(v, redact));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactJson(v, redact)]));
  }
  return value;
}

export interface HttpPlanOptions {
  /** For tests: resolve host names to chosen addresses. */
  resolver?: Resolver;
}

/** Plan an http action: render and check the request now; resolve, check the address and send it later. */
export function planHttp(
  name: string,
  config: HttpActionConfig,
  scope: TemplateScope,
  timeoutMs: number,
  secrets: readonly string[],
  options: HttpPlanOptions = {},
): ActionPlan {
  const method = config.method ?? 'POST';
  const url = renderUrl(name, config.url, scope);
  const headers = renderHeaders(name, config.headers, scope);
  let body: string | undefined;
  let bodyValue: unknown;
  if (config.body !== undefined) {
    if (method === 'GET') throw new PlanError(`action ${name}: a GET request cannot have a body`);
    bodyValue = renderBody(name, config.body, scope);
    body = JSON.stringify(bodyValue);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  }
  const followRedirects = config.follow_redirects ?? false;
  const allowPrivate = config.allow_private ?? true;

  const redact = makeRedactor(secrets);
  const shownUrl = redact(redactUrl(url));
  const shownHeaders = Object.fromEntries(Object.entries(redactHeaders(headers)).map(([k, v]) => [k, redact(v)]));
  const shownBody = bodyValue === undefined ? undefined : redactJson(bodyValue, redact);
  const lines = [`http ${method} ${shownUrl}`];
  for (const [k, v] of Object.entries(shownHeaders)) lines.push(`  ${k}: ${v}`);
  if (shownBody !== undefined) lines.push(`  ${displayJson(shownBody)}`);

  const plan: ActionPlan = {
    kind: 'http',
    describe: lines.join('\n'),
    detail: { method, url: shownUrl, headers: shownHeaders, body: shownBody, followRedirects, allowPrivate, timeoutMs },
    timeoutMs,
    // plan.timeoutMs is read at run time: the engine may set a step's own timeout on the plan.
    run: (ctx: ExecuteContext) =>
      runHttp({ method, url, headers, body }, { timeoutMs: plan.timeoutMs, followRedirects, allowPrivate, resolver: options.resolver }, ctx, [
        ...secrets,
        ...ctx.secrets,
      ]),
  };
  return plan;
}

/** Send a request and turn what happened into an execution outcome: 2xx succeeded; a 3xx not followed, 4xx and 5xx failed. */
export async function runHttp(
  request: { method: string; url: string; headers: Record<string, string>; body?: string },
  opts: {
    timeoutMs: number;
    followRedirects: boolean;
    allowPrivate: boolean;
    resolver?: Resolver;
    maxBody?: number;
    /** Sees the response headers (channels read Retry-After). */
    onHeaders?: (headers: Record<string, string | string[] | undefined>) => void;
  },
  ctx: Pick<ExecuteContext, 'signal'>,
  secrets: readonly string[],
): Promise<ExecutionOutcome> {
  const redact = makeRedactor(secrets);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const maxBody = opts.maxBody ?? MAX_RESPONSE_BODY;
  try {
    const res = await sendHttp(request, {
      timeoutMs: opts.timeoutMs,
      signal: ctx.signal,
      followRedirects: opts.followRedirects,
      allowPrivate: opts.allowPrivate,
      maxBody,
      resolver: opts.resolver,
    });
    opts.onHeaders?.(res.headers);
    const collector = new OutputCollector(maxBody, secrets);
    collector.push(res.body);
    let output = collector.text(redact);
    if (res.truncated) output += `\n[reflex: response body truncated at ${maxBody} bytes]`;
    const base = { httpStatus: res.status, durationMs: elapsed(), output };
    if (res.status >= 200 && res.status <= 299) return { status: 'succeeded', ...base };
    if (res.status >= 300 && res.status <= 399) {
      const where = res.headers.location ? ` to ${redact(redactUrl(String(res.headers.location)))}` : '';
      return { status: 'failed', ...base, error: `HTTP ${res.status}: redirect${where} not followed (follow_redirects is false)` };
    }
    return { status: 'failed', ...base, error: `HTTP ${res.status}` };
  } catch (err) {
    const durationMs = elapsed();
    if (err instanceof AddressRefusedError) return { status: 'refused', durationMs, output: '', error: redact(`refused: ${err.message}; nothing was sent`) };
    if (err instanceof HttpTimeoutError) return { status: 'timed_out', durationMs, output: '', error: `timed out: ${err.message}` };
    const e = err as NodeJS.ErrnoException;
    if (ctx.signal.aborted) return { status: 'failed', durationMs, output: '', error: 'cancelled' };
    return { status: 'failed', durationMs, output: '', error: redact(`request failed: ${e.code ? `${e.code} ` : ''}${e.message}`) };
  }
}

/**
 * The http kind's own checks for `reflex check` (no target needed): the URL template, header names,
 * placeholders only in values of the body, and no body on a GET.
 */
export function checkHttp(name: string, config: HttpActionConfig): string[] {
  const problems: string[] = [];
  try {
    checkUrlTemplate(config.url);
  } catch (err) {
    problems.push(`action ${name}: ${(err as Error).message}`);
  }
  for (const p of checkHeaderNames(config.headers)) problems.push(`action ${name}: ${p}`);
  const keys = (v: unknown, where: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => keys(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (hasPlaceholder(k)) problems.push(`action ${name}, ${where}: placeholders may appear in values, not keys (${k})`);
        keys(x, `${where}.${k}`);
      }
    }
  };
  if (config.body !== undefined) {
    keys(config.body, 'body');
    if ((config.method ?? 'POST') === 'GET') problems.push(`action ${name}: a GET request cannot have a body`);
  }
  return problems;
}

/** Every template of an http action (URL, header values, strings in the body), with where it is. */
export function httpTemplates(config: HttpActionConfig): [string, string][] {
  const out: [string, string][] = [['url', config.url]];
  for (const [h, v] of Object.entries(config.headers ?? {})) out.push([`header ${h}`, v]);
  const walk = (v: unknown, where: string): void => {
    if (typeof v === 'string') out.push([where, v]);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  if (config.body !== undefined) walk(config.body, 'body');
  return out;
}
