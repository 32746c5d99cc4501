// Collect: every source concurrently within its timeout; a failed source makes its facts unknown, never fails the run.
import { groupTargets } from '../../rules/groups.js';
import { collectAll } from '../../sources/collect.js';
import { snapshotInput, snapshotOrder } from '../../store/snapshot.js';
import { createSources } from '../../sources/index.js';
import { parseDuration } from '../../util/duration.js';
import type { RunContext, Stage } from '../types.js';

/** The facts snapshot stored with each run, enough to explain and replay any decision of it. */
export interface Snapshot {
  v: 1;
  now: number;
  targets: RunContext['targets'];
  factSources: Record<string, string>;
  sources: RunContext['sourceReports'];
}

export const collectStage: Stage = {
  name: 'collect',
  async run(ctx) {
    const { config, dir } = ctx.project;
    const timeouts: Record<string, number> = {};
    const cooldowns: Record<string, number> = {};
    for (const s of config.sources) {
      if (s.timeout) timeouts[s.name] = parseDuration(s.timeout);
      if (s.cooldown) cooldowns[s.name] = parseDuration(s.cooldown);
    }
    const result = await collectAll(ctx.sources ?? createSources(config.sources), {
      now: ctx.now,
      projectDir: dir,
      env: ctx.env,
      concurrency: config.defaults.max_concurrency,
      defaultTimeoutMs: parseDuration(config.defaults.source_timeout),
      timeouts,
      cooldowns,
      cache: ctx.store,
      signal: ctx.signal,
    });
    // Group targets (a region per region) join the fleet here, before the snapshot: every reader of the run
    // (why, replay, history, the console) finds them in it as ordinary targets (docs/rules.md, "Group targets").
    const groups = groupTargets(ctx.ruleSet.groups, result.targets);
    ctx.targets = groups.targets.length ? result.targets.concat(groups.targets) : result.targets;
    for (const p of groups.problems) ctx.problems.push({ stage: 'collect', ...p });
    ctx.sourceReports = result.reports;
    ctx.factSources = result.factSources;
    for (const r of result.reports) {
      if (r.status === 'failed' || r.status === 'timeout') {
        ctx.problems.push({
          stage: 'collect',
          reason: `source:${r.status}`,
          detail: `source "${r.name}" ${r.status === 'timeout' ? 'timed out' : 'failed'}: ${r.error ?? ''}`.trim(),
        });
      }
      if (r.malformed) {
        // Data with mistakes costs those records their facts (unknown, with the reason); people must hear of it.
        const first = r.problems?.[0];
        ctx.problems.push({
          stage: 'collect',
          reason: 'source:malformed',
          detail: `source "${r.name}": ${r.malformed} malformed ${r.malformed === 1 ? 'record' : 'records'}, facts unknown there${first ? ` (${first})` : ''}`,
        });
      }
      for (const w of r.warnings) ctx.log.warn(`source "${r.name}": ${w}`);
    }
    // Serialise before derive rules add facts: one text and digest per target, so that the store
    // keeps only the targets that changed since the last snapshot (store/snapshot.ts). An unsharded
    // run holds the only lease, so the newest snapshot is still the newest when it records: only the
    // texts that differ from it are kept (were another recorded meanwhile, the store copies the rest
    // from it). Sharded runs record concurrently, and keep every text.
    const t0 = performance.now();
    const meta: Omit<Snapshot, 'targets'> = { v: 1, now: ctx.now, factSources: ctx.factSources, sources: ctx.sourceReports };
    const fleet = snapshotOrder(ctx.targets);
    // A head that cannot be read costs only the saving: every text is kept.
    const head = ctx.shards ? null : await ctx.store.snapshotHead().catch(() => null);
    const base = head?.digests ? { ...head, ids: head.order === fleet.order ? null : await head.ids() } : undefined;
    ctx.snapshot = snapshotInput(meta, ctx.targets, ctx.redact, base, fleet);
    ctx.timings.snapshot = Math.round((performance.now() - t0) * 10) / 10;
  },
};
