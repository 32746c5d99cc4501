// Removes secrets (values of ${ENV} references, tokens, keys) from anything Reflex keeps or prints.

/** What a secret is replaced with. */
export const REDACTED = '***';

/** Shorter values would match ordinary text ("on", "1") and hide more than they protect. */
export const MIN_SECRET_LENGTH = 4;

/**
 * A function that replaces every occurrence of each secret with `***`.
 * Secrets are matched as literal strings (never as regular expressions, so a
 * secret holding `.*` or `$1` means only itself), longest first (so a secret
 * that contains another is removed whole), and secrets shorter than 4
 * characters are ignored.
 */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  const list = [...new Set(secrets)].filter((s) => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH);
  list.sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
}

/** The longest secret that a redactor built from `secrets` would remove (0 if none): how far a cut can split one. */
export function longestSecret(secrets: readonly string[]): number {
  let n = 0;
  for (const s of secrets) if (s.length >= MIN_SECRET_LENGTH && s.length > n) n = s.length;
  return n;
}

/**
 * Header names whose values are credentials wherever they appear. Beyond this
 * list, any name mentioning auth, token, secret, key, password, cookie,
 * session or signature is treated the same way.
 */
const SENSITIVE_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'apikey',
  'x-auth-token',
  'x-access-token',
  'cookie',
  'set-cookie',
  'x-vault-token',
  'x-amz-security-token',
  'private-token',
  'x-routing-key',
]);
const SENSITIVE_NAME_RE = /auth|token|secret|key|passw|cookie|session|signature|credential/i;

/** True when a header (or query parameter) of this name carries a credential. */
export function isSensitiveName(name: string): boolean {
  return SENSITIVE_HEADERS.has(name.toLowerCase()) || SENSITIVE_NAME_RE.test(name);
}

/** A copy of `headers` with the values of sensitive headers replaced by `***`. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = isSensitiveName(k) ? REDACTED : v;
  return out;
}

/**
 * A URL fit for printing: the password of `user:password@` and the values of
 * query parameters with sensitive names (token, key, signature...) become `***`.
 * Text that is not an absolute URL is returned unchanged.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  if (u.password) {
    u.password = REDACTED;
    changed = true;
  }
  if (u.search) {
    // Rebuild the query by hand: URLSearchParams would re-encode values that are not ours to touch.
    const parts = u.search
      .slice(1)
      .split('&')
      .map((p) => {
        const eq = p.indexOf('=');
        if (eq < 0) return p;
        let key = p.slice(0, eq);
        try {
          key = decodeURIComponent(key.replace(/\+/g, ' '));
        } catch {
          /* keep the raw key */
        }
        if (!isSensitiveName(key)) return p;
        changed = true;
        return `${p.slice(0, eq)}=${REDACTED}`;
      });
    if (changed) u.search = `?${parts.join('&')}`;
  }
  return changed ? u.toString() : url;
}
