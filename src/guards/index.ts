// The guardrails in their fixed, documented order (docs/guardrails.md). The first guard that stops a decision wins.
import { severityGuard } from './severity.js';
import { disableGuard, switchGuard } from './switches.js';
import type { Guard } from './types.js';

export const GUARDS: readonly Guard[] = [switchGuard, disableGuard, severityGuard];
