// Runs scenarios: the real pipeline, step by step on a synthetic clock, on a fresh in-memory store per scenario, never acting for real.
import type { Project } from '../config/load.js';
import { selectorText } from '../rules/selector.js';
import { runOnce } from '../pipeline/run.js';
import { cooldownOf, groupsOf } from '../pipeline/decision.js';
import type { Decision } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { DisableScope, Store } from '../store/types.js';
import { parseDuration } from '../util/duration.js';
import { silentLogger } from '../util/log.js';
import { checkStep, FIRING_OUTCOMES, type Failure } from './expect.js';
import type { StepConfig } from './schema.js';
import { capturingChannels, ScenarioWorld, ScriptedExecutor, type CapturedEscalation, type ScriptedOutcome } from './harness.js';
import { fmt, type LoadedTestFile, type PlannedScenario } from './load.js';
import type { AnswerConfig, DisableConfig, EnableConfig, StateConfig, SwitchConfig } from './schema.js';
import { approve, reject } from '../approvals/decide.js';

export interface StepResult {
  index: number;
  name?: string;
  at: number;
  runId: number;
  failures: Failure[];
}

export interface ScenarioResult {
  file: string;
  name: string;
  /** file:line of the scenario's name. */
  where: string;
  passed: boolean;
  steps: StepResult[];
  /** A run that could not finish (a bug, or a store problem): the scenario fails with it. */
  error?: string;
  /** Rules the scenario's expectations name. */
  tested: Set<string>;
  /** Rules that acted, paged or derived their fact in some step. */
  fired: Set<string>;
  durationMs: number;
}

const BY = 'reflex-test';

/** Run one scenario of a loaded file. */
export async function runScenario(f: LoadedTestFile, sc: PlannedScenario): Promise<ScenarioResult> {
  const t0 = performance.now();
  const pos = f.file.at([...sc.path, 'name'], '');
  const result: ScenarioResult = {
    file: f.shown,
    name: sc.name,
    where: `${pos.file}:${pos.line}`,
    passed: true,
    steps: [],
    tested: new Set(),
    fired: new Set(),
    durationMs: 0,
  };
  for (const st of sc.steps) for (const e of st.config.expect ?? []) result.tested.add(e.rule);

  const project: Project = f.entry.project;
  // The store's own clock (intent transactions, disables checked there) is the synthetic one too.
  let clock = sc.start;
  const store = openSqliteStore(':memory:', { now: () => clock });
  try {
    await store.migrate();
    const world = new ScenarioWorld(sc.targets, project.config);
    if (sc.config.state) await applyState(store, sc, project, sc.config.state);
    for (const st of sc.steps) {
      const label = `step ${st.index + 1}`;
      const now = sc.start + st.at;
      clock = now;
      world.apply(st.config, label);
      const c = st.config;
      if (c.switch) await setSwitch(store, c.switch, now);
      for (const d of c.disable ?? []) await addDisable(store, d, now);
      for (const d of c.enable ?? []) await removeDisable(store, d, now);
      const answers: Failure[] = [];
      for (const k of ['approve', 'reject'] as const) {
        for (const [i, a] of (c[k] ?? []).entries()) {
          const err = await answer(store, k, a, now);
          if (err) {
            const pos = f.file.at([...st.path, k, i], '');
            answers.push({ where: `${pos.file}:${pos.line}:${pos.col}`, title: `${k} ${a.rule} on ${a.target}: ${err}` });
          }
        }
      }

      const executor = new ScriptedExecutor({ ...(sc.config.actions ?? {}), ...(c.actions ?? {}) } as Record<string, ScriptedOutcome>);
      const escalations: CapturedEscalation[] = [];
      const step: StepResult = { index: st.index, name: c.name, at: st.at, runId: 0, failures: [] };
      result.steps.push(step);
      try {
        const res = await runOnce({
          project,
          ruleSet: sc.ruleSet,
          store,
          dryRun: false,
          clock: () => now,
          holder: BY,
          log: silentLogger,
          executor,
          sources: world.sources(new Set(c.source_down ?? []), `${BY}:${st.index}`),
          channel: capturingChannels(c.channels ?? {}, escalations),
        });
        step.runId = res.runId;
        for (const d of res.decisions) if (FIRING_OUTCOMES.has(d.outcome)) result.fired.add(d.rule.name);
        const state = await laterState(store, c);
        step.failures = [...answers, ...checkStep({ file: f.file, step: c, path: st.path, ctx: res.ctx, ruleSet: sc.ruleSet, escalations, ...state })];
      } catch (err) {
        result.error = `${label} (at ${fmt(st.at)}): the run failed: ${(err as Error).message}`;
        break;
      }
    }
  } catch (err) {
    result.error = `the scenario could not be set up: ${(err as Error).message}`;
  } finally {
    await store.close();
  }
  result.passed = !result.error && result.steps.every((s) => s.failures.length === 0);
  result.durationMs = performance.now() - t0;
  return result;
}

// ---------------------------------------------------------------- state

async function setSwitch(store: Store, s: SwitchConfig, now: number): Promise<void> {
  await store.setSwitch({
    off: s.off,
    by: s.by ?? BY,
    reason: s.reason ?? 'set by the scenario',
    at: now,
    until: s.until ? now + parseDuration(s.until) : null,
  });
}

function scopeOf(d: DisableConfig | EnableConfig): { scope: DisableScope; value: string; selector: Record<string, string> | null } {
  if (d.selector) return { scope: 'selector', value: selectorText(d.selector), selector: d.selector };
  if (d.rule !== undefined) return { scope: 'rule', value: d.rule, selector: null };
  if (d.action !== undefined) return { scope: 'action', value: d.action, selector: null };
  return { scope: 'target', value: d.target!, selector: null };
}

async function addDisable(store: Store, d: DisableConfig, now: number): Promise<void> {
  const s = scopeOf(d);
  await store.addDisable({
    ...s,
    by: d.by ?? BY,
    reason: d.reason ?? 'disabled by the scenario',
    createdAt: now,
    until: d.until ? now + parseDuration(d.until) : null,
  });
}

async function removeDisable(store: Store, d: EnableConfig, now: number): Promise<void> {
  // rule and target together: only let the rule act again where an earlier action did not help (as reflex enable).
  if (d.rule !== undefined && d.target !== undefined) {
    await store.clearVerifications({ rule: d.rule, target: d.target }, BY, now);
    return;
  }
  const s = scopeOf(d);
  await store.removeDisables({ scope: s.scope, value: s.value }, BY, now);
  if (s.scope === 'rule' || s.scope === 'target') await store.clearVerifications(s.scope === 'rule' ? { rule: s.value } : { target: s.value }, BY, now);
}

/** A person answers the pending approval of a rule on a target, as `reflex approve|reject ID` would; the problem, if any. */
async function answer(store: Store, how: 'approve' | 'reject', a: AnswerConfig, now: number): Promise<string | null> {
  const [p] = await store.listApprovals({ status: ['pending'], rule: a.rule, target: a.target, limit: 1 });
  if (!p) return 'no approval of it is pending (a run must first ask: mode: approve, or a guard the rule allows approval for)';
  const ans = { by: a.by ?? BY, reason: a.reason ?? `${how}d by the scenario`, now, expiresMs: a.expires ? parseDuration(a.expires) : undefined };
  try {
    await (how === 'approve' ? approve(store, p.id, ans) : reject(store, p.id, ans));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The latest verification and approval state of each rule and target the step's expectations ask about. */
async function laterState(store: Store, c: StepConfig): Promise<{ verifications: Map<string, string>; approvals: Map<string, string> }> {
  const verifications = new Map<string, string>();
  const approvals = new Map<string, string>();
  for (const e of c.expect ?? []) {
    if (e.verification === undefined && e.approval === undefined) continue;
    for (const t of Array.isArray(e.target) ? e.target : [e.target]) {
      const k = `${e.rule}\u0000${t}`;
      if (e.verification !== undefined) verifications.set(k, (await store.listVerifications({ rule: e.rule, target: t, limit: 1 }))[0]?.status ?? 'none');
      if (e.approval !== undefined) approvals.set(k, (await store.listApprovals({ rule: e.rule, target: t, limit: 1 }))[0]?.status ?? 'none');
    }
  }
  return { verifications, approvals };
}

/** The decision-shaped key the pipeline derives cooldowns and groups from. */
function pseudoDecision(rule: CompiledRule, sc: PlannedScenario, target: string): Decision {
  const t = sc.targets.find((x) => x.id === target)!;
  return {
    rule,
    target: { id: t.id, kind: t.kind, labels: t.labels ?? {}, depends_on: t.depends_on ?? [], facts: {} },
    outcome: 'matched',
    problem: true,
    conditions: [],
    trace: [],
    actions: [],
  };
}

async function applyState(store: Store, sc: PlannedScenario, project: Project, state: StateConfig): Promise<void> {
  const start = sc.start;
  const ctx = { project };
  const rule = (name: string) => sc.ruleSet.rules.find((r) => r.name === name)!;
  if (state.switch) await setSwitch(store, state.switch, start);
  for (const d of state.disables ?? []) await addDisable(store, d, start);
  for (const c of state.cooldowns ?? []) {
    const r = rule(c.rule);
    const d = pseudoDecision(r, sc, c.target);
    for (let i = 0; i < r.steps.length; i++) {
      if (c.action && r.steps[i]!.action !== c.action) continue;
      const cd = cooldownOf(ctx, d, i);
      if (c.left) await store.setCooldown(cd.key, start + parseDuration(c.left) - cd.ms, start + parseDuration(c.left));
      else {
        const lastAt = start - (c.ago ? parseDuration(c.ago) : 0);
        await store.setCooldown(cd.key, lastAt, lastAt + cd.ms);
      }
    }
  }
  let n = 0;
  for (const x of state.executions ?? []) {
    const r = rule(x.rule);
    const i = x.action ? r.steps.findIndex((s) => s.action === x.action) : 0;
    const step = r.steps[i]!;
    const d = pseudoDecision(r, sc, x.target);
    const cd = cooldownOf(ctx, d, i);
    const at = start - parseDuration(x.ago);
    const kind = project.config.actions[step.action]?.kind ?? 'exec';
    const id = await store.intentTransaction(null, async (tx) => {
      const ins = await tx.insertIntent({
        key: `scenario-state|${++n}|${r.name}|${step.action}|${x.target}`,
        runId: 0,
        rule: r.name,
        action: step.action,
        step: i,
        target: x.target,
        kind,
        describe: `${step.action} on ${x.target} (an earlier execution, from the scenario's state)`,
        detail: {},
        cooldownKey: cd.key,
        cooldownMs: cd.ms,
        groups: groupsOf(ctx, d),
        createdAt: at,
      });
      if (!ins.inserted) throw new Error(`duplicate execution in the scenario's state (${x.rule} on ${x.target})`);
      return ins.id;
    });
    await store.markRunning(id, at);
    if (x.status !== 'running') {
      const failed = x.status !== 'succeeded';
      await store.finishExecution(id, {
        status: x.status,
        durationMs: 0,
        output: '',
        error: failed ? `${x.status.replace('_', ' ')} (from the scenario's state)` : undefined,
        exitCode: kind === 'exec' ? (failed ? 1 : 0) : undefined,
        finishedAt: at,
      });
    }
  }
}

/** Scenarios of the loaded files, filtered by a --run pattern, run one after the other (each is quick: no I/O). */
export async function runAll(files: LoadedTestFile[], filter?: RegExp): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const f of files) {
    for (const sc of f.scenarios) {
      if (filter && !filter.test(sc.name)) continue;
      out.push(await runScenario(f, sc));
    }
  }
  return out;
}
