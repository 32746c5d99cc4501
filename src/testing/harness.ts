// The scenario's stand-ins for the world: sources that report its facts, an executor that records actions, channels that capture escalations.
import type { ActionPlan, Channel, EscalationMessage } from '../actions/types.js';
import type { Config } from '../config/schema.js';
import type { ExecutionOutcome, FactValue, TargetReport } from '../model.js';
import type { Executor } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import { createSource } from '../sources/index.js';
import { SourceError, type Source } from '../sources/types.js';
import { formatDuration } from '../util/duration.js';
import type { StepConfig, TargetConfig } from './schema.js';

/** The source that reports the targets themselves (ids, kinds, labels, relations): it never fails. */
export const SCENARIO_SOURCE = 'scenario';

interface WorldTarget {
  def: TargetConfig;
  facts: Record<string, FactValue>;
  /** Facts the scenario made unknown, with why. */
  unknown: Record<string, string>;
}

/**
 * The targets and facts of a scenario as they change step by step. Facts are
 * reported by stand-ins for the configured sources: a fact goes to the source
 * that declares it (a command's `facts:`, a Prometheus query's `fact:`...),
 * otherwise to the first source that cannot say in advance (an inventory), so
 * `source_down: [health]` makes exactly the facts of "health" unknown, and
 * explanations name the source as they would in production.
 */
export class ScenarioWorld {
  private readonly targets = new Map<string, WorldTarget>();
  private readonly owner = new Map<string, string>();
  private readonly fallback: string;
  private readonly configured: { name: string; kind: string }[];

  constructor(targets: TargetConfig[], config: Config) {
    for (const t of targets) this.targets.set(t.id, { def: t, facts: clone((t.facts ?? {}) as Record<string, FactValue>), unknown: {} });
    for (const t of this.targets.values()) this.dropNulls(t, 'unknown from the start of the scenario');
    let fallback: string | null = null;
    this.configured = config.sources.map((s) => ({ name: s.name, kind: s.kind }));
    for (const cfg of config.sources) {
      let declared: string[] | null = null;
      try {
        declared = createSource(cfg).declaredFacts();
      } catch {
        declared = null;
      }
      if (declared) for (const f of declared) if (!this.owner.has(f)) this.owner.set(f, cfg.name);
      if (!declared && fallback === null) fallback = cfg.name;
    }
    this.fallback = fallback ?? SCENARIO_SOURCE;
  }

  /** The source a fact comes from. */
  sourceOf(fact: string): string {
    return this.owner.get(fact) ?? this.fallback;
  }

  /** Apply a step's changes: new values, and facts that become unknown (null, or listed under `unknown:`). */
  apply(step: StepConfig, label: string): void {
    for (const [id, facts] of Object.entries(step.facts ?? {})) {
      const t = this.targets.get(id);
      if (!t) continue;
      for (const [f, v] of Object.entries(facts)) {
        if (f === '__proto__') continue;
        t.facts[f] = clone(v as FactValue);
        delete t.unknown[f];
      }
      this.dropNulls(t, `made unknown by the scenario in ${label}`);
    }
    for (const [id, facts] of Object.entries(step.unknown ?? {})) {
      const t = this.targets.get(id);
      if (!t) continue;
      for (const f of facts) {
        delete t.facts[f];
        t.unknown[f] = `made unknown by the scenario in ${label}`;
      }
    }
  }

  private dropNulls(t: WorldTarget, why: string): void {
    for (const [f, v] of Object.entries(t.facts)) {
      if (v === null) {
        delete t.facts[f];
        t.unknown[f] = why;
      }
    }
  }

  /** Sources for one run: the targets themselves, then one stand-in per configured source (those in `down` fail). */
  sources(down: ReadonlySet<string>, runKey: string): Source[] {
    const structure: Source = {
      name: SCENARIO_SOURCE,
      kind: 'scenario',
      fingerprint: runKey,
      declaredFacts: () => this.factsOf(SCENARIO_SOURCE),
      collect: async () => ({ targets: this.reports(SCENARIO_SOURCE, true), warnings: [], facts: this.factsOf(SCENARIO_SOURCE) }),
    };
    const out: Source[] = [structure];
    for (const s of this.configured) {
      out.push({
        name: s.name,
        kind: s.kind,
        // A fresh fingerprint every run: a source cooldown never replays an earlier step's facts.
        fingerprint: runKey,
        declaredFacts: () => this.factsOf(s.name),
        collect: async () => {
          if (down.has(s.name)) throw new SourceError('unreachable (source_down in this step of the scenario)');
          return { targets: this.reports(s.name, false), warnings: [], facts: this.factsOf(s.name) };
        },
      });
    }
    return out;
  }

  private factsOf(source: string): string[] {
    const out = new Set<string>();
    for (const t of this.targets.values()) {
      for (const f of Object.keys(t.facts)) if (this.sourceOf(f) === source) out.add(f);
      for (const f of Object.keys(t.unknown)) if (this.sourceOf(f) === source) out.add(f);
    }
    return [...out].sort();
  }

  private reports(source: string, structure: boolean): TargetReport[] {
    const out: TargetReport[] = [];
    for (const t of this.targets.values()) {
      const facts: Record<string, FactValue> = {};
      const unknown: Record<string, string> = {};
      for (const [f, v] of Object.entries(t.facts)) if (this.sourceOf(f) === source) facts[f] = clone(v);
      for (const [f, why] of Object.entries(t.unknown)) if (this.sourceOf(f) === source) unknown[f] = why;
      const r: TargetReport = { id: t.def.id };
      if (structure) {
        r.kind = t.def.kind;
        r.labels = { ...(t.def.labels ?? {}) };
        r.depends_on = [...(t.def.depends_on ?? [])];
      }
      if (Object.keys(facts).length) r.facts = facts;
      if (Object.keys(unknown).length) r.unknown = unknown;
      if (structure || r.facts || r.unknown) out.push(r);
    }
    return out;
  }
}

function clone<T>(v: T): T {
  return v !== null && typeof v === 'object' ? structuredClone(v) : v;
}

export type ScriptedOutcome = 'succeed' | 'fail' | 'timeout';

/** An action the scenario's executor was asked to run. */
export interface RecordedAction {
  rule: string;
  action: string;
  target: string;
  describe: string;
  outcome: ScriptedOutcome;
}

/** Never runs anything: records the action and returns the outcome the scenario scripted (default: success). */
export class ScriptedExecutor implements Executor {
  readonly recorded: RecordedAction[] = [];
  constructor(private readonly script: Record<string, ScriptedOutcome>) {}

  outcomeFor(rule: string, action: string, target: string): ScriptedOutcome {
    return this.script[`${rule}/${action}/${target}`] ?? this.script[`${action}/${target}`] ?? this.script[action] ?? 'succeed';
  }

  async execute(d: Decision, step: number, plan: ActionPlan): Promise<ExecutionOutcome> {
    const action = d.rule.steps[step]!.action;
    const outcome = this.outcomeFor(d.rule.name, action, d.target.id);
    this.recorded.push({ rule: d.rule.name, action, target: d.target.id, describe: plan.describe, outcome });
    return scriptedOutcome(plan, outcome);
  }
}

/** What an action scripted to `outcome` reports, as the real one would: an exit code, or an HTTP status for an HTTP action. */
export function scriptedOutcome(plan: ActionPlan, outcome: ScriptedOutcome): ExecutionOutcome {
  const http = plan.kind === 'http';
  switch (outcome) {
    case 'succeed':
      return { status: 'succeeded', durationMs: 0, output: '', ...(http ? { httpStatus: 200 } : { exitCode: 0 }) };
    case 'fail':
      return { status: 'failed', durationMs: 0, output: '', error: 'failed (scripted by the scenario)', ...(http ? { httpStatus: 500 } : { exitCode: 1 }) };
    case 'timeout':
      return {
        status: 'timed_out',
        durationMs: plan.timeoutMs,
        output: '',
        error: `timed out after ${formatDuration(plan.timeoutMs)} (scripted by the scenario)`,
      };
  }
}

/** A message to humans that a channel stand-in received. */
export interface CapturedEscalation {
  channel: string;
  message: EscalationMessage;
  delivered: boolean;
}

/** Channel stand-ins: messages are captured, never sent; `fail` makes delivery fail (the engine retries next run). */
export function capturingChannels(script: Record<string, 'succeed' | 'fail'>, into: CapturedEscalation[]): (name: string, config: { kind: string }) => Channel {
  return (name, config) => ({
    name,
    kind: config.kind,
    describe: (m) => `${config.kind} ${m.event}: ${m.summary}`,
    async send(msg) {
      const delivered = script[name] !== 'fail';
      into.push({ channel: name, message: msg, delivered });
      return delivered
        ? { status: 'succeeded', durationMs: 0, output: '' }
        : { status: 'failed', durationMs: 0, output: '', error: 'delivery failed (scripted by the scenario)' };
    },
  });
}
