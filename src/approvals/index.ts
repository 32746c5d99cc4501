// Approvals, the pure part: what a decision would be approved for, its fingerprint, and the words and commands people see.
import { createHash } from 'node:crypto';
import type { FactValue } from '../model.js';
import { REASON, type Reason } from '../pipeline/reasons.js';
import type { Decision } from '../rules/evaluate.js';
import type { ApprovalGuard, ApprovalRecord } from '../store/types.js';

/** Keys of approval requests in the escalations table: one message per approval, resolved once a person answers. */
export const APPROVAL_KEY_PREFIX = 'reflex-approval/';
export const approvalKeyOf = (id: number) => `${APPROVAL_KEY_PREFIX}${id}`;
export const approvalIdOfKey = (k: string) => Number(k.slice(APPROVAL_KEY_PREFIX.length));

/** How long an approval given lasts when the rule does not say (`approval.expires`). */
export const DEFAULT_EXPIRY = '30m';

/** Which guard a stopping reason belongs to, for `approval.on` (null: a person cannot approve past it). */
export function guardOfReason(reason: Reason): Exclude<ApprovalGuard, 'mode'> | null {
  switch (reason) {
    case REASON.SEVERITY:
      return 'severity';
    case REASON.BLAST_RULE:
    case REASON.BLAST_ACTION:
    case REASON.BLAST_GROUP:
    case REASON.MIN_HEALTHY:
      return 'limit';
    case REASON.BUDGET:
      return 'budget';
    default:
      return null;
  }
}

/** Whether a decision's approval lets it past a guard (`limit` covers every blast-radius limit and the min-healthy floor). */
export function approvedPast(d: Pick<Decision, 'approval'>, guard: Exclude<ApprovalGuard, 'mode'>): boolean {
  return d.approval?.guard === guard;
}

/** The actions of a decision as planned, with their rendered parameters: what a person approves. */
export function plannedActions(d: Decision): { action: string; describe: string; detail: Record<string, unknown> }[] {
  return (d.plans ?? []).map((p, i) => ({ action: d.rule.steps[i]!.action, describe: p.describe, detail: p.detail }));
}

/** The same actions with the same rendered parameters give the same fingerprint; anything else does not. */
export function fingerprintOf(d: Decision): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(plannedActions(d))))
    .digest('hex')
    .slice(0, 32);
}

/** The facts the rule read for the target (its conditions' inputs), as a person reviews them. */
export function factsOf(d: Decision): Record<string, FactValue | null> {
  const out: Record<string, FactValue | null> = {};
  for (const c of d.conditions) for (const [k, v] of Object.entries(c.inputs ?? {})) out[k] = v === undefined ? null : v;
  return out;
}

/** Shell-safe enough for the id (a number) and a placeholder reason: the command people copy. */
export const approveCommand = (id: number) => `reflex approve ${id} --reason "..."`;
export const rejectCommand = (id: number) => `reflex reject ${id} --reason "..."`;

export function guardWords(g: ApprovalGuard): string {
  return g === 'mode'
    ? 'the rule asks before it acts (mode: approve)'
    : g === 'severity'
      ? 'the severity gate'
      : g === 'limit'
        ? 'a blast-radius limit'
        : "the run's budget";
}

/** `restart-instance on web-2 (exec [...])` */
export function whatOf(a: Pick<ApprovalRecord, 'actions' | 'target'>): string {
  return a.actions.map((x) => x.describe).join('; then ');
}
