// Verifications and approvals as people read them: one line each, for why, history and status.
import type { ApprovalRecord, VerificationRecord } from '../store/types.js';
import { formatDuration } from '../util/duration.js';

/** `PENDING`, `PASSED`, `INEFFECTIVE` (and whether it still stops its rule). */
export function verificationLine(v: VerificationRecord, now: number): string {
  const within = v.withinRuns !== null ? `${v.withinRuns} runs` : formatDuration(v.withinMs!);
  const head = `verification of execution #${v.executionId} (${v.action} on ${v.target}, rule ${v.rule}): ${v.status.toUpperCase()}`;
  if (v.status === 'pending')
    return `${head}, ${v.runsChecked} run(s) checked of ${within}${v.detail ? `: ${v.detail}` : ` (acted ${formatDuration(Math.max(0, now - v.startedAt))} ago)`}`;
  if (v.status === 'passed') return `${head}: ${v.detail ?? 'the problem cleared'}`;
  const stops =
    v.clearedAt === null
      ? `; the rule does not act on ${v.target} until the problem clears or: reflex enable --rule ${v.rule} --target ${v.target}`
      : `; cleared ${formatDuration(Math.max(0, now - v.clearedAt))} ago by ${v.clearedBy}`;
  return `${head}: ${v.detail ?? 'did not help'}${stops}`;
}

export function approvalLine(a: ApprovalRecord, now: number): string {
  const ago = (t: number | null) => (t === null ? '' : ` ${formatDuration(Math.max(0, now - t))} ago`);
  const what = a.actions.map((x) => x.describe).join('; then ');
  const head = `approval #${a.id} (rule ${a.rule} on ${a.target}, ${what}): ${a.status.toUpperCase()}`;
  switch (a.status) {
    case 'pending':
      return `${head}, asked${ago(a.askedAt)}: ${a.why}; reflex approve ${a.id} --reason "..."`;
    case 'approved':
      return `${head} by ${a.by}${ago(a.decidedAt)} ("${a.reason}"), ${a.expiresAt !== null && a.expiresAt > now ? `expires in ${formatDuration(a.expiresAt - now)}` : 'expired'}`;
    case 'rejected':
      return `${head} by ${a.by}${ago(a.decidedAt)} ("${a.reason}")${a.clearedAt === null ? '; not asked again until the problem clears' : ''}`;
    case 'used':
      return `${head} by run #${a.usedRun}${ago(a.usedAt)}: execution #${a.executionId} (approved by ${a.by}: "${a.reason}")`;
    default:
      return `${head}${ago(a.closedAt)}${a.note ? `: ${a.note}` : ''}`;
  }
}
