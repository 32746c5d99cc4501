// Escalation channels against local receivers that check the Slack and PagerDuty Events v2 payload shapes.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createChannel, pagerDutyDedupKey } from '../../src/actions/channels/index.js';
import type { EscalationMessage } from '../../src/actions/types.js';
import { execCtx, receiver, type Receiver } from './helpers.js';

const servers: Receiver[] = [];
async function server(...args: Parameters<typeof receiver>): Promise<Receiver> {
  const s = await receiver(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sendCtx = (over: Parameters<typeof execCtx>[0] = {}) => ({ ...execCtx(over), timeoutMs: 5000 });

function message(over: Partial<EscalationMessage> = {}): EscalationMessage {
  return {
    dedupKey: 'reflex/restart-unhealthy/web-1',
    event: 'trigger',
    summary: 'web-1 is unhealthy and was restarted 3 times this hour',
    severity: 'critical',
    source: 'reflex',
    rule: 'restart-unhealthy',
    target: 'web-1',
    runbook: 'https://wiki.example.com/sop/restart?x=1',
    details: { run: 42, group: 'service=web', why: ['guard: blast-radius: 5 of 5 restarts in 10m used'] },
    ...over,
  };
}

// ------------------------------------------------------------------ validators (what the real services accept)

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Slack incoming webhook + Block Kit limits. */
function slackProblems(body: unknown): string[] {
  const p: string[] = [];
  if (!isObj(body)) return ['body is not an object'];
  if (typeof body.text !== 'string' || !body.text) p.push('text missing');
  if (!Array.isArray(body.blocks) || body.blocks.length === 0 || body.blocks.length > 50) return [...p, 'blocks must be 1..50'];
  const mrkdwnOk = (t: unknown, max: number, where: string) => {
    if (!isObj(t) || (t.type !== 'mrkdwn' && t.type !== 'plain_text') || typeof t.text !== 'string' || !t.text) p.push(`${where}: bad text object`);
    else if (t.text.length > max) p.push(`${where}: text longer than ${max}`);
    else if (t.type === 'mrkdwn' && /<(?!https?:)/.test(t.text)) p.push(`${where}: unescaped "<" in mrkdwn`);
  };
  body.blocks.forEach((b: unknown, i: number) => {
    if (!isObj(b)) return p.push(`block ${i} not an object`);
    switch (b.type) {
      case 'header':
        if (!isObj(b.text) || b.text.type !== 'plain_text') p.push(`block ${i}: header needs plain_text`);
        mrkdwnOk(b.text, 150, `block ${i}`);
        break;
      case 'section':
        if (b.text === undefined && b.fields === undefined) p.push(`block ${i}: section needs text or fields`);
        if (b.text !== undefined) mrkdwnOk(b.text, 3000, `block ${i}`);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length > 10) p.push(`block ${i}: at most 10 fields`);
          else b.fields.forEach((f: unknown, j: number) => mrkdwnOk(f, 2000, `block ${i} field ${j}`));
        }
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 25) p.push(`block ${i}: actions needs 1..25 elements`);
        else
          for (const e of b.elements) {
            if (!isObj(e) || e.type !== 'button' || !isObj(e.text) || e.text.type !== 'plain_text') p.push(`block ${i}: bad button`);
            else if (typeof e.url !== 'string' || e.url.length > 3000 || !/^https?:\/\//.test(e.url)) p.push(`block ${i}: bad button url`);
          }
        break;
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10) p.push(`block ${i}: context needs 1..10 elements`);
        else b.elements.forEach((e: unknown, j: number) => mrkdwnOk(e, 2000, `block ${i} element ${j}`));
        break;
      default:
        p.push(`block ${i}: unknown type ${String(b.type)}`);
    }
  });
  return p;
}

/** PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
function pagerDutyProblems(body: unknown): string[] {
  const p: string[] = [];
  if (!isObj(body)) return ['body is not an object'];
  if (typeof body.routing_key !== 'string' || !body.routing_key) p.push('routing_key missing');
  if (!['trigger', 'acknowledge', 'resolve'].includes(body.event_action as string)) p.push('event_action invalid');
  if (typeof body.dedup_key !== 'string' || !body.dedup_key || body.dedup_key.length > 255) p.push('dedup_key missing or longer than 255');
  if (body.event_action === 'resolve') {
    const extra = Object.keys(body).filter((k) => !['routing_key', 'event_action', 'dedup_key'].includes(k));
    if (extra.length) p.push(`resolve carries extra fields: ${extra.join(', ')}`);
    return p;
  }
  const pl = body.payload;
  if (!isObj(pl)) return [...p, 'payload missing'];
  if (typeof pl.summary !== 'string' || !pl.summary || pl.summary.length > 1024) p.push('payload.summary must be 1..1024 characters');
  if (typeof pl.source !== 'string' || !pl.source) p.push('payload.source missing');
  if (!['critical', 'error', 'warning', 'info'].includes(pl.severity as string)) p.push(`payload.severity invalid: ${String(pl.severity)}`);
  for (const k of ['component', 'group', 'class']) if (pl[k] !== undefined && typeof pl[k] !== 'string') p.push(`payload.${k} must be a string`);
  if (pl.custom_details !== undefined && !isObj(pl.custom_details)) p.push('payload.custom_details must be an object');
  if (body.links !== undefined) {
    if (!Array.isArray(body.links)) p.push('links must be a list');
    else for (const l of body.links) if (!isObj(l) || typeof l.href !== 'string') p.push('link without href');
  }
  return p;
}

/** A fake PagerDuty: 202 for a valid event, 400 with the problems otherwise (as the real one does). */
async function fakePagerDuty(status?: number) {
  return server((req, res) => {
    const problems =
      req.url === '/v2/enqueue' && req.headers['content-type'] === 'application/json'
        ? pagerDutyProblems(JSON.parse(req.body))
        : ['wrong path or content type'];
    if (status) return res.writeHead(status).end('{"status":"throttled"}');
    if (problems.length) return res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', errors: problems }));
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: JSON.parse(req.body).dedup_key }));
  });
}

async function fakeSlack() {
  return server((req, res) => {
    const problems = slackProblems(JSON.parse(req.body));
    if (problems.length) return res.writeHead(400).end(`invalid_blocks: ${problems.join('; ')}`);
    res.end('ok');
  });
}

// ------------------------------------------------------------------ tests

describe('slack channel', () => {
  it('posts text plus blocks with summary, severity, rule, target and a runbook link', async () => {
    const srv = await fakeSlack();
    const ch = createChannel('ops', { kind: 'slack', url: `${srv.base}/services/T000/B000/XXXX` });
    const out = await ch.send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 200, output: 'ok' });
    const body = JSON.parse(srv.requests[0]!.body);
    expect(slackProblems(body)).toEqual([]);
    expect(body.text).toBe('[CRITICAL] web-1 is unhealthy and was restarted 3 times this hour');
    const all = JSON.stringify(body.blocks);
    for (const s of ['Severity: critical', 'Rule: restart-unhealthy', 'Target: web-1', 'web-1 is unhealthy']) expect(all).toContain(s);
    expect(body.blocks.find((b: { type: string }) => b.type === 'actions').elements[0].url).toBe('https://wiki.example.com/sop/restart?x=1');
  });

  it('escapes mrkdwn so a target cannot notify the channel or forge links', async () => {
    const srv = await fakeSlack();
    const ch = createChannel('ops', { kind: 'slack', url: `${srv.base}/hook` });
    const out = await ch.send(message({ target: '<!channel> & <https://evil.example|click>', summary: 'x <@U123>' }), sendCtx());
    expect(out.status).toBe('succeeded');
    const text = srv.requests[0]!.body;
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('keeps long summaries within Slack limits and marks resolves', async () => {
    const srv = await fakeSlack();
    const ch = createChannel('ops', { kind: 'slack', url: `${srv.base}/hook` });
    expect((await ch.send(message({ summary: 'z'.repeat(10_000), runbook: 'javascript:alert(1)' }), sendCtx())).status).toBe('succeeded');
    const body = JSON.parse(srv.requests[0]!.body);
    expect(body.blocks.some((b: { type: string }) => b.type === 'actions')).toBe(false);
    expect((await ch.send(message({ event: 'resolve' }), sendCtx())).status).toBe('succeeded');
    expect(JSON.parse(srv.requests[1]!.body).text).toMatch(/^\[RESOLVED\]/);
  });

  it('hides the webhook URL (it is the credential) in describe', () => {
    const ch = createChannel('ops', { kind: 'slack', url: 'https://hooks.slack.com/services/T000/B000/SECRETPART' });
    const d = ch.describe(message());
    expect(d.split('\n')[0]).toBe('POST https://hooks.slack.com/***');
    expect(d).not.toContain('SECRETPART');
  });

  it('reports a rejected message as failed', async () => {
    const srv = await server((_req, res) => res.writeHead(404).end('no_service'));
    const out = await createChannel('ops', { kind: 'slack', url: `${srv.base}/hook` }).send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: 404, output: 'no_service' });
  });
});

describe('pagerduty channel', () => {
  it('triggers with the Events v2 shape and a 202 is success', async () => {
    const srv = await fakePagerDuty();
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'R0UTINGKEY0123456789abcdef012345', url: `${srv.base}/v2/enqueue` });
    const out = await ch.send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 202 });
    const body = JSON.parse(srv.requests[0]!.body);
    expect(pagerDutyProblems(body)).toEqual([]);
    expect(body).toMatchObject({
      routing_key: 'R0UTINGKEY0123456789abcdef012345',
      event_action: 'trigger',
      dedup_key: 'reflex/restart-unhealthy/web-1',
      payload: {
        summary: message().summary,
        source: 'web-1',
        severity: 'critical',
        component: 'web-1',
        group: 'service=web',
        class: 'restart-unhealthy',
        custom_details: message().details,
      },
      links: [{ href: 'https://wiki.example.com/sop/restart?x=1', text: 'Runbook' }],
    });
  });

  it.each([
    ['info', 'info'],
    ['warning', 'warning'],
    ['critical', 'critical'],
  ] as const)('maps severity %s to %s', async (ours, theirs) => {
    const srv = await fakePagerDuty();
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${srv.base}/v2/enqueue` });
    expect((await ch.send(message({ severity: ours }), sendCtx())).status).toBe('succeeded');
    expect(JSON.parse(srv.requests[0]!.body).payload.severity).toBe(theirs);
  });

  it('cuts the summary to 1024 characters', async () => {
    const srv = await fakePagerDuty();
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${srv.base}/v2/enqueue` });
    expect((await ch.send(message({ summary: 's'.repeat(5000) }), sendCtx())).status).toBe('succeeded');
    expect(JSON.parse(srv.requests[0]!.body).payload.summary).toHaveLength(1024);
  });

  it('resolves with only routing_key, event_action and dedup_key', async () => {
    const srv = await fakePagerDuty();
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${srv.base}/v2/enqueue` });
    expect((await ch.send(message({ event: 'resolve' }), sendCtx())).status).toBe('succeeded');
    expect(JSON.parse(srv.requests[0]!.body)).toEqual({ routing_key: 'key-123456', event_action: 'resolve', dedup_key: 'reflex/restart-unhealthy/web-1' });
  });

  it('sends the same dedup key for the same problem on every trigger, within 255 characters', async () => {
    const srv = await fakePagerDuty();
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${srv.base}/v2/enqueue` });
    const long = `reflex/${'r'.repeat(200)}/${'t'.repeat(200)}`;
    await ch.send(message({ dedupKey: long }), sendCtx());
    await ch.send(message({ dedupKey: long }), sendCtx());
    await ch.send(message({ dedupKey: long, event: 'resolve' }), sendCtx());
    const keys = srv.requests.map((r) => JSON.parse(r.body).dedup_key as string);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]!.length).toBeLessThanOrEqual(255);
    expect(keys[0]).toBe(pagerDutyDedupKey(long));
    expect(pagerDutyDedupKey(`${long}x`)).not.toBe(keys[0]);
  });

  it.each([429, 500, 503])('reports HTTP %i as a failure once its retries are spent', async (status) => {
    const srv = await fakePagerDuty(status);
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${srv.base}/v2/enqueue` }, { sleep: async () => {} });
    const out = await ch.send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: status });
    expect(srv.requests).toHaveLength(3);
    if (status === 429) expect(out.error).toMatch(/rate limiting/);
  });

  it('goes to events.pagerduty.com by default and never shows the routing key', () => {
    const ch = createChannel('pd', { kind: 'pagerduty', routing_key: 'R0UTINGKEY-secret' });
    const d = ch.describe(message());
    expect(d.split('\n')[0]).toBe('POST https://events.pagerduty.com/v2/enqueue');
    expect(d).toContain('"routing_key":"***"');
    expect(d).not.toContain('R0UTINGKEY-secret');
  });
});

describe('webhook channel', () => {
  it('posts the escalation message as JSON with the configured headers', async () => {
    const srv = await server();
    const ch = createChannel('hook', { kind: 'webhook', url: `${srv.base}/escalations`, headers: { Authorization: 'Bearer hook-token-1', 'X-Team': 'sre' } });
    const out = await ch.send(message(), sendCtx());
    expect(out.status).toBe('succeeded');
    const req = srv.requests[0]!;
    expect([req.method, req.url, req.headers.authorization, req.headers['x-team'], req.headers['content-type']]).toEqual([
      'POST',
      '/escalations',
      'Bearer hook-token-1',
      'sre',
      'application/json',
    ]);
    expect(JSON.parse(req.body)).toEqual({
      version: 1,
      type: 'escalation.trigger',
      id: expect.stringMatching(/^msg_/),
      timestamp: expect.any(String),
      ...message(),
    });
    expect(ch.describe(message())).toContain('Authorization: ***');
  });

  it('removes the project secrets from what it sends and shows', async () => {
    const srv = await server();
    const ch = createChannel('hook', { kind: 'webhook', url: `${srv.base}/e` }, { secrets: ['db-password-1'] });
    await ch.send(message({ summary: 'login failed with db-password-1' }), sendCtx());
    expect(JSON.parse(srv.requests[0]!.body).summary).toBe('login failed with ***');
    expect(ch.describe(message({ summary: 'db-password-1' }))).not.toContain('db-password-1');
  });

  it('refuses a metadata endpoint and a URL that is not http(s)', async () => {
    const ch = createChannel('hook', { kind: 'webhook', url: 'http://169.254.169.254/x' });
    expect((await ch.send(message(), sendCtx())).status).toBe('refused');
    expect(() => createChannel('hook', { kind: 'webhook', url: 'ftp://x.example/' })).toThrow(/http or https/);
    expect(() => createChannel('hook', { kind: 'webhook', url: 'not a url' })).toThrow(/not a valid absolute URL/);
  });
});

describe('log channel', () => {
  it('appends one JSON line per escalation to a file, secrets redacted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-log-'));
    const ch = createChannel('audit', { kind: 'log', path: 'escalations.jsonl' }, { now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    await ch.send(message({ summary: 'token abcd-efgh leaked' }), sendCtx({ projectDir: dir, secrets: ['abcd-efgh'] }));
    await ch.send(message({ event: 'resolve' }), sendCtx({ projectDir: dir }));
    const lines = readFileSync(join(dir, 'escalations.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      time: '2026-01-02T03:04:05.000Z',
      channel: 'audit',
      event: 'trigger',
      summary: 'token *** leaked',
      dedupKey: 'reflex/restart-unhealthy/web-1',
    });
    expect(lines[1]).toMatchObject({ event: 'resolve' });
  });

  it('writes to standard error when no path is set', async () => {
    const written: string[] = [];
    const ch = createChannel('audit', { kind: 'log' }, { stderr: (l) => written.push(l) });
    expect((await ch.send(message(), sendCtx())).status).toBe('succeeded');
    expect(written).toHaveLength(1);
    expect(written[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(written[0]!)).toMatchObject({ channel: 'audit', severity: 'critical' });
  });

  it('reports a file it cannot write as failed', async () => {
    const ch = createChannel('audit', { kind: 'log', path: '/nonexistent-dir/x/log.jsonl' });
    const out = await ch.send(message(), sendCtx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/cannot write/);
  });
});
