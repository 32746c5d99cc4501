// Guard: apply every guardrail, in order, to the decisions still on their way to acting.
import { GUARDS } from '../../guards/index.js';
import { live, type Stage } from '../types.js';

export const guardStage: Stage = {
  name: 'guard',
  async run(ctx) {
    for (const g of GUARDS) {
      const l = live(ctx);
      if (l.length === 0 && !g.always) continue;
      await g.check(ctx, l);
    }
  },
};
