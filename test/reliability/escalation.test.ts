// End to end: real runs escalate to PagerDuty (Events v2) and Slack receivers on this machine; one page per problem across runs, then a resolve with the same key.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { receiver, type Receiver, type Recorded } from '../actions/helpers.js';
import { actionLines, crashProject, reflexAsync, setAction, setBroken, start, until, waitLeaseExpiry } from './harness.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What PagerDuty's Events API v2 accepts (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
function pagerDutyProblems(req: Recorded): string[] {
  if (req.method !== 'POST' || req.url !== '/v2/enqueue') return [`${req.method} ${req.url}: not the enqueue endpoint`];
  if (!String(req.headers['content-type']).startsWith('application/json')) return ['content type is not JSON'];
  let body: unknown;
  try {
    body = JSON.parse(req.body);
  } catch {
    return ['body is not JSON'];
  }
  const p: string[] = [];
  if (!isObj(body)) return ['body is not an object'];
  if (typeof body.routing_key !== 'string' || body.routing_key.length !== 32) p.push('routing_key must be the 32-character integration key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(body.event_action as string)) p.push('event_action invalid');
  if (typeof body.dedup_key !== 'string' || !body.dedup_key || body.dedup_key.length > 255) p.push('dedup_key missing or longer than 255');
  if (body.event_action !== 'trigger') {
    const extra = Object.keys(body).filter((k) => !['routing_key', 'event_action', 'dedup_key'].includes(k));
    if (extra.length) p.push(`${String(body.event_action)} carries extra fields: ${extra.join(', ')}`);
    return p;
  }
  const pl = body.payload;
  if (!isObj(pl)) return [...p, 'payload missing'];
  if (typeof pl.summary !== 'string' || !pl.summary || pl.summary.length > 1024) p.push('payload.summary must be 1..1024 characters');
  if (typeof pl.source !== 'string' || !pl.source) p.push('payload.source missing');
  if (!['critical', 'error', 'warning', 'info'].includes(pl.severity as string)) p.push(`payload.severity invalid: ${String(pl.severity)}`);
  for (const k of ['component', 'group', 'class']) if (pl[k] !== undefined && typeof pl[k] !== 'string') p.push(`payload.${k} must be a string`);
  if (pl.custom_details !== undefined && !isObj(pl.custom_details)) p.push('payload.custom_details must be an object');
  return p;
}

/** What a Slack incoming webhook accepts (text plus Block Kit blocks), and no unescaped mrkdwn control characters. */
function slackProblems(req: Recorded): string[] {
  let body: unknown;
  try {
    body = JSON.parse(req.body);
  } catch {
    return ['body is not JSON'];
  }
  const p: string[] = [];
  if (!isObj(body)) return ['body is not an object'];
  if (typeof body.text !== 'string' || !body.text) p.push('text missing');
  else if (/<(?!https?:)/.test(body.text)) p.push('unescaped "<" in text');
  if (!Array.isArray(body.blocks) || body.blocks.length === 0 || body.blocks.length > 50) return [...p, 'blocks must be 1..50'];
  const text = (t: unknown, max: number, where: string) => {
    if (!isObj(t) || (t.type !== 'mrkdwn' && t.type !== 'plain_text') || typeof t.text !== 'string' || !t.text) p.push(`${where}: bad text object`);
    else if (t.text.length > max) p.push(`${where}: longer than ${max}`);
    else if (t.type === 'mrkdwn' && /<(?!https?:)/.test(t.text)) p.push(`${where}: unescaped "<"`);
  };
  body.blocks.forEach((b: unknown, i: number) => {
    if (!isObj(b)) return p.push(`block ${i} is not an object`);
    if (b.type === 'header') text(b.text, 150, `block ${i}`);
    else if (b.type === 'section') {
      if (b.text !== undefined) text(b.text, 3000, `block ${i}`);
      if (Array.isArray(b.fields)) b.fields.forEach((f: unknown, j: number) => text(f, 2000, `block ${i} field ${j}`));
    } else if (b.type === 'context') (b.elements as unknown[]).forEach((e, j) => text(e, 2000, `block ${i} element ${j}`));
    else if (b.type !== 'actions') p.push(`block ${i}: unknown type ${String(b.type)}`);
  });
  return p;
}

/** What the fake PagerDuty answers instead of 202 when set (429: rate limited). */
let pdStatus: number | undefined;
const invalid: { pagerduty: string[][]; slack: string[][] } = { pagerduty: [], slack: [] };

/** A fake PagerDuty: 202 for a valid event, 400 with the problems otherwise (as the real one does). */
function fakePagerDuty(): Promise<Receiver> {
  return receiver((req, res) => {
    if (pdStatus) return res.writeHead(pdStatus, { 'content-type': 'application/json' }).end('{"status":"throttled"}');
    const problems = pagerDutyProblems(req);
    if (problems.length) {
      invalid.pagerduty.push(problems);
      return res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', errors: problems }));
    }
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: JSON.parse(req.body).dedup_key }));
  });
}

function fakeSlack(): Promise<Receiver> {
  return receiver((req, res) => {
    const problems = slackProblems(req);
    if (problems.length) {
      invalid.slack.push(problems);
      return res.writeHead(400).end(`invalid_blocks: ${problems.join('; ')}`);
    }
    res.end('ok');
  });
}

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const events = (r: Receiver) =>
  r.requests.map((q) => JSON.parse(q.body) as { event_action: string; dedup_key: string; routing_key: string; payload?: Record<string, unknown> });

let pd: Receiver;
let slack: Receiver;
const dirs: string[] = [];
beforeAll(async () => {
  pd = await fakePagerDuty();
  slack = await fakeSlack();
});
beforeEach(() => {
  pd.requests.length = 0;
  slack.requests.length = 0;
  pdStatus = undefined;
});
afterAll(async () => {
  await Promise.all([pd.close(), slack.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const env = () => ({ PD_ROUTING_KEY: ROUTING_KEY, SLACK_URL: `${slack.base}/services/T000/B000/XXXX` });

function dbProject(): string {
  const dir = fixture(
    {
      'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
channels:
  pager: { kind: pagerduty, routing_key: "\${PD_ROUTING_KEY}", url: "${pd.base}/v2/enqueue" }
  chat: { kind: slack, url: "\${SLACK_URL}" }
`,
      'rules.yaml': `rules:
  - name: page-on-slow-db
    target: { kind: datastore }
    when: { slow: facts.p99_ms > 200.0 }
    severity: critical
    mode: enforce
    runbook: https://wiki.example.com/sop/slow-db
    escalate: { to: pager, on: [matched], summary: "{{ target.id }} answers slowly: {{ labels.note }}" }
  - name: tell-chat-slow-db
    target: { kind: datastore }
    when: { slow: facts.p99_ms > 200.0 }
    mode: enforce
    escalate: { to: chat, on: [matched], summary: "{{ target.id }} answers slowly: {{ labels.note }}" }
`,
    },
    'reflex-escalation-',
  );
  dirs.push(dir);
  return dir;
}

function setLatency(dir: string, p99: number): void {
  writeFileSync(
    join(dir, 'inventory.json'),
    JSON.stringify({ targets: [{ id: 'db-1', kind: 'datastore', labels: { note: '<!channel> & <http://evil.example|click>' }, facts: { p99_ms: p99 } }] }),
  );
}

describe('escalation to PagerDuty and Slack across real runs', () => {
  it('a lasting problem pages once (deduplicated through the store), and when it resolves a resolve with the same dedup key arrives', async () => {
    const dir = dbProject();
    setLatency(dir, 900);
    const r1 = await reflexAsync(dir, ['run'], env());
    expect(r1.code, r1.out).toBe(0);
    expect(invalid.pagerduty).toEqual([]);
    expect(invalid.slack).toEqual([]);
    const [trigger] = events(pd);
    expect(events(pd)).toHaveLength(1);
    expect(trigger).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'reflex/page-on-slow-db/db-1',
      payload: {
        severity: 'critical',
        source: 'db-1',
        component: 'db-1',
        class: 'page-on-slow-db',
        summary: 'db-1 answers slowly: <!channel> & <http://evil.example|click>',
      },
      links: [{ href: 'https://wiki.example.com/sop/slow-db', text: 'Runbook' }],
    });
    // Slack got it once, with the label's mrkdwn control characters escaped.
    expect(slack.requests).toHaveLength(1);
    expect(JSON.parse(slack.requests[0]!.body).text).toBe('[WARNING] db-1 answers slowly: &lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;');
    // The routing key is a secret: it never shows in what Reflex prints.
    expect(r1.out).not.toContain(ROUTING_KEY);

    // Still slow on the next runs: nothing is sent again.
    for (let i = 0; i < 2; i++) {
      const again = await reflexAsync(dir, ['run'], env());
      expect(again.code, again.out).toBe(0);
      expect(again.stdout).toContain('already escalated to pager');
    }
    expect(events(pd)).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);

    // Resolved: one resolve per channel, with the same dedup key; then quiet.
    setLatency(dir, 20);
    const fixed = await reflexAsync(dir, ['run'], env());
    expect(fixed.code, fixed.out).toBe(0);
    expect(events(pd)).toEqual([trigger, { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'reflex/page-on-slow-db/db-1' }]);
    expect(slack.requests).toHaveLength(2);
    expect(JSON.parse(slack.requests[1]!.body).text).toMatch(/^\[RESOLVED\] /);
    expect(JSON.stringify(JSON.parse(slack.requests[1]!.body).blocks)).toContain('reflex/tell-chat-slow-db/db-1');
    await reflexAsync(dir, ['run'], env());
    expect(events(pd)).toHaveLength(2);
    expect(slack.requests).toHaveLength(2);

    // The problem comes back: a new page, under the same key.
    setLatency(dir, 900);
    await reflexAsync(dir, ['run'], env());
    expect(events(pd).map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', 'reflex/page-on-slow-db/db-1'],
      ['resolve', 'reflex/page-on-slow-db/db-1'],
      ['trigger', 'reflex/page-on-slow-db/db-1'],
    ]);
    expect(invalid.pagerduty).toEqual([]);
    expect(invalid.slack).toEqual([]);
  });

  it('a page PagerDuty keeps refusing (429) is tried 3 times in the run, is a problem of the run (exit 1) and is sent again by the next run, once', async () => {
    const dir = dbProject();
    setLatency(dir, 900);
    pdStatus = 429;
    const refused = await reflexAsync(dir, ['run'], env());
    expect(refused.code, refused.out).toBe(1);
    expect(refused.stdout).toMatch(/problem: escalation to pager failed: .*429.*\(after 3 attempts\)/);
    expect(events(pd)).toHaveLength(3);
    pdStatus = undefined;
    const retried = await reflexAsync(dir, ['run'], env());
    expect(retried.code, retried.out).toBe(0);
    await reflexAsync(dir, ['run'], env());
    expect(events(pd).map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'trigger', 'trigger']);
    expect(invalid.pagerduty).toEqual([]);
  });

  it('an execution interrupted by a crash is paged once, as a valid Events v2 trigger naming the execution', async () => {
    const dir = crashProject({ channels: `  pager: { kind: pagerduty, routing_key: "\${PD_ROUTING_KEY}", url: "${pd.base}/v2/enqueue" }` });
    dirs.push(dir);
    writeFileSync(join(dir, 'reflex.yaml'), readFileSync(join(dir, 'reflex.yaml'), 'utf8').replace('escalate_to: humans', 'escalate_to: pager'));
    setBroken(dir, ['box-1']);
    const crashed = await reflexAsync(dir, ['run'], { ...env(), REFLEX_FAILPOINT: 'after-running' });
    expect(crashed.signal).toBe('SIGKILL');
    await waitLeaseExpiry(dir);
    const next = await reflexAsync(dir, ['run'], env());
    expect(next.code, next.out).toBe(1);
    await reflexAsync(dir, ['run'], env());
    expect(invalid.pagerduty).toEqual([]);
    expect(events(pd)).toHaveLength(1);
    expect(events(pd)[0]).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'reflex-interrupted/1',
      payload: { severity: 'warning', component: 'box-1', custom_details: { execution: 1, status: 'running' } },
    });
    expect(String(events(pd)[0]!.payload!.summary)).toContain('outcome unknown for append on box-1 (execution #1)');
  });

  it('an interrupted execution whose page PagerDuty refused (3 attempts) is paged again by the next run, once', async () => {
    const dir = crashProject({ channels: `  pager: { kind: pagerduty, routing_key: "\${PD_ROUTING_KEY}", url: "${pd.base}/v2/enqueue" }` });
    dirs.push(dir);
    writeFileSync(join(dir, 'reflex.yaml'), readFileSync(join(dir, 'reflex.yaml'), 'utf8').replace('escalate_to: humans', 'escalate_to: pager'));
    setBroken(dir, ['box-1']);
    expect((await reflexAsync(dir, ['run'], { ...env(), REFLEX_FAILPOINT: 'after-intent' })).signal).toBe('SIGKILL');
    await waitLeaseExpiry(dir);
    pdStatus = 429;
    const refused = await reflexAsync(dir, ['run'], env());
    expect(refused.code, refused.out).toBe(1);
    expect(refused.stdout).toMatch(/problem: escalation to pager failed: .*429/);
    pdStatus = undefined;
    const retried = await reflexAsync(dir, ['run'], env());
    expect(retried.code, retried.out).toBe(0);
    await reflexAsync(dir, ['run'], env());
    // Three attempts in the refusing run, then one that got through.
    expect(events(pd).map((e) => [e.event_action, e.dedup_key])).toEqual(Array(4).fill(['trigger', 'reflex-interrupted/1']));
    expect(invalid.pagerduty).toEqual([]);
  });

  it('an action cancelled by SIGTERM is still escalated as failed before the run ends', async () => {
    const hook = await receiver();
    try {
      const dir = crashProject({ lease: '5s', channels: `  hook: { kind: webhook, url: "${hook.base}/hook" }` });
      dirs.push(dir);
      writeFileSync(
        join(dir, 'rules.yaml'),
        readFileSync(join(dir, 'rules.yaml'), 'utf8').replace('do: [{ action: append }]', 'do: [{ action: append }]\n    escalate: { to: hook, on: [failed] }'),
      );
      setAction(dir, { gate: true });
      setBroken(dir, ['box-1']);
      const run = start(dir, ['run']);
      await until(() => actionLines(dir).length === 1, 'the action to start');
      run.child.kill('SIGTERM');
      const stopped = await run.exited;
      expect(stopped.code, stopped.out).toBe(1);
      expect(stopped.stdout).not.toContain('escalation to hook failed');
      const sent = hook.requests.map((r) => JSON.parse(r.body) as { dedupKey: string; event: string; details: { outcome: string } });
      expect(sent.map((m) => [m.dedupKey, m.event, m.details.outcome])).toEqual([['reflex/repair/box-1', 'trigger', 'failed']]);
    } finally {
      await hook.close();
    }
  });
});
