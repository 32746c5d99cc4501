// Context that spans shards: aggregates and the widespread breaker see the whole fleet, while each runner acts only for its own shards.
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/pipeline/shards.js';
import { fixture, reflex } from '../helpers.js';

const COUNT = 2;
const shard = (id: string) => shardOf({ id, labels: {} }, { count: COUNT });

/** 10 instances per service; in service a, 5 broken spread 2 + 3 over the two shards, in b one. */
function fleet() {
  const ids = (svc: string) => Array.from({ length: 10 }, (_, i) => `${svc}-${i}`);
  const a = ids('a');
  const broken = new Set([...a.filter((id) => shard(id) === 0).slice(0, 2), ...a.filter((id) => shard(id) === 1).slice(0, 3), 'b-0']);
  const targets = [...a, ...ids('b')].map((id) => ({ id, kind: 'instance', labels: { service: id[0]! }, facts: { broken: broken.has(id) } }));
  return { targets, broken, a };
}

describe('scale-out: context spans shards', () => {
  const { targets, broken, a } = fleet();
  const dir = fixture({
    'inventory.json': JSON.stringify({ targets }),
    'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources: [{ name: inventory, kind: inventory, path: inventory.json }]
actions:
  restart: { kind: exec, argv: [${JSON.stringify(process.execPath)}, "-e", "0"] }
guardrails:
  widespread: { fraction: 0.3, min_targets: 3, group_by: [service] }
  blast_radius: { per_rule: "100 per 1m", group_fraction: 1 }
shards: { count: ${COUNT} }
`,
    'rules.yaml': `aggregates:
  - { name: broken_count, of: instance, group_by: [service], function: count, where: facts.broken }
rules:
  - name: restart
    target: { kind: instance }
    when: { broken: facts.broken }
    context: { few_broken: agg.broken_count < 100.0 }
    mode: enforce
    do: [{ action: restart }]
`,
  });
  const runShard = (n: number) => {
    const r = reflex(['-c', `${dir}/reflex.yaml`, 'run', '--shard', String(n), '--json']);
    expect([0, 1], r.out).toContain(r.status);
    return JSON.parse(r.stdout) as { shards: string; decisions: { target: string; outcome: string; reason: string | null; detail: string | null }[] };
  };
  const runs = [runShard(0), runShard(1)];

  it('the fleet split the test relies on: neither shard alone holds more than 30% of service a broken', () => {
    for (const s of [0, 1]) expect(a.filter((id) => shard(id) === s && broken.has(id)).length).toBeLessThanOrEqual(3);
  });

  it('each runner decides only about the targets of its shards', () => {
    runs.forEach((r, s) => {
      expect(r.shards).toBe(`shard:${s}/${COUNT}`);
      expect(r.decisions.length).toBeGreaterThan(0);
      for (const d of r.decisions) expect(shard(d.target)).toBe(s);
    });
  });

  it('the widespread breaker counts the problems of every shard: 5 of 10 in service a trips it in both runners', () => {
    const all = runs.flatMap((r) => r.decisions);
    for (const id of a.filter((x) => broken.has(x))) {
      const d = all.find((x) => x.target === id)!;
      expect(d, id).toMatchObject({ outcome: 'blocked', reason: 'breaker:widespread' });
      expect(d.detail).toMatch(/widespread problem: 5 of 10 instance targets with service=a \(50%\)/);
    }
    expect(all.find((x) => x.target === 'b-0')).toMatchObject({ outcome: 'executed' });
  });

  it('aggregates are computed over the whole fleet, whatever shard reads them', () => {
    const id = a.find((x) => shard(x) === 0 && broken.has(x))!;
    const why = reflex(['-c', `${dir}/reflex.yaml`, 'why', id]);
    expect(why.status, why.out).toBe(0);
    expect(why.stdout).toContain('agg.broken_count = 5');
    expect(why.stdout).toMatch(/breaker:widespread/);
  });
});
