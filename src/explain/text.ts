// Turns decisions (live or recorded) into text people read: one line for summaries, a full trace for `reflex why`.
import type { DecisionOutcome, FactValue } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import type { Decision } from '../rules/evaluate.js';
import type { CompiledRule } from '../rules/ruleset.js';
import type { DecisionRecord, ExecutionRecord } from '../store/types.js';
import type { Lineage } from './lineage.js';
import { pendingText, type VerdictInput, verdictSentence } from './verdict.js';

/** Most important first: what people need to see at the top of a run summary. */
export const OUTCOME_ORDER: DecisionOutcome[] = [
  'failed',
  'interrupted',
  'executed',
  'escalated',
  'blocked',
  'dry_run',
  'awaiting_approval',
  'deferred',
  'cooled_down',
  'matched',
  'unknown',
  'pending',
  'derived',
  'not_matched',
];

const LABEL: Record<DecisionOutcome, string> = {
  failed: 'FAILED',
  interrupted: 'INTERRUPTED',
  executed: 'EXECUTED',
  escalated: 'ESCALATED',
  blocked: 'BLOCKED',
  dry_run: 'DRY-RUN',
  deferred: 'DEFERRED',
  awaiting_approval: 'AWAITING APPROVAL',
  cooled_down: 'COOLDOWN',
  matched: 'MATCHED',
  unknown: 'UNKNOWN',
  pending: 'PENDING',
  derived: 'DERIVED',
  not_matched: 'NOT MATCHED',
};

export function outcomeLabel(o: DecisionOutcome): string {
  return LABEL[o] ?? o;
}

/** `DRY-RUN   restart-instance   web-2   would run exec [...]`; in a dry run a pending `for` says that dry runs do not count. */
export function decisionLine(d: Decision | DecisionRecord, opts: { dryRun?: boolean } = {}): string {
  const rule = typeof d.rule === 'string' ? d.rule : d.rule.name;
  const target = typeof d.target === 'string' ? d.target : d.target.id;
  const last = d.trace.filter((v) => v.stops).pop() ?? d.trace[d.trace.length - 1];
  const detail = last?.reason === REASON.PENDING_FOR && opts.dryRun ? `pending: ${pendingText(last, true)}` : last?.detail;
  return `${outcomeLabel(d.outcome).padEnd(11)} ${rule}  ${target}${detail ? `  ${detail}` : ''}`;
}

/**
 * The verdict sentence of a decision of the current run (`restarted ... because ...`), for the run summary,
 * escalation messages and anything else that speaks of a live decision.
 */
export function liveVerdict(d: Decision, run: { id: number; now: number; dryRun: boolean }, provenance?: VerdictInput['provenance'], timeless = false): string {
  return verdictSentence({
    rule: d.rule.name,
    target: d.target.id,
    outcome: d.outcome,
    conditions: d.conditions,
    trace: d.trace,
    actions: d.rule.steps.map((s) => s.action),
    derive: d.rule.derive,
    deriveValue: d.rule.value !== null,
    escalateTo: d.rule.escalate?.to ?? null,
    value: d.rule.derive ? d.target.facts[d.rule.derive] : undefined,
    run: { id: run.id, at: run.now, dryRun: run.dryRun },
    asOf: run.now,
    provenance,
    timeless,
  });
}

/** The verdict sentence of a recorded decision, with the rule it was made by (when the rule set still has it). */
export function recordedVerdict(
  d: DecisionRecord,
  rule: CompiledRule | undefined,
  run: { id: number; at: number; dryRun: boolean },
  opts: { asOf?: number; provenance?: VerdictInput['provenance']; value?: FactValue } = {},
): string {
  return verdictSentence({
    rule: d.rule,
    target: d.target,
    outcome: d.outcome,
    conditions: d.conditions,
    trace: d.trace,
    actions: rule ? rule.steps.map((s) => s.action) : (d.actions ?? []).map((a) => a.action),
    derive: rule?.derive ?? null,
    deriveValue: rule ? rule.value !== null : false,
    escalateTo: rule?.escalate?.to ?? null,
    value: opts.value,
    run,
    asOf: opts.asOf,
    provenance: opts.provenance,
  });
}

/**
 * The target the closing hint of a run summary names: the most telling decision (acted, failed, blocked,
 * pending...) before an unknown one, whose explanation is usually just "a source failed".
 */
export function hintTarget(decisions: readonly Decision[]): string | null {
  let best: Decision | null = null;
  let bestRank = Infinity;
  for (const d of decisions) {
    const rank = HINT_ORDER.indexOf(d.outcome);
    if (rank === -1) continue;
    if (
      rank < bestRank ||
      (rank === bestRank && best && (d.rule.index < best.rule.index || (d.rule.index === best.rule.index && d.target.id < best.target.id)))
    ) {
      best = d;
      bestRank = rank;
    }
  }
  return best ? best.target.id : null;
}

const HINT_ORDER: DecisionOutcome[] = [
  'failed',
  'interrupted',
  'executed',
  'dry_run',
  'escalated',
  'blocked',
  'deferred',
  'cooled_down',
  'pending',
  'matched',
  'unknown',
];

export function formatValue(v: FactValue | undefined): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** The full explanation of one recorded decision: its verdict sentence, conditions with inputs and their origins, trace, executions. */
export function explainDecision(
  d: DecisionRecord,
  opts: { factSources?: Record<string, string>; executions?: Map<number, ExecutionRecord>; lineage?: Lineage; depth?: number; verdict?: string } = {},
): string {
  const lines: string[] = [];
  lines.push(`rule ${d.rule} (severity ${d.severity}): ${outcomeLabel(d.outcome)}`);
  if (opts.verdict) lines.push(`  ${opts.verdict}`);
  const depth = opts.depth ?? 1;
  if (d.conditions.length) {
    lines.push('  conditions:');
    for (const c of d.conditions) {
      const mark = c.result === true ? 'holds' : c.result === false ? 'FAILS' : 'UNKNOWN';
      lines.push(`    ${mark.padEnd(7)} ${c.name}: ${c.expr}`);
      for (const [k, v] of Object.entries(c.inputs ?? {})) {
        if (opts.lineage) {
          lines.push(`              ${k} = ${formatValue(v)}${opts.lineage.originNote(k, d.target)}`);
          lines.push(...opts.lineage.originLines(k, d.target, depth, '                '));
          continue;
        }
        const fact = k.startsWith('facts.') ? k.slice(6) : null;
        const src = fact && opts.factSources?.[fact] ? ` (from ${opts.factSources[fact]})` : '';
        lines.push(`              ${k} = ${formatValue(v)}${src}`);
      }
      if (c.unknown) lines.push(`              why unknown: ${c.unknown}`);
    }
  }
  if (d.trace.length) {
    lines.push('  trace:');
    for (const v of d.trace) lines.push(`    ${v.stage.padEnd(9)} ${v.reason}${v.stops ? ' (stops)' : ''}: ${v.detail}`);
  }
  for (const a of d.actions ?? []) {
    lines.push(`  action ${a.action}: ${a.describe}`);
    const e = a.executionId !== undefined ? opts.executions?.get(a.executionId) : undefined;
    if (e) {
      const when = (t: number | null) => (t ? new Date(t).toISOString() : '-');
      lines.push(
        `    execution #${e.id}: ${e.status}; intent ${when(e.createdAt)}, started ${when(e.startedAt)}, finished ${when(e.finishedAt)}` +
          (e.exitCode !== null ? `, exit ${e.exitCode}` : '') +
          (e.httpStatus !== null ? `, HTTP ${e.httpStatus}` : '') +
          (e.durationMs !== null ? `, ${e.durationMs} ms` : ''),
      );
      if (e.error) lines.push(`    error: ${e.error}`);
      if (e.output) lines.push(`    output: ${e.output.trim().split('\n').slice(-5).join('\n            ')}`);
    }
  }
  return lines.join('\n');
}
