// The one interface every action kind implements: plan (pure, can refuse) then execute (side effects).
import type { ActionConfig, ChannelConfig } from '../config/schema.js';
import type { ExecutionOutcome, FactValue } from '../model.js';

/** What placeholders (`{{ labels.unit }}`) may read. */
export interface TemplateScope {
  target: { id: string; kind: string };
  labels: Record<string, string>;
  facts: Record<string, FactValue>;
  params: Record<string, string>;
  rule: { name: string; severity: string };
}

/**
 * A fully rendered, validated action, ready to run: everything that can fail
 * before touching the world has failed already. `describe` is what dry-run
 * prints and what the journal stores (secrets redacted).
 */
export interface ActionPlan {
  kind: string;
  /** The exact argv or HTTP request, redacted, e.g. `exec ["systemctl","restart","web-1"]`. */
  describe: string;
  /** Structured form of the same, for --json and the journal. */
  detail: Record<string, unknown>;
  timeoutMs: number;
  run(ctx: ExecuteContext): Promise<ExecutionOutcome>;
}

export interface ExecuteContext {
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  projectDir: string;
  /** Literal strings to remove from anything kept or printed. */
  secrets: readonly string[];
}

/** A refusal to plan: an invalid or dangerous rendered value. Never executed. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

export interface PlanContext {
  name: string;
  scope: TemplateScope;
  defaultTimeoutMs: number;
  secrets: readonly string[];
  /**
   * The step's `with:` params as written in the rule (templates). planAction renders
   * them against `scope`, checks them against the action's declared patterns and
   * makes them available as `params.x`. Absent: `scope.params` is used as given
   * (and still checked).
   */
  with?: Readonly<Record<string, string>>;
}

export type ActionKind = (config: ActionConfig, ctx: PlanContext) => ActionPlan; // throws PlanError

/** An escalation to humans. */
export interface EscalationMessage {
  /** Stable across runs for one problem, so a repeated escalation does not page twice. */
  dedupKey: string;
  /** trigger = a problem needs a human; resolve = it went away. */
  event: 'trigger' | 'resolve';
  summary: string;
  severity: 'info' | 'warning' | 'critical';
  source: string;
  rule?: string;
  target?: string;
  details: Record<string, unknown>;
  runbook?: string;
  /** When the problem was seen (ms; the run's time): PagerDuty's `timestamp`, the webhook's. Absent: when sent. */
  at?: number;
}

export interface Channel {
  readonly name: string;
  readonly kind: string;
  /** Render the request without sending (dry-run). */
  describe(msg: EscalationMessage): string;
  send(msg: EscalationMessage, ctx: ExecuteContext & { timeoutMs: number }): Promise<ExecutionOutcome>;
}

export type ChannelFactory = (name: string, config: ChannelConfig) => Channel;
