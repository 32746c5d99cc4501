// Which unfinished executions and runs a run may settle, given the leases it and others hold.
import { fenceList } from '../../store/types.js';
import type { RunContext } from '../types.js';

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
