// What `reflex status` shows of a scale-out: runners, and every shard with its holder and last run.
import type { Store } from '../../store/types.js';
import { shardLease, type ShardLayout } from './layout.js';

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
