// The frame of every page (navigation, who is logged in, the off-switch banner) and the small pieces pages share.
import type { Child, FC } from 'hono/jsx';
import { terminalSafe } from '../../util/terminal.js';
import { formatDuration } from '../../util/duration.js';

/** What a page knows about the person looking at it. */
export interface Viewer {
  /** A token is configured: changes are possible after login. */
  writable: boolean;
  /** Logged in as this name (null: not logged in). */
  name: string | null;
  /** The CSRF token for forms of this session. */
  csrf: string | null;
  /** The request path (for the login form's return address). */
  path: string;
  automationOff: boolean;
}

/**
 * Text from targets, sources, rules and people, made visible: control characters and bidi overrides become escapes
 * (as in the terminal). HTML escaping is JSX's own: every child and attribute value is escaped when rendered.
 */
export function s(v: unknown): string {
  return terminalSafe(v === null || v === undefined ? '' : String(v));
}

export function iso(t: number | null | undefined): string {
  return t ? new Date(t).toISOString().replace('.000Z', 'Z') : '-';
}

export function ago(now: number, t: number | null | undefined): string {
  return t ? `${formatDuration(Math.max(0, now - t))} ago` : '-';
}

/** A link with query parameters, each encoded. */
export function href(path: string, q: Record<string, string | number | undefined | null> = {}): string {
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `${path}?${parts.join('&')}` : path;
}

export const whyHref = (run: number, target: string, rule?: string) => href('/why', { run, target, rule });
export const targetHref = (id: string) => href('/target', { id });

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/runs', 'Runs'],
  ['/decisions', 'Decisions'],
  ['/executions', 'Executions'],
  ['/approvals', 'Approvals'],
  ['/verifications', 'Verifications'],
  ['/guardrails', 'Switch & disables'],
  ['/rules', 'Rules'],
];

export const Layout: FC<{ title: string; viewer: Viewer; children?: Child }> = ({ title, viewer, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · Reflex`}</title>
      <link rel="stylesheet" href="/static/console.css" />
      <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
      <script src="/static/console.js" defer />
    </head>
    <body>
      <header>
        <a class="brand" href="/">
          Reflex
        </a>
        <nav>
          {NAV.map(([p, label]) => (
            <a href={p} class={(p === '/' ? viewer.path === '/' : viewer.path.startsWith(p)) ? 'current' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          {!viewer.writable ? (
            <span class="badge readonly" title="start reflex serve with REFLEX_SERVE_TOKEN or --token-file to allow changes">
              read-only: no token configured
            </span>
          ) : viewer.name ? (
            <form method="post" action="/logout" class="inline">
              <span>{s(viewer.name)}</span> <input type="hidden" name="_csrf" value={viewer.csrf ?? ''} />
              <button type="submit" class="link">
                log out
              </button>
            </form>
          ) : (
            <a href={href('/login', { next: viewer.path })}>log in to make changes</a>
          )}
        </div>
      </header>
      {viewer.automationOff ? (
        <div class="banner off" role="alert">
          Automation is switched OFF: runs act on nothing. <a href="/guardrails">Details</a>
        </div>
      ) : null}
      <main>
        <h1>{title}</h1>
        {children}
      </main>
      <footer>reflex serve · reads the store, never acts · runs stay scheduled jobs</footer>
    </body>
  </html>
);

export const Outcome: FC<{ o: string }> = ({ o }) => <span class={`outcome o-${o.replace(/[^a-z_]/g, '')}`}>{o.replace('_', '-')}</span>;

export const Pager: FC<{ base: string; q: Record<string, string | number | undefined>; page: number; more: boolean }> = ({ base, q, page, more }) => (
  <nav class="pager" aria-label="pages">
    {page > 0 ? (
      <a rel="prev" href={href(base, { ...q, page: page - 1 || undefined })}>
        ← newer
      </a>
    ) : (
      <span class="muted">← newer</span>
    )}
    <span>page {page + 1}</span>
    {more ? (
      <a rel="next" href={href(base, { ...q, page: page + 1 })}>
        older →
      </a>
    ) : (
      <span class="muted">older →</span>
    )}
  </nav>
);

/** A state-changing form: posts with the session's CSRF token; shown only to a logged-in person. */
export const ChangeForm: FC<{ viewer: Viewer; action: string; children?: Child; class?: string }> = ({ viewer, action, children, class: cls }) =>
  viewer.name && viewer.csrf ? (
    <form method="post" action={action} class={cls ?? 'change'}>
      <input type="hidden" name="_csrf" value={viewer.csrf} />
      {children}
    </form>
  ) : null;

export const NeedLogin: FC<{ viewer: Viewer; what: string }> = ({ viewer, what }) =>
  viewer.name ? null : viewer.writable ? (
    <p class="muted">
      <a href={href('/login', { next: viewer.path })}>Log in</a> to {what}.
    </p>
  ) : (
    <p class="muted">This console is read-only (no token configured): use the reflex command line to {what}.</p>
  );
