// The guardrail tests' harness: a real project folder and SQLite file, a fake clock, runOnce in-process with the stand-ins of `reflex test` (src/testing/harness.ts) for actions and channels.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EscalationMessage } from '../../src/actions/types.js';
import { loadProject, type Project } from '../../src/config/load.js';
import type { ExecutionOutcome } from '../../src/model.js';
import { runOnce, type RunResult } from '../../src/pipeline/run.js';
import type { Executor } from '../../src/pipeline/types.js';
import { buildRuleSet, type RuleSet } from '../../src/rules/ruleset.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { IntentTx, Store } from '../../src/store/types.js';
import { capturingChannels, scriptedOutcome, type CapturedEscalation, type ScriptedOutcome } from '../../src/testing/harness.js';
import { fixture } from '../helpers.js';

export const T0 = Date.parse('2026-06-01T12:00:00Z');
export const MIN = 60_000;

/**
 * Guardrails that stay out of the way unless a test turns one on: every test states the guardrail it is
 * about and its limits, and nothing else interferes.
 */
export const QUIET_GUARDRAILS = {
  max_severity: 'critical',
  budget_per_run: 1000,
  widespread: { min_targets: 100000 },
  blast_radius: { per_rule: '100000 per 1m', group_fraction: 1, group_by: [] as string[] },
  failure_breaker: { failures: 1000, of_last: 1000 },
};

export interface TargetSpec {
  id: string;
  kind?: string;
  labels?: Record<string, string>;
  /** Has the problem the default rule repairs. */
  broken?: boolean;
  facts?: Record<string, unknown>;
}

export interface ExecCall {
  rule: string;
  target: string;
  action: string;
  step: number;
  at: number;
}

export interface HarnessOptions {
  /** Merged over QUIET_GUARDRAILS (one level deep). */
  guardrails?: Record<string, unknown>;
  /** Rules (objects, written as YAML/JSON). Default: `repair`, every broken box gets `fix`, enforced. */
  rules?: Record<string, unknown>[];
  actions?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  targets?: TargetSpec[];
  /** A cooldown for the inventory source (its result is reused until it ends). */
  sourceCooldown?: string;
}

export const REPAIR = { name: 'repair', target: { kind: 'box' }, when: { broken: 'facts.broken' }, mode: 'enforce', do: [{ action: 'fix' }] };

export class Harness {
  now = T0;
  readonly calls: ExecCall[] = [];
  /**
   * The outcome of each action, in the words of scenario files (`succeed`, `fail`, `timeout`), or an outcome those
   * cannot script (a refusal); default: it succeeds.
   */
  outcome: (call: ExecCall) => ScriptedOutcome | ExecutionOutcome = () => 'succeed';
  /** Called as each action runs (to flip a switch mid-run, or to act as another runner). */
  onExecute: (call: ExecCall) => Promise<void> | void = () => undefined;
  store!: Store;
  project!: Project;
  ruleSet!: RuleSet;

  constructor(readonly dir: string) {}

  clock = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }

  setTargets(ts: TargetSpec[]): void {
    const targets = ts.map((t) => ({ id: t.id, kind: t.kind ?? 'box', labels: t.labels ?? {}, facts: { broken: !!t.broken, ...t.facts } }));
    writeFileSync(join(this.dir, 'inv.json'), JSON.stringify({ targets }));
  }

  load(): void {
    const { project, diagnostics } = loadProject(join(this.dir, 'reflex.yaml'));
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (!project || errors.length) throw new Error(`fixture does not load: ${errors.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n')}`);
    const built = buildRuleSet(project);
    if (!built.ruleSet) throw new Error(`rules do not build: ${built.diagnostics.map((d) => d.message).join('\n')}`);
    this.project = project;
    this.ruleSet = built.ruleSet;
  }

  /** Never runs anything, as `reflex test`'s executor: records the call, lets the test act meanwhile, and reports the scripted outcome. */
  readonly executor: Executor = {
    execute: async (d, step, plan) => {
      const call: ExecCall = { rule: d.rule.name, target: d.target.id, action: d.rule.steps[step]!.action, step, at: this.now };
      this.calls.push(call);
      await this.onExecute(call);
      const o = this.outcome(call);
      return typeof o === 'string' ? scriptedOutcome(plan, o) : o;
    },
  };

  /** Every message the channel received, delivered or not. */
  private readonly captured: CapturedEscalation[] = [];
  /** Delivery per channel (the project has one, `humans`). */
  private readonly delivery: Record<string, 'succeed' | 'fail'> = {};

  /** Whether the channel refuses messages (as a receiver that is down does). */
  set channelDown(down: boolean) {
    this.delivery.humans = down ? 'fail' : 'succeed';
  }

  /** The channel of `reflex test`: messages are captured, never sent. */
  readonly channel = capturingChannels(this.delivery, this.captured);

  /** The messages the channel accepted. */
  get messages(): (EscalationMessage & { channel: string })[] {
    return this.captured.filter((c) => c.delivered).map((c) => ({ ...c.message, channel: c.channel }));
  }

  run(o: { dryRun?: boolean; store?: Store } = {}): Promise<RunResult> {
    return runOnce({
      project: this.project,
      ruleSet: this.ruleSet,
      store: o.store ?? this.store,
      dryRun: !!o.dryRun,
      clock: this.clock,
      executor: this.executor,
      channel: this.channel,
      holder: 'test',
    });
  }

  /** Another connection to the same SQLite file, on the same clock (another runner, or a person at the CLI). */
  async second(): Promise<Store> {
    const s = openSqliteStore(join(this.dir, 'state.db'), { now: this.clock });
    await s.migrate();
    return s;
  }

  /** Triggers (not resolves) sent since the last call. */
  takeTriggers(): (EscalationMessage & { channel: string })[] {
    const out = this.messages.filter((m) => m.event === 'trigger');
    this.captured.length = 0;
    return out;
  }
}

export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const guardrails: Record<string, unknown> = { ...QUIET_GUARDRAILS };
  for (const [k, v] of Object.entries(o.guardrails ?? {})) {
    const base = guardrails[k];
    guardrails[k] = base && typeof base === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? { ...base, ...v } : v;
  }
  const config = {
    store: 'state.db',
    rules: ['rules.yaml'],
    sources: [{ name: 'inv', kind: 'inventory', path: 'inv.json', ...(o.sourceCooldown ? { cooldown: o.sourceCooldown } : {}) }],
    actions: o.actions ?? { fix: { kind: 'exec', argv: ['true'], cooldown: '1m' } },
    channels: { humans: { kind: 'log', path: 'escalations.jsonl' } },
    defaults: { escalate_to: 'humans', max_concurrency: 1, ...o.defaults },
    guardrails,
  };
  const dir = fixture(
    {
      'reflex.yaml': JSON.stringify(config, null, 2),
      'rules.yaml': JSON.stringify({ rules: o.rules ?? [REPAIR] }, null, 2),
      'inv.json': '{"targets": []}',
    },
    'reflex-guards-',
  );
  const h = new Harness(dir);
  h.load();
  h.store = openSqliteStore(join(dir, 'state.db'), { now: h.clock });
  await h.store.migrate();
  if (o.targets) h.setTargets(o.targets);
  return h;
}

/** `n` targets named prefix-1..n. */
export function boxes(n: number, f: (i: number) => Partial<TargetSpec> = () => ({}), prefix = 'b'): TargetSpec[] {
  return Array.from({ length: n }, (_, k) => ({ id: `${prefix}-${k + 1}`, ...f(k + 1) }));
}

/** Outcome and the stopping verdict of each decision of one rule, by target. */
export interface StopVerdict {
  outcome: string;
  /** The stage that stopped it: `guard` (before acting) or `journal` (re-checked in the intent transaction). */
  stage: string | null;
  reason: string | null;
  detail: string | null;
}

export function verdicts(r: RunResult, rule = 'repair'): Record<string, StopVerdict> {
  const out: Record<string, StopVerdict> = {};
  for (const d of r.decisions) {
    if (d.rule.name !== rule) continue;
    const v = d.trace.filter((x) => x.stops).pop();
    out[d.target.id] = { outcome: d.outcome, stage: v?.stage ?? null, reason: v?.reason ?? null, detail: v?.detail ?? null };
  }
  return out;
}

export function outcomes(r: RunResult, rule = 'repair'): Record<string, string> {
  return Object.fromEntries(Object.entries(verdicts(r, rule)).map(([k, v]) => [k, v.outcome]));
}

/**
 * A store whose named operations fail, as a store that cannot be read does: `getSwitch`, `listDisables`...,
 * and inside the intent transaction `tx.getSwitch`, `tx.countExecutions`... Reads that earlier stages share
 * (the recover stage reads the journal too) are failed from the guard stage on with `armedBy: 'getSwitch'`.
 */
export function faulty(store: Store, faults: Set<string>, o: { armedBy?: string } = {}): Store {
  const fail = (name: string) => Promise.reject(new Error(`injected fault: ${name} is unreadable`));
  // With `armedBy`, reads fail only once that method has been called (e.g. `getSwitch`: from the guard stage on).
  let armed = !o.armedBy;
  const faults0 = faults;
  faults = new Proxy(faults0, { get: (t, p) => (p === 'has' ? (k: string) => armed && t.has(k) : Reflect.get(t, p, t)) });
  return new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const name = String(prop);
      if (name === 'intentTransaction') {
        return <T>(fence: Parameters<Store['intentTransaction']>[0], fn: (tx: IntentTx) => Promise<T>) =>
          target.intentTransaction(fence, (tx) =>
            fn(
              new Proxy(tx, {
                get(t, p) {
                  const f = Reflect.get(t, p, t) as unknown;
                  if (typeof f !== 'function') return f;
                  return (...a: unknown[]) => (faults.has(`tx.${String(p)}`) ? fail(`tx.${String(p)}`) : (f as (...x: unknown[]) => unknown).apply(t, a));
                },
              }),
            ),
          );
      }
      return (...a: unknown[]) => {
        if (name === o.armedBy) armed = true;
        return faults.has(name) ? fail(name) : (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
}
