// Turns decisions (live or recorded) into text people read: one line for summaries, a full trace for `reflex why`.
import type { DecisionOutcome, FactValue } from '../model.js';
import type { Decision } from '../rules/evaluate.js';
import type { DecisionRecord, ExecutionRecord } from '../store/types.js';

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

/** `DRY-RUN   restart-instance   web-2   would run exec [...]` */
export function decisionLine(d: Decision | DecisionRecord): string {
  const rule = typeof d.rule === 'string' ? d.rule : d.rule.name;
  const target = typeof d.target === 'string' ? d.target : d.target.id;
  const last = d.trace.filter((v) => v.stops).pop() ?? d.trace[d.trace.length - 1];
  return `${outcomeLabel(d.outcome).padEnd(11)} ${rule}  ${target}${last ? `  ${last.detail}` : ''}`;
}

export function formatValue(v: FactValue | undefined): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** The full explanation of one recorded decision. */
export function explainDecision(d: DecisionRecord, opts: { factSources?: Record<string, string>; executions?: Map<number, ExecutionRecord> } = {}): string {
  const lines: string[] = [];
  lines.push(`rule ${d.rule} (severity ${d.severity}): ${outcomeLabel(d.outcome)}`);
  if (d.conditions.length) {
    lines.push('  conditions:');
    for (const c of d.conditions) {
      const mark = c.result === true ? 'holds' : c.result === false ? 'FAILS' : 'UNKNOWN';
      lines.push(`    ${mark.padEnd(7)} ${c.name}: ${c.expr}`);
      for (const [k, v] of Object.entries(c.inputs ?? {})) {
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
