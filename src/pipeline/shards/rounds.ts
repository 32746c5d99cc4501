// Reading recorded sharded runs: which targets a run covered, and the latest round of runs that covers the fleet.
import type { Target } from '../../model.js';
import { parseShardLease, shardLease, shardOf, type ShardLayout } from './layout.js';

/**
 * Whether a recorded run decided about a target: an unsharded run did about every target; a
 * sharded one (its `shard` field lists the leases it held) about those of its shards. `by` is the
 * layout's label (today's configuration: a layout change mid-history is not tracked).
 */
export function runCovers(run: { shard?: string | null }, t: Pick<Target, 'id' | 'labels'>, by?: string): boolean {
  if (!run.shard) return true;
  const names = run.shard.split(',');
  const first = parseShardLease(names[0] ?? '');
  if (!first) return true;
  return names.includes(shardLease(shardOf(t, { count: first.count, by }), first.count));
}

/** The ids of the targets a recorded run decided about, or undefined for an unsharded run (all of them). */
export function runTargets(run: { shard?: string | null }, targets: readonly Pick<Target, 'id' | 'labels'>[], by?: string): Set<string> | undefined {
  if (!run.shard) return undefined;
  return new Set(targets.filter((t) => runCovers(run, t, by)).map((t) => t.id));
}

/**
 * The latest round: in a sharded layout, the newest runs that together cover every shard, each with
 * the shards it is the newest run of (`owns`); otherwise the newest run alone. `runs` newest first.
 * For what "the latest run" means to `reflex status` when runners share the work.
 */
export function latestRound<R extends { shard?: string | null }>(runs: readonly R[], count: number): { run: R; owns: Set<string> | null }[] {
  if (count <= 1) return runs.slice(0, 1).map((run) => ({ run, owns: null }));
  const covered = new Set<string>();
  const out: { run: R; owns: Set<string> }[] = [];
  for (const run of runs) {
    const owns = new Set((run.shard ?? '').split(',').filter((n) => parseShardLease(n)?.count === count && !covered.has(n)));
    if (owns.size === 0) continue;
    owns.forEach((n) => covered.add(n));
    out.push({ run, owns });
    if (covered.size >= count) break;
  }
  return out;
}

/**
 * The decisions of a round (`latestRound`, with each run's decisions): each target's from the newest
 * run of its shard. Sharded by a label, a decision does not say its target's labels: each rule and
 * target is then taken from the newest run that recorded it.
 */
export function roundDecisions<D extends { rule: string; target: string }>(round: { owns: Set<string> | null; decisions: D[] }[], layout: ShardLayout): D[] {
  const seen = new Set<string>();
  const out: D[] = [];
  for (const { owns, decisions } of round) {
    for (const d of decisions) {
      if (owns && layout.by === undefined && !owns.has(shardLease(shardOf({ id: d.target, labels: {} }, layout), layout.count))) continue;
      const key = `${d.rule}\u0000${d.target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}
