// Cooldown: the guard stage applies cooldowns at their place in the guardrail order (before the limits, so a
// decision that is cooling down never uses up a limit or the budget). This stage applies the same guard again:
// a no-op after the guard stage, and the cooldown for any pipeline composed without it.
import { cooldownGuard } from '../../guards/cooldown.js';
import { live, type Stage } from '../types.js';

export const cooldownStage: Stage = {
  name: 'cooldown',
  async run(ctx) {
    const l = live(ctx);
    if (l.length) await cooldownGuard.check(ctx, l);
  },
};
