// Where the console listens and with which token: parsed and checked before anything starts, with messages for people.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { MIN_TOKEN_LENGTH } from './auth.js';

export const DEFAULT_LISTEN = '127.0.0.1:9797';

/** `host:port`, `[v6]:port` or `:port` (loopback). */
export function parseListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(t);
  if (!m) throw new Error(`--listen ${JSON.stringify(text)}: write host:port, e.g. 127.0.0.1:9797 or [::1]:9797`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen ${JSON.stringify(text)}: port ${port} is above 65535`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new Error(`--listen ${JSON.stringify(text)}: ${host} is not an IPv6 address`);
  return { host, port };
}

/** Only addresses that cannot be reached from another machine count as loopback; a name other than localhost does not. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * The token: REFLEX_SERVE_TOKEN, or the first line of a file (--token-file, e.g. a Kubernetes secret or a systemd
 * credential). Null: no token, the console is read-only. A token that is too short to be a secret is refused.
 */
export function readToken(file: string | undefined, env: NodeJS.ProcessEnv): { token: string | null; warnings: string[] } {
  const warnings: string[] = [];
  let token: string | undefined;
  let from: string;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`--token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      if ((statSync(file).mode & 0o077) !== 0) warnings.push(`--token-file ${file} can be read by other users: chmod 600 it`);
    } catch {
      // the read worked: permissions are advice only
    }
    token = text.split(/\r?\n/)[0]!.trim();
    from = `--token-file ${file}`;
    if (env.REFLEX_SERVE_TOKEN) warnings.push('both REFLEX_SERVE_TOKEN and --token-file are set: the file wins');
  } else {
    token = env.REFLEX_SERVE_TOKEN?.trim();
    from = 'REFLEX_SERVE_TOKEN';
    if (token === undefined || token === '') return { token: null, warnings };
  }
  if (!token) throw new Error(`${from}: the token is empty`);
  if (token.length < MIN_TOKEN_LENGTH)
    throw new Error(`${from}: the token has ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
  return { token, warnings };
}
