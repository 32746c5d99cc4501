// The global off switch and scoped disables (rule, action, target, label selector), read from the store.
import { REASON, type Reason } from '../pipeline/reasons.js';
import { stop, type RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import type { DisableRecord, SwitchState } from '../store/types.js';
import { formatDuration } from '../util/duration.js';
import type { Guard } from './types.js';

/** Why a decision is disabled, or null. Pure, so the journal re-checks the same way inside its transaction. */
export function disabledBy(d: Decision, disables: DisableRecord[], now: number): { reason: Reason; detail: string } | null {
  for (const x of disables) {
    if (x.removedAt !== null || (x.until !== null && x.until <= now)) continue;
    let hit = false;
    let reason: Reason = REASON.DISABLED_SELECTOR;
    switch (x.scope) {
      case 'rule':
        hit = d.rule.name === x.value;
        reason = REASON.DISABLED_RULE;
        break;
      case 'action':
        hit = d.rule.steps.some((s) => s.action === x.value);
        reason = REASON.DISABLED_ACTION;
        break;
      case 'target':
        hit = d.target.id === x.value;
        reason = REASON.DISABLED_TARGET;
        break;
      case 'selector':
        hit = !!x.selector && Object.keys(x.selector).length > 0 && Object.entries(x.selector).every(([k, v]) => d.target.labels[k] === v);
        break;
    }
    if (hit) return { reason, detail: describeDisable(x, now) };
  }
  return null;
}

export function describeDisable(x: DisableRecord, now: number): string {
  const what = x.scope === 'selector' ? `targets with ${x.value}` : `${x.scope} "${x.value}"`;
  const until = x.until === null ? 'until enabled again' : `for ${formatDuration(x.until - now)} more (until ${new Date(x.until).toISOString()})`;
  return `${what} disabled by ${x.by}: "${x.reason}", ${until}`;
}

export function switchOff(s: SwitchState, now: number): boolean {
  return s.off && (s.until === null || s.until > now);
}

export function describeSwitch(s: SwitchState, now: number): string {
  const until = s.until === null ? '' : ` until ${new Date(s.until).toISOString()} (${formatDuration(s.until - now)} more)`;
  return `automation is switched off by ${s.by ?? 'someone'}: "${s.reason ?? ''}"${until}`;
}

function unreadable(ctx: RunContext, live: Decision[], detail: string): void {
  for (const d of live) stop(d, 'guard', REASON.SWITCH_UNREADABLE, detail, 'blocked');
  ctx.problems.push({ stage: 'guard', reason: REASON.SWITCH_UNREADABLE, detail });
  ctx.log.warn(detail);
}

export const switchGuard: Guard = {
  name: 'switch',
  async check(ctx, live) {
    let state: SwitchState;
    try {
      state = await ctx.store.getSwitch();
    } catch (err) {
      // Fail closed: if we cannot tell whether automation is allowed, it is not.
      unreadable(ctx, live, `the off switch cannot be read (${ctx.redact((err as Error).message)}): automation is off for this run`);
      return;
    }
    if (!switchOff(state, ctx.now)) return;
    const detail = describeSwitch(state, ctx.now);
    for (const d of live) stop(d, 'guard', REASON.SWITCH_OFF, detail, 'blocked');
  },
};

export const disableGuard: Guard = {
  name: 'disables',
  async check(ctx, live) {
    let disables: DisableRecord[];
    try {
      disables = await ctx.store.listDisables({ activeAt: ctx.now });
    } catch (err) {
      unreadable(ctx, live, `disables cannot be read (${ctx.redact((err as Error).message)}): automation is off for this run`);
      return;
    }
    if (disables.length === 0) return;
    for (const d of live) {
      const hit = disabledBy(d, disables, ctx.now);
      if (hit) stop(d, 'guard', hit.reason, hit.detail, 'blocked');
    }
  },
};
