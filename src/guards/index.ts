// The guardrails in their fixed, documented order (docs/guardrails.md). The first guard that stops a decision wins.
import { actionLimit, groupLimit, ruleLimit } from './blast.js';
import { budgetLimit } from './budget.js';
import { cooldownGuard } from './cooldown.js';
import { failureBreakerGuard } from './failures.js';
import { minHealthyLimit } from './healthy.js';
import { limitsGuard, type Limit } from './limits.js';
import { severityGuard } from './severity.js';
import { stormGuard } from './storm.js';
import { disableGuard, switchGuard } from './switches.js';
import type { Guard } from './types.js';
import { implausibleGuard, widespreadGuard } from './widespread.js';
import { verifyGuard } from '../verify/guard.js';

/**
 * The counting limits, applied together to each decision in the order actions run (limits.ts): a
 * decision is counted only when it fits all of them.
 */
export const LIMITS: readonly Limit[] = [ruleLimit, actionLimit, groupLimit, minHealthyLimit, budgetLimit];

/**
 * 1-2 people's switches first (nothing else matters when automation is off), then what verification found
 * did not help on that target (it waits for a person like a disable); 3 what must go to a human
 * anyway; 4-6 breakers (failures, implausible facts, widespread problem, remediation storm), which stop whole
 * rules, groups or runs; 7 cooldown, before anything that counts, so
 * a decision that waits never uses up a limit; 8 the limits, the budget last (a deferred decision is one that
 * every other guardrail allowed).
 */
export const GUARDS: readonly Guard[] = [
  switchGuard,
  disableGuard,
  verifyGuard,
  severityGuard,
  failureBreakerGuard,
  implausibleGuard,
  widespreadGuard,
  stormGuard,
  cooldownGuard,
  limitsGuard(LIMITS),
];
