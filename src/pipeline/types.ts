// The stage interface and the state one run carries from stage to stage.
import type { Project } from '../config/load.js';
import type { Target } from '../model.js';
import type { Decision, EvalResult } from '../rules/evaluate.js';
import type { RuleSet } from '../rules/ruleset.js';
import type { Fences, Store } from '../store/types.js';
import type { ShardScope } from './shards.js';
import type { Logger } from '../util/log.js';
import type { Reason } from './reasons.js';

export type { SourceReport } from '../sources/collect.js';
import type { SourceReport } from '../sources/collect.js';

/** A problem of the run itself (not of one decision), shown in the summary and setting exit code 1. */
export interface RunProblem {
  stage: string;
  reason: string;
  detail: string;
}

export interface RunContext {
  project: Project;
  ruleSet: RuleSet;
  store: Store;
  /** The run's clock; `now` is the time the run started and the time its rules are evaluated at. */
  clock: () => number;
  now: number;
  /** --dry-run: nothing is executed or sent, whatever the rules' modes. */
  dryRun: boolean;
  holder: string;
  /** The run's lease(s): one, or one per shard in a sharded run; fenced writes carry them. */
  fence: Fences;
  /** A sharded run: the shards it holds, and so the targets it acts for (docs/scale-out.md). Unset otherwise. */
  shards?: ShardScope | null;
  runId: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  redact: (s: string) => string;
  /** Aborted when the lease is lost or the process is asked to stop: no new action starts. */
  signal: AbortSignal;

  targets: Target[];
  sourceReports: SourceReport[];
  factSources: Record<string, string>;
  /** The facts snapshot as collected, before derive rules add to it: each target's text and digest (store/snapshot.ts). */
  snapshot: import('../store/types.js').SnapshotInput | null;
  evaluation: EvalResult | null;
  decisions: Decision[];
  /**
   * A sharded run: the decisions of the whole fleet (its own, and the other shards' targets' from the same
   * evaluation), for the breakers that span shards (docs/scale-out.md). Null otherwise: `decisions` is the fleet.
   */
  fleet?: Decision[] | null;
  problems: RunProblem[];
  /** Recovered (interrupted) executions found at the start of the run. */
  interrupted: number[];
  /** Options of test harnesses (reflex test): scripted action outcomes instead of real ones. */
  executor?: Executor;
  /** reflex test: these sources instead of the configured ones (a scenario's facts, scripted outages). */
  sources?: import('../sources/types.js').Source[];
  /** reflex test: make the channel escalations go to (captured, not sent) instead of the configured one. */
  channel?: (name: string, config: import('../config/schema.js').ChannelConfig) => import('../actions/types.js').Channel;
  timings: Record<string, number>;
  /** Messages the notify stage sent or failed to send, by channel (metrics: reflex_escalations_total). */
  escalationResults?: Record<string, { sent: number; failed: number }>;
  /** Rules the notify stage found blind this run (metrics: reflex_rule_blind). */
  blindRules?: string[];
  /** What people must hear, and the writes guards decided on: carried out by the notify stage after the fence (outbox.ts). */
  outbox: import('./outbox.js').Outbox;
  /**
   * Verification (stages/verify.ts): the ineffective verifications that stop their rule on their target in this run
   * (key rule NUL target), each with the outbox message that stands for the decisions the guard stops.
   */
  ineffective?: Map<string, { verification: import('../store/types.js').VerificationRecord; message: import('./outbox.js').OutboxMessage | null }>;
  /** The journal read once per run by the limits (guards/limits.ts: recentExecutions). */
  recentExecutions?: Promise<import('../store/types.js').ExecutionRecord[]>;
}

/** Runs a planned action; real by default, scripted in `reflex test`. */
export interface Executor {
  execute(d: Decision, step: number, plan: import('../actions/types.js').ActionPlan, signal: AbortSignal): Promise<import('../model.js').ExecutionOutcome>;
}

/** One small step of the run pipeline. */
export interface Stage {
  readonly name: string;
  run(ctx: RunContext): Promise<void>;
}

/** Run stages in order, timing each. */
export async function runStages(stages: Stage[], ctx: RunContext): Promise<void> {
  const log = ctx.log;
  for (const s of stages) {
    const t0 = performance.now();
    // What a stage logs says which stage it was (--log-format json: the stage field).
    ctx.log = log.child ? log.child({ stage: s.name }) : log;
    try {
      await s.run(ctx);
    } finally {
      ctx.log = log;
      ctx.timings[s.name] = Math.round((performance.now() - t0) * 10) / 10;
    }
  }
}

/** Append a verdict that stops a decision, with the outcome it ends in. */
export function stop(d: Decision, stage: string, reason: Reason, detail: string, outcome: Decision['outcome']): void {
  d.trace.push({ stage, reason, detail, stops: true });
  d.outcome = outcome;
}

/**
 * Decisions still on their way to acting: matched, with actions, not yet stopped by a stage.
 * Escalate-only rules are not guarded: guardrails stop actions, never a message to a human.
 */
export function live(ctx: RunContext): Decision[] {
  return ctx.decisions.filter((d) => d.outcome === 'matched' && d.rule.steps.length > 0);
}
