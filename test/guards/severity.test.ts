// Guardrail 3: the severity gate hands decisions above the configured severity to a human instead of acting.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { harness, REPAIR, verdicts } from './harness.js';

describe('the severity gate', () => {
  const rules = [
    { ...REPAIR, name: 'warn', severity: 'warning', escalate: { on: ['blocked'] } },
    { ...REPAIR, name: 'crit', severity: 'critical', escalate: { on: ['blocked'] } },
  ];

  it('acts on a decision at the limit and escalates one above it instead of acting', async () => {
    const h = await harness({ rules, guardrails: { max_severity: 'warning' }, targets: [{ id: 'a', broken: true }] });
    const r = await h.run();
    expect(h.calls.map((c) => c.rule)).toEqual(['warn']);
    expect(verdicts(r, 'crit').a).toMatchObject({
      reason: REASON.SEVERITY,
      detail: 'severity critical is above the automation limit (warning): a human decides',
    });
    const d = r.decisions.find((x) => x.rule.name === 'crit')!;
    expect(d.escalation).toMatchObject({ channel: 'humans', sent: true });
    expect(h.takeTriggers().map((m) => m.summary)).toEqual(['crit on a: severity critical is above the automation limit (warning): a human decides']);
  });

  it('with max_severity info, even warnings go to a human; with critical, nothing is gated', async () => {
    const low = await harness({ rules, guardrails: { max_severity: 'info' }, targets: [{ id: 'a', broken: true }] });
    await low.run();
    expect(low.calls).toEqual([]);
    const high = await harness({ rules, guardrails: { max_severity: 'critical' }, targets: [{ id: 'a', broken: true }] });
    await high.run();
    expect(high.calls.map((c) => c.rule).sort()).toEqual(['crit', 'warn']);
  });
});
