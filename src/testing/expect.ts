// Compares what one run decided with what a scenario step expects; every difference comes with the `why` of the decision.
import type { SourceFile } from '../config/diagnostics.js';
import { explainDecision } from '../explain/text.js';
import { REASON } from '../pipeline/reasons.js';
import { sourceProblems, toRecord } from '../pipeline/decision.js';
import type { RunContext } from '../pipeline/types.js';
import { evaluate, type Decision } from '../rules/evaluate.js';
import type { CompiledRule, RuleSet } from '../rules/ruleset.js';
import type { CapturedEscalation } from './harness.js';
import type { EscalationExpectationConfig, ExpectationConfig, StepConfig } from './schema.js';

/** Outcomes in which a rule acted (or, in dry-run, would have): what "must not act" forbids. */
export const ACTING_OUTCOMES: ReadonlySet<string> = new Set(['executed', 'failed', 'dry_run', 'interrupted']);

/** Outcomes in which a rule did its job: acted, paged (escalate-only rules) or set its fact (derive rules). For coverage. */
export const FIRING_OUTCOMES: ReadonlySet<string> = new Set(['executed', 'failed', 'dry_run', 'interrupted', 'escalated', 'derived']);

export interface Failure {
  /** file:line:col of the expectation (or step) that failed. */
  where: string;
  title: string;
  expected?: string;
  got?: string;
  /** The `why` trace of the decision concerned. */
  why?: string;
}

const key = (rule: string, target: string) => `${rule}\u0000${target}`;

export interface StepCheck {
  file: SourceFile;
  step: StepConfig;
  path: PropertyKey[];
  ctx: RunContext;
  ruleSet: RuleSet;
  escalations: CapturedEscalation[];
  /** rule NUL target -> the latest verification's status after the run ('none': there is none). */
  verifications?: Map<string, string>;
  /** rule NUL target -> the latest approval's status after the run ('none'). */
  approvals?: Map<string, string>;
}

/** Every way the run differs from the step's expectations (empty: the step passes). */
export function checkStep(c: StepCheck): Failure[] {
  const failures: Failure[] = [];
  const { ctx, step } = c;
  const byKey = new Map<string, Decision>();
  for (const d of ctx.decisions) byKey.set(key(d.rule.name, d.target.id), d);
  const covered = new Set<string>();
  const where = (sub: PropertyKey[]) => {
    const d = c.file.at([...c.path, ...sub], '');
    return `${d.file}:${d.line}:${d.col}`;
  };

  (step.expect ?? []).forEach((e, i) => {
    const targets = Array.isArray(e.target) ? e.target : [e.target];
    for (const [j, target] of targets.entries()) {
      covered.add(key(e.rule, target));
      const sub = Array.isArray(e.target) ? ['expect', i, 'target', j] : ['expect', i];
      const d = byKey.get(key(e.rule, target)) ?? explainAbsent(c, e.rule, target);
      const miss = mismatch(e, d) ?? laterMismatch(c, e, target);
      if (miss) {
        failures.push({
          where: where(sub),
          title: `${e.rule} on ${target}: ${miss}`,
          expected: describeExpected(e),
          got: d ? describeGot(d) : `no decision: target "${target}" is not in the run`,
          why: d ? why(ctx, d) : undefined,
        });
      }
    }
  });

  // Complete-list semantics, as promtool's exp_alerts: with `expect:` (or `no_action:`), an action nobody listed is a failure.
  if (step.expect !== undefined || step.no_action) {
    for (const d of ctx.decisions) {
      if (!ACTING_OUTCOMES.has(d.outcome) || covered.has(key(d.rule.name, d.target.id))) continue;
      failures.push({
        where: where(step.expect !== undefined ? ['expect'] : ['no_action']),
        title: `${d.rule.name} on ${d.target.id}: acted, but ${step.no_action ? 'nothing may act in this step' : 'this step does not expect it'}`,
        expected: step.no_action ? 'no action (no_action: true)' : 'no action (not listed under expect)',
        got: describeGot(d),
        why: why(ctx, d),
      });
    }
  }

  if (step.escalations !== undefined) failures.push(...checkEscalations(step.escalations, c.escalations, where));
  return failures;
}

/** Why a rule and target have no decision in the run: not matched (recomputed, as `reflex why` does), or not evaluated at all. */
function explainAbsent(c: StepCheck, ruleName: string, targetId: string): Decision | undefined {
  const target = c.ctx.targets.find((t) => t.id === targetId);
  if (!target) return undefined;
  const rule = c.ruleSet.rules.find((r) => r.name === ruleName);
  if (!rule) return undefined;
  if (rule.kind !== target.kind || (rule.selector && !rule.selector(target.labels))) return notEvaluated(rule, target);
  const r = evaluate(c.ruleSet, c.ctx.targets, {
    now: c.ctx.now,
    runId: c.ctx.runId,
    forState: new Map(),
    factSources: c.ctx.factSources,
    sourceProblems: sourceProblems(c.ctx.sourceReports),
    only: new Set([targetId]),
    keepNotMatched: true,
  });
  return r.decisions.find((d) => d.rule.name === ruleName && d.target.id === targetId) ?? notEvaluated(rule, target);
}

function notEvaluated(rule: CompiledRule, target: Decision['target']): Decision {
  const why = rule.kind !== target.kind ? `the rule is for targets of kind ${rule.kind}` : "the rule's label selector does not select this target";
  return {
    rule,
    target,
    outcome: 'not_matched',
    problem: false,
    conditions: [],
    trace: [{ stage: 'evaluate', reason: REASON.NOT_MATCHED, detail: `not evaluated: ${why}`, stops: true }],
    actions: [],
  };
}

/** The channel this decision paged in this run (itself, or through a breaker's one message for many), or null. */
function sentTo(d: Decision): string | null {
  return d.escalation && d.trace.some((v) => v.reason === REASON.ESCALATED) ? d.escalation.channel : null;
}

/** How the verification or approval state after the run differs from the expectation, or null. */
function laterMismatch(c: StepCheck, e: ExpectationConfig, target: string): string | null {
  const k = key(e.rule, target);
  if (e.verification !== undefined) {
    const got = c.verifications?.get(k) ?? 'none';
    if (got !== e.verification) return `its verification is ${got}, expected ${e.verification}`;
  }
  if (e.approval !== undefined) {
    const got = c.approvals?.get(k) ?? 'none';
    if (got !== e.approval) return `its approval is ${got}, expected ${e.approval}`;
  }
  return null;
}

/** The first way a decision differs from an expectation, or null. */
function mismatch(e: ExpectationConfig, d: Decision | undefined): string | null {
  if (!d) return 'no decision';
  if (e.outcome === 'no_action') {
    if (ACTING_OUTCOMES.has(d.outcome)) return 'acted, but must not';
  } else if (d.outcome !== e.outcome) return `outcome ${d.outcome.replace(/_/g, ' ')}, expected ${e.outcome.replace(/_/g, ' ')}`;
  if (e.reason !== undefined && !d.trace.some((v) => v.reason === e.reason)) return `no "${e.reason}" in its trace`;
  if (e.detail !== undefined) {
    const texts = [...d.trace.map((v) => v.detail), ...d.conditions.map((x) => x.unknown ?? '')];
    if (!texts.some((t) => t.includes(e.detail!))) return `its trace does not say "${e.detail}"`;
  }
  if (e.action !== undefined && !d.actions.some((a) => a.action === e.action)) return `action ${e.action} is not among its actions`;
  if (e.escalated !== undefined) {
    const to = sentTo(d);
    if (e.escalated === true && !to) return 'no escalation was sent';
    if (e.escalated === false && to) return `escalated to ${to}, expected no escalation`;
    if (typeof e.escalated === 'string' && to !== e.escalated)
      return to ? `escalated to ${to}, not ${e.escalated}` : `no escalation was sent to ${e.escalated}`;
  }
  if (e.value !== undefined) {
    const v = d.rule.derive ? d.target.facts[d.rule.derive] : undefined;
    if (JSON.stringify(v) !== JSON.stringify(e.value))
      return `set ${d.rule.derive} = ${v === undefined ? 'unknown' : JSON.stringify(v)}, expected ${JSON.stringify(e.value)}`;
  }
  return null;
}

export function describeExpected(e: ExpectationConfig): string {
  const parts: string[] = [e.outcome === 'no_action' ? 'no action' : e.outcome];
  if (e.reason !== undefined) parts.push(`reason ${e.reason}`);
  if (e.action !== undefined) parts.push(`action ${e.action}`);
  if (e.detail !== undefined) parts.push(`trace says "${e.detail}"`);
  if (e.escalated !== undefined) parts.push(e.escalated === false ? 'not escalated' : e.escalated === true ? 'escalated' : `escalated to ${e.escalated}`);
  if (e.value !== undefined) parts.push(`value ${JSON.stringify(e.value)}`);
  if (e.verification !== undefined) parts.push(`verification ${e.verification}`);
  if (e.approval !== undefined) parts.push(`approval ${e.approval}`);
  return parts.join(', ');
}

export function describeGot(d: Decision): string {
  const stops = d.trace.filter((v) => v.stops);
  const last = stops[stops.length - 1] ?? d.trace.filter((v) => v.stage !== 'notify').pop();
  let text: string = d.outcome;
  if (last) text += `${last.reason === d.outcome ? '' : ` (${last.reason})`}: ${last.detail}`;
  const to = sentTo(d);
  if (to) text += `; escalated to ${to}`;
  return text;
}

function why(ctx: RunContext, d: Decision): string {
  return explainDecision(toRecord(ctx, d), { factSources: ctx.factSources });
}

function describeEscalation(e: CapturedEscalation): string {
  const m = e.message;
  const about = m.rule || m.target ? ` for ${m.rule ?? 'no rule'} on ${m.target ?? 'no target'}` : '';
  return `${m.event} on ${e.channel}${about}: "${m.summary}"${e.delivered ? '' : ' (delivery failed)'}`;
}

function describeWanted(w: EscalationExpectationConfig): string {
  const parts = [`${w.event}${w.to ? ` on ${w.to}` : ''}`];
  if (w.rule || w.target) parts.push(`${w.rule ?? 'any rule'} on ${w.target ?? 'any target'}`);
  if (w.summary) parts.push(`summary says "${w.summary}"`);
  return parts.join(': ');
}

/** The step's escalations are the complete list of messages to humans in that run. */
function checkEscalations(wanted: EscalationExpectationConfig[], got: CapturedEscalation[], where: (sub: PropertyKey[]) => string): Failure[] {
  const failures: Failure[] = [];
  const left = [...got];
  const fits = (w: EscalationExpectationConfig, e: CapturedEscalation) =>
    e.message.event === w.event &&
    (w.to === undefined || e.channel === w.to) &&
    (w.rule === undefined || e.message.rule === w.rule) &&
    (w.target === undefined || e.message.target === w.target) &&
    (w.summary === undefined || e.message.summary.includes(w.summary));
  wanted.forEach((w, i) => {
    const k = left.findIndex((e) => fits(w, e));
    if (k >= 0) left.splice(k, 1);
    else {
      failures.push({
        where: where(['escalations', i]),
        title: 'an expected escalation was not sent',
        expected: describeWanted(w),
        got: got.length ? got.map(describeEscalation).join('\n') : 'no escalation in this step',
      });
    }
  });
  for (const e of left) {
    failures.push({
      where: where(['escalations']),
      title: 'an escalation was sent that this step does not list',
      expected: wanted.length ? wanted.map(describeWanted).join('\n') : 'no escalation (escalations: [])',
      got: describeEscalation(e),
    });
  }
  return failures;
}
