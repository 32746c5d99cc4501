// Taking an owned source's reports as targets (instead of copying them) must give exactly what copying gives.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectAll } from '../../src/sources/collect.js';
import { createSource } from '../../src/sources/index.js';
import { fixture } from '../helpers.js';
import { baseOpts, fakeSource } from './helpers.js';

/** Reports that exercise every case the copying merge treats specially. */
const reports = () => [
  {
    id: 'a',
    kind: 'instance',
    labels: { service: 's', zone: 'z' },
    depends_on: ['db', 'cache'],
    facts: { up: 1, cpu: 0.5 },
    unknown: { mem: 'stale', up: 'ignored: known' },
  },
  { id: 'dup-deps', kind: 'instance', depends_on: ['db', 'db'], facts: { up: 0 } },
  { id: 'dup-deps-3', depends_on: ['x', 'y', 'x'] },
  { id: 'inherited-fact', facts: { constructor: 1, toString: 'x', up: 1 } },
  { id: 'inherited-unknown', facts: { up: 1 }, unknown: { valueOf: 'reason', hasOwnProperty: 'r', cpu: 'timed out' } },
  { id: 'no-kind' },
  { id: 'a', labels: { zone: 'other', extra: 'e' }, depends_on: ['cache', 'queue'], facts: { up: 5, disk: 3 } },
  { id: 'db', kind: 'datastore', facts: { slow: false } },
];

const source = (owned: boolean) =>
  fakeSource(
    'inv',
    async () =>
      ({ targets: reports(), facts: ['up', 'cpu', 'disk', 'slow', 'constructor', 'toString'], warnings: [], ...(owned ? { owned: true } : {}) }) as never,
  );

describe('collectAll with an owned source', () => {
  it('builds the same targets, reports and fact sources as when it copies', async () => {
    const copied = await collectAll(
      [source(false), fakeSource('later', async () => ({ targets: [{ id: 'a', facts: { up: 9 } }], facts: ['up'], warnings: [] }))],
      baseOpts,
    );
    const owned = await collectAll(
      [source(true), fakeSource('later', async () => ({ targets: [{ id: 'a', facts: { up: 9 } }], facts: ['up'], warnings: [] }))],
      baseOpts,
    );
    expect(owned.targets).toStrictEqual(copied.targets);
    expect(owned.factSources).toStrictEqual(copied.factSources);
    expect(owned.reports.map((r) => ({ ...r, durationMs: 0 }))).toStrictEqual(copied.reports.map((r) => ({ ...r, durationMs: 0 })));
    expect(JSON.stringify(owned.targets)).toBe(JSON.stringify(copied.targets));
  });

  it('a lone source with distinct ids (no index by id) builds the same targets; repeated ids still merge', async () => {
    const distinct = reports().filter((r, i, all) => all.findIndex((x) => x.id === r.id) === i);
    const lone = (extra: object) => fakeSource('inv', async () => ({ targets: structuredClone(distinct), facts: ['up'], warnings: [], ...extra }) as never);
    const indexed = await collectAll([lone({})], baseOpts);
    for (const extra of [{ distinct: true }, { distinct: true, owned: true }]) {
      const res = await collectAll([lone(extra)], baseOpts);
      expect(res.targets).toStrictEqual(indexed.targets);
      expect(res.factSources).toStrictEqual(indexed.factSources);
    }
    const dir = fixture({});
    writeFileSync(
      join(dir, 'inv.json'),
      JSON.stringify({
        targets: [
          { id: 'b', facts: { up: 1 } },
          { id: 'a', labels: { x: '1' } },
          { id: 'b', facts: { cpu: 2 }, depends_on: ['a'] },
        ],
      }),
    );
    const res = await collectAll([createSource({ name: 'inv', kind: 'inventory', path: 'inv.json' })], { ...baseOpts, projectDir: dir });
    expect(res.targets).toStrictEqual([
      { id: 'b', kind: 'unknown', labels: {}, depends_on: ['a'], facts: { up: 1, cpu: 2 } },
      { id: 'a', kind: 'unknown', labels: { x: '1' }, depends_on: [], facts: {} },
    ]);
    expect(res.reports[0]!.warnings).toEqual([
      expect.stringMatching(/^inv\.json:1:\d+: target "b" is listed again \(first at entry 0\); the entries are merged$/),
    ]);
  });

  it('a JSON inventory is owned; a YAML one is not, so targets sharing an alias never share facts', async () => {
    const dir = fixture({
      'inv.yaml': 'targets:\n  - { id: a, facts: &f { up: 1 } }\n  - { id: b, facts: *f }\n',
    });
    writeFileSync(join(dir, 'inv.json'), JSON.stringify({ targets: [{ id: 'a', facts: { up: 1 } }] }));
    const ctx = { signal: new AbortController().signal, now: 0, projectDir: dir, env: {} };
    expect((await createSource({ name: 'inv', kind: 'inventory', path: 'inv.json' }).collect(ctx)).owned).toBe(true);
    expect((await createSource({ name: 'inv', kind: 'inventory', path: 'inv.yaml' }).collect(ctx)).owned).toBeFalsy();
    const res = await collectAll([createSource({ name: 'inv', kind: 'inventory', path: 'inv.yaml' })], { ...baseOpts, projectDir: dir });
    res.targets[0]!.facts.derived = true;
    expect(res.targets[1]!.facts).toEqual({ up: 1 });
  });
});
