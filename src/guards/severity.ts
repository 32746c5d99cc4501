// Severity gate: decisions above the configured severity go to a human instead of acting.
import { SEVERITIES } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import { stop } from '../pipeline/types.js';
import type { Guard } from './types.js';

export const severityGuard: Guard = {
  name: 'severity',
  async check(ctx, live) {
    const max = ctx.project.config.guardrails.max_severity;
    const limit = SEVERITIES.indexOf(max);
    for (const d of live) {
      if (SEVERITIES.indexOf(d.rule.severity) > limit) {
        if (d.approval?.guard === 'severity') {
          // A person approved this decision past the severity gate (docs/approvals.md).
          d.trace.push({
            stage: 'guard',
            reason: REASON.APPROVAL_APPROVED,
            detail: `severity ${d.rule.severity} is above the automation limit (${max}): approved by ${d.approval.by} (#${d.approval.id})`,
          });
          continue;
        }
        stop(d, 'guard', REASON.SEVERITY, `severity ${d.rule.severity} is above the automation limit (${max}): a human decides`, 'blocked');
      }
    }
  },
};
