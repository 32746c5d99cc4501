// A person's answer to an approval request (reflex approve / reflex reject, and scenario steps): checked, recorded, audited.
import { EXIT, UserError } from '../errors.js';
import type { ApprovalRecord, Store } from '../store/types.js';
import { formatDuration } from '../util/duration.js';
import { whatOf } from './index.js';

export interface Answer {
  by: string;
  reason: string;
  now: number;
  /** Approve only: how long the approval lasts (default: the rule's `approval.expires`, recorded with the request). */
  expiresMs?: number;
  /** More for the audit entry (the console adds the client address and how the person was authenticated). */
  audit?: Record<string, unknown>;
}

/**
 * An answer refused (no such approval, not pending, no reason): a UserError for the CLI, with `why` so the console
 * can answer 404, 409 or 400 without reading the message.
 */
export class AnswerRefused extends UserError {
  constructor(
    message: string,
    readonly why: 'missing' | 'not_pending' | 'invalid',
    exitCode?: number,
  ) {
    super(message, exitCode);
  }
}

/** Where an approval stands, in one line (for refusals and listings). */
export function describeState(a: ApprovalRecord, now: number): string {
  const ago = (t: number | null) => (t === null ? '' : ` ${formatDuration(Math.max(0, now - t))} ago`);
  switch (a.status) {
    case 'pending':
      return `pending since${ago(a.askedAt)}`;
    case 'approved':
      return `approved by ${a.by}${ago(a.decidedAt)} ("${a.reason}"), ${a.expiresAt !== null && a.expiresAt > now ? `expires in ${formatDuration(a.expiresAt - now)}` : 'expired'}`;
    case 'rejected':
      return `rejected by ${a.by}${ago(a.decidedAt)} ("${a.reason}")`;
    case 'used':
      return `used by run #${a.usedRun}${ago(a.usedAt)} for execution #${a.executionId} (approved by ${a.by})`;
    default:
      return `${a.status}${ago(a.closedAt)}${a.note ? `: ${a.note}` : ''}`;
  }
}

async function pendingOne(store: Store, id: number, now: number): Promise<ApprovalRecord> {
  if (!Number.isSafeInteger(id) || id < 1) throw new AnswerRefused(`an approval id is a positive whole number (see reflex approvals), not "${id}"`, 'invalid');
  const a = await store.getApproval(id);
  if (!a) throw new AnswerRefused(`no approval #${id} (reflex approvals lists the pending ones)`, 'missing', EXIT.PROBLEMS);
  if (a.status !== 'pending')
    throw new AnswerRefused(`approval #${id} is not pending: it is ${describeState(a, now)}; nothing changed`, 'not_pending', EXIT.PROBLEMS);
  return a;
}

function reasonOf(r: string): string {
  const reason = r.trim();
  if (!reason) throw new AnswerRefused('--reason must say why (it is kept with the approval and in the audit log)', 'invalid');
  return reason;
}

/**
 * Approve a pending request: one use, valid for its expiry. The next run acts on it only if the rule still holds on
 * fresh facts with the same action and parameters, and the switch, disables and cooldowns allow it.
 */
export async function approve(store: Store, id: number, ans: Answer): Promise<ApprovalRecord> {
  const reason = reasonOf(ans.reason);
  const a = await pendingOne(store, id, ans.now);
  const expiresMs = ans.expiresMs ?? a.expiresMs;
  const done = await store.changeApproval({ id, from: ['pending'], to: 'approved', at: ans.now, by: ans.by, reason, expiresAt: ans.now + expiresMs }, null);
  if (!done) return pendingOne(store, id, ans.now); // someone answered first: say how it stands
  await store.appendAudit({
    at: ans.now,
    by: ans.by,
    action: 'approve',
    detail: {
      id,
      rule: a.rule,
      target: a.target,
      guard: a.guard,
      actions: whatOf(a),
      reason,
      expires: new Date(ans.now + expiresMs).toISOString(),
      ...ans.audit,
    },
  });
  return done;
}

/** Reject a pending request: the rule does not ask again about that target until the problem clears or the action changes. */
export async function reject(store: Store, id: number, ans: Answer): Promise<ApprovalRecord> {
  const reason = reasonOf(ans.reason);
  const a = await pendingOne(store, id, ans.now);
  const done = await store.changeApproval({ id, from: ['pending'], to: 'rejected', at: ans.now, by: ans.by, reason }, null);
  if (!done) return pendingOne(store, id, ans.now);
  await store.appendAudit({
    at: ans.now,
    by: ans.by,
    action: 'reject',
    detail: { id, rule: a.rule, target: a.target, guard: a.guard, actions: whatOf(a), reason, ...ans.audit },
  });
  return done;
}
