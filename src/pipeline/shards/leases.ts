// The leases of one run: the single "run" lease, or one per shard (claimed, renewed, released together).
import { EXIT, UserError } from '../../errors.js';
import type { Fence, Fences, Store } from '../../store/types.js';
import { shardLease, type ShardLayout } from './layout.js';
import { ShardScope } from './scope.js';

export interface LeaseOptions {
  store: Store;
  holder: string;
  layout: ShardLayout;
  /** `shards.max_per_runner`: at most this many shards per run (default: every free one). */
  maxPerRunner?: number;
  /** `reflex run --shard N`: exactly these shards (a CronJob per shard), instead of any free ones. */
  only?: readonly number[];
  /** The lease of an unsharded run (default "run"). */
  lease?: string;
  ttlMs: number;
  now: number;
  /** For spreading runners over shards of equal age (default Math.random). */
  random?: () => number;
}

/** The leases one run holds: one for an unsharded run, one per shard for a sharded one. */
export interface RunLeases {
  /** What the run's fenced writes carry. */
  fence: Fences;
  /** Set for a sharded run. */
  scope: ShardScope | null;
  /** Renew every lease; false as soon as one was lost (the run must stop starting actions). */
  renew(ttlMs: number, now: number): Promise<boolean>;
  release(): Promise<void>;
}

/** Whether this run shards its targets (a layout above one shard, or shards named on the command line). */
export const isSharded = (layout: ShardLayout, only?: readonly number[]): boolean => layout.count > 1 || (only?.length ?? 0) > 0;

/**
 * Take the leases of a run. Unsharded: the single lease (default "run"). Sharded: the shards named
 * by `only`, or up to `maxPerRunner` of the free ones, oldest first (acquireAnyLeases). Throws a
 * UserError with exit code 4 when nothing could be taken: another runner holds it all.
 */
export async function acquireRunLeases(o: LeaseOptions): Promise<RunLeases> {
  const { store, holder, ttlMs, now } = o;
  if (!isSharded(o.layout, o.only)) {
    const name = o.lease ?? 'run';
    const lease = await store.acquireLease(name, holder, ttlMs, now);
    if (!lease.acquired) {
      throw new UserError(
        `another run holds the lease "${name}" (${lease.holder}, until ${new Date(lease.expiresAt).toISOString()}): this run did nothing`,
        EXIT.LEASE_HELD,
      );
    }
    const fence: Fence = { name, token: lease.token };
    return {
      fence,
      scope: null,
      renew: (ttl, at) => store.renewLease(fence, ttl, at),
      release: () => store.releaseLease(fence),
    };
  }

  const count = o.layout.count;
  let held: Fence[];
  if (o.only && o.only.length > 0) {
    const bad = o.only.filter((i) => !Number.isInteger(i) || i < 0 || i >= count);
    if (bad.length) throw new UserError(`--shard ${bad.join(',')}: shards are numbered 0 to ${count - 1} (shards.count is ${count})`, EXIT.CONFIG);
    held = [];
    const busy: string[] = [];
    for (const i of [...new Set(o.only)]) {
      const name = shardLease(i, count);
      const r = await store.acquireLease(name, holder, ttlMs, now);
      if (r.acquired) held.push({ name, token: r.token });
      else busy.push(`${name} (${r.holder}, until ${new Date(r.expiresAt).toISOString()})`);
    }
    if (held.length === 0) throw new UserError(`another run holds ${busy.join(', ')}: this run did nothing`, EXIT.LEASE_HELD);
  } else {
    if (!store.acquireAnyLeases) throw new Error(`the ${store.kind} store cannot claim shard leases`);
    const random = o.random ?? Math.random;
    const names = Array.from({ length: count }, (_, i) => shardLease(i, count));
    // Fisher-Yates: runners that start together spread over shards of equal age instead of colliding.
    for (let i = names.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [names[i], names[j]] = [names[j]!, names[i]!];
    }
    const got = await store.acquireAnyLeases(names, holder, ttlMs, now, Math.min(o.maxPerRunner ?? count, count));
    held = got.map((g) => ({ name: g.name, token: g.token }));
    if (held.length === 0) throw new UserError(`every one of the ${count} shards is held by another runner: this run did nothing`, EXIT.LEASE_HELD);
  }

  const scope = new ShardScope(o.layout, held);
  const fences = scope.allFences;
  return {
    fence: fences,
    scope,
    async renew(ttl, at) {
      for (const f of fences) if (!(await store.renewLease(f, ttl, at))) return false;
      return true;
    },
    async release() {
      for (const f of fences) await store.releaseLease(f);
    },
  };
}
