import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers.js';
import { checkProject } from '../check/index.js';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadProject } from '../config/load.js';
import type { Target } from '../model.js';
import { UNKNOWN } from './cel/index.js';
import { World } from './context.js';
import { evaluate } from './evaluate.js';
import { buildRuleSet } from './ruleset.js';

const CONFIG = `
rules: [rules.yaml]
channels:
  oncall: { kind: log }
`;

function load(rules: string, config = CONFIG, files: Record<string, string> = {}) {
  const dir = fixture({ 'reflex.yaml': config, 'rules.yaml': rules, ...files });
  return loadProject(join(dir, 'reflex.yaml'), {});
}

function ruleSet(rules: string) {
  const { project, diagnostics } = load(rules);
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  const built = buildRuleSet(project!);
  expect(built.diagnostics.map(formatDiagnostic)).toEqual([]);
  return built.ruleSet!;
}

async function check(rules: string, config = CONFIG, files: Record<string, string> = {}) {
  const { project, partial, diagnostics } = load(rules, config, files);
  const r = await checkProject((project ?? partial)!, partial?.broken);
  return [...diagnostics, ...r.diagnostics].filter((d) => d.severity === 'error').map(formatDiagnostic);
}

const inst = (id: string, service: string, facts: Record<string, unknown>): Target => ({
  id,
  kind: 'instance',
  labels: { service },
  depends_on: [],
  facts: facts as Target['facts'],
});
const svc = (service: string): Target => ({ id: service, kind: 'service', labels: { service }, depends_on: [], facts: {} });

const VERSIONS = `
aggregates:
  - { name: newest, of: instance, group_by: [service], function: max, compare: version, value: facts.version }
  - { name: oldest, of: instance, group_by: [service], function: min, compare: version, value: facts.version, max_unknown: 0.5 }
  - { name: last_zone, of: instance, group_by: [service], function: max, compare: string, value: labels.service + "/" + facts.zone }
rules:
  - name: outdated
    target: { kind: service }
    when:
      behind: agg.oldest != agg.newest
    escalate: oncall
`;

describe('min and max over versions and text', () => {
  const fleet = () => [
    svc('web'),
    svc('api'),
    svc('empty'),
    inst('w1', 'web', { version: '1.9.3', zone: 'b' }),
    inst('w2', 'web', { version: '1.10.0', zone: 'c' }),
    inst('w3', 'web', { version: '1.10.0-rc.1', zone: 'a' }),
    inst('a1', 'api', { version: '2.13.4', zone: 'a' }),
    inst('a2', 'api', { version: 'latest', zone: 'a' }),
  ];

  it('max gives the greatest version itself, with 1.10.0 above 1.9.3 and a pre-release below its release', () => {
    const w = new World(fleet(), 0, ruleSet(VERSIONS));
    expect(w.aggregate('newest', w.byId.get('web')!)).toBe('1.10.0');
    expect(w.aggregate('oldest', w.byId.get('web')!)).toBe('1.9.3');
    expect(w.aggregate('last_zone', w.byId.get('web')!)).toBe('web/c');
  });

  it('a value that is not a version is an unknown member: past max_unknown the aggregate is unknown', () => {
    const w = new World(fleet(), 0, ruleSet(VERSIONS));
    // api: 1 of 2 members unknown; newest allows 10%, oldest 50%.
    expect(w.aggregate('newest', w.byId.get('api')!)).toBe(UNKNOWN);
    expect(w.aggregate('oldest', w.byId.get('api')!)).toBe('2.13.4');
  });

  it('an empty group has no greatest or least version: unknown, as for numbers', () => {
    const w = new World(fleet(), 0, ruleSet(VERSIONS));
    expect(w.aggregate('newest', w.byId.get('empty')!)).toBe(UNKNOWN);
    const r = evaluate(ruleSet(VERSIONS), fleet(), { now: 0, runId: 1, forState: new Map(), factSources: {}, sourceProblems: {} });
    expect(r.decisions.map((d) => [d.target.id, d.outcome])).toEqual([
      ['web', 'matched'],
      ['api', 'unknown'],
      ['empty', 'unknown'],
    ]);
    expect(r.decisions[0]!.conditions[0]!.inputs).toEqual({ 'agg.oldest': '1.9.3', 'agg.newest': '1.10.0' });
  });

  it('sees facts derived in the same run', () => {
    const rs = ruleSet(`
aggregates:
  - { name: newest, of: instance, group_by: [service], function: max, compare: version, value: facts.release }
rules:
  - name: release
    target: { kind: instance }
    when: { has_version: has(facts.version) }
    derive: release
    value: "'v' + facts.version"
  - name: newest-is
    target: { kind: service }
    when: { newest: agg.newest == "v1.10.0" }
    escalate: oncall
`);
    const r = evaluate(rs, fleet(), { now: 0, runId: 1, forState: new Map(), factSources: {}, sourceProblems: {} });
    // api's "latest" is no version, so "vlatest" is an unknown member: 1 of 2, past max_unknown 10%; "empty" has none.
    expect(r.decisions.filter((d) => d.rule.name === 'newest-is').map((d) => [d.target.id, d.outcome])).toEqual([
      ['web', 'matched'],
      ['api', 'unknown'],
      ['empty', 'unknown'],
    ]);
  });
});

describe('reflex check of compare:', () => {
  it('refuses compare: version with sum or avg, and on count, at compare', async () => {
    const errs = await check(`
aggregates:
  - name: total
    of: instance
    group_by: [service]
    function: sum
    compare: version
    value: facts.version
`);
    expect(errs).toEqual([expect.stringMatching(/rules\.yaml:7:14: .*aggregate "total": compare: version orders values for min and max; sum adds numbers/)]);
  });

  it('refuses a value that is clearly not text for compare: version, and text for a numeric max', async () => {
    const errs = await check(`
aggregates:
  - { name: a, of: instance, group_by: [service], function: max, compare: version, value: "size(labels)" }
  - { name: b, of: instance, group_by: [service], function: max, value: labels.service + "x" }
`);
    expect(errs).toEqual([
      expect.stringMatching(/rules\.yaml:3:91: .*aggregate "a": compare: version orders text, but this value is always a number/),
      expect.stringMatching(/rules\.yaml:4:73: .*aggregate "b": max needs numbers, but this value is always text: add compare: version/),
    ]);
  });

  it('knows agg.NAME is text under compare: version, so `agg.newest > 3` is refused and `== "2.13.4"` is not', async () => {
    const errs = await check(`
aggregates:
  - { name: newest, of: instance, group_by: [service], function: max, compare: version, value: facts.version }
  - { name: down, of: instance, group_by: [service], function: count, where: "facts.version == ''" }
rules:
  - name: good
    target: { kind: service }
    when: { newest: agg.newest == "2.13.4" }
    escalate: oncall
  - name: bad
    target: { kind: service }
    when:
      newer: agg.newest > 3
      many: agg.down == "many"
    escalate: oncall
`);
    expect(errs).toEqual([
      expect.stringMatching(/rules\.yaml:13:14: .*no such overload: string > int; agg\.newest is text \(aggregate "newest": max, compare: version\)/),
      expect.stringMatching(/rules\.yaml:14:13: .*agg\.down is a number \(aggregate "down": count\)/),
    ]);
  });

  it('with the fact types known from the inventory, refuses compare: version over a number fact', async () => {
    const config = `
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
channels: { oncall: { kind: log } }
`;
    const inv = `targets:\n  - { id: i1, kind: instance, labels: { service: web }, facts: { build: 42, version: "1.2.3" } }\n`;
    const errs = await check(
      `
aggregates:
  - { name: a, of: instance, group_by: [service], function: max, compare: version, value: facts.build }
  - { name: b, of: instance, group_by: [service], function: max, value: facts.version }
  - { name: c, of: instance, group_by: [service], function: max, compare: version, value: facts.version }
`,
      config,
      { 'inv.yaml': inv },
    );
    expect(errs).toEqual([
      expect.stringMatching(/rules\.yaml:3:91: .*aggregate "a": compare: version orders text, but this value is always a number/),
      expect.stringMatching(/rules\.yaml:4:73: .*aggregate "b": max needs numbers, but this value is always text/),
    ]);
  });
});
