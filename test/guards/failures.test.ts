// Guardrail 7: the failure breaker disables a rule whose actions keep failing, with an audit record and one escalation.
import { describe, expect, it } from 'vitest';
import { FAILURE_BREAKER_BY } from '../../src/guards/failures.js';
import { REASON } from '../../src/pipeline/reasons.js';
import { boxes, faulty, harness, MIN, outcomes, verdicts } from './harness.js';

// 2 of the last 3 executions failing trips it; the cooldown is short so each run may try again.
const G = { failure_breaker: { failures: 2, of_last: 3 } };
const actions = { fix: { kind: 'exec', argv: ['true'], cooldown: '1s' } };

describe('the failure breaker', () => {
  it('trips at exactly N failures of the last M: the rule disables itself, audited, escalated once, and stops acting', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    h.outcome = () => 'fail';
    expect(outcomes(await h.run())).toEqual({ a: 'failed' }); // 1 failure: below the limit
    h.advance(MIN);
    expect(outcomes(await h.run())).toEqual({ a: 'failed' }); // 2 failures: the next run trips
    expect(h.calls).toHaveLength(2);
    h.takeTriggers();

    h.advance(MIN);
    const r = await h.run();
    expect(h.calls).toHaveLength(2);
    const v = verdicts(r).a!;
    expect(v.reason).toBe(REASON.BREAKER_FAILURES);
    expect(v.detail).toMatch(
      /^failure breaker: 2 of the last 2 executions of rule "repair" failed \(the breaker trips at 2 of the last 3\): the rule disables itself until a human enables it \(reflex enable --rule repair\)$/,
    );

    const [dis] = await h.store.listDisables({ activeAt: h.now });
    expect(dis).toMatchObject({ scope: 'rule', value: 'repair', by: FAILURE_BREAKER_BY, until: null });
    expect(dis!.reason).toContain('reflex enable --rule repair');
    const audit = await h.store.listAudit(10);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail.id).toBe(dis!.id);
    expect(audit[0]).toMatchObject({ by: FAILURE_BREAKER_BY, action: 'disable:rule', detail: { value: 'repair', breaker: REASON.BREAKER_FAILURES } });
    const sent = h.takeTriggers();
    expect(sent.map((m) => [m.dedupKey, m.summary])).toEqual([
      [
        'reflex-breaker/failures/repair',
        'rule repair disabled itself: 2 of the last 2 executions of rule "repair" failed (the breaker trips at 2 of the last 3)',
      ],
    ]);
    expect(sent[0]!.details.disable).toBe(dis!.id); // the message names the disable it announces

    // From now on the disable stops it, run after run, without paging again.
    h.advance(MIN);
    const later = await h.run();
    expect(verdicts(later).a!.reason).toBe(REASON.DISABLED_RULE);
    expect(h.calls).toHaveLength(2);
    expect(h.takeTriggers().filter((m) => m.dedupKey.startsWith('reflex-breaker/'))).toEqual([]);
  });

  it('does not trip below N: one failure among successes keeps the rule running', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    let n = 0;
    h.outcome = () => (++n % 2 === 0 ? 'fail' : 'succeed'); // S F S F ...: at most 1 failure in any 3 after a success
    for (let i = 0; i < 3; i++) {
      await h.run();
      h.advance(MIN);
    }
    expect(h.calls).toHaveLength(3); // S F S: 1 of the last 3
    expect(await h.store.listDisables({})).toEqual([]);
  });

  it('counts timeouts and refusals as failures, and not interrupted executions (their outcome is unknown)', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    const seq = ['timeout', { status: 'refused', durationMs: 0, output: '', error: 'refused: the address is not allowed' }] as const;
    h.outcome = () => seq[h.calls.length - 1]!;
    await h.run();
    h.advance(MIN);
    await h.run();
    h.advance(MIN);
    expect(verdicts(await h.run()).a!.reason).toBe(REASON.BREAKER_FAILURES);

    const i = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    for (let k = 0; k < 3; k++) {
      const { id } = (await i.store.intentTransaction(null, (tx) =>
        tx.insertIntent({
          key: `k${k}`,
          runId: 0,
          rule: 'repair',
          action: 'fix',
          step: 0,
          target: 'a',
          kind: 'exec',
          describe: 'x',
          detail: {},
          cooldownKey: `c${k}`,
          cooldownMs: 0,
          groups: [],
          createdAt: i.now,
        }),
      )) as { id: number };
      await i.store.markInterrupted([id], 'crashed', i.now);
    }
    expect(outcomes(await i.run())).toEqual({ a: 'executed' });
  });

  it('gives the rule a fresh start once a human enables it again', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    h.outcome = () => 'fail';
    for (let i = 0; i < 3; i++) {
      await h.run();
      h.advance(MIN);
    }
    expect((await h.store.listDisables({ activeAt: h.now }))[0]!.by).toBe(FAILURE_BREAKER_BY);
    await h.store.removeDisables({ scope: 'rule', value: 'repair' }, 'ann', h.now);
    h.advance(MIN);
    h.outcome = () => 'succeed';
    expect(outcomes(await h.run())).toEqual({ a: 'executed' });
    // and its escalation resolved
    expect(h.messages.filter((m) => m.event === 'resolve').map((m) => m.dedupKey)).toEqual(['reflex-breaker/failures/repair']);
  });

  it('its message stays open while the rule is disabled, and resolves at the first run after a human enables it, even with nothing to act on', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    h.outcome = () => 'fail';
    for (let i = 0; i < 3; i++) {
      await h.run();
      h.advance(MIN);
    }
    expect(h.takeTriggers().map((m) => m.dedupKey)).toEqual(['reflex-breaker/failures/repair']);
    for (let i = 0; i < 6; i++) {
      await h.run();
      h.advance(MIN);
    }
    expect(h.messages.filter((m) => m.event === 'resolve')).toEqual([]);
    await h.store.removeDisables({ scope: 'rule', value: 'repair' }, 'ann', h.now);
    h.setTargets([{ id: 'a', broken: false }]);
    await h.run();
    expect(h.messages.filter((m) => m.event === 'resolve').map((m) => m.dedupKey)).toEqual(['reflex-breaker/failures/repair']);
  });

  it('in --dry-run says it would disable the rule, and writes nothing', async () => {
    const h = await harness({ guardrails: G, actions, targets: [{ id: 'a', broken: true }] });
    h.outcome = () => 'fail';
    await h.run();
    h.advance(MIN);
    await h.run();
    h.advance(MIN);
    const r = await h.run({ dryRun: true });
    expect(verdicts(r).a!.detail).toContain('the rule would disable itself');
    expect(await h.store.listDisables({})).toEqual([]);
    expect(await h.store.listAudit(10)).toEqual([]);
  });

  it('when the recent outcomes cannot be read, the rule does not act (fail closed)', async () => {
    const h = await harness({ guardrails: G, actions, targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run({ store: faulty(h.store, new Set(['recentOutcomes'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'blocked', reason: REASON.GUARD_UNREADABLE });
    expect(verdicts(r)['b-1']!.detail).toContain('failure breaker: its state cannot be read');
  });
});
