// Every kind of configuration mistake in test/fixtures/broken/<case>: `reflex check` exits 2 and prints exactly these lines.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reflex, ROOT } from '../helpers.js';

const BROKEN = join(ROOT, 'test/fixtures/broken');

/** case -> the exact diagnostics, sorted by file, line and column, as `reflex check` prints them. */
const EXPECTED: Record<string, string[]> = {
  'action-params': [
    'rules/app.yaml:8:46: action "restart" has no parameter "force"',
    'rules/app.yaml:14:9: action "restart" needs parameter "instance" (under "with:")',
    'rules/app.yaml:21:27: rule "restart-web-1": with.instance = "db-1" does not match the pattern /web-[0-9]+/ of action "restart"',
  ],
  'bad-duration': [
    'reflex.yaml:14:13: "cooldown": expected a duration such as 30s, 5m, 1h30m or 7d, not the text "5 minutes"',
    'reflex.yaml:15:19: "action_timeout" must be a duration with a unit, such as 300s or 300m, not the number 300',
    'rules/app.yaml:9:19: "cooldown": expected a duration such as 30s, 5m, 1h30m or 7d, not the text "1hour"',
  ],
  'bad-for': [
    'rules/app.yaml:6:10: "for": expected a duration such as 5m, or a number of consecutive runs such as "3 runs", not the text "3 minutes"',
    'rules/app.yaml:14:10: rule "restart-down-again": "for: 0 runs" must be at least 1 run',
  ],
  'block-scalars': [
    'rules/app.yaml:7:28: rule "restart-down", when "down": unknown variable `flase`; known variables: facts, labels, target, agg, depends_on, dependents, upstream, downstream, now',
    'rules/app.yaml:11:15: rule "restart-down": unknown fact "cpuu", did you mean "cpu"? (no source provides it and no rule derives it)',
    'rules/app.yaml:12:50: rule "restart-down", when "named": unknown variable `fact`, did you mean `facts`?',
    'rules/app.yaml:13:42: rule "restart-down", when "single": unknown variable `fact`, did you mean `facts`?',
  ],
  'cel-syntax': [
    'rules/app.yaml:5:29: rule "restart-down", when "down": Unexpected token: EOF',
    'rules/app.yaml:6:26: rule "restart-down", when "busy": Unexpected token: GT',
    'rules/app.yaml:7:36: rule "restart-down", when "restarts": Unexpected character: \')\'',
  ],
  'cel-unknown-variable': [
    'rules/app.yaml:5:13: rule "restart-down", when "down": unknown variable `fact`, did you mean `facts`?',
    'rules/app.yaml:7:14: rule "restart-down", context "db_ok": unknown variable `depend_on`, did you mean `depends_on`?',
    'rules/app.yaml:8:25: rule "restart-down", context "target_ok": unknown field `idd` of `target`, did you mean `id`?',
  ],
  'derive-cycle': ['rules/app.yaml:4:13: derived facts form a cycle: a (a_bad) -> b (b_bad) -> a (a_bad)'],
  'derive-with-actions': [
    'rules/app.yaml:7:10: rule "storage-slow" derives a fact; "for:" applies to acting rules only',
    'rules/app.yaml:9:7: rule "storage-slow" derives a fact; it cannot also have actions (make a second rule that reads facts.storage_slow)',
  ],
  'duplicate-rule-name': ['rules/b.yaml:8:11: duplicate rule name "restart-down" (first defined at rules/a.yaml:2)'],
  'duplicate-yaml-key': [
    'reflex.yaml:14:3: duplicate key "escalate_to" (first at line 13); YAML keeps only one of them',
    'rules/app.yaml:6:7: duplicate key "down" (first at line 5); YAML keeps only one of them',
  ],
  'enum-suggestion': [
    'reflex.yaml:2:17: "max_severity" must be one of info, warning, critical, not the text "warn", did you mean "warning"?',
    'rules/app.yaml:6:15: "severity" must be one of info, warning, critical, not the text "critcal", did you mean "critical"?',
    'rules/app.yaml:7:11: "mode" must be one of dry-run, approve, enforce, not the text "enforced", did you mean "enforce"?',
    'rules/app.yaml:15:34: "on" item 1 must be one of matched, context, blocked, failed, unknown, not the text "blockd", did you mean "blocked"?',
  ],
  'glob-matches-nothing': [
    'reflex.yaml:3:5: no rule files match "rules/*.yml"',
    'reflex.yaml:4:5: no rule files match "extra/sop.yaml" (the file does not exist)',
  ],
  'inventory-error': ['inventory.yaml:2:66: source "inventory": label `zones` must be text, a number or a boolean, not a list'],
  'label-selector': [
    'rules/app.yaml:6:14: rule "restart-down": label selector "env" has an empty value (name the value to match, or "!value" to exclude one)',
    'rules/app.yaml:7:15: rule "restart-down": label selector "zone": "!" excludes nothing (write "!value")',
    'rules/app.yaml:8:21: rule "restart-down": label selector "tier": a list means "any of" and cannot hold a negation ("!batch"); use a single "!value"',
  ],
  'missing-env': [
    'reflex.yaml:14:10: environment variable REFLEX_TEST_UNSET_SLACK_URL is not set',
    'reflex.yaml:17:23: environment variable REFLEX_TEST_UNSET_PD_KEY is not set',
  ],
  'proto-key': ['rules/app.yaml:6:9: key "__proto__" is not allowed'],
  'unreadable-name': [
    'rules/app.yaml:2:11: "name": fact names are identifiers: letters, digits and "_", not starting with a digit (and not `__proto__` or `constructor`), not the text "__proto__"',
    'rules/app.yaml:10:13: "derive": fact names are identifiers: letters, digits and "_", not starting with a digit (and not `__proto__` or `constructor`), not the text "constructor"',
  ],
  'several-files': [
    'reflex.yaml:13:16: unknown channel "on-call", did you mean "oncall"?',
    'rules/a.yaml:5:22: rule "restart-down", when "down": Unexpected character: =',
    'rules/b.yaml:7:5: unknown field "severty", did you mean "severity"?',
    'rules/b.yaml:11:19: rule "page-db-latency": unknown fact "latency", did you mean "latency_ms"? (no source provides it and no rule derives it)',
    'rules/b.yaml:12:15: unknown channel "oncal", did you mean "oncall"?',
    'rules/b.yaml:13:11: duplicate rule name "restart-down" (first defined at rules/a.yaml:2)',
  ],
  'template-scope': [
    'reflex.yaml:12:33: action "drain": {{ params.instnce }}: action "drain" declares no param "instnce", did you mean "instance"?',
    'reflex.yaml:12:57: action "drain": unknown placeholder {{ target.name }}: target has target.id and target.kind',
    'rules/app.yaml:8:28: rule "drain-down", with.instance: {{ lables.service }}: unknown scope "lables", did you mean "labels"?',
    'rules/app.yaml:11:42: rule "drain-down", summary: {{ facts.cpuu }}: unknown fact "cpuu", did you mean "cpu"? (no source provides it and no rule derives it)',
  ],
  'unknown-action': ['rules/app.yaml:7:17: unknown action "restrat", did you mean "restart"?'],
  'unknown-aggregate': [
    'rules/app.yaml:13:27: unknown aggregate "agg.unhealthy_frac", did you mean "unhealthy_fraction"?',
    'rules/app.yaml:14:18: unknown aggregate "agg.error_rate" (aggregates: unhealthy_fraction)',
  ],
  'unknown-channel': [
    'reflex.yaml:13:16: unknown channel "on-call", did you mean "oncall"?',
    'rules/app.yaml:13:21: unknown channel "pagerduty" (channels: oncall)',
  ],
  'unknown-fact': [
    'rules/app.yaml:6:27: rule "restart-down": unknown fact "restart", did you mean "restarts"? (no source provides it and no rule derives it)',
    'rules/app.yaml:8:40: rule "restart-down": unknown fact "latency", did you mean "latency_ms"? (no source provides it and no rule derives it)',
  ],
  'unknown-field': [
    'reflex.yaml:14:3: unknown field "cooldwon", did you mean "cooldown"?',
    'rules/app.yaml:6:5: unknown field "sevrity", did you mean "severity"?',
  ],
  'unknown-source-kind': ['reflex.yaml:5:11: unknown kind "prometeus", did you mean "prometheus"?'],
  'wrong-type': [
    'reflex.yaml:2:19: "budget_per_run" must be a number, not the text "five"',
    'reflex.yaml:3:27: "fraction" must be at most 1, not 30',
    'rules/app.yaml:3:13: "target" must be a map, not the text "instance"',
    'rules/app.yaml:5:13: "down" must be a CEL expression, which YAML reads as text only when quoted: write "true"',
  ],
  'yaml-syntax': ['rules/app.yaml:4:5: Flow map in block collection must be sufficiently indented and end with a }'],
  'yaml11-boolean': [
    'reflex.yaml:13:23: "follow_redirects" must be true or false, not the text "no" (YAML 1.2 reads no as text): write false',
    'rules/app.yaml:5:26: no is read as the text "no", but YAML 1.1 tools read it as false: quote it ("no") if you mean text, or write false',
    'rules/app.yaml:5:42: on is read as the text "on", but YAML 1.1 tools read it as true: quote it ("on") if you mean text, or write true',
  ],
};

// None of these may be set, or the missing-env case would pass for the wrong reason.
const env = { REFLEX_TEST_UNSET_SLACK_URL: '', REFLEX_TEST_UNSET_PD_KEY: '' };

describe('reflex check on broken projects', () => {
  it('has an expectation for every fixture folder, and at least 15 kinds of mistakes', () => {
    const cases = readdirSync(BROKEN, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(cases).toEqual(Object.keys(EXPECTED).sort());
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const [name, lines] of Object.entries(EXPECTED)) {
    it(`${name}: exits 2 and reports every problem with file:line:col`, () => {
      const r = reflex(['check'], { cwd: join(BROKEN, name), env });
      expect(r.stderr).toBe('');
      const out = r.stdout.trimEnd().split('\n');
      const summary = out.pop();
      expect(out).toEqual(lines);
      expect(summary).toBe(`${lines.length} error${lines.length === 1 ? '' : 's'}`);
      expect(r.status).toBe(2);
    });
  }

  it('prints no stack trace for any of them', () => {
    const r = reflex(['check'], { cwd: join(BROKEN, 'several-files'), env });
    expect(r.out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(r.out).not.toContain('internal error');
  });

  it('--config names the project from elsewhere; paths stay relative to the current folder', () => {
    const r = reflex(['check', '--config', 'test/fixtures/broken/unknown-action/reflex.yaml'], { env });
    expect(r.stdout).toContain('test/fixtures/broken/unknown-action/rules/app.yaml:7:17: unknown action "restrat", did you mean "restart"?');
    expect(r.status).toBe(2);
  });

  it('--json lists the same problems as data', () => {
    const r = reflex(['check', '--json'], { cwd: join(BROKEN, 'unknown-field'), env });
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.problems).toEqual([
      { file: 'reflex.yaml', line: 14, col: 3, message: 'unknown field "cooldwon", did you mean "cooldown"?', severity: 'error' },
      { file: 'rules/app.yaml', line: 6, col: 5, message: 'unknown field "sevrity", did you mean "severity"?', severity: 'error' },
    ]);
    expect(r.status).toBe(2);
  });
});
