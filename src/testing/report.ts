// The results of `reflex test` for people (text with diffs), for machines (JSON) and for CI systems (JUnit XML).
import { formatDiagnostic, type Diagnostic } from '../config/diagnostics.js';
import type { Coverage } from './coverage.js';
import type { Failure } from './expect.js';
import { fmt } from './load.js';
import type { ScenarioResult, StepResult } from './runner.js';

export interface Report {
  results: ScenarioResult[];
  diagnostics: Diagnostic[];
  invalid: { shown: string; diagnostics: Diagnostic[] }[];
  /** Absent when only some scenarios ran (--run). */
  coverage?: Coverage[];
}

const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');

function stepTitle(s: StepResult): string {
  return `step ${s.index + 1}${s.name ? ` "${s.name}"` : ''} (at ${fmt(s.at)}, run #${s.runId})`;
}

function failureText(f: Failure): string {
  const lines = [`${f.where}: ${f.title}`];
  if (f.expected !== undefined) lines.push(indent(`expected: ${f.expected.split('\n').join('\n          ')}`, '  '));
  if (f.got !== undefined) lines.push(indent(`got:      ${f.got.split('\n').join('\n          ')}`, '  '));
  if (f.why) lines.push('  why:', indent(f.why, '    '));
  return lines.join('\n');
}

/** One scenario's failures, as the text report and JUnit both show them. */
export function scenarioFailureText(r: ScenarioResult): string {
  const out: string[] = [];
  for (const s of r.steps) {
    if (s.failures.length === 0) continue;
    out.push(`${stepTitle(s)}:`);
    for (const f of s.failures) out.push(indent(failureText(f), '  '));
  }
  if (r.error) out.push(r.error);
  return out.join('\n');
}

export function textReport(rep: Report): string {
  const out: string[] = [];
  if (rep.diagnostics.length) out.push(rep.diagnostics.map(formatDiagnostic).join('\n'));
  for (const r of rep.results) {
    out.push(`${r.passed ? 'ok  ' : 'FAIL'}  ${r.where}  ${r.name}`);
    if (!r.passed) out.push(indent(scenarioFailureText(r), '  '));
  }
  for (const c of rep.coverage ?? []) {
    const tested = c.rules.filter((r) => r.tested);
    out.push(`coverage of ${c.config}: ${tested.length} of ${c.rules.length} rules tested`);
    const untested = c.rules.filter((r) => !r.tested).map((r) => r.name);
    if (untested.length) out.push(`  not tested by any scenario: ${untested.join(', ')}`);
    const idle = tested.filter((r) => !r.fired).map((r) => r.name);
    if (idle.length) out.push(`  never act in any scenario (tested only where they must not act): ${idle.join(', ')}`);
    if (c.requireTests) {
      const blocked = c.rules.filter((r) => r.enforced && !r.passing).map((r) => r.name);
      if (blocked.length) out.push(`  enforced without a passing scenario (guardrails.require_tests: reflex check fails): ${blocked.join(', ')}`);
    }
  }
  out.push(summaryLine(rep));
  return `${out.join('\n')}\n`;
}

export function summaryLine(rep: Report): string {
  const failed = rep.results.filter((r) => !r.passed).length;
  const parts = [`${rep.results.length} scenario${rep.results.length === 1 ? '' : 's'}: ${rep.results.length - failed} passed, ${failed} failed`];
  if (rep.invalid.length) parts.push(`${rep.invalid.length} invalid file${rep.invalid.length === 1 ? '' : 's'}`);
  return parts.join('; ');
}

export function jsonReport(rep: Report): string {
  const doc = {
    ok: rep.invalid.length === 0 && rep.results.every((r) => r.passed),
    summary: {
      scenarios: rep.results.length,
      passed: rep.results.filter((r) => r.passed).length,
      failed: rep.results.filter((r) => !r.passed).length,
      invalidFiles: rep.invalid.length,
    },
    problems: rep.diagnostics,
    scenarios: rep.results.map((r) => ({
      file: r.file,
      name: r.name,
      where: r.where,
      passed: r.passed,
      error: r.error ?? null,
      steps: r.steps.map((s) => ({ step: s.index + 1, name: s.name ?? null, at: fmt(s.at), run: s.runId, failures: s.failures })),
      tested: [...r.tested].sort(),
      fired: [...r.fired].sort(),
    })),
    coverage: rep.coverage ?? null,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function xml(s: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the rest is escaped.
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

/** What a failed scenario's `message` says: the first failed expectation (where and what), and how many more. */
export function failureMessage(r: ScenarioResult): string {
  const all = r.steps.flatMap((s) => s.failures.map((f) => ({ s, f })));
  const first = all[0];
  if (!first) return 'failed';
  const more = all.length > 1 ? ` (and ${all.length - 1} more expectation${all.length === 2 ? '' : 's'})` : '';
  return `${stepTitle(first.s)}: ${first.f.where}: ${first.f.title}${more}`;
}

/**
 * JUnit XML: one testsuite per scenario file, one testcase per scenario; an invalid file is a suite with one error.
 * It validates against the common JUnit schema (Jenkins' junit-10.xsd, which GitLab, GitHub actions and others
 * read). `locations` adds `file` and `line` to each testcase, outside that schema, for the readers that use them
 * (GitLab links a test to its file).
 */
export function junitReport(rep: Report, opts: { locations?: boolean } = {}): string {
  const suites = new Map<string, ScenarioResult[]>();
  for (const r of rep.results) {
    let list = suites.get(r.file);
    if (!list) suites.set(r.file, (list = []));
    list.push(r);
  }
  const lines: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let time = 0;
  for (const [file, rs] of suites) {
    const f = rs.filter((r) => !r.passed && !r.error).length;
    const e = rs.filter((r) => r.error).length;
    const t = rs.reduce((a, r) => a + r.durationMs, 0);
    tests += rs.length;
    failures += f;
    errors += e;
    time += t;
    lines.push(`  <testsuite name="${xml(file)}" tests="${rs.length}" failures="${f}" errors="${e}" skipped="0" time="${secs(t)}">`);
    for (const r of rs) {
      const line = r.where.slice(r.where.lastIndexOf(':') + 1);
      const at = opts.locations ? ` file="${xml(file)}" line="${line}"` : '';
      const head = `    <testcase classname="${xml(file)}" name="${xml(r.name)}"${at} time="${secs(r.durationMs)}"`;
      if (r.passed) {
        lines.push(`${head}/>`);
        continue;
      }
      const tag = r.error ? 'error' : 'failure';
      const message = r.error ? r.error : failureMessage(r);
      lines.push(
        `${head}>`,
        `      <${tag} message="${xml(message)}" type="${r.error ? 'RunError' : 'ExpectationFailed'}">${xml(scenarioFailureText(r))}</${tag}>`,
        '    </testcase>',
      );
    }
    lines.push('  </testsuite>');
  }
  for (const inv of rep.invalid) {
    tests += 1;
    errors += 1;
    const text = inv.diagnostics.map(formatDiagnostic).join('\n');
    const first = inv.diagnostics.find((d) => d.severity === 'error');
    lines.push(
      `  <testsuite name="${xml(inv.shown)}" tests="1" failures="0" errors="1" skipped="0" time="0.000">`,
      `    <testcase classname="${xml(inv.shown)}" name="loads without errors"${opts.locations ? ` file="${xml(inv.shown)}"` : ''} time="0.000">`,
      `      <error message="${xml(first ? formatDiagnostic(first) : 'invalid')}" type="InvalidFile">${xml(text)}</error>`,
      '    </testcase>',
      '  </testsuite>',
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="reflex test" tests="${tests}" failures="${failures}" errors="${errors}" time="${secs(time)}">`,
    ...lines,
    '</testsuites>',
    '',
  ].join('\n');
}
