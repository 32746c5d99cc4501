// Channels against their public specifications: PagerDuty Events API v2 (source, timestamp, limits, which answers
// are retried), Slack incoming webhooks (retries, values that format nothing) and Standard Webhooks (signature
// scheme, test vector from the specification's reference library), and the User-Agent every request carries.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { cutText, retryAfterMs } from '../../src/actions/channels/common.js';
import { createChannel } from '../../src/actions/channels/index.js';
import { webhookKey, webhookSignatureHeaders } from '../../src/actions/channels/webhook.js';
import type { EscalationMessage } from '../../src/actions/types.js';
import { VERSION } from '../../src/util/version.js';
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

const sendCtx = () => ({ ...execCtx(), timeoutMs: 5000 });
const AT = Date.UTC(2026, 11, 2, 10, 4, 0);

function message(over: Partial<EscalationMessage> = {}): EscalationMessage {
  return {
    dedupKey: 'reflex/restart-unhealthy/web-1',
    event: 'trigger',
    summary: 'web-1 is unhealthy',
    severity: 'critical',
    source: 'reflex',
    rule: 'restart-unhealthy',
    target: 'web-1',
    details: { run: 42 },
    at: AT,
    ...over,
  };
}

/** Answers with the given statuses in turn (then 2xx), each with optional headers. */
function scripted(answers: { status: number; headers?: Record<string, string> }[]) {
  let i = 0;
  return server((_req, res) => {
    const a = answers[i++] ?? { status: 202 };
    res.writeHead(a.status, a.headers ?? {}).end(a.status < 300 ? '{"status":"success"}' : '{"status":"error"}');
  });
}

/** A sleep that records what it was asked to wait instead of waiting. */
function recorder() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const pd = (url: string, opts = {}) => createChannel('pd', { kind: 'pagerduty', routing_key: 'key-123456', url: `${url}/v2/enqueue` }, opts);

describe('PagerDuty Events API v2', () => {
  it('names the affected system as payload.source and sends the time the run saw the problem', async () => {
    const srv = await scripted([]);
    await pd(srv.base).send(message(), sendCtx());
    const body = JSON.parse(srv.requests[0]!.body);
    expect(body.payload.source).toBe('web-1');
    expect(body.payload.timestamp).toBe('2026-12-02T10:04:00.000Z');
    expect(body.client).toBe('Reflex');
  });

  it('names the group, or else the rule, as source for a message about many targets', async () => {
    const srv = await scripted([]);
    await pd(srv.base).send(message({ target: undefined, details: { group: 'service=checkout' } }), sendCtx());
    await pd(srv.base).send(message({ target: undefined }), sendCtx());
    expect(JSON.parse(srv.requests[0]!.body).payload.source).toBe('service=checkout');
    expect(JSON.parse(srv.requests[1]!.body).payload.source).toBe('rule restart-unhealthy');
  });

  it('cuts a summary of emoji to 1024 characters without leaving half a surrogate pair', async () => {
    const srv = await scripted([]);
    await pd(srv.base).send(message({ summary: `x${'😀'.repeat(2000)}` }), sendCtx());
    const summary: string = JSON.parse(srv.requests[0]!.body).payload.summary;
    expect(summary.length).toBeLessThanOrEqual(1024);
    expect(summary.endsWith('…')).toBe(true);
    expect(LONE_SURROGATE.test(summary)).toBe(false);
  });

  it('does not retry a 400: the event is invalid and would be refused again', async () => {
    const srv = await scripted([{ status: 400 }]);
    const r = recorder();
    const out = await pd(srv.base, { sleep: r.sleep }).send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: 400 });
    expect(out.error).toMatch(/^HTTP 400: PagerDuty rejected the event as invalid \(not retried\)/);
    expect(srv.requests).toHaveLength(1);
    expect(r.waits).toEqual([]);
  });

  it('retries a 429 after the Retry-After it was given, and succeeds', async () => {
    const srv = await scripted([{ status: 429, headers: { 'Retry-After': '2' } }]);
    const r = recorder();
    const out = await pd(srv.base, { sleep: r.sleep }).send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'succeeded', httpStatus: 202 });
    expect(srv.requests).toHaveLength(2);
    expect(r.waits).toEqual([2000]);
  });

  it('retries 5xx with a doubling pause, at most 3 attempts, then reports how many were made', async () => {
    const srv = await scripted([{ status: 502 }, { status: 503 }, { status: 500 }, { status: 500 }]);
    const r = recorder();
    const out = await pd(srv.base, { sleep: r.sleep }).send(message(), sendCtx());
    expect(out).toMatchObject({ status: 'failed', httpStatus: 500, error: 'HTTP 500 (after 3 attempts)' });
    expect(srv.requests).toHaveLength(3);
    expect(r.waits).toEqual([500, 1000]);
  });

  it('does not wait in the run for a Retry-After longer than a run waits: the next run sends it', async () => {
    const srv = await scripted([{ status: 429, headers: { 'Retry-After': '120' } }]);
    const r = recorder();
    const out = await pd(srv.base, { sleep: r.sleep }).send(message(), sendCtx());
    expect(out.status).toBe('failed');
    expect(out.error).toBe(
      'HTTP 429: PagerDuty is rate limiting; the receiver asked to wait 120 s (Retry-After), longer than a run waits; the escalation is sent again next run',
    );
    expect(srv.requests).toHaveLength(1);
    expect(r.waits).toEqual([]);
  });
});

describe('Slack incoming webhook', () => {
  it('retries a 500 and sends values as plain text, so markup in a value formats nothing', async () => {
    const srv = await scripted([{ status: 500 }, { status: 200 }]);
    const r = recorder();
    const ch = createChannel('ops', { kind: 'slack', url: `${srv.base}/hook` }, { sleep: r.sleep });
    const out = await ch.send(message({ target: '*web*_1_~x~`y`', summary: 'disk *full* on <!here>' }), sendCtx());
    expect(out.status).toBe('succeeded');
    expect(srv.requests).toHaveLength(2);
    expect(r.waits).toEqual([500]);
    const body = JSON.parse(srv.requests[1]!.body);
    expect(body.mrkdwn).toBe(false);
    const objects: { type: string; text: string }[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if ((o.type === 'plain_text' || o.type === 'mrkdwn') && typeof o.text === 'string') objects.push(o as { type: string; text: string });
        Object.values(o).forEach(walk);
      }
    };
    walk(body.blocks);
    expect(objects.filter((o) => o.type === 'mrkdwn')).toEqual([]);
    expect(objects.map((o) => o.text)).toContain('Target: *web*_1_~x~`y`');
    expect(body.text).toBe('[CRITICAL] disk *full* on &lt;!here&gt;');
  });
});

describe('Standard Webhooks', () => {
  it('signs as the specification reference library does (its test vector)', () => {
    const key = webhookKey('w', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const h = webhookSignatureHeaders(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '{"test": 2432232314}', 1614265330);
    expect(h).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('sends a versioned payload a receiver can verify, with one delivery id across retries', async () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const srv = await scripted([{ status: 503 }, { status: 200 }]);
    const ch = createChannel('hook', { kind: 'webhook', url: `${srv.base}/in`, secret }, { sleep: async () => {}, secrets: [secret] });
    const out = await ch.send(message(), sendCtx());
    expect(out.status).toBe('succeeded');
    expect(srv.requests).toHaveLength(2);
    const ids = srv.requests.map((q) => q.headers['webhook-id']);
    expect(ids[0]).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(ids[1]).toBe(ids[0]);
    for (const q of srv.requests) {
      // Verified as a receiver would: key from the secret, HMAC over id.timestamp.raw-body.
      const key = Buffer.from(secret.slice(6), 'base64');
      const expected = createHmac('sha256', key).update(`${q.headers['webhook-id']}.${q.headers['webhook-timestamp']}.${q.body}`).digest('base64');
      expect(q.headers['webhook-signature']).toBe(`v1,${expected}`);
      expect(Math.abs(Number(q.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    }
    const body = JSON.parse(srv.requests[0]!.body);
    expect(body).toMatchObject({
      version: 1,
      type: 'escalation.trigger',
      id: ids[0],
      timestamp: '2026-12-02T10:04:00.000Z',
      dedupKey: 'reflex/restart-unhealthy/web-1',
      summary: 'web-1 is unhealthy',
    });
    expect(ch.describe(message())).not.toContain(secret);
  });

  it('sends no signature headers without a secret, and refuses a secret that is not one', async () => {
    const srv = await scripted([]);
    await createChannel('hook', { kind: 'webhook', url: `${srv.base}/in` }).send(message(), sendCtx());
    expect(srv.requests[0]!.headers['webhook-signature']).toBeUndefined();
    expect(() => createChannel('hook', { kind: 'webhook', url: `${srv.base}/in`, secret: 'hunter2' })).toThrow(/Standard Webhooks secret/);
  });
});

describe('every channel request', () => {
  it('says it is Reflex and which version', async () => {
    const srv = await scripted([]);
    await pd(srv.base).send(message(), sendCtx());
    await createChannel('ops', { kind: 'slack', url: `${srv.base}/hook` }).send(message(), sendCtx());
    await createChannel('hook', { kind: 'webhook', url: `${srv.base}/in` }).send(message(), sendCtx());
    expect(srv.requests.map((q) => q.headers['user-agent'])).toEqual(Array(3).fill(`Reflex/${VERSION} (+https://github.com/reflex-remediation/reflex)`));
  });
});

describe('helpers', () => {
  it('cuts on code point boundaries only', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('abcd', 3)).toBe('ab…');
    const cut = cutText('a😀😀', 3); // 'a' + the high half of the first emoji would be 2 units
    expect(LONE_SURROGATE.test(cut)).toBe(false);
    expect(cut).toBe('a…');
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs('Wed, 02 Dec 2026 10:04:05 GMT', AT)).toBe(5000);
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs(undefined, 0)).toBeNull();
  });
});
