// Guard: a rule whose earlier action on a target did not help (verify:) does not act there again until the problem
// clears or a person runs `reflex enable` (docs/verification.md). The verify stage found them; this stops the decisions.
import { REASON } from '../pipeline/reasons.js';
import { stop } from '../pipeline/types.js';
import type { Guard } from '../guards/types.js';

export const verifyGuard: Guard = {
  name: 'verify',
  async check(ctx, live) {
    const ineffective = ctx.ineffective;
    if (!ineffective?.size) return;
    for (const d of live) {
      const hit = ineffective.get(`${d.rule.name}\u0000${d.target.id}`);
      if (!hit) continue;
      const v = hit.verification;
      stop(
        d,
        'guard',
        REASON.VERIFY_INEFFECTIVE,
        `execution #${v.executionId} (${v.describe}) did not help: ${v.detail ?? 'ineffective'}; the rule does not act on ${v.target} again until the problem clears or a person runs: reflex enable --rule ${v.rule} --target ${v.target}`,
        'blocked',
      );
      // The verification's one message stands for the decisions it stops (no page per run).
      hit.message?.decisions.push(d);
    }
  },
};
