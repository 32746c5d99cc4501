import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers.js';
import { checkProject, sortDiagnostics } from '../check/index.js';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadProject } from '../config/load.js';
import type { Target } from '../model.js';
import { evaluate } from './evaluate.js';
import { groupId, groupTargets } from './groups.js';
import { buildRuleSet } from './ruleset.js';

const inst = (id: string, labels: Record<string, string>, facts: Record<string, unknown> = {}): Target => ({
  id,
  kind: 'instance',
  labels,
  depends_on: [],
  facts: facts as Target['facts'],
});

const REGION = { kind: 'region', of: 'instance', by: ['region'] };

describe('group targets made from a fleet', () => {
  it('one target per distinct label value, with the label, no facts, sorted by value', () => {
    const fleet = [inst('a', { region: 'us-east-1' }), inst('b', { region: 'eu-west-1' }), inst('c', { region: 'us-east-1' })];
    expect(groupTargets([REGION], fleet)).toEqual({
      targets: [
        { id: 'region/eu-west-1', kind: 'region', labels: { region: 'eu-west-1' }, depends_on: [], facts: {} },
        { id: 'region/us-east-1', kind: 'region', labels: { region: 'us-east-1' }, depends_on: [], facts: {} },
      ],
      problems: [],
    });
  });

  it('a member lacking the label, or with it empty, is in no group; a value no member has makes no target', () => {
    const fleet = [inst('a', {}), inst('b', { region: '' }), inst('c', { zone: 'b' }), { ...inst('s', { region: 'ap' }), kind: 'service' }];
    expect(groupTargets([REGION], fleet).targets).toEqual([]);
  });

  it('several labels make one target per combination, with an id that names each value', () => {
    const fleet = [
      inst('a', { region: 'eu', zone: 'b' }),
      inst('b', { region: 'eu', zone: 'a' }),
      inst('c', { region: 'eu' }),
      inst('d', { region: 'us', zone: 'a' }),
    ];
    const r = groupTargets([{ kind: 'zone', of: 'instance', by: ['region', 'zone'] }], fleet);
    expect(r.targets.map((t) => [t.id, t.labels])).toEqual([
      ['zone/eu/a', { region: 'eu', zone: 'a' }],
      ['zone/eu/b', { region: 'eu', zone: 'b' }],
      ['zone/us/a', { region: 'us', zone: 'a' }],
    ]);
  });

  it('ids cannot collide between groups: "/" and "%" inside a value are escaped', () => {
    expect(groupId('zone', ['eu/west', '1'])).toBe('zone/eu%2Fwest/1');
    expect(groupId('zone', ['eu', 'west/1'])).toBe('zone/eu/west%2F1');
    expect(groupId('customer', ['100%'])).toBe('customer/100%25');
    expect(groupId('customer', ['100%2F'])).not.toBe(groupId('customer', ['100/']));
  });

  it('does nothing without groups: the fleet is not walked', () => {
    const fleet = new Proxy([inst('a', { region: 'eu' })], {
      get(t, k) {
        if (k === 'length' || /^\d+$/.test(String(k))) throw new Error('walked');
        return Reflect.get(t, k);
      },
    });
    expect(groupTargets([], fleet)).toEqual({ targets: [], problems: [] });
  });

  it('makes nothing where a source reports the group kind or a group id, and says so', () => {
    const fleet = [inst('a', { region: 'eu', customer: 'acme' }), { ...inst('region/x', {}), kind: 'region' }, inst('customer/acme', {})];
    const r = groupTargets([REGION, { kind: 'customer', of: 'instance', by: ['customer'] }], fleet);
    expect(r.targets).toEqual([]);
    expect(r.problems).toEqual([
      { reason: 'group:kind-reported', detail: expect.stringContaining('group kind "region": a source reports targets of this kind') },
      { reason: 'group:id-taken', detail: 'group target "customer/acme" was not made: a source reports a target with that id' },
    ]);
  });
});

const CONFIG = `
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
channels: { oncall: { kind: log } }
`;
const INV = `targets:
  - { id: i-1, kind: instance, labels: { region: eu, service: web }, facts: { healthy: false } }
  - { id: i-2, kind: instance, labels: { region: eu, service: web }, facts: { healthy: true } }
  - { id: i-3, kind: instance, labels: { region: us, service: web }, facts: { healthy: true } }
  - { id: web, kind: service, labels: { service: web } }
`;

function load(rules: string) {
  const dir = fixture({ 'reflex.yaml': CONFIG, 'rules.yaml': rules, 'inv.yaml': INV });
  return loadProject(join(dir, 'reflex.yaml'), {});
}

async function check(rules: string) {
  const { project, partial, diagnostics } = load(rules);
  const r = await checkProject((project ?? partial)!, partial?.broken);
  return sortDiagnostics([...diagnostics, ...r.diagnostics]).map((d) => formatDiagnostic(d).replace(/^.*?rules\.yaml/, 'rules.yaml'));
}

describe('group targets in evaluation', () => {
  it('their aggregates see the facts derive rules set on the members, and derive rules on them run after those', () => {
    const { project } = load(`
groups: [{ kind: region, of: instance, by: [region] }]
aggregates:
  - { name: sick, of: instance, group_by: [region], function: fraction, where: facts.sick }
rules:
  - name: sick
    target: { kind: instance }
    when: { unhealthy: "!facts.healthy" }
    derive: sick
  - name: degraded
    target: { kind: region }
    when: { many: agg.sick > 0.3 }
    derive: degraded
  - name: page-region
    target: { kind: region }
    when: { degraded: facts.degraded }
    escalate: oncall
`);
    const built = buildRuleSet(project!);
    expect(built.diagnostics).toEqual([]);
    const rs = built.ruleSet!;
    // Declared after the rule that reads it: the rule set still orders the member's derive first.
    expect(rs.rules.filter((r) => r.derive).map((r) => r.name)).toEqual(['sick', 'degraded']);
    const fleet = [
      inst('i-1', { region: 'eu' }, { healthy: false }),
      inst('i-2', { region: 'eu' }, { healthy: true }),
      inst('i-3', { region: 'us' }, { healthy: true }),
    ];
    const all = [...fleet, ...groupTargets(rs.groups, fleet).targets];
    const r = evaluate(rs, all, { now: 0, runId: 1, forState: new Map(), factSources: {}, sourceProblems: {} });
    expect(r.decisions.filter((d) => d.rule.name === 'page-region').map((d) => [d.target.id, d.outcome])).toEqual([['region/eu', 'matched']]);
    expect(r.decisions.find((d) => d.rule.name === 'page-region')!.conditions[0]!.inputs).toEqual({ 'facts.degraded': true });
  });
});

describe('reflex check of groups:', () => {
  it('accepts a region group and rules for it', async () => {
    expect(
      await check(`
groups: [{ kind: region, of: instance, by: [region] }]
aggregates: [{ name: sick, of: instance, group_by: [region], function: fraction, where: "!facts.healthy" }]
rules:
  - { name: page-region, target: { kind: region }, when: { many: agg.sick > 0.3 }, escalate: oncall }
`),
    ).toEqual([]);
  });

  it('refuses an unknown member kind, a kind a source reports, a second declaration and a group of a group, at their positions', async () => {
    expect(
      await check(`
groups:
  - { kind: region, of: instnace, by: [region] }
  - { kind: service, of: instance, by: [service] }
  - { kind: region, of: instance, by: [region] }
  - { kind: country, of: region, by: [country] }
  - { kind: zone, of: instance, by: [zone, zone] }
`),
    ).toEqual([
      'rules.yaml:3:25: group "region" has no members: no source reports targets of kind "instnace", did you mean "instance"?',
      'rules.yaml:4:13: group kind "service" is a kind a source reports: the group\'s targets and the reported ones would mix (give the group another kind, e.g. "service-group")',
      expect.stringMatching(/^rules\.yaml:5:13: group kind "region" is declared twice \(first at .*rules\.yaml:3\)$/),
      'rules.yaml:6:26: group "country" has no members: no source reports targets of kind "region" (kinds: instance, service)',
      'rules.yaml:6:26: group "country" is made of "region", another group: groups are made of collected targets (make "country" of "instnace" by [region, country])',
      'rules.yaml:7:44: group "zone": label "zone" is listed twice in "by:"',
    ]);
  });

  it('refuses a label with a space and a kind with a "/", from the schema', async () => {
    const out = await check(`
groups:
  - { kind: "reg/ion", of: instance, by: ["my label"] }
`);
    expect(out).toEqual([
      expect.stringMatching(/^rules\.yaml:3:13: "kind": names use letters, .*$/),
      expect.stringMatching(/^rules\.yaml:3:43: "by" item 1: a label name is text without spaces, not the text "my label"$/),
    ]);
  });

  it('warns about a rule for an undeclared group kind, as for any unknown kind, with the group kinds suggested', async () => {
    const out = await check(`
groups: [{ kind: region, of: instance, by: [region] }]
rules:
  - { name: page-region, target: { kind: regoin }, when: { x: "true" }, escalate: oncall }
`);
    expect(out).toEqual([
      'rules.yaml:4:42: warning: rule "page-region" can never match: no source reports targets of kind "regoin" and no group makes them, did you mean "region"?',
    ]);
  });

  it('warns when a group rule reads an aggregate grouped by labels its targets do not carry', async () => {
    const out = await check(`
groups: [{ kind: region, of: instance, by: [region] }]
aggregates: [{ name: sick, of: instance, group_by: [service], function: fraction, where: "!facts.healthy" }]
rules:
  - { name: page-region, target: { kind: region }, when: { many: agg.sick > 0.3 }, escalate: oncall }
`);
    expect(out).toEqual([
      expect.stringMatching(
        /^rules\.yaml:5:42: warning: rule "page-region" reads agg\.sick, grouped by \[service\], but region targets carry only \[region\]: agg\.sick is unknown for every one of them/,
      ),
    ]);
  });
});
