// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright locators; innerText is the text a person sees
// The console in a real browser (Debian's chromium through playwright-core): every page loads with no CSP or script
// error, the filters work, a decision leads to its trace, the off switch flips only with the token; and screenshots.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Running } from '../../src/serve/server.js';
import { terminalSafe } from '../../src/util/terminal.js';
import { reflex, ROOT } from '../helpers.js';
import { appOver, HOSTILE, HUMAN_FILES, humanProject, recordedProject, TOKEN } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Screenshots go to REFLEX_SCREENSHOTS (docs/images to refresh the docs), else to a temporary folder. */
const SHOTS = process.env.REFLEX_SCREENSHOTS ? join(ROOT, process.env.REFLEX_SCREENSHOTS) : mkdtempSync(join(tmpdir(), 'reflex-shots-'));

type App = Awaited<ReturnType<typeof appOver>>;

async function browser(): Promise<{ ctx: BrowserContext; page: Page; problems: string[]; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'reflex-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  ctx.setDefaultTimeout(20_000);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const problems: string[] = [];
  // A CSP violation or a script error is a console error in the page.
  page.on('console', (m) => {
    // Refusals the tests provoke (400, 401) are asserted where they happen; anything else is a problem.
    if (m.type() === 'error' && !/responded with a status of 40[01]\b/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => void d.accept());
  return {
    ctx,
    page,
    problems,
    close: async () => {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Skipped only where Debian's chromium is not installed (a developer machine); .ci/run installs it, so CI runs these.
describe.skipIf(!existsSync(CHROMIUM))('the console in chromium', () => {
  let dir: string;
  let rw: App;
  let server: Running;
  let readOnly: Running;
  let b: Awaited<ReturnType<typeof browser>>;

  beforeAll(async () => {
    ({ dir } = recordedProject());
    rw = await appOver(dir, { token: TOKEN });
    server = await startServer({ store: rw.store, loaded: rw.loaded, coverage: null }, { token: TOKEN, host: '127.0.0.1', port: 0 });
    readOnly = await startServer({ store: rw.store, loaded: rw.loaded, coverage: null }, { token: null, host: '127.0.0.1', port: 0 });
    b = await browser();
  });
  afterAll(async () => {
    await b?.close();
    await server?.close();
    await readOnly?.close();
    await rw?.store.close();
  });

  it('loads every page without a script or CSP error', async () => {
    const pages: [string, string][] = [
      ['/', 'Overview'],
      ['/runs', 'Runs'],
      ['/runs/2', 'Run #2'],
      ['/decisions', 'Decisions'],
      ['/executions', 'Executions journal'],
      ['/guardrails', 'Switch, disables and audit'],
      ['/rules', 'Rules'],
      ['/approvals', 'Approvals'],
      ['/verifications', 'Verifications'],
      [`/target?id=${encodeURIComponent(HOSTILE.script)}`, `Target ${HOSTILE.script}`],
      [`/why?run=2&target=${encodeURIComponent(HOSTILE.quotes)}`, `Why: ${HOSTILE.quotes} in run #2`],
      ['/login', 'Log in'],
    ];
    for (const [p, title] of pages) {
      const res = await b.page.goto(server.url + p);
      expect(res?.status(), p).toBe(200);
      expect(await b.page.locator('h1').innerText(), p).toBe(title);
      // The stylesheet applied: the header is dark.
      expect(await b.page.locator('header').evaluate((e) => getComputedStyle(e).backgroundColor), p).toBe('rgb(29, 35, 42)');
    }
    // The chart is there, one bar group per run, each a link to its run.
    await b.page.goto(server.url);
    expect(await b.page.locator('figure.chart svg a').count()).toBe(2);
    expect(b.problems).toEqual([]);
  });

  it('filters decisions by outcome (the list submits itself), label and target', async () => {
    await b.page.goto(`${server.url}/decisions`);
    await Promise.all([b.page.waitForURL(/outcome=failed/), b.page.selectOption('select[name=outcome]', 'failed')]);
    const rows = b.page.locator('table.decisions tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('fix-flaky');
    await b.page.goto(`${server.url}/decisions`);
    await b.page.fill('input[name=label]', `team=${HOSTILE.label}`);
    await Promise.all([b.page.waitForURL(/label=/), b.page.click('form.filters button[type=submit]')]);
    const targets = await b.page.locator('table.decisions tbody tr td:nth-child(4)').allInnerTexts();
    expect(new Set(targets)).toEqual(new Set([HOSTILE.script]));
    await b.page.goto(`${server.url}/decisions`);
    await b.page.fill('input[name=target]', HOSTILE.quotes);
    await b.page.fill('input[name=run]', '1');
    await Promise.all([b.page.waitForURL(/target=/), b.page.click('form.filters button[type=submit]')]);
    expect(await b.page.locator('table.decisions tbody tr').count()).toBe(3);
    await b.page.screenshot({ path: join(SHOTS, 'console-decisions-filtered.png'), fullPage: true });
    expect(b.problems).toEqual([]);
  });

  it('follows a decision to its trace: exactly what `reflex why` prints', async () => {
    await b.page.goto(`${server.url}/decisions?run=2&outcome=failed`);
    await Promise.all([b.page.waitForURL(/\/why\?/), b.page.click('table.decisions a.why')]);
    const text = await b.page.locator('pre#why').innerText();
    expect(text).toContain('rule fix-flaky (severity warning): FAILED');
    const cli = reflex(['why', HOSTILE.quotes, '--run', '2', '--rule', 'fix-flaky'], { cwd: dir });
    expect(cli.status).toBe(0);
    expect(terminalSafe(text).trimEnd()).toBe(cli.stdout.trimEnd());
    await b.page.screenshot({ path: join(SHOTS, 'console-why.png'), fullPage: true });
  });

  it('flips the off switch only with the token, and the CLI sees it', async () => {
    // Read-only: no form, and a forged post is refused.
    await b.page.goto(readOnly.url);
    expect(await b.page.locator('text=read-only: no token configured').count()).toBe(1);
    expect(await b.page.locator('#switch-off').count()).toBe(0);
    // With a token but not logged in: no form either, and posting without a session is refused.
    await b.page.goto(server.url);
    expect(await b.page.locator('#switch-off').count()).toBe(0);
    const status = await b.page.evaluate(
      async () => (await fetch('/switch', { method: 'POST', body: new URLSearchParams({ state: 'off', reason: 'x' }) })).status,
    );
    expect(status).toBe(401);
    // A wrong token.
    await b.page.click('text=log in to make changes');
    await b.page.fill('input[name=name]', 'oncall-anna');
    await b.page.fill('input[name=token]', 'not-the-token-at-all');
    await b.page.click('form.login button');
    expect(await b.page.locator('p.error').innerText()).toBe('wrong token');
    expect((await rw.store.getSwitch()).off).toBe(false);
    // The right one, then the switch.
    await b.page.fill('input[name=token]', TOKEN);
    await Promise.all([b.page.waitForURL(`${server.url}/`), b.page.click('form.login button')]);
    await b.page.fill('#automation ~ form input[name=reason], form.change input[name=reason]', 'INC-42: database failover');
    await b.page.fill('form.change input[name=until]', '2h');
    await Promise.all([b.page.waitForURL(`${server.url}/`), b.page.click('#switch-off')]);
    expect(await b.page.locator('.banner.off').innerText()).toContain('Automation is switched OFF');
    expect(await b.page.locator('#automation .big').innerText()).toBe('OFF');
    await b.page.screenshot({ path: join(SHOTS, 'console-switched-off.png'), fullPage: true });
    const st = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(st.switch).toMatchObject({ off: true, by: 'oncall-anna', reason: 'INC-42: database failover' });
    expect(st.audit[0]).toMatchObject({
      by: 'oncall-anna',
      action: 'disable:all',
      detail: { via: 'console', client: expect.stringMatching(/^127\.0\.0\.1:\d+$/) },
    });
    await Promise.all([b.page.waitForURL(`${server.url}/`), b.page.click('#switch-on')]);
    expect(await b.page.locator('.banner.off').count()).toBe(0);
    expect((await rw.store.getSwitch()).off).toBe(false);
    expect(b.problems).toEqual([]);
  });

  it('disables a rule with a reason and expiry, and enables it again', async () => {
    await b.page.goto(`${server.url}/guardrails`);
    await b.page.selectOption('select[name=scope]', 'rule');
    await b.page.fill('form.grid input[name=value]', 'fix-flaky');
    await b.page.fill('form.grid input[name=reason]', 'keeps failing, see INC-43');
    await b.page.fill('form.grid input[name=until]', '1h');
    await Promise.all([b.page.waitForURL(/guardrails/), b.page.click('form.grid button')]);
    const row = b.page.locator('table.disables tr.active');
    expect(await row.count()).toBe(1);
    expect(await row.innerText()).toContain('rule "fix-flaky" disabled by oncall-anna: "keeps failing, see INC-43"');
    await b.page.screenshot({ path: join(SHOTS, 'console-guardrails.png'), fullPage: true });
    await Promise.all([b.page.waitForURL(/guardrails/), row.locator('button').click()]);
    expect(await b.page.locator('table.disables tr.active').count()).toBe(0);
    expect((await rw.store.listAudit(2)).map((a) => a.action)).toEqual(['enable:rule', 'disable:rule']);
    // A disable that names nothing real says why on the page.
    await b.page.selectOption('select[name=scope]', 'target');
    await b.page.fill('form.grid input[name=value]', 'web-99');
    await b.page.fill('form.grid input[name=reason]', 'typo');
    await b.page.click('form.grid button');
    expect(await b.page.locator('p.error').innerText()).toContain('no target "web-99"');
    expect(b.problems).toEqual([]);
  });
});

// Skipped only where Debian's chromium is not installed (a developer machine); .ci/run installs it, so CI runs these.
describe.skipIf(!existsSync(CHROMIUM))('approvals and verifications in chromium', () => {
  it('approves a pending request through the form after login, and lets a rule act again after an ineffective action', async () => {
    // Plain ids for the docs' pictures (the hostile ones are in human.test.ts and security.test.ts).
    const inv = `targets:
  - { id: db-7, kind: box, facts: { broken: true, stuck: false } }
  - { id: web-4, kind: box, facts: { broken: true, stuck: false } }
  - { id: cache-2, kind: box, facts: { broken: false, stuck: true } }
  - { id: web-1, kind: box, facts: { broken: false, stuck: false } }
`;
    const { dir } = humanProject({ ...HUMAN_FILES, 'inv.yaml': inv });
    const a = await appOver(dir, { token: TOKEN });
    const server = await startServer({ store: a.store, loaded: a.loaded, coverage: null }, { token: TOKEN, host: '127.0.0.1', port: 0 });
    const b = await browser();
    try {
      mkdirSync(SHOTS, { recursive: true });
      await b.page.goto(`${server.url}/`);
      expect(await b.page.locator('#pending-approvals .big').innerText()).toBe('2');
      await b.page.goto(`${server.url}/login?next=/approvals`);
      await b.page.fill('input[name=name]', 'anna');
      await b.page.fill('input[name=token]', TOKEN);
      await Promise.all([b.page.waitForURL(/\/approvals$/), b.page.click('form.login button')]);
      expect(await b.page.locator('#pending tbody tr').count()).toBe(2);
      await b.page.screenshot({ path: join(SHOTS, 'console-approvals.png'), fullPage: true });
      // The reason is required: the browser does not send the form without it.
      await b.page.click('#approve-1');
      expect(await b.page.locator('#pending tbody tr').count()).toBe(2);
      const row = b.page.locator('#approval-1');
      await row.locator('input[name=reason]').first().fill('checked the disk: replacing is right');
      await row.locator('input[name=expires]').fill('1h');
      await Promise.all([b.page.waitForURL(/answered=1/), b.page.click('#approve-1')]);
      expect(await b.page.locator('#notice').innerText()).toBe('approval #1: approved by anna ("checked the disk: replacing is right")');
      expect(await b.page.locator('#pending tbody tr').count()).toBe(1);
      expect(await b.page.locator('#answered #approval-1').innerText()).toContain('approved by anna');
      expect(await a.store.getApproval(1)).toMatchObject({ status: 'approved', by: 'anna' });

      await b.page.goto(`${server.url}/verifications`);
      await b.page.screenshot({ path: join(SHOTS, 'console-verifications.png'), fullPage: true });
      await b.page.fill('table.verifications input[name=reason]', 'replaced the cable');
      await Promise.all([b.page.waitForURL(/cleared=1/), b.page.click('table.verifications button')]);
      expect(await b.page.locator('#notice').innerText()).toBe('rule "nudge" may act on cache-2 again (execution #1 did not help; cleared by anna)');
      expect(b.problems).toEqual([]);
    } finally {
      await b.close();
      await server.close();
      await a.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The webshop example after the demo's story (a broken instance restarted, then cooled down): the docs' pictures. */
// Skipped only where Debian's chromium is not installed (a developer machine); .ci/run installs it, so CI runs these.
describe.skipIf(!existsSync(CHROMIUM))('screenshots of the example for docs/console.md', () => {
  it('shows every page of the webshop example', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-webshop-'));
    cpSync(join(ROOT, 'examples/webshop'), dir, { recursive: true, filter: (p) => !p.includes('.reflex') });
    const svc = (...a: string[]) => reflex(['--version'], { cwd: dir }) && require_ok(spawnNode(dir, ['demo/service.mjs', ...a]));
    svc('reset');
    reflex(['run', '--dry-run', '-q'], { cwd: dir });
    svc('break', 'web-2');
    reflex(['run', '--dry-run', '-q'], { cwd: dir });
    reflex(['run', '-q'], { cwd: dir });
    svc('break', 'web-2');
    reflex(['run', '-q'], { cwd: dir });
    reflex(['run', '-q'], { cwd: dir });
    reflex(['disable', '--target', 'web-4', '--reason', 'being rebuilt (CHG-1182)', '--until', '4h', '--by', 'anna'], { cwd: dir });
    const a = await appOver(dir, {
      token: TOKEN,
      coverage: new Map([
        ['restart-unhealthy-instance', { tested: true, passing: true, fired: true }],
        ['clean-full-disk', { tested: true, passing: true, fired: true }],
      ]),
    });
    const server = await startServer({ store: a.store, loaded: a.loaded, coverage: null }, { token: TOKEN, host: '127.0.0.1', port: 0 });
    const b = await browser();
    try {
      mkdirSync(SHOTS, { recursive: true });
      const shots: [string, string][] = [
        ['/', 'console-overview.png'],
        ['/runs', 'console-runs.png'],
        ['/runs/4', 'console-run.png'],
        ['/decisions', 'console-decisions.png'],
        ['/why?target=web-2&run=3', 'console-why-web-2.png'],
        ['/target?id=web-2', 'console-target.png'],
        ['/executions', 'console-executions.png'],
        ['/rules', 'console-rules.png'],
      ];
      for (const [p, file] of shots) {
        const res = await b.page.goto(server.url + p);
        expect(res?.status(), p).toBe(200);
        await b.page.screenshot({ path: join(SHOTS, file), fullPage: true });
      }
      await b.page.goto(`${server.url}/login?next=/guardrails`);
      await b.page.fill('input[name=name]', 'anna');
      await b.page.fill('input[name=token]', TOKEN);
      await Promise.all([b.page.waitForURL(/guardrails/), b.page.click('form.login button')]);
      await b.page.screenshot({ path: join(SHOTS, 'console-switch-and-disables.png'), fullPage: true });
      expect(b.problems).toEqual([]);
    } finally {
      await b.close();
      await server.close();
      await a.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { spawnSync } from 'node:child_process';

function spawnNode(cwd: string, args: string[]) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 });
}
function require_ok(r: ReturnType<typeof spawnNode>): boolean {
  if (r.status !== 0) throw new Error(`node ${r.stderr}`);
  return true;
}
