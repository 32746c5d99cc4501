import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture } from '../../test/helpers.js';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadProject } from '../config/load.js';
import type { Target } from '../model.js';
import type { ForState } from '../store/types.js';
import { evaluate, forKey, type EvalOptions } from './evaluate.js';
import { buildRuleSet } from './ruleset.js';

const CONFIG = `
rules: [rules.yaml]
actions:
  restart: { kind: exec, argv: [echo, restart] }
channels:
  oncall: { kind: log }
`;

function ruleSet(rules: string) {
  const dir = fixture({ 'reflex.yaml': CONFIG, 'rules.yaml': rules });
  const { project, diagnostics } = loadProject(join(dir, 'reflex.yaml'), {});
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  const built = buildRuleSet(project!);
  expect(built.diagnostics.map(formatDiagnostic)).toEqual([]);
  return built.ruleSet!;
}

const t = (id: string, kind: string, facts: Record<string, unknown>, extra: Partial<Target> = {}): Target => ({
  id,
  kind,
  labels: {},
  depends_on: [],
  facts: facts as Target['facts'],
  ...extra,
});

const opts = (o: Partial<EvalOptions> = {}): EvalOptions => ({
  now: 1_000_000,
  runId: 1,
  forState: new Map(),
  factSources: { up: 'inventory', restarts: 'inventory', slow: 'inventory', cpu: 'prom' },
  sourceProblems: {},
  ...o,
});

const RESTART = `
rules:
  - name: restart
    target: { kind: instance }
    when:
      down: facts.up == 0.0
      few_restarts: facts.restarts < 3
    do: [{ action: restart }]
`;

describe('three-valued evaluation', () => {
  it('matches when every condition holds, and does not store not-matched decisions', () => {
    const rs = ruleSet(RESTART);
    const r = evaluate(rs, [t('a', 'instance', { up: 0, restarts: 1 }), t('b', 'instance', { up: 1, restarts: 0 })], opts());
    expect(r.decisions.map((d) => [d.target.id, d.outcome])).toEqual([['a', 'matched']]);
    expect(r.counts.restart).toMatchObject({ evaluated: 2, matched: 1, not_matched: 1 });
  });

  it('a condition on an unknown fact is unknown, names the fact and its source, and the rule does not act', () => {
    const rs = ruleSet(RESTART);
    const r = evaluate(rs, [t('a', 'instance', { up: 0 })], opts());
    expect(r.decisions).toHaveLength(1);
    const d = r.decisions[0]!;
    expect(d.outcome).toBe('unknown');
    expect(d.conditions.find((c) => c.name === 'few_restarts')).toMatchObject({ result: 'unknown' });
    expect(d.trace[0]!.detail).toContain('fact "restarts" is unknown');
    expect(d.trace[0]!.detail).toContain('source "inventory"');
  });

  it('a false condition wins over an unknown one (definitely not matched)', () => {
    const rs = ruleSet(RESTART);
    const r = evaluate(rs, [t('a', 'instance', { restarts: 7 })], opts());
    expect(r.decisions).toEqual([]);
    expect(r.counts.restart!.not_matched).toBe(1);
  });

  it('names a failed source as the reason a fact is unknown', () => {
    const rs = ruleSet(RESTART);
    const r = evaluate(rs, [t('a', 'instance', { restarts: 0 })], opts({ sourceProblems: { inventory: 'timed out after 5s' } }));
    expect(r.decisions[0]!.trace[0]!.detail).toBe('"down" is unknown: fact "up" is unknown: source "inventory" timed out after 5s');
  });
});

describe('context: relations, aggregates and derived facts', () => {
  const RULES = `
aggregates:
  - { name: down_fraction, of: instance, group_by: [service], function: fraction, where: "facts.up == 0.0" }
rules:
  - name: slow-storage
    target: { kind: datastore }
    derive: storage_slow
    when: { slow: facts.slow > 100.0 }
  - name: restart
    target: { kind: instance }
    when: { down: facts.up == 0.0 }
    context:
      db_ok: depends_on.all(d, !d.facts.storage_slow)
      not_widespread: agg.down_fraction < 0.5
    do: [{ action: restart }]
`;
  const fleet = (dbSlow: number, downs: number) => [
    t('db', 'datastore', { slow: dbSlow }),
    ...[0, 1, 2, 3].map((i) => t(`i${i}`, 'instance', { up: i < downs ? 0 : 1 }, { labels: { service: 'web' }, depends_on: ['db'] })),
  ];

  it('acts when the dependency is healthy and the problem is not widespread', () => {
    const r = evaluate(ruleSet(RULES), fleet(10, 1), opts());
    expect(r.decisions.filter((d) => d.rule.name === 'restart').map((d) => [d.target.id, d.outcome])).toEqual([['i0', 'matched']]);
  });

  it('a derived fact on the dependency blocks the action, naming the context condition', () => {
    const r = evaluate(ruleSet(RULES), fleet(500, 1), opts());
    const d = r.decisions.find((x) => x.rule.name === 'restart')!;
    expect(d.outcome).toBe('blocked');
    expect(d.trace.at(-1)).toMatchObject({ reason: 'context', detail: expect.stringContaining('"db_ok"') });
    expect(d.conditions.find((c) => c.name === 'context.db_ok')!.inputs).toMatchObject({ 'depends_on[db].facts.storage_slow': true });
  });

  it('an empty group counts 0, sums 0 and has a fraction of 0; its avg, min and max are unknown', () => {
    const rs = ruleSet(`
aggregates:
  - { name: cnt, of: instance, group_by: [service], function: count, where: "facts.up == 0.0" }
  - { name: total, of: instance, group_by: [service], function: sum, value: facts.up }
  - { name: frac, of: instance, group_by: [service], function: fraction, where: "facts.up == 0.0" }
  - { name: mean, of: instance, group_by: [service], function: avg, value: facts.up }
  - { name: lo, of: instance, group_by: [service], function: min, value: facts.up }
  - { name: hi, of: instance, group_by: [service], function: max, value: facts.up }
rules:
  - name: quiet-service
    target: { kind: service }
    when:
      none_down: agg.cnt == 0.0 && agg.total == 0.0 && agg.frac == 0.0
      avg_known: agg.mean >= 0.0
      min_known: agg.lo >= 0.0
      max_known: agg.hi >= 0.0
    do: [{ action: restart }]
`);
    // The service "empty" has no instances; "web" has one that is up.
    const fleet = [
      t('empty', 'service', {}, { labels: { service: 'empty' } }),
      t('web', 'service', {}, { labels: { service: 'web' } }),
      t('i', 'instance', { up: 1 }, { labels: { service: 'web' } }),
    ];
    const r = evaluate(rs, fleet, opts({ keepNotMatched: true }));
    const empty = r.decisions.find((d) => d.target.id === 'empty')!;
    expect(empty.conditions.map((c) => [c.name, c.result])).toEqual([
      ['none_down', true],
      ['avg_known', 'unknown'],
      ['min_known', 'unknown'],
      ['max_known', 'unknown'],
    ]);
    expect(empty.outcome).toBe('unknown');
    expect(r.decisions.find((d) => d.target.id === 'web')!.outcome).toBe('not_matched');
  });

  it('a widespread problem blocks every individual action through the aggregate', () => {
    const r = evaluate(ruleSet(RULES), fleet(10, 2), opts());
    const ds = r.decisions.filter((x) => x.rule.name === 'restart');
    expect(ds.map((d) => d.outcome)).toEqual(['blocked', 'blocked']);
    expect(ds[0]!.conditions.find((c) => c.name === 'context.not_widespread')!.inputs).toEqual({ 'agg.down_fraction': 0.5 });
  });

  it('a dependency that no source reported makes the context unknown, not healthy', () => {
    const targets = [
      t('i0', 'instance', { up: 0 }, { labels: { service: 'web' }, depends_on: ['db-missing'] }),
      ...[1, 2, 3].map((i) => t(`i${i}`, 'instance', { up: 1 }, { labels: { service: 'web' }, depends_on: ['db-missing'] })),
    ];
    const r = evaluate(ruleSet(RULES), targets, opts());
    const d = r.decisions.find((x) => x.rule.name === 'restart')!;
    expect(d.outcome).toBe('unknown');
    expect(d.trace.at(-1)!.detail).toContain('db-missing');
  });

  it('reports a derive cycle as a configuration error', () => {
    const dir = fixture({
      'reflex.yaml': CONFIG,
      'rules.yaml': `
rules:
  - { name: a, target: { kind: x }, derive: fa, when: { c: facts.fb } }
  - { name: b, target: { kind: x }, derive: fb, when: { c: facts.fa } }
`,
    });
    const { project } = loadProject(join(dir, 'reflex.yaml'), {});
    const built = buildRuleSet(project!);
    expect(built.ruleSet).toBeUndefined();
    expect(built.diagnostics.map((d) => d.message)).toContain('derived facts form a cycle: a (fa) -> b (fb) -> a (fa)');
  });

  it('cost is linear: each aggregate is computed once per run, not once per target', () => {
    const rs = ruleSet(RULES);
    const targets = [t('db', 'datastore', { slow: 1 })];
    for (let i = 0; i < 2000; i++)
      targets.push(t(`i${i}`, 'instance', { up: i % 100 === 0 ? 0 : 1 }, { labels: { service: `s${i % 10}` }, depends_on: ['db'] }));
    const agg = rs.aggregates.get('down_fraction')!;
    let calls = 0;
    const orig = agg.where!.eval.bind(agg.where);
    (agg.where as { eval: (a: object) => unknown }).eval = (a: object) => {
      calls++;
      return orig(a);
    };
    evaluate(rs, targets, opts());
    expect(calls).toBe(2000);
  });
});

describe('for: pending until the conditions have held long enough', () => {
  const RULES = (forSpec: string) => `
rules:
  - name: restart
    target: { kind: instance }
    when: { down: facts.up == 0.0 }
    for: ${forSpec}
    do: [{ action: restart }]
`;
  it('counts consecutive runs, fires on the Nth, and resets when the condition resolves', () => {
    const rs = ruleSet(RULES('3 runs'));
    const state = new Map<string, ForState>();
    const step = (up: number, run: number) => {
      const r = evaluate(rs, [t('a', 'instance', { up })], opts({ forState: state, runId: run }));
      for (const d of r.forDeletes) state.delete(forKey(d.rule, d.target));
      for (const u of r.forUpserts) state.set(forKey(u.rule, u.target), u);
      return r.decisions[0]?.outcome ?? 'not_matched';
    };
    expect([step(0, 1), step(0, 2), step(0, 3), step(0, 4)]).toEqual(['pending', 'pending', 'matched', 'matched']);
    expect(step(1, 5)).toBe('not_matched');
    expect(state.size).toBe(0);
    expect(step(0, 6)).toBe('pending');
  });

  it('a duration counts from when the conditions first held, on the run clock', () => {
    const rs = ruleSet(RULES('5m'));
    const state = new Map<string, ForState>();
    const at = (now: number) => {
      const r = evaluate(rs, [t('a', 'instance', { up: 0 })], opts({ forState: state, now }));
      for (const u of r.forUpserts) state.set(forKey(u.rule, u.target), u);
      return r.decisions[0]!;
    };
    expect(at(0).outcome).toBe('pending');
    const d = at(299_999);
    expect(d.outcome).toBe('pending');
    expect(d.trace.at(-1)!.detail).toBe('conditions have held for 4m59s of the required 5m');
    expect(at(300_000).outcome).toBe('matched');
  });

  it('an unknown condition breaks the streak (acting needs the problem seen continuously)', () => {
    const rs = ruleSet(RULES('2 runs'));
    const state = new Map<string, ForState>([[forKey('restart', 'a'), { rule: 'restart', target: 'a', since: 0, runs: 1, lastRunId: 1 }]]);
    const r = evaluate(rs, [t('a', 'instance', {})], opts({ forState: state }));
    expect(r.decisions[0]!.outcome).toBe('unknown');
    expect(r.forDeletes).toEqual([{ rule: 'restart', target: 'a' }]);
  });
});
