// Journal and execute: commit the intent durably (re-checking guards in the same transaction), then run, then record the outcome.
import type { ActionPlan } from '../../actions/types.js';
import { INTENT_CHECKS } from '../../guards/intent.js';
import type { ExecutionOutcome } from '../../model.js';
import type { Decision } from '../../rules/evaluate.js';
import { JournalConflictError, LeaseLostError, StoreError, type IntentInput } from '../../store/types.js';
import { REASON, type Reason } from '../reasons.js';
import { live, stop, type RunContext, type Stage } from '../types.js';
import { actionOrder, cooldownOf, groupsOf } from '../decision.js';

// ---- test hook (docs/reliability.md): REFLEX_FAILPOINT=after-intent|after-running|before-outcome
// makes this process kill itself with SIGKILL at that point of the first action it reaches, so
// crash tests can stop a real run exactly there; with `:stop` (after-intent:stop) it stops itself
// with SIGSTOP instead, once, and goes on when the test sends SIGCONT (a runner that froze and wakes
// up late). Read once at load; unset, it costs a comparison per action.
const [FAILPOINT = '', FAILPOINT_HOW] = (process.env.REFLEX_FAILPOINT ?? '').split(':');
let failpointHit = false;
function failpoint(at: 'after-intent' | 'after-running' | 'before-outcome'): void {
  if (FAILPOINT !== at || failpointHit) return;
  failpointHit = true;
  process.kill(process.pid, FAILPOINT_HOW === 'stop' ? 'SIGSTOP' : 'SIGKILL');
}

/** The approval a decision goes ahead with was used (another runner) or expired before its intent was journaled. */
class ApprovalGoneError extends Error {
  constructor(id: number) {
    super(`approval #${id} is no longer usable (used by another run, or expired) when the intent was journaled`);
    this.name = 'ApprovalGoneError';
  }
}

/** Dry-run: nothing runs; the trace says exactly what would have. */
export const dryRunStage: Stage = {
  name: 'dry-run',
  async run(ctx) {
    for (const d of live(ctx)) {
      if (d.rule.steps.length === 0) continue;
      const shadow = !ctx.dryRun && d.rule.mode === 'dry-run';
      if (!ctx.dryRun && !shadow) continue;
      const what = d.actions.map((a) => a.describe).join('; then ');
      stop(d, 'act', shadow ? REASON.SHADOW : REASON.DRY_RUN, `${shadow ? 'rule is in dry-run (shadow) mode' : '--dry-run'}: would run ${what}`, 'dry_run');
    }
  },
};

async function runOne(ctx: RunContext, d: Decision, plan: ActionPlan, step: number): Promise<ExecutionOutcome> {
  if (ctx.executor) return ctx.executor.execute(d, step, plan, ctx.signal);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await plan.run({ signal: ac.signal, env: ctx.env, projectDir: ctx.project.dir, secrets: ctx.project.secrets });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

async function actOn(ctx: RunContext, d: Decision): Promise<void> {
  const ps = d.plans ?? [];
  for (let i = 0; i < ps.length; i++) {
    const plan = ps[i]!;
    const step = d.rule.steps[i]!;
    if (ctx.signal.aborted) {
      // By name: the run's deadline (pipeline/run.ts) and a stop signal (cli/main.ts) say which they are.
      const why = ctx.signal.reason as Error | undefined;
      if (why?.name === 'RunDeadlineError') stop(d, 'act', REASON.DEADLINE, `not started: ${why.message}`, 'blocked');
      else if (why?.name === 'StopSignal') stop(d, 'act', REASON.STOPPED, `not started: ${why.message}`, 'blocked');
      else stop(d, 'act', REASON.LEASE_LOST, 'the run was stopped before this action started (lease lost or interrupted)', 'blocked');
      return;
    }
    const cd = cooldownOf(ctx, d, i);
    const now = ctx.clock();
    const intent: IntentInput = {
      key: `${d.rule.name}|${i}|${step.action}|${d.target.id}|${Math.floor(now / Math.max(cd.ms, 1000))}`,
      runId: ctx.runId,
      rule: d.rule.name,
      action: step.action,
      step: i,
      target: d.target.id,
      kind: plan.kind,
      describe: plan.describe,
      detail: plan.detail,
      cooldownKey: cd.key,
      cooldownMs: cd.ms,
      groups: groupsOf(ctx, d),
      createdAt: now,
      // Sharded: the intent is fenced by its target's shard lease, and says which (recovery goes by it).
      shard: ctx.shards?.leaseOf(d.target),
    };
    let res: { blocked: { reason: Reason; detail: string } } | { id: number } | { duplicate: number };
    try {
      res = await ctx.store.intentTransaction(ctx.shards ? ctx.shards.fenceFor(d.target) : ctx.fence, async (tx) => {
        // The time of the serialized transaction, not of the wait for it: with several runners, windows
        // and cooldowns are then counted in the order intents were committed.
        intent.createdAt = tx.now;
        for (const c of INTENT_CHECKS) {
          if (c.approvable && d.approval?.guard === c.approvable) continue;
          const hit = await c.check(tx, d, intent, ctx);
          if (hit) return { blocked: hit };
        }
        const ins = await tx.insertIntent(intent);
        // An approval is used in the transaction that journals its first action: one approval, one execution,
        // across crashes and runners. Gone (used, expired): nothing of this transaction is kept.
        if (ins.inserted && i === 0 && d.approval && !(await tx.useApproval(d.approval.id, { runId: ctx.runId, executionId: ins.id, at: tx.now })))
          throw new ApprovalGoneError(d.approval.id);
        return ins.inserted ? { id: ins.id } : { duplicate: ins.existingId };
      });
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      if (err instanceof ApprovalGoneError) {
        stop(d, 'journal', REASON.APPROVAL_GONE, `${err.message}: not run`, 'blocked');
        return;
      }
      // No intent, no action: a store that cannot record the intent stops the action.
      stop(d, 'journal', REASON.STORE_ERROR, `the intent could not be recorded, so the action did not start: ${ctx.redact((err as Error).message)}`, 'failed');
      ctx.problems.push({ stage: 'journal', reason: REASON.STORE_ERROR, detail: (err as Error).message });
      // The store cannot be used (PostgreSQL unreachable...): no further action starts in this run (docs/scale-out.md).
      if (err instanceof StoreError) throw err;
      return;
    }
    if ('blocked' in res) {
      const outcome = res.blocked.reason === REASON.COOLDOWN ? 'cooled_down' : 'blocked';
      stop(d, 'journal', res.blocked.reason, res.blocked.detail, outcome);
      return;
    }
    if ('duplicate' in res) {
      stop(d, 'journal', REASON.DUPLICATE, `execution #${res.duplicate} already holds this intent (${intent.key}): not run twice`, 'blocked');
      return;
    }
    const id = res.id;
    d.actions[i]!.executionId = id;
    failpoint('after-intent');
    try {
      await ctx.store.markRunning(id, ctx.clock());
    } catch (err) {
      if (!(err instanceof JournalConflictError)) throw err;
      // Someone else (a recovering run) has already settled this intent: never start it now.
      stop(d, 'journal', REASON.DUPLICATE, `execution #${id} was settled by another run before it started: ${ctx.redact(err.message)}`, 'blocked');
      return;
    }
    failpoint('after-running');
    let outcome: ExecutionOutcome;
    try {
      outcome = await runOne(ctx, d, plan, i);
    } catch (err) {
      outcome = { status: 'failed', durationMs: 0, output: '', error: ctx.redact((err as Error).message) };
    }
    outcome = { ...outcome, output: ctx.redact(outcome.output ?? ''), error: outcome.error ? ctx.redact(outcome.error) : undefined };
    failpoint('before-outcome');
    await ctx.store.finishExecution(id, { ...outcome, finishedAt: ctx.clock() });
    d.actions[i]!.status = outcome.status;
    const code = outcome.exitCode !== undefined ? ` (exit ${outcome.exitCode})` : outcome.httpStatus !== undefined ? ` (HTTP ${outcome.httpStatus})` : '';
    if (outcome.status !== 'succeeded') {
      const reason = outcome.status === 'timed_out' ? REASON.TIMED_OUT : REASON.FAILED;
      stop(
        d,
        'act',
        reason,
        `execution #${id} ${step.action} ${outcome.status.replace('_', ' ')}${code}${outcome.error ? `: ${outcome.error}` : ''}`,
        'failed',
      );
      return;
    }
    d.trace.push({ stage: 'act', reason: REASON.EXECUTED, detail: `execution #${id} ${step.action} succeeded${code} in ${outcome.durationMs} ms` });
  }
  if (d.outcome === 'matched') d.outcome = 'executed';
}

interface Batch {
  /** The rule's decisions not started yet, in the order actions run. */
  queue: Decision[];
  /** The current wave's size, and how many of it may still start. */
  size: number;
  open: number;
  /** How many the current wave holds (fewer than `size` at the end of the queue). */
  wave: number;
  inFlight: number;
  /** Targets whose action failed in the current wave. */
  failed: string[];
}

/**
 * Starts the actions of a run (docs/guardrails.md, "Slow start"). Each rule's actions start in waves of
 * 1, 2, 4, ... up to `max_concurrency`, a wave only once the one before has finished and succeeded; a
 * failure ends the rule's batch after its wave (the rest is deferred to the next run). The off switch, a
 * disable or a limit reached meanwhile stop each later decision at its intent. Rules go side by side and
 * share `max_concurrency`; whenever a place is free, the first decision in action order (severity, rule,
 * target) whose wave is open starts. Resolves when every started action has finished; rejects with the
 * first error thrown (a lost lease, a failed store) once they have.
 */
function startInWaves(ctx: RunContext, todo: Decision[], one: (d: Decision) => Promise<void>): Promise<void> {
  const max = ctx.project.config.defaults.max_concurrency;
  const slow = ctx.project.config.guardrails.slow_start;
  const rank = new Map(todo.map((d, i) => [d, i]));
  const batches = new Map<string, Batch>();
  for (const d of todo) {
    const b = batches.get(d.rule.name);
    if (b) b.queue.push(d);
    else batches.set(d.rule.name, { queue: [d], size: 1, open: 0, wave: 0, inFlight: 0, failed: [] });
  }
  for (const b of batches.values()) b.open = b.wave = slow ? 1 : b.queue.length;

  const waveDone = (b: Batch) => {
    // A run that is stopping (a signal, its deadline, a lost lease) says so for every decision left, which its
    // start then stops with that reason: a failure of an action cut short by the stop is not the slow start's.
    if (ctx.signal.aborted) {
      b.open = b.wave = b.queue.length;
      return;
    }
    if (b.failed.length > 0 && b.queue.length > 0) {
      const f = b.failed;
      const what = f.length === 1 ? `the action on ${f[0]}` : `the actions on ${f.length} targets (${f.slice(0, 3).join(', ')}${f.length > 3 ? ', ...' : ''})`;
      for (const d of b.queue)
        stop(
          d,
          'act',
          REASON.SLOW_START,
          `slow start: not started in this run because ${what} failed in the wave before (a wave of ${b.wave}); the next run decides again`,
          'deferred',
        );
      b.queue = [];
      return;
    }
    b.failed = [];
    b.size = Math.min(b.size * 2, max);
    b.open = b.wave = Math.min(b.size, b.queue.length);
  };

  return new Promise((resolve, reject) => {
    let running = 0;
    let error: { reason: unknown } | null = null;
    const pump = () => {
      while (running < max) {
        let best: Batch | null = null;
        for (const b of batches.values()) if (b.open > 0 && b.queue.length > 0 && (!best || rank.get(b.queue[0]!)! < rank.get(best.queue[0]!)!)) best = b;
        if (!best) break;
        const b = best;
        const d = b.queue.shift()!;
        b.open--;
        b.inFlight++;
        running++;
        one(d)
          .catch((reason: unknown) => {
            error ??= { reason };
          })
          .finally(() => {
            running--;
            b.inFlight--;
            if (d.outcome === 'failed') b.failed.push(d.target.id);
            if (slow && b.inFlight === 0 && b.open === 0) waveDone(b);
            pump();
          });
      }
      if (running === 0) {
        if (error) reject(error.reason);
        else resolve();
      }
    };
    pump();
  });
}

export const actStage: Stage = {
  name: 'act',
  async run(ctx) {
    const todo = live(ctx)
      .filter((d) => d.rule.steps.length > 0)
      .sort(actionOrder);
    // Once the store fails, nothing more starts: every action needs its intent committed first, and
    // trying each one against a store that is gone only delays the run's failure (exit code 3).
    let storeDown: StoreError | null = null;
    const one = async (d: Decision) => {
      if (storeDown) {
        stop(d, 'journal', REASON.STORE_ERROR, `not started: the store failed earlier in this run (${ctx.redact(storeDown.message)})`, 'blocked');
        return;
      }
      try {
        await actOn(ctx, d);
      } catch (err) {
        if (err instanceof StoreError) storeDown ??= err;
        throw err;
      }
    };
    // A lost lease (or a bug) ends the run after the actions already started have finished.
    await startInWaves(ctx, todo, one);
  },
};
