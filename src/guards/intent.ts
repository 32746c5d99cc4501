// Checks made again inside the transaction that records an intent, so no limit can be passed between check and act.
import type { Decision } from '../rules/evaluate.js';
import type { IntentInput, IntentTx } from '../store/types.js';
import { formatDuration } from '../util/duration.js';
import { REASON } from '../pipeline/reasons.js';
import type { RunContext } from '../pipeline/types.js';
import { describeSwitch, disabledBy, switchOff } from './switches.js';

export interface IntentCheck {
  readonly name: string;
  check(tx: IntentTx, d: Decision, intent: IntentInput, ctx: RunContext): Promise<{ reason: string; detail: string } | null>;
}

export const switchIntentCheck: IntentCheck = {
  name: 'switch',
  async check(tx) {
    const s = await tx.getSwitch();
    return switchOff(s, tx.now) ? { reason: REASON.SWITCH_OFF, detail: describeSwitch(s, tx.now) + ' (switched off during the run)' } : null;
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
    const c = await tx.cooldown(intent.cooldownKey);
    if (!c || c.until <= tx.now) return null;
    return {
      reason: REASON.COOLDOWN,
      detail: `cooling down: last ${intent.action} on ${intent.target} ${formatDuration(tx.now - c.lastAt)} ago; cooldown ${formatDuration(c.until - c.lastAt)}, ${formatDuration(c.until - tx.now)} left`,
    };
  },
};

/** In order. Guards added later (blast radius, budgets) append theirs here. */
export const INTENT_CHECKS: IntentCheck[] = [switchIntentCheck, disableIntentCheck, cooldownIntentCheck];
