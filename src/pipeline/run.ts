// One run: lease -> recover -> collect -> evaluate -> verify -> plan -> approvals -> guard -> cooldown -> ask -> dry-run -> act -> verify:start -> fence -> notify -> record.
import { hostname } from 'node:os';
import type { Project } from '../config/load.js';
import { makeRedactor } from '../redact.js';
import type { Decision } from '../rules/evaluate.js';
import type { RuleSet } from '../rules/ruleset.js';
import { fenceList, LeaseLostError, type Store } from '../store/types.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { silentLogger, type Logger } from '../util/log.js';
import { publishRunMetrics } from '../metrics/publish.js';
import { runUpdate, scopeOfRun, skippedUpdate, type RunStatus } from '../metrics/run.js';
import { EXIT, UserError } from '../errors.js';
import { actStage, dryRunStage } from './stages/act.js';
import { collectStage } from './stages/collect.js';
import { cooldownStage } from './stages/cooldown.js';
import { evaluateStage } from './stages/evaluate.js';
import { guardStage } from './stages/guard.js';
import { notifyStage } from './stages/notify.js';
import { planStage } from './stages/plan.js';
import { recordStage } from './stages/record.js';
import { recoverStage } from './stages/recover.js';
import { approvalsStage, askStage } from './stages/approve.js';
import { verifyStage, verifyStartStage } from './stages/verify.js';
import { emptyOutbox } from './outbox.js';
import { REASON } from './reasons.js';
import { acquireRunLeases } from './shards.js';
import { summarize, type RunSummary } from './summary.js';
import { runStages, type Executor, type RunContext, type Stage } from './types.js';

/**
 * Before telling humans anything, prove the lease is still this run's (renewing it checks the token).
 * A runner that froze past its lease (a paused VM, a stopped process) wakes up with old facts: it
 * must not page, re-page or resolve over the run that took over (docs/reliability.md). The renewal
 * timer may not have noticed yet, so this asks the store. What remains is the time notify itself takes.
 * After a stop (SIGTERM, SIGINT) the run is still the holder: it goes on to tell humans what happened.
 */
export const fenceStage: Stage = {
  name: 'fence',
  async run(ctx) {
    // A stop cancels actions, not what humans must hear about them (an action cancelled mid-way is
    // escalated as failed): notify gets a signal of its own. Each send is still bounded by its
    // channel's timeout, and a second signal ends the process.
    if (ctx.signal.aborted) ctx.signal = new AbortController().signal;
    const ttl = parseDuration(ctx.project.config.shards.lease);
    // A sharded run holds one lease per shard: every one must still be its own.
    for (const f of fenceList(ctx.fence)) {
      if (!(await ctx.store.renewLease(f, ttl, ctx.clock()))) {
        throw new LeaseLostError(
          `the lease "${f.name}" (token ${f.token}) was taken over by another run before this one notified anyone; nothing more is sent or recorded by this run`,
        );
      }
    }
  },
};

/** The stages after the lease, in order. Exported so tests and docs name the same list. */
export const STAGES: readonly Stage[] = [
  recoverStage,
  collectStage,
  evaluateStage,
  verifyStage,
  planStage,
  approvalsStage,
  guardStage,
  cooldownStage,
  askStage,
  dryRunStage,
  actStage,
  verifyStartStage,
  fenceStage,
  notifyStage,
  recordStage,
];

/** The default deadline of a run, when `defaults.run_timeout` is not set: twice the lease, and at least this. */
const MIN_DEFAULT_DEADLINE_MS = 60_000;

/**
 * The longest a run may take (docs/reliability.md): `defaults.run_timeout`, or twice `shards.lease` and at least a
 * minute. A run that is still at work then (a source, an action or the store far slower than planned) starts
 * nothing more, records what it did and exits 1, instead of holding its lease, and so every target, for ever.
 */
export function runDeadlineMs(config: Project['config']): number {
  if (config.defaults.run_timeout) return parseDuration(config.defaults.run_timeout);
  return Math.max(MIN_DEFAULT_DEADLINE_MS, 2 * parseDuration(config.shards.lease));
}

/** Why a run's signal was aborted when its deadline passed: act and the summary tell it from a stop or a lost lease. */
export class RunDeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(
      `the run passed its deadline of ${formatDuration(deadlineMs)} (defaults.run_timeout): no action starts after it, and actions still running were stopped`,
    );
    this.name = 'RunDeadlineError';
  }
}

export interface RunOptions {
  project: Project;
  ruleSet: RuleSet;
  store: Store;
  dryRun: boolean;
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  holder?: string;
  executor?: Executor;
  /** reflex test: collect from these sources instead of the configured ones. */
  sources?: RunContext['sources'];
  /** reflex test: capture escalations in these channels instead of sending them. */
  channel?: RunContext['channel'];
  signal?: AbortSignal;
  /** The lease name (one runner at a time per name) of an unsharded run. */
  lease?: string;
  /** `reflex run --shard N`: claim exactly these shards instead of any free ones (docs/scale-out.md). */
  shards?: number[];
  /** Record this run's metrics and publish them as `metrics:` says (reflex run; not reflex test). */
  metrics?: boolean;
  /** Called once when the run passes its deadline (runDeadlineMs), after it stopped starting actions. */
  onDeadline?: (deadlineMs: number) => void;
}

export interface RunResult {
  runId: number;
  summary: RunSummary;
  decisions: Decision[];
  ctx: RunContext;
}

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const clock = o.clock ?? Date.now;
  const now = clock();
  const holder = o.holder ?? `${hostname()}:${process.pid}`;
  const ttl = parseDuration(o.project.config.shards.lease);
  const redact = makeRedactor(o.project.secrets);

  // One lease ("run"), or in a sharded layout one per shard this run claims (pipeline/shards.ts).
  const sh = o.project.config.shards;
  const leases = await acquireRunLeases({
    store: o.store,
    holder,
    layout: { count: sh.count, by: sh.by },
    maxPerRunner: sh.max_per_runner,
    only: o.shards,
    lease: o.lease,
    ttlMs: ttl,
    now,
  }).catch(async (err: unknown) => {
    // A run that found the lease held did nothing, and says so: reflex_runs_skipped_total.
    if (o.metrics && err instanceof UserError && err.exitCode === EXIT.LEASE_HELD) {
      await publishRunMetrics({ ...metricsTo(o), update: skippedUpdate('lease_held', clock()), scope: '' });
    }
    throw err;
  });
  const fence = leases.fence;
  const abort = new AbortController();
  const outer = o.signal;
  const onOuter = () => abort.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  // Keep the lease while the run works; if it is lost, no further action starts. Renewing at a third
  // of the TTL leaves two chances before it expires, whatever the TTL (a floor above it would let a
  // short lease lapse under a live run, and another runner take it).
  // A renewal that fails (a PostgreSQL connection ended) is not a lost lease: the next one, a third of the TTL
  // later, tries again. Only when no renewal has succeeded for two thirds of the TTL, so that the lease could lapse
  // before the next one, does the run stop starting actions.
  let renewedAt = Date.now();
  const renew = setInterval(
    () => {
      leases.renew(ttl, clock()).then(
        (ok) => {
          if (!ok) abort.abort();
          else renewedAt = Date.now();
        },
        () => {
          if (Date.now() - renewedAt >= (2 * ttl) / 3) abort.abort();
        },
      );
    },
    Math.max(10, Math.floor(ttl / 3)),
  );
  renew.unref();

  const ctx: RunContext = {
    project: o.project,
    ruleSet: o.ruleSet,
    store: o.store,
    clock,
    now,
    dryRun: o.dryRun,
    holder,
    fence,
    shards: leases.scope,
    runId: 0,
    env: o.env ?? process.env,
    log: o.log ?? silentLogger,
    redact,
    signal: abort.signal,
    targets: [],
    sourceReports: [],
    factSources: {},
    snapshot: null,
    evaluation: null,
    decisions: [],
    problems: [],
    interrupted: [],
    executor: o.executor,
    sources: o.sources,
    channel: o.channel,
    timings: {},
    outbox: emptyOutbox(),
  };
  // The deadline: counted from the start of the run, on the real clock (timers), whatever clock the run reads.
  const deadlineMs = runDeadlineMs(o.project.config);
  const deadline = setTimeout(
    () => {
      if (abort.signal.aborted) return;
      const why = new RunDeadlineError(deadlineMs);
      ctx.problems.push({ stage: 'run', reason: REASON.DEADLINE, detail: why.message });
      ctx.log.warn(why.message);
      abort.abort(why);
      o.onDeadline?.(deadlineMs);
    },
    Math.min(deadlineMs, 2 ** 31 - 1),
  ); // (a longer timer would fire at once)
  deadline.unref();
  try {
    await o.store.saveRuleSet(o.project.hash, o.project.texts);
    ctx.runId = await o.store.beginRun({
      startedAt: now,
      mode: o.dryRun ? 'dry-run' : 'enforce',
      holder,
      ruleSetHash: o.project.hash,
      shard: leases.scope?.describe() ?? null,
    });
    if (ctx.log.child) ctx.log = ctx.log.child({ run: ctx.runId });
    let status: RunStatus = 'failed';
    try {
      await runStages([...STAGES], ctx);
      status = ctx.problems.length ? 'problems' : 'ok';
    } catch (err) {
      // Record what we can: the run failed, and why. Never hides the original error. A store that just failed
      // (a PostgreSQL connection ended) often works again on the next connection: a second try closes the run
      // instead of leaving it `running` for the next run to find. Writing only the status, it can be repeated.
      const failed = {
        finishedAt: clock(),
        status: 'failed',
        summary: { ...summarize(ctx), error: redact((err as Error).message) },
        snapshot: null,
        decisions: [],
        ifUnfinished: true,
      };
      for (let attempt = 0; attempt < 2; attempt++) {
        const ok = await o.store.finishRun(ctx.runId, failed, fence).then(
          () => true,
          (e: unknown) => e instanceof LeaseLostError,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw err;
    } finally {
      if (o.metrics) {
        const at = clock();
        const update = await runUpdate(ctx, status, at, o.store).catch((err: Error) => {
          o.log?.warn(`metrics: could not read this run's executions: ${redact(err.message)}`);
          return null;
        });
        if (update) await publishRunMetrics({ ...metricsTo(o), log: ctx.log, update, scope: scopeOfRun(ctx), redact });
      }
    }
    return { runId: ctx.runId, summary: summarize(ctx), decisions: ctx.decisions, ctx };
  } finally {
    clearTimeout(deadline);
    clearInterval(renew);
    outer?.removeEventListener('abort', onOuter);
    await leases.release().catch(() => undefined);
  }
}

const metricsTo = (o: RunOptions) => ({
  config: o.project.config.metrics,
  projectDir: o.project.dir,
  store: o.store,
  log: o.log ?? silentLogger,
  redact: makeRedactor(o.project.secrets),
});
