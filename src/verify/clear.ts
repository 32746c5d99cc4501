// Letting a rule act again where an earlier action did not help: the ineffective verifications cleared, each audited
// (`enable:verification`). `reflex enable` and the console both go through here.
import type { Store, VerificationRecord } from '../store/types.js';

export async function clearIneffective(
  store: Store,
  match: { rule?: string; target?: string },
  by: { name: string; reason: string | null; at: number; audit?: Record<string, unknown> },
): Promise<VerificationRecord[]> {
  const cleared = await store.clearVerifications(match, by.name, by.at);
  for (const v of cleared)
    await store.appendAudit({
      at: by.at,
      by: by.name,
      action: 'enable:verification',
      detail: { rule: v.rule, target: v.target, execution: v.executionId, reason: by.reason, ...by.audit },
    });
  return cleared;
}
