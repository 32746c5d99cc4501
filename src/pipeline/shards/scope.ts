// What a sharded run holds: its shards, one fenced lease each, and which targets it acts for.
import type { Target } from '../../model.js';
import type { Fence } from '../../store/types.js';
import { parseShardLease, shardLease, shardOf, type ShardLayout } from './layout.js';

/**
 * What a sharded run holds: the shards, one fenced lease each. Everything that acts on a target,
 * recovers its executions or moves its `for` streak asks `holds` first; context (aggregates,
 * relations, derived facts, the widespread breaker) is computed over every collected target.
 */
export class ShardScope {
  private readonly fences = new Map<number, Fence>();
  private only: { targets: readonly Target[]; ids: Set<string> } | null = null;

  constructor(
    readonly layout: ShardLayout,
    held: readonly Fence[],
  ) {
    for (const f of held) {
      const p = parseShardLease(f.name);
      if (!p || p.count !== layout.count) throw new Error(`not a lease of this shard layout: ${f.name}`);
      this.fences.set(p.index, f);
    }
  }

  /** The shard indexes held, in order. */
  get shards(): number[] {
    return [...this.fences.keys()].sort((a, b) => a - b);
  }

  /** Every lease held, for writes that concern the whole run (its record, its `for` streaks). */
  get allFences(): Fence[] {
    return this.shards.map((i) => this.fences.get(i)!);
  }

  holds(t: Pick<Target, 'id' | 'labels'>): boolean {
    return this.fences.has(shardOf(t, this.layout));
  }

  /** The lease name of a target's shard (recorded with its intents). */
  leaseOf(t: Pick<Target, 'id' | 'labels'>): string {
    return shardLease(shardOf(t, this.layout), this.layout.count);
  }

  /** The fence of a target's shard: its intent commits only while this run still holds that shard. */
  fenceFor(t: Pick<Target, 'id' | 'labels'>): Fence {
    const f = this.fences.get(shardOf(t, this.layout));
    if (!f) throw new Error(`target ${t.id} is not in a shard this run holds`);
    return f;
  }

  /**
   * Whether an unfinished execution is this run's to recover: journaled under a shard it holds, or
   * (journaled without a shard, or under another layout) whose target id hashes into one. Labels
   * are not known before collecting, so the fallback uses the id.
   */
  holdsExecution(e: { target: string; shard?: string | null }): boolean {
    const p = e.shard ? parseShardLease(e.shard) : null;
    if (p && p.count === this.layout.count) return this.fences.has(p.index);
    return this.fences.has(shardOf({ id: e.target, labels: {} }, { count: this.layout.count }));
  }

  /** The ids of the collected targets in the held shards (computed once per target list). */
  targetsIn(targets: readonly Target[]): Set<string> {
    if (this.only?.targets !== targets) {
      const ids = new Set<string>();
      for (const t of targets) if (this.holds(t)) ids.add(t.id);
      this.only = { targets, ids };
    }
    return this.only.ids;
  }

  /** For the run record and `reflex status`: `shard:1/16,shard:5/16`. */
  describe(): string {
    return this.allFences.map((f) => f.name).join(',');
  }
}
