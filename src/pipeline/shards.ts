// Shards: which targets a run acts for, the leases that fence them, and the context that spans shards (docs/scale-out.md).
import { EXIT, UserError } from '../errors.js';
import type { Target } from '../model.js';
import { fenceList, type Fence, type Fences, type Store } from '../store/types.js';
import type { RunContext } from './types.js';

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

/**
 * The unfinished executions this run may mark interrupted: those journaled under a lease it holds
 * now (its shards, or "run"), or under one nobody holds any more, and in a sharded run only those
 * of its own shards. An execution journaled under a lease that someone else still holds (a runner of
 * another shard layout during a rollout, or an unsharded runner) belongs to a live runner: not yet.
 */
export async function recoverable<E extends { target: string; shard?: string | null }>(
  ctx: Pick<RunContext, 'store' | 'fence' | 'shards' | 'clock'>,
  unfinished: E[],
): Promise<E[]> {
  if (unfinished.length === 0) return unfinished;
  const mine = new Set(fenceList(ctx.fence).map((f) => f.name));
  const now = ctx.clock();
  const held = new Set((await ctx.store.listLeases()).filter((l) => l.expiresAt > now && !mine.has(l.name)).map((l) => l.name));
  return unfinished.filter((e) => !held.has(e.shard ?? 'run') && (!ctx.shards || ctx.shards.holdsExecution(e)));
}

/**
 * Unfinished runs whose runner is gone: a run holds its leases from before it begins until after it
 * finishes, so one whose holder holds no live lease any more (its leases expired, or were taken over)
 * will never finish. Unsharded, that is every other unfinished run (this run holds "run").
 */
export async function staleRuns<R extends { id: number; holder: string }>(ctx: Pick<RunContext, 'store' | 'clock' | 'runId'>, unfinished: R[]): Promise<R[]> {
  const others = unfinished.filter((r) => r.id !== ctx.runId);
  if (others.length === 0) return others;
  const now = ctx.clock();
  const holding = new Set((await ctx.store.listLeases()).filter((l) => l.expiresAt > now).map((l) => l.holder));
  return others.filter((r) => !holding.has(r.holder));
}

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

// ---------------------------------------------------------------- reflex status

export interface ShardStatus {
  shard: number;
  lease: string;
  /** The live (or expired, not yet taken over) holder, if any. */
  holder: { holder: string; token: number; expiresAt: number; expired: boolean } | null;
  /** The newest recorded run that held this shard. */
  lastRun: { id: number; holder: string; startedAt: number; status: string } | null;
}

export interface RunnerStatus {
  /** The host part of the holder names (`host:pid`): one entry per machine or pod. */
  host: string;
  /** Its runs in the period looked at. */
  runs: number;
  lastRun: { id: number; holder: string; startedAt: number; status: string; shards: string | null } | null;
  /** Leases its processes hold right now. */
  holds: string[];
}

/** `web-1:4242` -> `web-1`: a runner's process id changes with every run, its host does not. */
export const hostOf = (holder: string): string => holder.replace(/:\d+$/, '');

/**
 * Runners (the hosts of recent runs and of live leases, newest first), and in a sharded layout
 * every shard with its holder and the last run that worked on it: a shard nobody worked on lately
 * means too few runners for `max_per_runner` (docs/scale-out.md).
 */
export async function scaleOutStatus(
  store: Store,
  layout: ShardLayout,
  now: number,
  sinceMs = 86_400_000,
): Promise<{ runners: RunnerStatus[]; shards: ShardStatus[] }> {
  const leases = await store.listLeases();
  const runs = await store.listRuns({ limit: 1000, since: now - sinceMs });
  const runners = new Map<string, RunnerStatus>();
  const runner = (host: string) => {
    let x = runners.get(host);
    if (!x) runners.set(host, (x = { host, runs: 0, lastRun: null, holds: [] }));
    return x;
  };
  for (const r of runs) {
    const x = runner(hostOf(r.holder));
    x.runs++;
    x.lastRun ??= { id: r.id, holder: r.holder, startedAt: r.startedAt, status: r.status, shards: r.shard ?? null };
  }
  for (const l of leases) if (l.expiresAt > now) runner(hostOf(l.holder)).holds.push(l.name);
  const shards: ShardStatus[] = [];
  if (layout.count > 1) {
    const lastRun = new Map<string, ShardStatus['lastRun']>();
    for (const r of runs) {
      for (const name of (r.shard ?? '').split(',')) {
        if (name && !lastRun.has(name)) lastRun.set(name, { id: r.id, holder: r.holder, startedAt: r.startedAt, status: r.status });
      }
    }
    const byName = new Map(leases.map((l) => [l.name, l]));
    for (let i = 0; i < layout.count; i++) {
      const name = shardLease(i, layout.count);
      const l = byName.get(name);
      shards.push({
        shard: i,
        lease: name,
        holder: l ? { holder: l.holder, token: l.token, expiresAt: l.expiresAt, expired: l.expiresAt <= now } : null,
        lastRun: lastRun.get(name) ?? null,
      });
    }
  }
  const latest = (x: RunnerStatus) => x.lastRun?.startedAt ?? now;
  return { runners: [...runners.values()].sort((a, b) => latest(b) - latest(a)), shards };
}
