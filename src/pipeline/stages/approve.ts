// Approvals in the run (docs/approvals.md). `approvals` (before the guards) matches what people approved to this
// run's decisions, on fresh facts and the same rendered actions, and retires what no longer fits; `ask` (after the
// guards) records the decisions that wait for a person, each with one message carrying `reflex approve ID`.
import type { EscalationMessage } from '../../actions/types.js';
import {
  APPROVAL_KEY_PREFIX,
  approvalIdOfKey,
  approvalKeyOf,
  approveCommand,
  factsOf,
  fingerprintOf,
  guardOfReason,
  guardWords,
  plannedActions,
  rejectCommand,
  whatOf,
} from '../../approvals/index.js';
import type { Decision } from '../../rules/evaluate.js';
import type { ApprovalGuard, ApprovalRecord, ApprovalStatus } from '../../store/types.js';
import { formatDuration } from '../../util/duration.js';
import { REASON } from '../reasons.js';
import { stop, type RunContext, type Stage } from '../types.js';

const keyOf = (rule: string, target: string) => `${rule}\u0000${target}`;
const LIMIT = 10_000;

/** What the approvals stage leaves for the ask stage. */
interface ApprovalState {
  /** Pending requests by rule and target (one live approval per rule and target). */
  pending: Map<string, ApprovalRecord>;
  /** Rejections still in force (the problem has not cleared since), by rule and target. */
  rejected: Map<string, ApprovalRecord>;
  /** Ids of the requests still pending after this run: their messages stay open. */
  open: Set<number>;
}
const STATE = new WeakMap<RunContext, ApprovalState>();

/**
 * The rule still holds for the target on this run's facts: before the guards, its decision is `matched` (its `when`
 * and context hold, `for` is met, its actions could be planned).
 */
const holds = (d: Decision | undefined) => d?.outcome === 'matched';

/** Facts cannot say (unknown, or a `for` still counting): an approval neither acts nor is dropped. */
const undecided = (d: Decision | undefined) => !!d && (d.outcome === 'unknown' || d.outcome === 'pending');

async function change(ctx: RunContext, a: ApprovalRecord, from: ApprovalStatus[], to: ApprovalStatus, note: string): Promise<boolean> {
  if (ctx.dryRun) return true;
  return (await ctx.store.changeApproval({ id: a.id, from, to, at: ctx.now, note }, ctx.fence)) !== null;
}

export const approvalsStage: Stage = {
  name: 'approvals',
  async run(ctx) {
    const st: ApprovalState = { pending: new Map(), rejected: new Map(), open: new Set() };
    STATE.set(ctx, st);
    if (!ctx.ruleSet.rules.some((r) => r.approval)) {
      // No rule asks any more: requests still open are left to people (reflex approvals), never acted on.
      return;
    }
    const [live, rejected] = await Promise.all([
      ctx.store.listApprovals({ status: ['pending', 'approved'], limit: LIMIT }),
      ctx.store.listApprovals({ status: ['rejected'], uncleared: true, limit: LIMIT }),
    ]);
    const decisions = new Map(ctx.decisions.map((d) => [keyOf(d.rule.name, d.target.id), d]));
    const targets = new Set(ctx.targets.map((t) => t.id));
    const mine = ctx.shards ? ctx.shards.targetsIn(ctx.targets) : targets;
    for (const a of live) {
      const here = mine.has(a.target) && ctx.ruleSet.rules.some((r) => r.name === a.rule && r.approval);
      if (!here) {
        if (a.status === 'pending') st.open.add(a.id);
        continue;
      }
      const d = decisions.get(keyOf(a.rule, a.target));
      if (a.status === 'approved' && a.expiresAt !== null && a.expiresAt <= ctx.now) {
        const note = `expired unused: approved by ${a.by} ${formatDuration(ctx.now - (a.decidedAt ?? a.askedAt))} ago, valid for ${formatDuration(a.expiresMs)}`;
        await change(ctx, a, ['approved'], 'expired', note);
        d?.trace.push({ stage: 'approvals', reason: REASON.APPROVAL_GONE, detail: `approval #${a.id} ${note}` });
        continue;
      }
      if (undecided(d)) {
        if (a.status === 'pending') st.open.add(a.id);
        d!.trace.push({
          stage: 'approvals',
          reason: REASON.APPROVAL_PENDING,
          detail: `approval #${a.id} (${a.status}) waits: the facts cannot say whether the rule holds`,
        });
        continue;
      }
      if (!holds(d)) {
        // The problem is gone (or a context condition now forbids acting): nothing to approve any more.
        const note = `the rule no longer holds for ${a.target} on fresh facts (run #${ctx.runId})`;
        await change(ctx, a, [a.status], a.status === 'approved' ? 'refused' : 'withdrawn', note);
        d?.trace.push({ stage: 'approvals', reason: REASON.APPROVAL_REFUSED, detail: `approval #${a.id} not used: ${note}` });
        continue;
      }
      const fp = d!.plans ? fingerprintOf(d!) : null;
      if (fp !== a.fingerprint) {
        const now = d!.plans
          ? plannedActions(d!)
              .map((x) => x.describe)
              .join('; then ')
          : 'nothing that can be planned';
        const note = `the action or its parameters changed: ${a.status} for ${whatOf(a)}, the rule would now run ${now}`;
        await change(ctx, a, [a.status], a.status === 'approved' ? 'refused' : 'withdrawn', note);
        d!.trace.push({ stage: 'approvals', reason: REASON.APPROVAL_REFUSED, detail: `approval #${a.id} not used: ${note}` });
        continue;
      }
      if (a.status === 'pending') {
        st.pending.set(keyOf(a.rule, a.target), a);
        st.open.add(a.id);
        continue;
      }
      d!.approval = { id: a.id, guard: a.guard, by: a.by ?? 'someone', reason: a.reason ?? '' };
      d!.trace.push({
        stage: 'approvals',
        reason: REASON.APPROVAL_APPROVED,
        detail: `approved by ${a.by} (#${a.id}): "${a.reason}": lets it past ${guardWords(a.guard)} once, on the same facts-checked action; expires in ${formatDuration((a.expiresAt ?? ctx.now) - ctx.now)}`,
      });
    }
    for (const a of rejected) {
      if (!mine.has(a.target)) continue;
      const d = decisions.get(keyOf(a.rule, a.target));
      if (undecided(d)) continue;
      if (!holds(d)) {
        // The problem cleared: the rejection has done its job; a new occurrence may be asked about again.
        if (!ctx.dryRun) await ctx.store.changeApproval({ id: a.id, from: ['rejected'], to: 'rejected', at: ctx.now, clear: true }, ctx.fence);
        continue;
      }
      st.rejected.set(keyOf(a.rule, a.target), a);
    }
  },
};

function requestMessage(ctx: RunContext, d: Decision, a: ApprovalRecord): EscalationMessage {
  const expires = formatDuration(a.expiresMs);
  return {
    dedupKey: approvalKeyOf(a.id),
    event: 'trigger',
    summary: `approval needed (#${a.id}): ${d.rule.name} would run ${whatOf(a)} on ${a.target}; stopped by ${guardWords(a.guard)}: ${a.why}. Approve: ${approveCommand(a.id)}  Reject: ${rejectCommand(a.id)}`,
    severity: d.rule.severity === 'info' ? 'warning' : d.rule.severity,
    source: 'reflex',
    rule: d.rule.name,
    target: d.target.id,
    runbook: d.rule.runbook,
    at: ctx.now,
    details: {
      run: ctx.runId,
      approval: a.id,
      guard: a.guard,
      why: a.why,
      actions: a.actions.map((x) => x.describe),
      facts: a.facts,
      approve: approveCommand(a.id),
      reject: rejectCommand(a.id),
      list: 'reflex approvals',
      expires: `an approval is valid for ${expires} after it is given; the next run acts only if the rule still holds on fresh facts with the same action`,
    },
  };
}

/** Which approval a decision would need now, or null: its rule's `mode: approve`, or the guard that stopped it if the rule allows it. */
function needed(ctx: RunContext, d: Decision): { guard: ApprovalGuard; why: string } | null {
  const ap = d.rule.approval;
  if (!ap || d.rule.steps.length === 0 || !d.plans) return null;
  if (!ctx.dryRun && d.rule.mode === 'dry-run') return null; // shadow rules never ask anyone
  if (d.outcome === 'matched') return d.rule.mode === 'approve' && !d.approval ? { guard: 'mode', why: 'the rule is in mode: approve' } : null;
  if (d.outcome !== 'blocked' && d.outcome !== 'deferred') return null;
  const last = d.trace.filter((v) => v.stops).pop();
  const g = last ? guardOfReason(last.reason) : null;
  if (!g || !ap.on.has(g)) return null;
  return { guard: g, why: last!.detail };
}

export const askStage: Stage = {
  name: 'ask',
  async run(ctx) {
    const st = STATE.get(ctx) ?? { pending: new Map(), rejected: new Map(), open: new Set<number>() };
    for (const d of ctx.decisions) {
      const k = keyOf(d.rule.name, d.target.id);
      const pending = st.pending.get(k);
      // A request whose decision now acts on its own (the limit has room again) is not needed any more.
      if (pending && d.outcome === 'matched' && !(d.rule.mode === 'approve' && !d.approval)) {
        await change(ctx, pending, ['pending'], 'withdrawn', `not needed: the decision went ahead without it (run #${ctx.runId})`);
        st.open.delete(pending.id);
        continue;
      }
      const need = needed(ctx, d);
      if (!need) continue;
      if (d.approval) {
        // Approved for one guard, stopped by another: an approval lets a decision past the guard it was asked for, and no other.
        d.trace.push({
          stage: 'ask',
          reason: REASON.APPROVAL_APPROVED,
          detail: `approval #${d.approval.id} lets it past ${guardWords(d.approval.guard)} only, not ${guardWords(need.guard)}; it stays valid until it expires`,
        });
        continue;
      }
      const fp = fingerprintOf(d);
      const rej = st.rejected.get(k);
      if (rej && rej.fingerprint === fp) {
        stop(
          d,
          'ask',
          REASON.APPROVAL_REJECTED,
          `rejected by ${rej.by} (#${rej.id}): "${rej.reason}"; not asked again until the problem clears or the action changes`,
          'blocked',
        );
        continue;
      }
      if (ctx.dryRun) {
        d.trace.push({
          stage: 'ask',
          reason: REASON.APPROVAL_PENDING,
          detail: `a real run would ask a person to approve it (${guardWords(need.guard)}): ${need.why}`,
        });
        continue;
      }
      const { approval: a } = await ctx.store.askApproval(
        {
          rule: d.rule.name,
          target: d.target.id,
          guard: need.guard,
          why: need.why,
          severity: d.rule.severity,
          actions: plannedActions(d).map((x) => ({ action: x.action, describe: x.describe })),
          fingerprint: fp,
          facts: factsOf(d),
          askedAt: ctx.now,
          askedRun: ctx.runId,
          expiresMs: d.rule.approval!.expiresMs,
        },
        ctx.fence,
      );
      if (a.status !== 'pending') {
        // Approved between this run's read and now (a person was quick): the next run uses it.
        d.trace.push({ stage: 'ask', reason: REASON.APPROVAL_APPROVED, detail: `approval #${a.id} was given during this run; the next run uses it` });
        continue;
      }
      st.open.add(a.id);
      stop(
        d,
        'ask',
        REASON.APPROVAL_PENDING,
        `awaiting approval #${a.id} (${guardWords(need.guard)}${need.guard === 'mode' ? '' : `: ${need.why}`}), asked ${a.askedAt === ctx.now ? 'now' : `${formatDuration(ctx.now - a.askedAt)} ago`}: ${approveCommand(a.id)}`,
        'awaiting_approval',
      );
      // Sent by the notify stage after the fence; asked again every run while pending (deduplicated: one message).
      ctx.outbox.messages.push({ channel: d.rule.approval!.to, message: requestMessage(ctx, d, a), decisions: [], shadow: false });
    }
    // A request people answered (or that went away) is resolved.
    if (!ctx.dryRun) ctx.outbox.resolves.push({ prefix: APPROVAL_KEY_PREFIX, settled: (key) => !st.open.has(approvalIdOfKey(key)) });
  },
};
