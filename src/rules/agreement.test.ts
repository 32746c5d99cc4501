// The whole evaluation (derive rules, relations, aggregates, context, explanations) decides the same
// with the compiled fast path as with the reference interpreter, on random fleets full of unknowns,
// nulls, values of the wrong type and numeric boundaries. Rules: the bench's SOPs and the webshop example.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers.js';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadProject } from '../config/load.js';
import type { FactValue, Target } from '../model.js';
import type { CompiledExpr } from './cel/index.js';
import { evaluate } from './evaluate.js';
import { buildRuleSet, type RuleSet } from './ruleset.js';

const ROOT = join(import.meta.dirname, '../..');

function ruleSetFrom(rulesYaml: string, actions: string, channels: string): RuleSet {
  const dir = fixture({
    'reflex.yaml': `rules: [rules.yaml]\nactions:\n${actions}\nchannels:\n${channels}\ndefaults: { escalate_to: oncall }\n`,
    'rules.yaml': rulesYaml,
  });
  const { project, diagnostics } = loadProject(join(dir, 'reflex.yaml'), {});
  expect(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  const built = buildRuleSet(project!);
  expect(built.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  return built.ruleSet!;
}

/** The same rule set, every expression evaluated by the reference interpreter. */
function interpreted(rs: RuleSet): RuleSet {
  const slow = (e: CompiledExpr | null): CompiledExpr | null => (e ? { ...e, fast: false, eval: e.interpret } : null);
  const rules = rs.rules.map((r) => ({
    ...r,
    when: r.when.map((c) => ({ ...c, expr: slow(c.expr)! })),
    context: r.context.map((c) => ({ ...c, expr: slow(c.expr)! })),
    value: slow(r.value),
  }));
  const byKind = new Map<string, typeof rules>();
  for (const r of rules) if (!r.derive) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
  const aggregates = new Map([...rs.aggregates].map(([k, a]) => [k, { ...a, where: slow(a.where), value: slow(a.value) }]));
  return { ...rs, rules, byKind, aggregates };
}

const params = (names: string[]) => `{ ${names.map((n) => `${n}: { pattern: ".*" }`).join(', ')} }`;
const BENCH = ruleSetFrom(
  readFileSync(join(ROOT, 'bench/project/rules/sop.yaml'), 'utf8'),
  ['restart-instance', 'clean-disk', 'rollback', 'drain'].map((a) => `  ${a}: { kind: exec, argv: ["true"], params: ${params(['instance'])} }`).join('\n') +
    `\n  scale: { kind: exec, argv: ["true"], params: ${params(['service', 'direction'])} }\n` +
    ['expand-disk', 'failover', 'kill-idle-connections'].map((a) => `  ${a}: { kind: exec, argv: ["true"], params: ${params(['datastore'])} }`).join('\n'),
  '  oncall: { kind: log }\n  account-team: { kind: log }',
);
const WEBSHOP = ruleSetFrom(
  readFileSync(join(ROOT, 'examples/webshop/rules/webshop.yaml'), 'utf8'),
  ['restart-instance', 'clean-disk', 'replace-instance'].map((a) => `  ${a}: { kind: exec, argv: ["true"], params: ${params(['instance'])} }`).join('\n') +
    `\n  scale-out: { kind: exec, argv: ["true"], params: ${params(['service'])} }`,
  '  oncall: { kind: log }',
);

// ---------------------------------------------------------------- random fleets

const ABSENT = Symbol('absent');
const number = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  2,
  3,
  0.5,
  0.15,
  0.2,
  0.3,
  0.8,
  0.05,
  0.1,
  30,
  60,
  85,
  90,
  95,
  200,
  1000,
  1e308,
  -1e308,
  5e-324,
  2 ** 53,
  2 ** 63,
  NaN,
  Infinity,
  -Infinity,
);
const scalar = fc.oneof(
  { weight: 4, arbitrary: number },
  { weight: 1, arbitrary: fc.constantFrom('', 'x', 'true', '1', '2026-11-24T11:50:00Z', 'not a time') },
  { weight: 4, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const value = fc.oneof(
  { weight: 8, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constantFrom<FactValue>([], [1], { a: 1 }, [{ labels: { alertname: 'OOMKilled' } }], [{ labels: {} }], [{}], ['x']) },
  { weight: 2, arbitrary: fc.constant(ABSENT) },
);
const FACTS = [
  'healthy',
  'restarts_1h',
  'cpu',
  'mem_pct',
  'disk_used_pct',
  'error_rate',
  'p99_ms',
  'deployed_at',
  'alerts',
  'p99_latency_ms',
  'replication_lag_s',
  'connections_used_pct',
  'desired_instances',
  'max_instances',
  'error_budget_remaining',
  'paused',
  'capacity_pct',
  'incident_open',
  'storage_slow',
];
const facts = fc.tuple(...FACTS.map(() => value)).map((vs) => {
  const out: Record<string, FactValue> = {};
  vs.forEach((v, i) => {
    if (v !== ABSENT) out[FACTS[i]!] = v as FactValue;
  });
  return out;
});
const KINDS = ['instance', 'service', 'datastore', 'customer', 'region'];
const target = fc.record({
  kind: fc.constantFrom(...KINDS),
  service: fc.constantFrom('s1', 's2', undefined),
  region: fc.constantFrom('r1', 'r2', undefined),
  env: fc.constantFrom('prod', 'staging', undefined),
  role: fc.constantFrom('primary', 'cache'),
  tier: fc.constantFrom('gold', 'standard'),
  deps: fc.array(fc.nat(11), { maxLength: 3 }),
  facts,
});
const fleet = fc.array(target, { minLength: 1, maxLength: 12 }).map((ts) =>
  ts.map((t, i): Target => {
    const labels: Record<string, string> = { role: t.role, tier: t.tier };
    if (t.service) labels.service = t.service;
    if (t.region) labels.region = t.region;
    if (t.env) labels.env = t.env;
    // Dependencies by index: some point at targets that do not exist (unknown), some repeat.
    return { id: `t${i}`, kind: t.kind, labels, depends_on: [...new Set(t.deps.map((d) => `t${d}`))].filter((d) => d !== `t${i}`), facts: t.facts };
  }),
);

/** Outcomes seen, so the test can say it covered every kind of decision. */
const seen = new Map<string, number>();

/** Everything a decision says, in order, with values JSON can tell apart (NaN, -0, Infinity). */
function outcome(rs: RuleSet, targets: Target[]): string {
  const copy = structuredClone(targets);
  const res = evaluate(rs, copy, {
    now: Date.parse('2026-11-24T12:00:00Z'),
    runId: 1,
    forState: new Map(),
    factSources: {},
    sourceProblems: {},
    keepNotMatched: true,
  });
  for (const d of res.decisions) seen.set(d.outcome, (seen.get(d.outcome) ?? 0) + 1);
  const show = (_k: string, v: unknown) =>
    typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `num:${String(Object.is(v, -0) ? '-0' : v)}` : v;
  return JSON.stringify(
    {
      decisions: res.decisions.map((d) => [d.rule.name, d.target.id, d.outcome, d.problem, d.conditions, d.trace]),
      counts: res.counts,
      facts: copy.map((t) => [t.facts, t.unknown ?? null]),
    },
    show,
  );
}

describe('compiled and interpreted evaluation agree on whole runs', () => {
  for (const [name, rs] of [
    ['the bench SOPs', BENCH],
    ['the webshop example', WEBSHOP],
  ] as const) {
    it(`${name}: the same decisions, explanations and derived facts on random fleets`, () => {
      // Only meaningful if the rules run on the fast path in the first place.
      for (const r of rs.rules) for (const c of [...r.when, ...r.context]) expect(c.expr.fast, `${r.name}.${c.name}: ${c.expr.fallback}`).toBe(true);
      seen.clear();
      const slow = interpreted(rs);
      fc.assert(
        fc.property(fleet, (targets) => {
          expect(outcome(rs, targets)).toBe(outcome(slow, targets));
        }),
        { numRuns: 300, seed: 20261124 },
      );
      // Random fleets reach every outcome evaluation can give, not just "unknown".
      for (const o of ['not_matched', 'unknown', 'matched', 'derived', 'pending', ...(rs === BENCH ? ['blocked'] : [])]) {
        expect(seen.get(o) ?? 0, o).toBeGreaterThan(10);
      }
    });
  }
});
