// What on-call receives, counted at real receivers on this machine (PagerDuty, Slack and webhook, all three at once):
// one message per cause, never one per target, across real runs of the CLI.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { receiver, type Receiver } from '../actions/helpers.js';
import { fixture } from '../helpers.js';
import { reflexAsync } from './harness.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
let pd: Receiver;
let slack: Receiver;
let hook: Receiver;
const dirs: string[] = [];
beforeAll(async () => {
  [pd, slack, hook] = await Promise.all([
    receiver((_q, res) => res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success"}')),
    receiver(),
    receiver(),
  ]);
});
beforeEach(() => {
  for (const r of [pd, slack, hook]) r.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([pd.close(), slack.close(), hook.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const N = 10;
const env = () => ({ PD_KEY: ROUTING_KEY, SLACK_URL: `${slack.base}/services/T0/B0/X`, HOOK_URL: `${hook.base}/reflex` });

/** What each receiver got: PagerDuty's event actions with dedup keys; Slack's texts; the webhook's types with ids. */
const pdEvents = () => pd.requests.map((q) => JSON.parse(q.body) as { event_action: string; dedup_key: string; payload?: { summary: string } });
const hookEvents = () => hook.requests.map((q) => JSON.parse(q.body) as { type: string; dedupKey: string; summary: string });
const counts = () => ({ pagerduty: pd.requests.length, slack: slack.requests.length, webhook: hook.requests.length });

/**
 * Ten instances, three identical rules (one per channel kind) that restart an unhealthy instance, and a health
 * source that a test can make fail. Breakers that count targets are out of the way: the causes under test are
 * the switch, the limits and blindness.
 */
function project(guardrails = ''): string {
  const dir = fixture(
    {
      'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
  - { name: health, kind: command, argv: [${JSON.stringify(process.execPath)}, health.mjs], facts: [healthy] }
actions:
  restart: { kind: exec, argv: ["true"], cooldown: 1h }
channels:
  pager: { kind: pagerduty, routing_key: "\${PD_KEY}", url: "${pd.base}/v2/enqueue" }
  chat: { kind: slack, url: "\${SLACK_URL}" }
  hook: { kind: webhook, url: "\${HOOK_URL}" }
defaults: { mode: enforce }
guardrails:
  budget_per_run: 1000
  widespread: { min_targets: 1000 }
  blast_radius: { per_rule: "${guardrails || '1000 per 10m'}", group_fraction: 1, group_by: [] }
`,
      'rules.yaml': `rules:
${['pager', 'chat', 'hook']
  .map(
    (c) => `  - name: restart-${c}
    target: { kind: instance }
    when: { unhealthy: "!facts.healthy" }
    do: [{ action: restart }]
    escalate: { to: ${c} }
`,
  )
  .join('')}`,
      'inventory.json': JSON.stringify({ targets: Array.from({ length: N }, (_, i) => ({ id: `web-${i + 1}`, kind: 'instance' })) }),
      'health.mjs': `import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync(new URL('./health.json', import.meta.url), 'utf8'));
if (s.down) { console.error('health API unreachable: connection refused'); process.exit(1); }
console.log(JSON.stringify({ targets: Array.from({ length: ${N} }, (_, i) => ({ id: 'web-' + (i + 1), facts: { healthy: !s.unhealthy } })) }));
`,
    },
    'reflex-people-',
  );
  dirs.push(dir);
  setHealth(dir, { unhealthy: true });
  return dir;
}

function setHealth(dir: string, s: { unhealthy?: boolean; down?: boolean }): void {
  writeFileSync(join(dir, 'health.json'), JSON.stringify(s));
}

describe('what on-call receives', () => {
  it('the off switch with 10 matching targets: one summary per rule, not one page per target; none again while it lasts; resolved when switched on', async () => {
    const dir = project();
    const off = await reflexAsync(dir, ['disable', '--all', '--reason', 'deploy freeze', '--by', 'alice']);
    expect(off.code, off.out).toBe(0);
    const r = await reflexAsync(dir, ['run'], env());
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.match(/BLOCKED {5}restart-pager/g)).toHaveLength(N);
    expect(counts()).toEqual({ pagerduty: 1, slack: 1, webhook: 1 });
    const [page] = pdEvents();
    expect(page!.dedup_key).toBe('reflex-cause/restart-pager/switch:off');
    expect(page!.payload!.summary).toBe(
      'restart-pager: 10 targets not acted on (web-1, web-10, web-2, web-3, web-4 and 5 more): automation is switched off by alice: "deploy freeze"',
    );
    expect(hookEvents()[0]).toMatchObject({ type: 'escalation.trigger', dedupKey: 'reflex-cause/restart-hook/switch:off' });
    expect(JSON.parse(hook.requests[0]!.body).details).toMatchObject({ count: 10, cause: 'switch:off', list_all: 'reflex why --rule restart-hook --run 1' });

    // Still off: nothing more.
    for (const r of [pd, slack, hook]) r.requests.length = 0;
    expect((await reflexAsync(dir, ['run'], env())).code).toBe(0);
    expect(counts()).toEqual({ pagerduty: 0, slack: 0, webhook: 0 });

    // Switched on: the rules act, and the summaries resolve.
    expect((await reflexAsync(dir, ['enable', '--all', '--by', 'alice'])).code).toBe(0);
    const on = await reflexAsync(dir, ['run'], env());
    expect(on.stdout.match(/EXECUTED {4}restart-pager/g), on.out).toHaveLength(N);
    expect(pdEvents().map((e) => [e.event_action, e.dedup_key])).toEqual([['resolve', 'reflex-cause/restart-pager/switch:off']]);
    expect(hookEvents().map((e) => [e.type, e.dedupKey])).toEqual([['escalation.resolve', 'reflex-cause/restart-hook/switch:off']]);
  });

  it('with escalate.switched_off: each, a rule pages per target as before; with none, not at all', async () => {
    const dir = project();
    const rules = join(dir, 'rules.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(
      rules,
      readFileSync(rules, 'utf8')
        .replace('escalate: { to: pager }', 'escalate: { to: pager, switched_off: each }')
        .replace('escalate: { to: chat }', 'escalate: { to: chat, switched_off: none }'),
    );
    expect((await reflexAsync(dir, ['disable', '--all', '--reason', 'freeze'])).code).toBe(0);
    const r = await reflexAsync(dir, ['run'], env());
    expect(r.code, r.out).toBe(0);
    expect(counts()).toEqual({ pagerduty: N, slack: 0, webhook: 1 });
  });

  it('a limit reached with 8 blocked: one message per rule naming the count', async () => {
    const dir = project('2 per 10m');
    const r = await reflexAsync(dir, ['run'], env());
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.match(/EXECUTED {4}restart-pager/g)).toHaveLength(2);
    expect(r.stdout.match(/BLOCKED {5}restart-pager/g)).toHaveLength(8);
    expect(counts()).toEqual({ pagerduty: 1, slack: 1, webhook: 1 });
    expect(pdEvents()[0]!.payload!.summary).toMatch(
      /^restart-pager: 8 targets not acted on \(web-2, web-3, web-4, web-5, web-6 and 3 more\): blast radius: 2 of a limit of 2/,
    );
  });

  it('the health source down for every target over 2 runs: exactly one alarm per rule, resolved when it is back', async () => {
    const dir = project();
    setHealth(dir, { down: true });
    for (let i = 0; i < 2; i++) {
      const r = await reflexAsync(dir, ['run'], env());
      expect(r.code, r.out).toBe(1); // a blind run is not a success (docs/guardrails.md)
      expect(r.stdout).toContain('UNKNOWN');
    }
    expect(counts()).toEqual({ pagerduty: 1, slack: 1, webhook: 1 });
    const [alarm] = pdEvents();
    expect(alarm!.dedup_key).toBe('reflex-blind/restart-pager');
    expect(alarm!.payload!.summary).toMatch(/^automation is blind for rule restart-pager: all 10 targets unknown: .*health.*failed/);

    // Sight returns (and the instances are healthy): the alarm resolves, and nothing else is sent.
    for (const r of [pd, slack, hook]) r.requests.length = 0;
    setHealth(dir, {});
    const back = await reflexAsync(dir, ['run'], env());
    expect(back.code, back.out).toBe(0);
    expect(pdEvents().map((e) => [e.event_action, e.dedup_key])).toEqual([['resolve', 'reflex-blind/restart-pager']]);
    expect(hookEvents().map((e) => [e.type, e.dedupKey])).toEqual([['escalation.resolve', 'reflex-blind/restart-hook']]);
    expect(slack.requests.map((q) => JSON.parse(q.body).text)).toEqual([expect.stringMatching(/resolved: automation is blind for rule restart-chat/)]);
  });
});

describe('what a message carries', () => {
  it('an escalation names the facts behind the decision with their sources, the rule’s description, the run and the command to see more', async () => {
    const dir = project();
    const rules = join(dir, 'rules.yaml');
    const { readFileSync } = await import('node:fs');
    // One target, an action that fails: each rule pages about its one failure.
    writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ targets: [{ id: 'web-1', kind: 'instance', labels: { service: 'shop' } }] }));
    writeFileSync(
      rules,
      readFileSync(rules, 'utf8').replaceAll(
        'target: { kind: instance }',
        'description: An instance fails its health check. Restart it.\n    target: { kind: instance }',
      ),
    );
    writeFileSync(join(dir, 'reflex.yaml'), readFileSync(join(dir, 'reflex.yaml'), 'utf8').replace('argv: ["true"]', 'argv: ["false"]'));
    const r = await reflexAsync(dir, ['run'], env());
    expect(r.code, r.out).toBe(1);
    expect(counts()).toEqual({ pagerduty: 1, slack: 1, webhook: 1 });
    const facts = ['unhealthy holds: !facts.healthy (facts.healthy = false from source "health")'];
    const page = JSON.parse(pd.requests[0]!.body);
    expect(page.payload.source).toBe('web-1');
    expect(page.payload.custom_details).toMatchObject({
      run: 1,
      description: 'An instance fails its health check. Restart it.',
      facts,
      more: 'reflex why web-1 --run 1',
      verdict: expect.stringMatching(/web-1/),
    });
    expect(JSON.parse(hook.requests[0]!.body).details).toMatchObject({ run: 1, facts, more: 'reflex why web-1 --run 1' });
    const blocks = JSON.parse(slack.requests[0]!.body).blocks as { text?: { text: string }; elements?: { text: string }[] }[];
    const texts = blocks.flatMap((b) => [b.text?.text, ...(b.elements ?? []).map((e) => e.text)]).filter(Boolean);
    expect(texts).toContain('An instance fails its health check. Restart it.');
    expect(texts).toContain(`Facts:\n${facts[0]}`);
    expect(texts).toContainEqual(expect.stringMatching(/^run 1 · more: reflex why web-1 --run 1 · dedup key: reflex\/restart-chat\/web-1$/));
  });
});

describe('a remediation storm', () => {
  it('each restart makes two neighbours unhealthy: over 10 runs the storm breaker trips and pages once per rule', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`);
    const dir = fixture(
      {
        'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
  - { name: health, kind: command, argv: [${JSON.stringify(process.execPath)}, health.mjs], facts: [healthy] }
actions:
  restart: { kind: exec, argv: [${JSON.stringify(process.execPath)}, restart.mjs, "{{ target.id }}"], cooldown: 1h, params: {} }
channels:
  pager: { kind: pagerduty, routing_key: "\${PD_KEY}", url: "${pd.base}/v2/enqueue" }
defaults: { mode: enforce, max_concurrency: 1 }
guardrails:
  budget_per_run: 1
  widespread: { min_targets: 1000, implausible: false }
  blast_radius: { per_rule: "1000 per 10m", group_fraction: 1, group_by: [] }
`,
        'rules.yaml': `rules:
  - name: restart-unhealthy
    target: { kind: instance }
    when: { unhealthy: "!facts.healthy" }
    do: [{ action: restart }]
    escalate: { to: pager, on: [failed] }
`,
        'inventory.json': JSON.stringify({ targets: ids.map((id) => ({ id, kind: 'instance' })) }),
        'state.json': JSON.stringify({ unhealthy: ['web-01'] }),
        'health.mjs': `import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync(new URL('./state.json', import.meta.url), 'utf8'));
const ids = ${JSON.stringify(ids)};
console.log(JSON.stringify({ targets: ids.map((id) => ({ id, facts: { healthy: !s.unhealthy.includes(id) } })) }));
`,
        // The restart "fixes" its target and knocks over the next two healthy ones.
        'restart.mjs': `import { readFileSync, writeFileSync } from 'node:fs';
const f = new URL('./state.json', import.meta.url);
const s = JSON.parse(readFileSync(f, 'utf8'));
const ids = ${JSON.stringify(ids)};
const me = process.argv[2];
s.unhealthy = s.unhealthy.filter((x) => x !== me);
s.hit = [...(s.hit ?? []), me];
let n = 0;
for (const id of ids) if (n < 2 && id !== me && !s.unhealthy.includes(id) && !(s.hit ?? []).includes(id)) { s.unhealthy.push(id); n++; }
writeFileSync(f, JSON.stringify(s));
`,
      },
      'reflex-storm-',
    );
    dirs.push(dir);
    let restarts = 0;
    for (let run = 1; run <= 10; run++) {
      const r = await reflexAsync(dir, ['run'], env());
      // From the fourth run the breaker holds the rule: a tripped breaker is a problem of the run (exit 1).
      expect(r.code, r.out).toBe(run < 4 ? 0 : 1);
      restarts += (r.stdout.match(/EXECUTED {4}restart-unhealthy/g) ?? []).length;
    }
    // One restart per run (budget 1) until the breaker sees the storm: 3 actions, 6 targets newly in trouble.
    expect(restarts).toBe(3);
    expect(pdEvents().map((e) => [e.event_action, e.dedup_key])).toEqual([['trigger', 'reflex-breaker/storm/restart-unhealthy/*']]);
    expect(pdEvents()[0]!.payload!.summary).toMatch(
      /^remediation storm in rule restart-unhealthy's targets: 3 actions in 30m, \d+ new troubled targets after them: rule restart-unhealthy stopped$/,
    );
  });
});
