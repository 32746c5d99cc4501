// The explanation of one target evaluates only what it reaches (src/explain/reach.ts), and says exactly what the
// whole-fleet evaluation says: on the bench fleet (aggregates over derived facts, depends_on relations, a group by
// depends_on) plus rules that chain a derive rule through an aggregate and follow every relation, and group targets
// reading an ordered aggregate and one over a derived fact.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeProject } from '../../bench/fleet.mjs';
import { loadOrExit, openStoreOrExit } from '../../src/cli/project.js';
import { readSnapshot, ruleSetOf } from '../../src/explain/recorded.js';
import { reachOf } from '../../src/explain/reach.js';
import { explainTarget } from '../../src/explain/target.js';
import { reflex } from '../helpers.js';

const CHAINS = `# Derive rules reading an aggregate over relations and a derived fact and one of source facts only, and an acting rule following every relation.
# Group targets (zones) reading an ordered aggregate (compare: string) and one over a derived fact.
groups:
  - kind: zone
    of: instance
    by: [region, zone]
aggregates:
  - name: zone_last_instance
    of: instance
    group_by: [region, zone]
    function: max
    compare: string
    value: target.id
  - name: service_first_instance
    of: instance
    group_by: [service]
    function: min
    compare: string
    value: target.id
  - name: zone_bad_region_fraction
    of: instance
    group_by: [region, zone]
    function: fraction
    where: facts.bad_region == true
  - name: slow_store_fraction
    of: instance
    group_by: [service]
    function: fraction
    where: depends_on.exists(d, d.facts.storage_slow == true)
rules:
  - name: service-at-risk
    target: { kind: service }
    derive: at_risk
    when:
      risky: agg.degraded_fraction > 0.01 || agg.slow_store_fraction > 0.2
  - name: instance-in-bad-region
    target: { kind: instance }
    derive: bad_region
    when:
      region: agg.region_unhealthy_fraction > 0.1
  - name: follow-every-relation
    target: { kind: instance }
    when:
      related: upstream.exists(u, u.facts.at_risk == true) || downstream.exists(x, x.facts.degraded == true) || dependents.size() > 0
      degraded: facts.degraded || facts.bad_region
    escalate: oncall
  - name: zone-in-trouble
    target: { kind: zone }
    when:
      trouble: agg.zone_bad_region_fraction > 0.5 && agg.zone_last_instance != ""
    escalate: oncall
  - name: service-first-instance
    target: { kind: service }
    when:
      named: agg.service_first_instance > "svc-"
    escalate: oncall
  - name: datastore-with-troubled-dependents
    target: { kind: datastore }
    when:
      troubled: dependents.exists(x, x.facts.degraded == true) && agg.unhealthy_dependents > 0
    escalate: oncall
`;

describe('explaining one target', () => {
  it('evaluates a small part of the fleet and gives what the whole-fleet evaluation gives, for every kind of target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-reach-'));
    writeProject(dir, 3000, Date.now(), resolve(import.meta.dirname, '../../bench/project'), { deriveAll: true });
    writeFileSync(join(dir, 'rules', 'chains.yaml'), CHAINS);
    const check = reflex(['check'], { cwd: dir });
    expect(check.status, check.out).toBe(0);
    const r = reflex(['run', '--dry-run', '-q'], { cwd: dir });
    expect([0, 1], r.out).toContain(r.status);
    const loaded = await loadOrExit({ config: join(dir, 'reflex.yaml') });
    const store = await openStoreOrExit(loaded.project);
    try {
      const run = (await store.getRun(1))!;
      const snap = await readSnapshot(store, run);
      const rs = await ruleSetOf(store, run, loaded);
      const before = JSON.stringify(snap.targets);
      // Every target that is not an instance, and every 60th instance (the whole fleet would take minutes).
      const ids = snap.targets.filter((t, i) => t.kind !== 'instance' || i % 60 === 0).map((t) => t.id);
      expect(ids.length).toBeGreaterThan(100);
      let smaller = 0;
      for (const id of ids) {
        const reach = reachOf(snap.targets, rs.ruleSet, id)!;
        if (reach.world.size < snap.targets.length / 4) smaller++;
        for (const depth of [1, 3]) {
          const narrow = await explainTarget(store, run, snap, rs, id, undefined, depth);
          const whole = await explainTarget(store, run, snap, rs, id, undefined, depth, { wholeFleet: true });
          expect(narrow.text, `${id} --depth ${depth}`).toBe(whole.text);
          expect(narrow.doc, `${id} --depth ${depth}`).toEqual(whole.doc);
        }
      }
      // It is narrower for most targets (a region's instances are a sixth of the fleet; a service's far fewer).
      expect(smaller).toBeGreaterThan(ids.length / 2);
      // And the snapshot it was given is unchanged (the console shares it between requests).
      expect(JSON.stringify(snap.targets)).toBe(before);
    } finally {
      await store.close();
    }
  }, 240_000);
});
