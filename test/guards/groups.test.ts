// The group tallies the widespread breaker and the blast radius read: sizes, problems and order, from a plain fleet.
import { describe, expect, it } from 'vitest';
import { groupSize } from '../../src/guards/blast.js';
import { problemGroups } from '../../src/guards/widespread.js';
import type { Target } from '../../src/model.js';
import type { Decision } from '../../src/rules/evaluate.js';
import type { RunContext } from '../../src/pipeline/types.js';

const t = (id: string, kind: string, labels: Record<string, string>): Target => ({ id, kind, labels, depends_on: [], facts: {} });
const targets = [
  t('w1', 'instance', { service: 'web', region: 'eu' }),
  t('d1', 'datastore', { service: 'web' }),
  t('w2', 'instance', { service: 'web', region: 'us' }),
  t('a1', 'instance', { region: 'eu' }),
  t('w3', 'instance', { service: 'api=v2', region: 'eu' }),
  t('x1', 'instance', {}),
];
const problem = (id: string, derive = false) =>
  ({ target: targets.find((x) => x.id === id)!, rule: { name: 'r', derive: derive ? 'f' : null }, problem: true }) as unknown as Decision;

function ctx(groupBy: string[]): Pick<RunContext, 'project' | 'targets' | 'decisions'> {
  const project = { config: { guardrails: { widespread: { group_by: groupBy }, blast_radius: { group_by: groupBy } } } } as unknown as RunContext['project'];
  return { project, targets, decisions: [problem('w1'), problem('w2'), problem('a1', true), problem('d1')] };
}

describe('group tallies', () => {
  it('the widespread groups: one per kind and label value, then all of the kind, in the order targets first name them', () => {
    const groups = problemGroups(ctx(['service', 'region']));
    expect([...groups.values()]).toEqual([
      { key: 'instance/service=web', kind: 'instance', label: 'service=web', size: 2, problems: 2 },
      { key: 'instance/region=eu', kind: 'instance', label: 'region=eu', size: 3, problems: 1 },
      { key: 'instance/*', kind: 'instance', label: null, size: 5, problems: 2 },
      { key: 'datastore/service=web', kind: 'datastore', label: 'service=web', size: 1, problems: 1 },
      { key: 'datastore/*', kind: 'datastore', label: null, size: 1, problems: 1 },
      { key: 'instance/region=us', kind: 'instance', label: 'region=us', size: 1, problems: 1 },
      // A derive rule's decision is no problem (a1); a value holding "=" keeps its whole text.
      { key: 'instance/service=api=v2', kind: 'instance', label: 'service=api=v2', size: 1, problems: 0 },
    ]);
    expect([...groups.keys()]).toEqual([...groups.values()].map((g) => g.key));
  });

  it('a label named twice in group_by counts each target once', () => {
    const once = problemGroups(ctx(['region']));
    const twice = problemGroups(ctx(['region', 'region']));
    expect([...twice.values()]).toEqual([...once.values()]);
  });

  it('blast radius group sizes count every target with the label value, whatever its kind', () => {
    const c = { ...ctx(['service', 'region']), targets: [...targets] };
    expect(groupSize(c, 'service=web')).toBe(3);
    expect(groupSize(c, 'region=eu')).toBe(3);
    expect(groupSize(c, 'region=us')).toBe(1);
    expect(groupSize(c, 'service=api=v2')).toBe(1);
    expect(groupSize(c, 'service=none')).toBe(0);
    const twice = { ...ctx(['region', 'region']), targets: [...targets] };
    expect(groupSize(twice, 'region=eu')).toBe(3);
  });
});
