// Verify: a succeeded execution is not yet a fix. Runs after it check that its problem cleared within `verify.within`;
// if not, it is ineffective: one message, the failure breaker counts it, and its rule stops acting on that target.
import type { EscalationMessage } from '../../actions/types.js';
import { Activation } from '../../rules/context.js';
import type { CompiledRule } from '../../rules/ruleset.js';
import type { VerificationRecord } from '../../store/types.js';
import { formatDuration } from '../../util/duration.js';
import { judge, look, whenHolds } from '../../verify/judge.js';
import type { OutboxMessage } from '../outbox.js';
import { REASON } from '../reasons.js';
import type { RunContext, Stage } from '../types.js';

/** Messages of ineffective executions: one per execution, resolved when its problem clears or a person resets it. */
export const VERIFY_KEY_PREFIX = 'reflex-verify/';
export const verifyKeyOf = (v: Pick<VerificationRecord, 'rule' | 'target' | 'executionId'>) => `${VERIFY_KEY_PREFIX}${v.rule}/${v.target}/${v.executionId}`;
const idOfKey = (k: string) => Number(k.slice(k.lastIndexOf('/') + 1));

/** Who clears an ineffective verification when the problem goes away by itself. */
export const CLEARED_BY_RUN = 'reflex (the problem cleared)';

/** Open verifications a run reads at most (pending ones, and ineffective ones still stopping their rule). */
const OPEN_LIMIT = 10_000;

const keyOf = (rule: string, target: string) => `${rule}\u0000${target}`;

function ineffectiveMessage(ctx: RunContext, rule: CompiledRule, v: VerificationRecord): OutboxMessage {
  const to = rule.escalate?.to ?? ctx.project.config.defaults.escalate_to ?? null;
  const message: EscalationMessage = {
    dedupKey: verifyKeyOf(v),
    event: 'trigger',
    summary: `${v.detail ?? `${v.action} of ${v.target} did not help`} (rule ${v.rule}, execution #${v.executionId}); it will not act on ${v.target} again until the problem clears or: reflex enable --rule ${v.rule} --target ${v.target}`,
    severity: rule.severity === 'info' ? 'warning' : rule.severity,
    source: 'reflex',
    rule: v.rule,
    target: v.target,
    runbook: rule.runbook,
    at: ctx.now,
    details: {
      run: ctx.runId,
      verification: 'ineffective',
      execution: v.executionId,
      action: v.describe,
      acted_at: new Date(v.startedAt).toISOString(),
      within: v.withinRuns !== null ? `${v.withinRuns} runs` : formatDuration(v.withinMs!),
      expect: v.expect || "the rule's when no longer holds",
      facts: v.facts ?? {},
      reset: `reflex enable --rule ${v.rule} --target ${v.target}`,
    },
  };
  return { channel: to, message, decisions: [], shadow: false };
}

export const verifyStage: Stage = {
  name: 'verify',
  async run(ctx) {
    const found = new Map<string, { verification: VerificationRecord; message: OutboxMessage | null }>();
    ctx.ineffective = found;
    let open: VerificationRecord[];
    try {
      open = await ctx.store.listVerifications({ open: true, limit: OPEN_LIMIT });
    } catch (err) {
      // Fail closed: a rule that verifies cannot tell whether it is allowed to act on any target.
      const detail = `verifications cannot be read (${ctx.redact((err as Error).message)}): rules with verify: do not act in this run`;
      for (const d of ctx.decisions) {
        if (d.outcome === 'matched' && d.rule.verify && d.rule.steps.length)
          found.set(keyOf(d.rule.name, d.target.id), {
            verification: { executionId: 0, describe: 'unknown', detail, rule: d.rule.name, target: d.target.id } as VerificationRecord,
            message: null,
          });
      }
      ctx.problems.push({ stage: 'verify', reason: REASON.GUARD_UNREADABLE, detail });
      return;
    }
    if (open.length === 0) {
      // Nothing to judge; messages of verifications cleared since (reflex enable) are still resolved.
      if (!ctx.dryRun) ctx.outbox.resolves.push({ prefix: VERIFY_KEY_PREFIX, settled: () => true });
      return;
    }
    const world = ctx.evaluation?.world;
    const rules = new Map(ctx.ruleSet.rules.map((r) => [r.name, r]));
    const targets = new Map(ctx.targets.map((t) => [t.id, t]));
    const mine = ctx.shards ? ctx.shards.targetsIn(ctx.targets) : null;
    const decisions = new Map(ctx.decisions.map((d) => [keyOf(d.rule.name, d.target.id), d]));
    const act = world ? new Activation(world) : null;
    const changed: VerificationRecord[] = [];
    /** Ineffective executions whose message stays open after this run. */
    const stillOpen = new Set<number>();
    for (const v of open) {
      const rule = rules.get(v.rule);
      const t = targets.get(v.target);
      const here = !!(rule && t && act && (!mine || mine.has(t.id)));
      if (!here) {
        if (v.status === 'ineffective') stillOpen.add(v.executionId);
        continue; // judged by the run that sees the target (its shard), or once it is back
      }
      act!.reset(t!, [...rule!.refs.agg]);
      const d = decisions.get(keyOf(v.rule, v.target));
      if (v.status === 'pending') {
        if (!rule!.verify) continue; // verify: was removed from the rule: left as it was
        const next = judge(v, look(rule!, t!, act!), ctx.now);
        changed.push(next);
        const reason = next.status === 'passed' ? REASON.VERIFY_PASSED : next.status === 'ineffective' ? REASON.VERIFY_INEFFECTIVE : REASON.VERIFY_PENDING;
        d?.trace.push({ stage: 'verify', reason, detail: `execution #${v.executionId}: ${next.detail}` });
        if (next.status === 'ineffective') {
          stillOpen.add(v.executionId);
          found.set(keyOf(v.rule, v.target), { verification: next, message: ineffectiveMessage(ctx, rule!, next) });
          ctx.log.warn(`verify: ${next.detail} (execution #${v.executionId})`);
        }
        continue;
      }
      // Ineffective: it stops the rule on the target until the problem clears (its `when`, or `expect`, says so).
      const gone = whenHolds(rule!, t!, act!).fixed === true || (rule!.verify?.expect ? look(rule!, t!, act!).fixed === true : false);
      if (gone) {
        changed.push({ ...v, clearedAt: ctx.now, clearedBy: CLEARED_BY_RUN });
        continue;
      }
      stillOpen.add(v.executionId);
      found.set(keyOf(v.rule, v.target), { verification: v, message: ineffectiveMessage(ctx, rule!, v) });
    }
    // Written now (fenced), so the failure breaker of this very run counts an execution found ineffective.
    if (!ctx.dryRun && changed.length) await ctx.store.saveVerifications(changed, ctx.fence);
    for (const x of found.values()) if (x.message) ctx.outbox.messages.push(x.message);
    if (!ctx.dryRun) ctx.outbox.resolves.push({ prefix: VERIFY_KEY_PREFIX, settled: (k) => !stillOpen.has(idOfKey(k)) });
  },
};

/** After the actions: each decision whose every step succeeded and whose rule verifies starts a pending verification. */
export const verifyStartStage: Stage = {
  name: 'verify:start',
  async run(ctx) {
    const out: VerificationRecord[] = [];
    for (const d of ctx.decisions) {
      const v = d.rule.verify;
      if (!v || d.outcome !== 'executed') continue;
      const last = d.actions[d.actions.length - 1];
      if (last?.executionId === undefined) continue;
      out.push({
        executionId: last.executionId,
        runId: ctx.runId,
        rule: d.rule.name,
        target: d.target.id,
        action: d.actions.map((a) => a.action).join(' then '),
        describe: d.actions.map((a) => a.describe).join('; then '),
        startedAt: ctx.clock(),
        withinRuns: v.withinRuns,
        withinMs: v.withinMs,
        expect: v.expectSource,
        status: 'pending',
        runsChecked: 0,
        checkedAt: null,
        settledAt: null,
        detail: null,
        facts: null,
        clearedAt: null,
        clearedBy: null,
      });
      // Said on the act verdict itself, which stays the decision's last word (one-line summaries show it).
      const note = `verification pending: ${v.expectSource ? `verify.expect (${v.expectSource}) must hold` : "the rule's when must no longer hold"} within ${v.within}`;
      const done = [...d.trace].reverse().find((x) => x.reason === REASON.EXECUTED);
      if (done) done.detail = `${done.detail}; ${note}`;
      else d.trace.push({ stage: 'verify', reason: REASON.VERIFY_PENDING, detail: note });
    }
    if (out.length === 0) return;
    try {
      await ctx.store.saveVerifications(out, ctx.fence);
    } catch (err) {
      // The actions ran and are journaled; only their check is lost. Say so (a lost lease still ends the run).
      if ((err as Error).name === 'LeaseLostError') throw err;
      const detail = `the verification of ${out.length} execution(s) could not be recorded: ${ctx.redact((err as Error).message)}`;
      ctx.problems.push({ stage: 'verify', reason: REASON.STORE_ERROR, detail });
      ctx.log.warn(detail);
    }
  },
};
