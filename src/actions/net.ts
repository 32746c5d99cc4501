// Outbound HTTP for actions and channels: addresses checked at connect time, timeouts, no redirects unless asked, bounded bodies.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isSensitiveName } from '../redact.js';

/** Where an address points, as far as the refusal policy cares. */
export type AddressClass = 'metadata' | 'link-local' | 'loopback' | 'private' | 'unspecified' | 'public';

/** Cloud metadata endpoints: instance credentials live there, so no action or channel may reach them. */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', '192.0.0.192']);
const METADATA_V6 = new Set(['fd00:ec2:0:0:0:0:0:254']);
export const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null if it is not one. */
function v6Groups(ip: string): number[] | null {
  let text = ip.replace(/^\[|\]$/g, '');
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (isIP(text) !== 6) return null;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // ::ffff:1.2.3.4 -> ::ffff:102:304
    const b = v4Bytes(last);
    text = `${text.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  let groups: number[];
  if (text.includes('::')) {
    const [head, rest] = text.split('::') as [string, string];
    const h = parse(head);
    const r = parse(rest);
    groups = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  } else groups = parse(text);
  return groups.length === 8 ? groups : null;
}

function classifyV4(ip: string): AddressClass {
  if (METADATA_V4.has(ip)) return 'metadata';
  const [a, b] = v4Bytes(ip) as [number, number];
  if (a === 169 && b === 254) return 'link-local';
  if (a === 127) return 'loopback';
  if (a === 0) return 'unspecified';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  return 'public';
}

/** Classify an IPv4 or IPv6 address (IPv4-mapped, -compatible and NAT64 IPv6 addresses are judged by the IPv4 inside). */
export function classifyAddress(address: string): AddressClass {
  if (isIP(address) === 4) return classifyV4(address);
  const g = v6Groups(address);
  if (!g) throw new Error(`not an IP address: ${address}`);
  const embedded = `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(5) && g[5] === 0xffff) return classifyV4(embedded); // ::ffff:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return classifyV4(embedded); // NAT64
  if (zeros(8)) return 'unspecified';
  if (zeros(7) && g[7] === 1) return 'loopback';
  if (zeros(6) && (g[6] !== 0 || g[7]! > 1)) return classifyV4(embedded); // ::a.b.c.d (deprecated)
  if (METADATA_V6.has(g.map((x) => x.toString(16)).join(':'))) return 'metadata';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xfe00) === 0xfc00 || (g[0]! & 0xffc0) === 0xfec0) return 'private';
  return 'public';
}

/**
 * Why a connection to this address is refused, or null if it is allowed.
 * Link-local and metadata addresses are always refused; loopback, private and
 * unspecified ones only when `allowPrivate` is false.
 */
export function refuseAddress(address: string, allowPrivate: boolean): string | null {
  const cls = classifyAddress(address);
  if (cls === 'metadata') return `${address} is a cloud metadata address`;
  if (cls === 'link-local') return `${address} is a link-local address`;
  if (!allowPrivate && cls !== 'public') return `${address} is a ${cls} address and allow_private is false`;
  return null;
}

/** A connection Reflex would not make: nothing was sent. */
export class AddressRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressRefusedError';
  }
}

/** The request did not finish within its timeout. */
export class HttpTimeoutError extends Error {
  constructor(ms: number) {
    super(`no complete response within ${ms} ms`);
    this.name = 'HttpTimeoutError';
  }
}

/** The same signature as dns.lookup with `all: true`: injectable so tests can resolve names to chosen addresses. */
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

function normalizeHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Refuse a host by name or, for an IP literal, by address; names are checked again when they resolve. */
export function checkHost(hostname: string, allowPrivate: boolean): void {
  const host = normalizeHost(hostname);
  if (METADATA_HOSTS.has(host)) throw new AddressRefusedError(`${host} is a cloud metadata host`);
  if (isIP(host)) {
    const why = refuseAddress(host, allowPrivate);
    if (why) throw new AddressRefusedError(why);
  }
}

/**
 * A `lookup` for http.request that resolves every address of the name and
 * refuses the connection if any one of them is refused. The socket then
 * connects to an address that was checked, so a name that resolves to
 * something else a moment later (DNS rebinding) cannot slip through.
 */
export function guardedLookup(allowPrivate: boolean, resolver: Resolver = systemResolver): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolver(hostname, (err, addresses) => {
      if (err) return callback(err);
      if (!addresses.length) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }));
      for (const a of addresses) {
        const why = refuseAddress(a.address, allowPrivate);
        if (why) return callback(new AddressRefusedError(`${hostname} resolves to ${why}`));
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as LookupFunction;
}

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpSendOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  followRedirects: boolean;
  allowPrivate: boolean;
  /** Bytes of the response body kept; the rest is not read. */
  maxBody: number;
  resolver?: Resolver;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most maxBody bytes of the body. */
  body: Buffer;
  /** The body was longer than maxBody (the rest was not read). */
  truncated: boolean;
  /** The URL of the final request (after followed redirects). */
  url: string;
}

const MAX_REDIRECTS = 5;

/**
 * Send one request with Node's http/https (not fetch, so the address check
 * can sit in the connection's own lookup). A 3xx is returned as it is unless
 * followRedirects; followed redirects are checked like the first request, and
 * credentials are dropped when a redirect leaves the origin.
 */
export async function sendHttp(spec: HttpRequestSpec, opts: HttpSendOptions): Promise<HttpResult> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let current = { ...spec, headers: { ...spec.headers } };
  for (let hop = 0; ; hop++) {
    let res: HttpResult;
    try {
      res = await sendOnce(current, opts, signal);
    } catch (err) {
      if (timeout.aborted) throw new HttpTimeoutError(opts.timeoutMs);
      throw err;
    }
    const location = res.headers.location;
    if (!opts.followRedirects || res.status < 300 || res.status > 399 || !location) return res;
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current.url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new AddressRefusedError(`redirect to ${next.protocol} refused`);
    const headers = { ...current.headers };
    if (next.origin !== new URL(current.url).origin) {
      for (const k of Object.keys(headers)) if (isSensitiveName(k)) delete headers[k];
    }
    let method = current.method;
    let body = current.body;
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      for (const k of Object.keys(headers)) if (/^content-(type|length)$/i.test(k)) delete headers[k];
    }
    current = { method, url: next.toString(), headers, body };
  }
}

function sendOnce(spec: HttpRequestSpec, opts: HttpSendOptions, signal: AbortSignal): Promise<HttpResult> {
  const url = new URL(spec.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new AddressRefusedError(`scheme ${url.protocol} refused`));
  try {
    checkHost(url.hostname, opts.allowPrivate);
  } catch (err) {
    return Promise.reject(err);
  }
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
    headers['Content-Length'] = String(Buffer.byteLength(spec.body));
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpResult>((resolve, reject) => {
    const req = request(
      url,
      {
        method: spec.method,
        headers,
        signal,
        // Every address the socket may try (one, or all with happy eyeballs) comes from this lookup, checked.
        lookup: guardedLookup(opts.allowPrivate, opts.resolver),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let truncated = false;
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated, url: url.toString() });
        res.on('data', (chunk: Buffer) => {
          const room = opts.maxBody - kept;
          if (chunk.length > room) {
            if (room > 0) chunks.push(chunk.subarray(0, room));
            kept = opts.maxBody;
            truncated = true;
            // We have the status and what we keep: do not spend the timeout reading the rest.
            res.destroy();
            done();
            return;
          }
          chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('end', done);
        res.on('error', (err) => (truncated ? undefined : reject(err)));
        // A connection cut mid-body: after 'end' or a resolve this is a no-op.
        res.on('close', () => reject(new Error('the connection closed before the response was complete')));
      },
    );
    req.on('error', reject);
    if (spec.body !== undefined) req.end(spec.body);
    else req.end();
  });
}
