// Who may change state: one shared token (REFLEX_SERVE_TOKEN or a file), a bearer header for the API, a signed
// HttpOnly SameSite=Strict session cookie for people, and a CSRF token in every form of a session.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'reflex_session';
/** Sessions last a working day; after that, log in again. */
export const SESSION_MS = 12 * 3600_000;
export const MIN_TOKEN_LENGTH = 16;

export interface Session {
  name: string;
  expires: number;
  /** Random per login: the CSRF token is derived from it, so it differs per session. */
  nonce: string;
}

/** Equal without telling, through timing, how much of a guess was right. */
export function sameSecret(given: string, token: string): boolean {
  const a = createHmac('sha256', 'reflex-compare').update(given).digest();
  const b = createHmac('sha256', 'reflex-compare').update(token).digest();
  return timingSafeEqual(a, b);
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

export class Auth {
  /** Derived from the token, never the token itself: a leaked cookie does not reveal it. */
  private readonly key: Buffer;

  constructor(
    readonly token: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', token).update('reflex-serve-session-key').digest();
  }

  bearerOk(header: string | undefined): boolean {
    if (!header) return false;
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return !!m && sameSecret(m[1]!.trim(), this.token);
  }

  tokenOk(given: string): boolean {
    return sameSecret(given, this.token);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  /** A new session cookie value for a person who gave the token. */
  issue(name: string): { value: string; session: Session } {
    const session: Session = { name, expires: this.clock() + SESSION_MS, nonce: randomBytes(16).toString('base64url') };
    const payload = b64(JSON.stringify(session));
    return { value: `${payload}.${this.sign(payload)}`, session };
  }

  /** The session a cookie proves, or null (unsigned, tampered with, expired, or signed with another token). */
  verify(cookie: string | undefined): Session | null {
    if (!cookie) return null;
    const dot = cookie.lastIndexOf('.');
    if (dot <= 0) return null;
    const payload = cookie.slice(0, dot);
    const mac = Buffer.from(cookie.slice(dot + 1), 'base64url');
    const want = Buffer.from(this.sign(payload), 'base64url');
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return null;
    try {
      const s = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
      if (typeof s.name !== 'string' || typeof s.expires !== 'number' || typeof s.nonce !== 'string') return null;
      return s.expires > this.clock() ? s : null;
    } catch {
      return null;
    }
  }

  csrfOf(s: Session): string {
    return this.sign(`csrf:${s.nonce}`);
  }

  csrfOk(s: Session, given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.csrfOf(s));
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/** A person's name as given at login: printable, short; it goes into the audit log. */
export function cleanName(raw: string): string | null {
  const n = raw.trim();
  if (!n || n.length > 64) return null;
  // Letters, digits and a few separators: an audit name cannot carry markup or control characters.
  return /^[\p{L}\p{N}._@+ -]+$/u.test(n) ? n : null;
}
