// Checks made again inside the transaction that records an intent, so no limit can be passed between check and act.
import type { Decision } from '../rules/evaluate.js';
import type { IntentInput, IntentTx } from '../store/types.js';
import { REASON, type Reason } from '../pipeline/reasons.js';
import type { RunContext } from '../pipeline/types.js';
import {
  actionLimitDetail,
  groupAllowed,
  groupLimitDetail,
  groupSize,
  groupWindow,
  ownGroupLimitDetail,
  ownRuleLimitDetail,
  ruleLimitDetail,
} from './blast.js';
import { cooldownVerdict } from './cooldown.js';
import { allowedByFraction, parseLimit, windowStart } from './numbers.js';
import { describeSwitch, disabledBy, switchOff } from './switches.js';

export interface IntentCheck {
  readonly name: string;
  /** A decision a person approved past this guard skips the check (docs/approvals.md). */
  readonly approvable?: 'limit';
  check(tx: IntentTx, d: Decision, intent: IntentInput, ctx: RunContext): Promise<{ reason: Reason; detail: string } | null>;
}

export const switchIntentCheck: IntentCheck = {
  name: 'switch',
  async check(tx) {
    const s = await tx.getSwitch();
    return switchOff(s, tx.now) ? { reason: REASON.SWITCH_OFF, detail: `${describeSwitch(s, tx.now)} (switched off during the run)` } : null;
  },
};

export const disableIntentCheck: IntentCheck = {
  name: 'disables',
  async check(tx, d) {
    return disabledBy(d, await tx.activeDisables(), tx.now);
  },
};

export const cooldownIntentCheck: IntentCheck = {
  name: 'cooldown',
  async check(tx, _d, intent) {
    const v = cooldownVerdict(intent.action, intent.target, await tx.cooldown(intent.cooldownKey), tx.now);
    return v ? { reason: REASON.COOLDOWN, detail: v } : null;
  },
};

/** Executions of the rule in the window ending now, this runner's and every other's. */
export const ruleLimitIntentCheck: IntentCheck = {
  name: 'blast radius (per rule)',
  approvable: 'limit',
  async check(tx, d, intent, ctx) {
    const lim = parseLimit(ctx.project.config.guardrails.blast_radius.per_rule);
    const used = await tx.countExecutions({ since: windowStart(tx.now, lim.windowMs), rule: intent.rule });
    if (used + 1 > lim.max) return { reason: REASON.BLAST_RULE, detail: ruleLimitDetail(intent.rule, used, lim) };
    const own = d.rule.limits.blastRadius;
    if (!own) return null;
    const mine = await tx.countExecutions({ since: windowStart(tx.now, own.windowMs), rule: intent.rule });
    return mine + 1 > own.max ? { reason: REASON.BLAST_RULE, detail: ownRuleLimitDetail(intent.rule, mine, own) } : null;
  },
};

export const actionLimitIntentCheck: IntentCheck = {
  name: 'blast radius (per action)',
  approvable: 'limit',
  async check(tx, _d, intent, ctx) {
    const text = ctx.project.config.guardrails.blast_radius.per_action;
    if (!text) return null;
    const lim = parseLimit(text);
    const used = await tx.countExecutions({ since: windowStart(tx.now, lim.windowMs), action: intent.action });
    return used + 1 > lim.max ? { reason: REASON.BLAST_ACTION, detail: actionLimitDetail(intent.action, used, lim) } : null;
  },
};

/**
 * Distinct targets of each of the intent's groups acted on in the group window (which is at least the longest
 * action timeout, so every action still running is in it). The window starts where the guard stage's did (or
 * earlier), so a target it saw counted is counted here too and takes no new place; any other needs a free one.
 */
export const groupLimitIntentCheck: IntentCheck = {
  name: 'blast radius (per group)',
  approvable: 'limit',
  async check(tx, d, intent, ctx) {
    if (intent.step > 0) return null; // the decision's target took its place with its first step
    const since = windowStart(Math.min(ctx.now, tx.now), groupWindow(ctx).ms);
    for (const g of intent.groups) {
      // A target already acted on in the window (by any rule, any runner, this run included) takes no new place;
      // any other needs one among the distinct others. Counted in this transaction, in the order intents commit.
      const others = await tx.countTargetsInGroup(g, since, { except: intent.target });
      if ((await tx.countTargetsInGroup(g, since)) > others) continue;
      const size = groupSize(ctx, g);
      if (others + 1 > groupAllowed(ctx, size)) return { reason: REASON.BLAST_GROUP, detail: groupLimitDetail(ctx, g, others, size) };
    }
    // The rule's own fraction: its other targets in the group, and this one (counted once, acted on before or not).
    const f = d.rule.limits.groupFraction;
    if (f !== null) {
      for (const g of intent.groups) {
        const others = await tx.countTargetsInGroup(g, since, { rule: intent.rule, except: intent.target });
        const size = groupSize(ctx, g);
        if (others + 1 > allowedByFraction(f, size)) return { reason: REASON.BLAST_GROUP, detail: ownGroupLimitDetail(ctx, intent.rule, f, g, others, size) };
      }
    }
    return null;
  },
};

/** In order. The per-run budget and the min-healthy floor are this run's own counts, settled by the guard stage. */
export const INTENT_CHECKS: IntentCheck[] = [
  switchIntentCheck,
  disableIntentCheck,
  cooldownIntentCheck,
  ruleLimitIntentCheck,
  actionLimitIntentCheck,
  groupLimitIntentCheck,
];
