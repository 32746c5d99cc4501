// How targets are split into shards, and the names of shard leases (docs/scale-out.md).
import type { Target } from '../../model.js';

/** How targets are split: `count` shards, by a stable hash of the target id or of one label's value. */
export interface ShardLayout {
  count: number;
  /** A label: targets with the same value share a shard. Targets without it fall back to their id. */
  by?: string;
}

/**
 * FNV-1a (32 bits) over the UTF-8 bytes. It decides which runner acts on which target, so it is
 * the same on every machine and must never change (a change moves targets between shards).
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The shard of a target: its id's hash (or its `by` label value's) modulo the count. */
export function shardOf(t: Pick<Target, 'id' | 'labels'>, layout: ShardLayout): number {
  if (layout.count <= 1) return 0;
  const key = layout.by !== undefined ? (t.labels[layout.by] ?? t.id) : t.id;
  return hash32(key) % layout.count;
}

/**
 * The lease name of a shard. The count is part of it, so runners of an old and a new layout never
 * mistake each other's leases for their own (`shard:3/16` and `shard:3/8` hold different targets).
 */
export const shardLease = (index: number, count: number): string => `shard:${index}/${count}`;

export function parseShardLease(name: string): { index: number; count: number } | null {
  const m = /^shard:(\d+)\/(\d+)$/.exec(name);
  if (!m) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index < count ? { index, count } : null;
}
