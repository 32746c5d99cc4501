// HTTP for sources: auth and headers, a size-limited body, and network failures turned into messages for people.
import { SourceError } from './types.js';

export interface HttpAuth {
  bearer?: string | undefined;
  basic?: { username: string; password: string } | undefined;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
  /** Time to the full body, in ms. */
  latencyMs: number;
}

/** Default limit of a response body: larger answers are refused rather than filling memory. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export function requestHeaders(auth: HttpAuth | undefined, headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = { accept: 'application/json', 'user-agent': 'reflex' };
  if (auth?.bearer) out.authorization = `Bearer ${auth.bearer}`;
  else if (auth?.basic) out.authorization = `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}`;
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** The URL without credentials or query, for messages. */
export function shownUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return String(url);
  }
}

/** Join a base URL (which may carry a path prefix, e.g. behind a proxy) and an API path. */
export function apiUrl(base: string, path: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch (err) {
    throw new SourceError(`"${base}" is not a URL`, { cause: err });
  }
  u.pathname = u.pathname.replace(/\/+$/, '') + path;
  return u;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

/**
 * Send one request. Network failures become SourceErrors ("GET http://x/api: connection refused");
 * an abort (timeout) is rethrown as is so the collector can tell it apart. Any HTTP status is returned.
 */
export async function request(
  url: URL,
  init: { method?: string; headers: Record<string, string>; body?: string; signal: AbortSignal; maxBytes?: number },
): Promise<HttpResponse> {
  const method = init.method ?? 'GET';
  const where = `${method} ${shownUrl(url)}`;
  const started = performance.now();
  let res: Response;
  try {
    const reqInit: RequestInit = { method, headers: init.headers, signal: init.signal, redirect: 'follow' };
    if (init.body !== undefined) reqInit.body = init.body;
    res = await fetch(url, reqInit);
  } catch (err) {
    if (init.signal.aborted) throw init.signal.reason ?? err;
    throw new SourceError(`${where}: ${networkText(err)}`, { cause: err });
  }
  let text: string;
  try {
    text = await readLimited(res, init.maxBytes ?? DEFAULT_MAX_BYTES);
  } catch (err) {
    if (init.signal.aborted) throw init.signal.reason ?? err;
    if (err instanceof SourceError) throw new SourceError(`${where}: ${err.message}`);
    throw new SourceError(`${where}: reading the response failed: ${networkText(err)}`, { cause: err });
  }
  return { status: res.status, statusText: res.statusText, headers: res.headers, text, latencyMs: Math.round(performance.now() - started) };
}

function networkText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  if (code && NETWORK_CODES[code]) return NETWORK_CODES[code];
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

async function readLimited(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new SourceError(`the response is larger than the limit of ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new SourceError(`the response is larger than the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The first bytes of a body, on one line, for error messages. */
export function snippet(text: string, max = 200): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}...` : one;
}
