// Reflex's own metrics, end to end: the compiled CLI on a copy of the webshop example writes a textfile that Debian's
// promtool accepts, pushes to a real Pushgateway, and exposes the same series from the store as reflex serve will.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushgatewayGroupUrl, pushMetrics } from '../../src/metrics/publish.js';
import { renderStoreMetrics } from '../../src/metrics/store.js';
import { openStore } from '../../src/store/index.js';
import { reflex, ROOT } from '../helpers.js';
import { freePort, serviceAvailability, startService, type Service } from '../sources/services.js';

const PROMTOOL = '/usr/bin/promtool';
const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';

function project(extra: string, edit: (yaml: string) => string = (y) => y): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-metrics-'));
  cpSync(join(ROOT, 'examples', 'webshop'), dir, { recursive: true, filter: (src) => !src.includes('.reflex') });
  const file = join(dir, 'reflex.yaml');
  writeFileSync(file, `${edit(readFileSync(file, 'utf8'))}\n${extra}`);
  return dir;
}
const demo = (dir: string, ...args: string[]) => spawnSync(process.execPath, ['demo/service.mjs', ...args], { cwd: dir, encoding: 'utf8' });

/** `promtool check metrics` on a text: its exit code and what it printed (lint problems). */
function promtoolCheckMetrics(text: string): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The value of one sample (exact labels text, as rendered), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const promtool = serviceAvailability(PROMTOOL);

describe('metrics in the textfile collector file', () => {
  let dir: string;
  let prom: string;
  beforeAll(() => {
    dir = project('metrics:\n  textfile: metrics/reflex.prom\n');
    prom = join(dir, 'metrics/reflex.prom');
    mkdirSync(join(dir, 'metrics'));
  });

  it('a run that restarts an instance writes the run, its stages, sources, decisions and execution, and promtool accepts the file', () => {
    if (promtool.mustFail) throw new Error(promtool.reason);
    demo(dir, 'break', 'web-2');
    const r = reflex(['run'], { cwd: dir });
    expect(r.status).toBe(0);
    const text = readFileSync(prom, 'utf8');
    expect(sample(text, 'reflex_runs_total{status="ok"}')).toBe(1);
    expect(sample(text, 'reflex_runs_total{status="failed"}')).toBe(0);
    expect(sample(text, 'reflex_executions_total{action="restart-instance",rule="restart-unhealthy-instance",status="succeeded"}')).toBe(1);
    expect(sample(text, 'reflex_last_run_decisions{outcome="executed",rule="restart-unhealthy-instance"}')).toBe(1);
    expect(sample(text, 'reflex_last_run_decisions{outcome="not_matched",rule="restart-unhealthy-instance"}')).toBe(3);
    expect(sample(text, 'reflex_source_up{kind="command",source="health"}')).toBe(1);
    expect(sample(text, 'reflex_source_duration_seconds{source="health"}')).toBeGreaterThan(0);
    expect(sample(text, 'reflex_run_duration_seconds{stage="act"}')).toBeGreaterThan(0);
    expect(sample(text, 'reflex_off_switch_on')).toBe(0);
    expect(sample(text, 'reflex_runs_skipped_total{reason="lease_held"}')).toBe(0);
    expect(sample(text, 'reflex_rule_blind{rule="restart-unhealthy-instance"}')).toBe(0);
    // Every configured channel is counted from the first run on, so that its first failure is an increase.
    expect(sample(text, 'reflex_escalations_total{channel="oncall",result="failed"}')).toBe(0);
    const last = sample(text, 'reflex_run_last_success_timestamp_seconds')!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(600);
    // Only the file itself is left in the collector's folder: the temporary file was renamed over it.
    expect(readdirSync(join(dir, 'metrics'))).toEqual(['reflex.prom']);
    if (!promtool.available) return;
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, out: '' });
  });

  it('counters grow run after run, while the last-run series describe only the last run', () => {
    const r = reflex(['run'], { cwd: dir });
    expect(r.status).toBe(0);
    const text = readFileSync(prom, 'utf8');
    expect(sample(text, 'reflex_runs_total{status="ok"}')).toBe(2);
    expect(sample(text, 'reflex_executions_total{action="restart-instance",rule="restart-unhealthy-instance",status="succeeded"}')).toBe(1);
    expect(sample(text, 'reflex_last_run_decisions{outcome="executed",rule="restart-unhealthy-instance"}')).toBeUndefined();
    expect(sample(text, 'reflex_last_run_decisions{outcome="not_matched",rule="restart-unhealthy-instance"}')).toBe(4);
  });

  it('the store renders the same series as the textfile (what reflex serve exposes on /metrics)', async () => {
    const store = await openStore('.reflex/state.db', dir);
    try {
      await store.migrate();
      const fromStore = await renderStoreMetrics(store, { now: Date.now() });
      expect(fromStore).toBe(readFileSync(prom, 'utf8'));
    } finally {
      await store.close();
    }
  });

  it('a run that finds the lease held counts a skipped run and changes nothing else', async () => {
    const store = await openStore('.reflex/state.db', dir);
    await store.migrate();
    const lease = await store.acquireLease('run', 'another-runner:1', 60_000, Date.now());
    try {
      expect(lease.acquired).toBe(true);
      const r = reflex(['run'], { cwd: dir });
      expect(r.status).toBe(4);
      const text = readFileSync(prom, 'utf8');
      expect(sample(text, 'reflex_runs_skipped_total{reason="lease_held"}')).toBe(1);
      expect(sample(text, 'reflex_runs_total{status="ok"}')).toBe(2);
      if (promtool.available) expect(promtoolCheckMetrics(text)).toEqual({ status: 0, out: '' });
    } finally {
      if (lease.acquired) await store.releaseLease({ name: 'run', token: lease.token });
      await store.close();
    }
  });

  it('the off switch shows, with when it was turned on', () => {
    expect(reflex(['disable', '--all', '--reason', 'maintenance window', '--by', 'alice'], { cwd: dir }).status).toBe(0);
    const before = Date.now() / 1000;
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    const text = readFileSync(prom, 'utf8');
    expect(sample(text, 'reflex_off_switch_on')).toBe(1);
    expect(sample(text, 'reflex_off_switch_changed_timestamp_seconds')).toBeLessThanOrEqual(before + 1);
    expect(reflex(['enable', '--all', '--reason', 'done', '--by', 'alice'], { cwd: dir }).status).toBe(0);
  });

  it('a textfile that cannot be written is a warning: the run and its exit code are unaffected', () => {
    const locked = project('metrics:\n  textfile: /proc/reflex-cannot-write/reflex.prom\n');
    const r = reflex(['run'], { cwd: locked });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('metrics: could not write the textfile /proc/reflex-cannot-write/reflex.prom');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('metrics of a run in trouble', () => {
  it('a failing source, a blind rule and escalations that cannot be sent are counted where people alert on them', async () => {
    const closed = await freePort(); // nothing listens there: every message fails
    const dir = project('metrics:\n  textfile: reflex.prom\n', (y) =>
      y
        .replace('argv: [node, demo/service.mjs, status]', 'argv: [node, demo/no-such-script.mjs]')
        .replace(/oncall:.*\n(\s+)kind: log\n\s+path: .*\n/, `oncall:\n$1kind: webhook\n$1url: http://127.0.0.1:${closed}/hook\n`),
    );
    const r = reflex(['run'], { cwd: dir });
    expect(r.status).toBe(1);
    const text = readFileSync(join(dir, 'reflex.prom'), 'utf8');
    expect(sample(text, 'reflex_source_up{kind="command",source="health"}')).toBe(0);
    expect(sample(text, 'reflex_source_up{kind="inventory",source="inventory"}')).toBe(1);
    expect(sample(text, 'reflex_rule_blind{rule="restart-unhealthy-instance"}')).toBe(1);
    expect(sample(text, 'reflex_escalations_total{channel="oncall",result="failed"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'reflex_escalations_total{channel="oncall",result="sent"}')).toBe(0);
    expect(sample(text, 'reflex_runs_total{status="problems"}')).toBe(1);
    // A run with problems still completed: it counts as the last success (the source alerts say what is wrong).
    expect(sample(text, 'reflex_run_last_success_timestamp_seconds')).toBeGreaterThan(0);
    if (promtool.mustFail) throw new Error(promtool.reason);
    if (promtool.available) expect(promtoolCheckMetrics(text)).toEqual({ status: 0, out: '' });
  });
});

const gateway = serviceAvailability(PUSHGATEWAY);

describe('metrics pushed to a real Pushgateway', () => {
  let gw: Service | null = null;
  beforeAll(async () => {
    if (!gateway.available) return;
    gw = await startService({
      bin: PUSHGATEWAY,
      args: ({ port }) => [`--web.listen-address=127.0.0.1:${port}`],
      readyPath: '/-/ready',
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('a run pushes its series grouped by job and instance; the gateway accepts every family', async () => {
    if (gateway.mustFail) throw new Error(gateway.reason);
    if (!gw) return;
    const dir = project(`metrics:\n  pushgateway: ${gw.url}\n  instance: runner-a\n`);
    demo(dir, 'break', 'web-3');
    const r = reflex(['run'], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('could not push');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain('reflex_runs_total{instance="runner-a",job="reflex",status="ok"} 1');
    expect(text).toContain(
      'reflex_executions_total{action="restart-instance",instance="runner-a",job="reflex",rule="restart-unhealthy-instance",status="succeeded"} 1',
    );
    expect(text).toMatch(/push_time_seconds\{instance="runner-a",job="reflex"\} \d/);
  });

  it('a sharded runner has its own group, the shard label carried by the grouping key', async () => {
    if (!gw) return;
    const shard = 'shard:1/4,shard:3/4';
    const body = '# HELP reflex_last_run_targets Targets the last run collected.\n# TYPE reflex_last_run_targets gauge\nreflex_last_run_targets 7\n';
    await pushMetrics(pushgatewayGroupUrl(gw.url, { job: 'reflex', instance: 'runner-b', shard }), body, 5_000);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain(`reflex_last_run_targets{instance="runner-b",job="reflex",shard="${shard}"} 7`);
  });

  it('a push the gateway refuses is reported with its answer, and the run goes on', async () => {
    if (!gw) return;
    await expect(pushMetrics(`${gw.url}/metrics/job/reflex`, 'not a metric line at all\n', 5_000)).rejects.toThrow(/HTTP 400/);
    const dir = project(`metrics:\n  pushgateway: ${gw.url}/nowhere\n`);
    const r = reflex(['run'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(
      /metrics: could not push to the Pushgateway at http:\/\/127\.0\.0\.1:\d+\/nowhere\/metrics\/job\/reflex\/instance\/[^:]+: HTTP 404/,
    );
  });
});
