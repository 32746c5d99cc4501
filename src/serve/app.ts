// The console's HTTP application (hono): security headers, authentication, the pages and the JSON API. It reads the
// store through the read model and changes state only through changes.ts; it can be called in-process by tests.
import { EXPOSITION_CONTENT_TYPE, renderStoreMetrics } from '../metrics/index.js';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { DecisionOutcome } from '../model.js';
import { ASSETS } from './assets.js';
import { Auth, cleanName, SESSION_COOKIE, SESSION_MS, type Session } from './auth.js';
import { addDisable, answerApproval, clearVerification, liftDisable, switchAutomation, type Actor } from './changes.js';
import { BadRequest, Conflict, NotFound, OUTCOMES, ReadModel, type DecisionFilter, type ServeDeps } from './data.js';
import type { Viewer } from './pages/layout.js';
import * as V from './pages/views.js';
import * as S from './schemas.js';
import { DecisionWorker } from './worker.js';

export interface AppOptions {
  /** The shared token; null: the console is read-only. */
  token: string | null;
  /** The client address of a request (the socket's peer); tests in-process have none. */
  clientOf?: (c: Context) => string;
  /** Read the latest run's snapshot and decisions at once, so the first person to look does not wait for them. */
  warm?: boolean;
  /**
   * Look for a new finished run every this many milliseconds and read it ahead as warm does (0 or absent: never). The
   * watch stops when `signal` aborts; its timer never keeps the process alive.
   */
  watchMs?: number;
  signal?: AbortSignal;
  /**
   * The CLI's entry module (src/cli/entry.ts), to start the worker thread that computes runs' listings off the thread
   * answering requests (src/serve/worker.ts); absent: they are computed on it. The worker stops when `signal` aborts.
   */
  workerEntry?: string | URL;
  /** Tests: the worker computes nothing until its open() (a gate), so requests meanwhile can be observed. */
  workerGated?: boolean;
  /** Extra routes mounted by the caller (e.g. /metrics), given the read model. */
  extra?: (app: OpenAPIHono<Env>, model: ReadModel) => void;
  log?: (line: string) => void;
}

type Env = { Variables: { session: Session | null; bearer: boolean } };

/** Content-Security-Policy and friends: nothing but this origin, no framing, no MIME sniffing. */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: with it, browsers send `Origin: null` on form posts, which the same-origin check must refuse.
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function createApp(deps: ServeDeps, opts: AppOptions): OpenAPIHono<Env> {
  const model = new ReadModel(deps);
  const log = opts.log ?? (() => {});
  if (opts.warm) void model.warm().catch((err: Error) => log(`reflex serve: reading the latest run ahead failed: ${err.message}`));
  if (opts.workerEntry && !opts.signal?.aborted) {
    try {
      const w = new DecisionWorker(opts.workerEntry, deps.loaded.project.configPath, {
        gated: opts.workerGated,
        onDead: (err) => log(`reflex serve: the worker thread failed (${err.message}): runs' listings are computed on the main thread from now on`),
      });
      model.worker = w;
      opts.signal?.addEventListener('abort', () => void w.close(), { once: true });
    } catch (err) {
      log(`reflex serve: no worker thread (${(err as Error).message}): runs' listings are computed on the main thread`);
    }
  }
  if (opts.watchMs && !opts.signal?.aborted) {
    const stop = model.watch(opts.watchMs, log);
    opts.signal?.addEventListener('abort', stop, { once: true });
  }
  const auth = opts.token ? new Auth(opts.token, deps.clock) : null;
  const clientOf = opts.clientOf ?? (() => 'in-process');
  const app = new OpenAPIHono<Env>({ defaultHook: badRequest });

  const headers: MiddlewareHandler<Env> = async function securityHeaders(c, next) {
    const start = performance.now();
    await next();
    // The server's own time for this answer (what docs/performance.md reports), for browsers' dev tools and the bench.
    c.res.headers.set('Server-Timing', `app;dur=${(performance.now() - start).toFixed(1)}`);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };

  /** Who is asking: a session cookie (people) or a bearer token (the API). */
  const identify: MiddlewareHandler<Env> = async function identify(c, next) {
    c.set('session', auth ? auth.verify(getCookie(c, SESSION_COOKIE)) : null);
    c.set('bearer', auth ? auth.bearerOk(c.req.header('authorization')) : false);
    await next();
  };

  /**
   * A state change must come from this origin: a cross-site form or fetch is refused before anything else (the
   * session cookie is SameSite=Strict too, and forms carry a CSRF token).
   */
  const sameOrigin: MiddlewareHandler<Env> = async function sameOrigin(c, next) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      const host = c.req.header('host');
      let foreign = site === 'cross-site' || site === 'same-site';
      if (origin !== undefined && host !== undefined) {
        try {
          foreign ||= origin === 'null' || new URL(origin).host !== host;
        } catch {
          foreign = true;
        }
      }
      if (foreign) return refuse(c, 403, 'refused: a change must come from this console, not from another site');
    }
    await next();
  };

  app.use('*', headers, identify, sameOrigin);

  const viewerOf = async (c: Context<Env>, automationOff?: boolean): Promise<Viewer> => {
    const session = c.get('session');
    let off = automationOff;
    if (off === undefined) {
      try {
        const sw = await deps.store.getSwitch();
        const now = model.clock();
        off = sw.off && (sw.until === null || sw.until > now);
      } catch {
        off = false;
      }
    }
    return {
      writable: !!auth,
      name: session?.name ?? null,
      csrf: session && auth ? auth.csrfOf(session) : null,
      path: c.req.path,
      automationOff: off,
    };
  };

  const page = async (c: Context<Env>, el: JSX.Element, status = 200) => {
    const html = `<!doctype html>${await el.toString()}`;
    return c.html(html, status as 200);
  };

  async function refuse(c: Context<Env>, status: 400 | 401 | 403 | 404 | 409 | 500 | 503, message: string) {
    if (c.req.path.startsWith('/api/') || c.req.path === '/healthz') return c.json({ error: message }, status);
    return page(c, V.ErrorPage({ viewer: await viewerOf(c, false), status, message }) as JSX.Element, status);
  }

  app.onError(async (err, c) => {
    if (err instanceof Refusal) return refuse(c as Context<Env>, err.status, err.message);
    if (err instanceof NotFound) return refuse(c as Context<Env>, 404, err.message);
    if (err instanceof BadRequest) return refuse(c as Context<Env>, 400, err.message);
    if (err instanceof Conflict) return refuse(c as Context<Env>, 409, err.message);
    if (err instanceof Error && err.name === 'StoreError') {
      log(`reflex serve: ${c.req.method} ${c.req.path}: ${err.message}`);
      return refuse(c as Context<Env>, 503, `the store cannot be read: ${err.message}`);
    }
    log(`reflex serve: internal error on ${c.req.method} ${c.req.path}: ${(err as Error)?.stack ?? String(err)}`);
    return refuse(c as Context<Env>, 500, 'internal error in reflex serve (logged on the server); this is a bug, please report it');
  });
  app.notFound((c) => refuse(c as Context<Env>, 404, `no page ${c.req.path}`));

  // ---------------------------------------------------------------- query parsing (pages)

  const intParam = (v: string | undefined, name: string, min: number): number | undefined => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new BadRequest(`${name} must be a whole number${min > 0 ? ' above 0' : ''}, not "${v}"`);
    return n;
  };
  const pageOf = (c: Context) => Math.min(intParam(c.req.query('page'), 'page', 0) ?? 0, 100_000);
  const textParam = (v: string | undefined, name: string): string | undefined => {
    const t = v?.trim();
    if (!t) return undefined;
    if (t.length > 500) throw new BadRequest(`${name} is too long (${t.length} characters; at most 500)`);
    return t;
  };
  const decisionFilter = (q: (k: string) => string | undefined): DecisionFilter => {
    const outcome = textParam(q('outcome'), 'outcome');
    if (outcome && !OUTCOMES.includes(outcome as DecisionOutcome)) throw new BadRequest(`unknown outcome "${outcome}" (outcomes: ${OUTCOMES.join(', ')})`);
    const label = textParam(q('label'), 'label');
    if (label && label.indexOf('=') <= 0) throw new BadRequest(`label filter "${label}": write it as key=value`);
    return {
      run: intParam(q('run'), 'run', 1),
      rule: textParam(q('rule'), 'rule'),
      outcome: outcome as DecisionOutcome | undefined,
      target: textParam(q('target'), 'target'),
      label,
      page: Math.min(intParam(q('page'), 'page', 0) ?? 0, 100_000),
    };
  };
  const ruleNames = () => model.loaded.ruleSet.rules.map((r) => r.name);

  // ---------------------------------------------------------------- static files and health

  app.get('/static/:name', (c) => {
    const a = ASSETS.get(c.req.param('name'));
    if (!a) return refuse(c, 404, 'no such file');
    return c.body(a.body, 200, { 'Content-Type': a.type, 'Cache-Control': 'public, max-age=3600' });
  });

  // Reflex's own series (docs/observability.md), rendered from the store as every run's textfile is.
  app.get('/metrics', async (c) => c.body(await renderStoreMetrics(deps.store, { now: model.clock() }), 200, { 'content-type': EXPOSITION_CONTENT_TYPE }));

  app.get('/healthz', async (c) => {
    const runs = await deps.store.listRuns({ limit: 1 });
    const r = runs[0];
    return c.json({
      status: 'ok',
      store: deps.store.kind,
      lastRun: r ? { id: r.id, status: r.status, startedAt: r.startedAt, ageMs: Math.max(0, model.clock() - r.startedAt) } : null,
    });
  });

  // ---------------------------------------------------------------- pages

  app.get('/', async (c) => {
    const o = await model.overview();
    return page(c, V.OverviewPage({ o, viewer: await viewerOf(c, o.automation === 'off') }) as JSX.Element);
  });
  app.get('/runs', async (c) => page(c, V.RunsPage({ r: await model.runs(pageOf(c)), viewer: await viewerOf(c) }) as JSX.Element));
  app.get('/runs/:id', async (c) => {
    const id = intParam(c.req.param('id'), 'run', 1)!;
    return page(c, V.RunPage({ d: await model.runDetail(id), viewer: await viewerOf(c) }) as JSX.Element);
  });
  app.get('/decisions', async (c) => {
    const f = decisionFilter((k) => c.req.query(k));
    return page(c, V.DecisionsPage({ r: await model.decisionsPage(f), f, rules: ruleNames(), viewer: await viewerOf(c) }) as JSX.Element);
  });
  app.get('/why', async (c) => {
    const target = textParam(c.req.query('target'), 'target');
    if (!target) throw new BadRequest('which target? /why?target=ID[&run=N][&rule=R]');
    const rule = textParam(c.req.query('rule'), 'rule');
    const w = await model.why(intParam(c.req.query('run'), 'run', 1), target, rule);
    return page(c, V.WhyPage({ w, rule, viewer: await viewerOf(c) }) as JSX.Element);
  });
  app.get('/target', async (c) => {
    const id = textParam(c.req.query('id'), 'id');
    if (!id) throw new BadRequest('which target? /target?id=ID');
    const p = pageOf(c);
    return page(c, V.TargetPage({ r: await model.target(id, p), page: p, viewer: await viewerOf(c) }) as JSX.Element);
  });
  app.get('/executions', async (c) => {
    const f = {
      status: textParam(c.req.query('status'), 'status'),
      rule: textParam(c.req.query('rule'), 'rule'),
      target: textParam(c.req.query('target'), 'target'),
    };
    const r = await model.executions({ ...f, page: pageOf(c) });
    return page(c, V.ExecutionsPage({ r, f, rules: ruleNames(), viewer: await viewerOf(c) }) as JSX.Element);
  });
  app.get('/guardrails', async (c) => {
    const g = await model.guardrails();
    const actions = Object.keys(model.loaded.project.config.actions);
    return page(c, V.GuardrailsPage({ g, viewer: await viewerOf(c, g.automation === 'off'), rules: ruleNames(), actions }) as JSX.Element);
  });
  app.get('/rules', async (c) => page(c, V.RulesPage({ rules: model.rules(), hasTests: model.coverage !== null, viewer: await viewerOf(c) }) as JSX.Element));
  const approvalsPage = async (c: Context<Env>, notice?: { status: 200 | 400 | 404 | 409; text: string }) =>
    page(
      c,
      V.ApprovalsPage({
        a: await model.approvals(),
        viewer: await viewerOf(c),
        notice: notice && { error: notice.status !== 200, text: notice.text },
      }) as JSX.Element,
      notice?.status ?? 200,
    );
  app.get('/approvals', async (c) => {
    const answered = intParam(c.req.query('answered'), 'answered', 1);
    const a = answered !== undefined ? await model.store.getApproval(answered) : null;
    return approvalsPage(c, a ? { status: 200, text: `approval #${a.id}: ${a.status} by ${a.by ?? '?'} ("${a.reason ?? ''}")` } : undefined);
  });
  const verificationsPage = async (c: Context<Env>, notice?: { status: 200 | 400 | 404 | 409; text: string }) =>
    page(
      c,
      V.VerificationsPage({
        v: await model.verifications(),
        viewer: await viewerOf(c),
        notice: notice && { error: notice.status !== 200, text: notice.text },
      }) as JSX.Element,
      notice?.status ?? 200,
    );
  app.get('/verifications', async (c) => {
    const cleared = intParam(c.req.query('cleared'), 'cleared', 1);
    const [v] = cleared !== undefined ? await model.store.listVerifications({ executionIds: [cleared], limit: 1 }) : [];
    return verificationsPage(
      c,
      v?.clearedAt
        ? { status: 200, text: `rule "${v.rule}" may act on ${v.target} again (execution #${v.executionId} did not help; cleared by ${v.clearedBy})` }
        : undefined,
    );
  });

  // ---------------------------------------------------------------- login and form changes

  const safeNext = (n: string | undefined) => (n && /^\/(?!\/)[^\\\s]*$/.test(n) && !n.startsWith('/login') ? n : '/');

  app.get('/login', async (c) => page(c, V.LoginPage({ viewer: await viewerOf(c), next: safeNext(c.req.query('next')) }) as JSX.Element));
  app.post('/login', async (c) => {
    if (!auth) return refuse(c, 403, 'this console is read-only: no token is configured');
    const f = await c.req.parseBody();
    const next = safeNext(typeof f.next === 'string' ? f.next : undefined);
    const name = cleanName(typeof f.name === 'string' ? f.name : '');
    const token = typeof f.token === 'string' ? f.token : '';
    const viewer = await viewerOf(c);
    if (!name)
      return page(
        c,
        V.LoginPage({ viewer, next, error: 'give your name (letters, digits, . _ @ + - and spaces; at most 64): it goes into the audit log' }) as JSX.Element,
        400,
      );
    if (!auth.tokenOk(token)) {
      log(`reflex serve: failed login as "${name}" from ${clientOf(c)}`);
      return page(c, V.LoginPage({ viewer, next, name, error: 'wrong token' }) as JSX.Element, 401);
    }
    const { value } = auth.issue(name);
    setCookie(c, SESSION_COOKIE, value, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_MS / 1000, secure: c.req.url.startsWith('https:') });
    log(`reflex serve: "${name}" logged in from ${clientOf(c)}`);
    return c.redirect(next, 303);
  });

  /** A form's change: needs a session and its CSRF token. */
  const formActor = async (c: Context<Env>): Promise<{ actor: Actor; form: Record<string, string> }> => {
    if (!auth) throw new Refusal(403, 'this console is read-only: no token is configured; use the reflex command line');
    const session = c.get('session');
    if (!session) throw new Refusal(401, 'log in first: changes need the token');
    const raw = await c.req.parseBody();
    const form: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') form[k] = v;
    if (!auth.csrfOk(session, form._csrf)) throw new Refusal(403, 'refused: the form has no valid CSRF token (reload the page and try again)');
    return { actor: { name: session.name, client: clientOf(c), via: 'console' }, form };
  };
  app.post('/logout', async (c) => {
    await formActor(c);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  });
  app.post('/switch', async (c) => {
    const { actor, form } = await formActor(c);
    if (form.state !== 'off' && form.state !== 'on') throw new BadRequest('state must be "off" or "on"');
    await switchAutomation(model, actor, form.state === 'off', { reason: form.reason, until: form.until });
    log(`reflex serve: ${actor.name} from ${actor.client} switched automation ${form.state}`);
    return c.redirect(form.back === '/guardrails' ? '/guardrails' : '/', 303);
  });
  app.post('/disables', async (c) => {
    const { actor, form } = await formActor(c);
    const scope = form.scope as 'rule' | 'action' | 'target' | 'selector';
    if (!['rule', 'action', 'target', 'selector'].includes(scope)) throw new BadRequest('scope must be rule, action, target or selector');
    const d = await addDisable(model, actor, { scope, value: form.value ?? '', reason: form.reason ?? '', until: form.until });
    log(`reflex serve: ${actor.name} from ${actor.client} disabled ${d.scope} ${d.value}`);
    return c.redirect('/guardrails', 303);
  });
  app.post('/disables/:id/enable', async (c) => {
    const { actor, form } = await formActor(c);
    const id = intParam(c.req.param('id'), 'disable id', 1)!;
    const lifted = await liftDisable(model, actor, id, form.reason);
    if (lifted.length === 0) throw new BadRequest(`disable #${id} is not active: nothing changed`);
    log(`reflex serve: ${actor.name} from ${actor.client} lifted disable #${id}`);
    return c.redirect('/guardrails', 303);
  });

  /** A refusal of a change the page itself shows (not pending, nothing to clear, no reason): the page again, with the message. */
  const shownRefusal = (err: unknown): { status: 400 | 404 | 409; text: string } | null =>
    err instanceof Conflict
      ? { status: 409, text: err.message }
      : err instanceof NotFound
        ? { status: 404, text: err.message }
        : err instanceof BadRequest
          ? { status: 400, text: err.message }
          : null;
  app.post('/approvals/:id/:answer', async (c) => {
    const { actor, form } = await formActor(c);
    const answer = c.req.param('answer');
    if (answer !== 'approve' && answer !== 'reject') return refuse(c, 404, `no page ${c.req.path}`);
    const id = intParam(c.req.param('id'), 'approval id', 1)!;
    try {
      const a = await answerApproval(model, actor, id, answer, { reason: form.reason, expires: form.expires });
      log(`reflex serve: ${actor.name} from ${actor.client} ${a.status} approval #${id}`);
      return c.redirect(`/approvals?answered=${id}`, 303);
    } catch (err) {
      const shown = shownRefusal(err);
      if (!shown) throw err;
      return approvalsPage(c, shown);
    }
  });
  app.post('/verifications/clear', async (c) => {
    const { actor, form } = await formActor(c);
    try {
      const cleared = await clearVerification(model, actor, form);
      const v = cleared[0]!;
      log(`reflex serve: ${actor.name} from ${actor.client} let ${v.rule} act on ${v.target} again`);
      return c.redirect(`/verifications?cleared=${v.executionId}`, 303);
    } catch (err) {
      const shown = shownRefusal(err);
      if (!shown) throw err;
      return verificationsPage(c, shown);
    }
  });

  // ---------------------------------------------------------------- the JSON API

  const api = new OpenAPIHono<Env>({ defaultHook: badRequest });
  mountApi(api, model, auth, clientOf, log);
  app.route('/api/v1', api);
  opts.extra?.(app, model);
  return app;
}

/** Request validation errors are the caller's mistake: 400 with every problem named. */
const badRequest: ConstructorParameters<typeof OpenAPIHono<Env>>[0] extends infer O ? (O extends { defaultHook?: infer H } ? H : never) : never = (
  result,
  c,
) => {
  if (!result.success) return c.json({ error: result.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ') }, 400);
};

/**
 * Handlers return the store's records; their TypeScript types are wider than the JSON they become (optional fields
 * may be undefined), which the response schemas' typing refuses: the schemas still document what is sent.
 */
const out = (data: unknown): any => data;

/** A refusal with its HTTP status, turned into a page or a JSON error. */
class Refusal extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(S.ApiError, 'a bad request (the message says what)'),
  404: json(S.ApiError, 'no such record'),
};
const changeErrors = {
  ...errors,
  409: json(S.ApiError, 'the change no longer applies (an approval already answered, nothing to clear): the message says how it stands'),
  401: json(S.ApiError, 'no token given (Authorization: Bearer TOKEN)'),
  403: json(S.ApiError, 'wrong token, or the console is read-only'),
};

function mountApi(api: OpenAPIHono<Env>, model: ReadModel, auth: Auth | null, clientOf: (c: Context) => string, log: (l: string) => void): void {
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'the token of REFLEX_SERVE_TOKEN or --token-file',
  });
  const Id = z.coerce.number().int().positive();
  const Opt = (d: string) => z.string().max(500).optional().openapi({ description: d });

  api.openapi(
    createRoute({
      method: 'get',
      path: '/overview',
      summary: 'the off switch, the last run, open escalations, breakers, interrupted executions, shadow mode, recent runs',
      responses: { 200: json(S.Overview, 'the overview') },
    }),
    async (c) => c.json(out(await model.overview()), 200),
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/runs',
      summary: 'runs, newest first (as `reflex history --runs --json`)',
      request: { query: z.object({ page: S.PageQuery }) },
      responses: { 200: json(S.Page(S.Run).openapi('RunsPage'), 'a page of runs'), ...errors },
    }),
    async (c) => {
      const r = await model.runs(c.req.valid('query').page ?? 0);
      return c.json(out({ page: r.page, more: r.more, items: r.runs }), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/runs/{id}',
      summary: 'a run: outcome counts per rule, sources with status and timings, stage timings, problems',
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(S.RunDetail, 'the run'), ...errors },
    }),
    async (c) => c.json(out(await model.runDetail(c.req.valid('param').id)), 200),
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/decisions',
      summary:
        'decisions, filtered: of one run, every one but the not-matched (derived and unknown ones recomputed from its snapshot); across runs (target or rule without run), the stored ones; see /why for not-matched',
      request: {
        query: z.object({
          run: Id.optional(),
          rule: Opt('rule name'),
          outcome: z.enum(OUTCOMES as [DecisionOutcome, ...DecisionOutcome[]]).optional(),
          target: Opt('target id'),
          label: Opt('one label, key=value (reads the snapshot of the run given, or of the latest)'),
          page: S.PageQuery,
        }),
      },
      responses: { 200: json(S.DecisionsPage, 'a page of decisions'), ...errors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      if (q.label && q.label.indexOf('=') <= 0) throw new BadRequest(`label filter "${q.label}": write it as key=value`);
      const r = await model.decisionsPage({ ...q, page: q.page ?? 0 });
      return c.json(out({ page: r.page, more: r.more, run: r.run, total: r.total, items: r.decisions }), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/why',
      summary: 'what Reflex decided about a target in a run and why: the document of `reflex why TARGET --run N --json`',
      request: {
        query: z.object({ target: z.string().min(1).max(500), run: Id.optional(), rule: Opt('only this rule'), format: z.enum(['json', 'text']).optional() }),
      },
      responses: { 200: json(S.Why, 'the explanation (format=text: the text `reflex why` prints)'), ...errors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const w = await model.why(q.run, q.target, q.rule);
      if (q.format === 'text') return c.text(w.text, 200) as never;
      return c.json(out(w.doc), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/targets/{id}',
      summary: "a target's history across runs",
      request: { params: z.object({ id: z.string().min(1).max(500) }), query: z.object({ page: S.PageQuery }) },
      responses: { 200: json(S.TargetHistory, 'the target'), ...errors },
    }),
    async (c) => c.json(out(await model.target(c.req.valid('param').id, c.req.valid('query').page ?? 0)), 200),
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/executions',
      summary: 'the journal, newest first',
      request: {
        query: z.object({
          status: Opt('intent, running, succeeded, failed, timed_out, interrupted'),
          rule: Opt('rule'),
          target: Opt('target'),
          page: S.PageQuery,
        }),
      },
      responses: { 200: json(S.Page(S.Execution).openapi('ExecutionsPage'), 'a page of executions'), ...errors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const r = await model.executions({ ...q, page: q.page ?? 0 });
      return c.json(out({ page: r.page, more: r.more, items: r.executions }), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/executions/{id}',
      summary: 'one execution',
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(S.Execution, 'the execution'), ...errors },
    }),
    async (c) => {
      const e = await model.store.getExecution(c.req.valid('param').id);
      if (!e) throw new NotFound(`no execution #${c.req.valid('param').id}`);
      return c.json(out(e), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/guardrails',
      summary: 'the off switch, disables (active first) and the audit log',
      responses: { 200: json(S.Guardrails, 'switch, disables, audit') },
    }),
    async (c) => c.json(out(await model.guardrails()), 200),
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/rules',
      summary: 'rules with their mode and scenario-test coverage',
      responses: { 200: json(z.array(S.Rule), 'the rules') },
    }),
    async (c) => c.json(out(model.rules()), 200),
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/approvals',
      summary: 'decisions waiting for a person (as `reflex approvals --json`) and the recent answered or closed requests',
      responses: { 200: json(S.Approvals, 'pending and recent approvals') },
    }),
    async (c) => c.json(out(await model.approvals()), 200),
  );
  api.openapi(
    createRoute({
      method: 'get',
      path: '/verifications',
      summary: 'recent verifications of succeeded actions (verify:); the ineffective ones that stop their rule first',
      responses: { 200: json(S.Verifications, 'verifications') },
    }),
    async (c) => c.json(out(await model.verifications()), 200),
  );

  // ---- changes: a bearer token (or a session with its CSRF token in X-CSRF-Token)
  const actorOf = (c: Context<Env>, by: string | undefined): Actor => {
    if (!auth) throw new Refusal(403, 'this console is read-only: no token is configured');
    const session = c.get('session');
    if (c.get('bearer')) {
      const name = by === undefined ? 'api' : cleanName(by);
      if (!name) throw new BadRequest('by: letters, digits, . _ @ + - and spaces; at most 64');
      return { name, client: clientOf(c), via: 'api' };
    }
    if (session && auth.csrfOk(session, c.req.header('x-csrf-token'))) return { name: session.name, client: clientOf(c), via: 'console' };
    if (c.req.header('authorization')) throw new Refusal(403, 'wrong token');
    throw new Refusal(401, 'changes need the token: Authorization: Bearer TOKEN');
  };
  const secured = { security: [{ bearer: [] }] };

  api.openapi(
    createRoute({
      method: 'post',
      path: '/switch',
      summary: 'switch all automation off or back on (as `reflex disable --all` / `reflex enable --all`), audited',
      ...secured,
      request: { body: { content: { 'application/json': { schema: S.SwitchRequest } }, required: true } },
      responses: { 200: json(z.object({ off: z.boolean(), wasOff: z.boolean() }), 'the new state'), ...changeErrors },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const actor = actorOf(c, b.by);
      const r = await switchAutomation(model, actor, b.off, b);
      log(`reflex serve: ${actor.name} from ${actor.client} (api) switched automation ${b.off ? 'off' : 'on'}`);
      return c.json(out(r), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/disables',
      summary: 'disable a rule, action, target or label selector (as `reflex disable`), audited',
      ...secured,
      request: { body: { content: { 'application/json': { schema: S.DisableRequest } }, required: true } },
      responses: { 200: json(S.Disable, 'the disable'), ...changeErrors },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const actor = actorOf(c, b.by);
      const d = await addDisable(model, actor, b);
      log(`reflex serve: ${actor.name} from ${actor.client} (api) disabled ${d.scope} ${d.value}`);
      return c.json(out(d), 200);
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/disables/{id}/enable',
      summary: 'lift a disable by its id (as `reflex enable --id N`), audited',
      ...secured,
      request: { params: z.object({ id: Id }), body: { content: { 'application/json': { schema: S.EnableRequest } }, required: false } },
      responses: { 200: json(z.object({ lifted: z.array(S.Disable) }), 'the disables lifted (none: it was not active)'), ...changeErrors },
    }),
    async (c) => {
      const b = (c.req.header('content-type')?.includes('json') ? c.req.valid('json') : {}) as { reason?: string; by?: string };
      const actor = actorOf(c, b.by);
      const lifted = await liftDisable(model, actor, c.req.valid('param').id, b.reason);
      return c.json(out({ lifted }), 200);
    },
  );

  for (const answer of ['approve', 'reject'] as const)
    api.openapi(
      createRoute({
        method: 'post',
        path: `/approvals/{id}/${answer}`,
        summary:
          answer === 'approve'
            ? 'approve a pending request (as `reflex approve ID`): the next run acts once if the decision still holds, audited'
            : 'reject a pending request (as `reflex reject ID`), audited',
        ...secured,
        request: { params: z.object({ id: Id }), body: { content: { 'application/json': { schema: S.AnswerRequest } }, required: true } },
        responses: { 200: json(S.Approval, 'the approval, answered'), ...changeErrors },
      }),
      async (c) => {
        const b = c.req.valid('json');
        const actor = actorOf(c, b.by);
        const a = await answerApproval(model, actor, c.req.valid('param').id, answer, b);
        log(`reflex serve: ${actor.name} from ${actor.client} (api) ${a.status} approval #${a.id}`);
        return c.json(out(a), 200);
      },
    );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/verifications/clear',
      summary: 'let a rule act on a target again where an earlier action did not help (as `reflex enable --rule R --target T`), audited',
      ...secured,
      request: { body: { content: { 'application/json': { schema: S.ClearRequest } }, required: true } },
      responses: { 200: json(z.object({ cleared: z.array(S.Verification) }), 'the verifications cleared'), ...changeErrors },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const actor = actorOf(c, b.by);
      const cleared = await clearVerification(model, actor, b);
      log(`reflex serve: ${actor.name} from ${actor.client} (api) let ${b.rule} act on ${b.target} again`);
      return c.json(out({ cleared }), 200);
    },
  );

  // Generated once from the routes' schemas (generating it per request costs tens of milliseconds).
  let doc: unknown;
  api.get('/openapi.json', (c) => {
    doc ??= api.getOpenAPIDocument({
      openapi: '3.0.3',
      info: {
        title: 'Reflex console API',
        version: '1',
        description: 'What Reflex did and why, read from its store; the off switch and disables, with a token. Every change is audited.',
      },
      servers: [{ url: '/api/v1' }],
    });
    return c.json(doc as object);
  });
}
