// The shipped alerting rules: promtool accepts them, their unit tests pass, and they only name series Reflex writes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BY_NAME } from '../../src/metrics/families.js';
import { ROOT } from '../helpers.js';
import { serviceAvailability } from '../sources/services.js';

const DIR = join(ROOT, 'deploy/prometheus');
const promtool = serviceAvailability('/usr/bin/promtool');
const run = (...args: string[]) => spawnSync('/usr/bin/promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 });

interface AlertRule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}
const rules: AlertRule[] = parse(readFileSync(join(DIR, 'reflex-alerts.yaml'), 'utf8')).groups.flatMap((g: { rules: AlertRule[] }) => g.rules);

describe('deploy/prometheus/reflex-alerts.yaml', () => {
  it('passes promtool check rules', () => {
    if (promtool.mustFail) throw new Error(promtool.reason);
    if (!promtool.available) return;
    const r = run('check', 'rules', 'reflex-alerts.yaml');
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('passes its unit tests (promtool test rules reflex-alerts.test.yaml)', () => {
    if (!promtool.available) return;
    const r = run('test', 'rules', 'reflex-alerts.test.yaml');
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('alerts on everything the issue names: not running, sources failing, a breaker, the off switch, escalations, blindness', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'ReflexNotRunning',
        'ReflexSourceFailing',
        'ReflexBreakerOpen',
        'ReflexOffSwitchOnTooLong',
        'ReflexEscalationsFailing',
        'ReflexAutomationBlind',
      ]),
    );
    expect(rules.find((r) => r.alert === 'ReflexNotRunning')!.expr).toContain('> 600');
  });

  it('names only series Reflex writes, and every alert is unit-tested and has a runbook section in docs/observability.md', () => {
    const tests = readFileSync(join(DIR, 'reflex-alerts.test.yaml'), 'utf8');
    const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');
    const anchors = new Set(
      [...doc.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const r of rules) {
      const series = [...r.expr.matchAll(/\b(reflex_[a-z_]+)\b/g)].map((m) => m[1]!);
      expect(series.length, r.alert).toBeGreaterThan(0);
      for (const s of series) expect(BY_NAME.has(s), `${r.alert} uses ${s}, which Reflex does not write`).toBe(true);
      expect(tests, `${r.alert} has no unit test`).toContain(`alertname: ${r.alert}\n        exp_alerts:\n          - exp_labels`);
      expect(['critical', 'warning']).toContain(r.labels.severity);
      const anchor = r.annotations.runbook_url!.split('#')[1]!;
      expect(anchors.has(anchor), `docs/observability.md has no section #${anchor}`).toBe(true);
    }
    for (const m of tests.matchAll(/series: '(reflex_[a-z_]+)\{/g)) expect(BY_NAME.has(m[1]!), m[1]).toBe(true);
  });
});
