// Guardrail 4: the widespread-problem breaker (one escalation per group instead of individual actions) and the implausible-facts breaker.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { boxes, harness, outcomes, REPAIR, verdicts, type TargetSpec } from './harness.js';

const svc = (service: string, n: number, broken: number, prefix = service): TargetSpec[] =>
  boxes(n, (i) => ({ labels: { service }, broken: i <= broken }), prefix);

const WIDESPREAD = { widespread: { fraction: 0.3, min_targets: 3, group_by: ['service'] } };

describe('the widespread-problem breaker', () => {
  it('does not trip at exactly the fraction (3 of 10 is 30%, not more): each target is repaired', async () => {
    const h = await harness({ guardrails: WIDESPREAD, targets: [...svc('checkout', 10, 3), ...svc('search', 5, 0)] });
    const r = await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['checkout-1', 'checkout-2', 'checkout-3']);
    expect(r.decisions.every((d) => d.trace.every((v) => v.reason !== REASON.BREAKER_WIDESPREAD))).toBe(true);
  });

  it('trips above it (4 of 10): no individual action in that group, one escalation with the numbers, other groups unaffected', async () => {
    // In total 5 of 20 (25%): the kind as a whole does not trip.
    const h = await harness({ guardrails: WIDESPREAD, targets: [...svc('checkout', 10, 4), ...svc('search', 10, 1)] });
    const r = await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['search-1']);
    const v = verdicts(r);
    for (const t of ['checkout-1', 'checkout-2', 'checkout-3', 'checkout-4']) {
      expect(v[t]).toMatchObject({
        outcome: 'escalated',
        reason: REASON.BREAKER_WIDESPREAD,
        detail:
          'widespread problem: 4 of 10 box targets with service=checkout (40%) have a problem, more than the limit of 30% (breaker trips from 3): no individual action for this group, one escalation instead',
      });
    }
    const sent = h.takeTriggers();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      channel: 'humans',
      dedupKey: 'reflex-breaker/widespread/box/service=checkout',
      summary: '40% of box targets with service=checkout have a problem (4 of 10): not acting on them individually',
    });
    expect(sent[0]!.details).toMatchObject({ problems: 4, size: 10, count: 4 });
  });

  it('pages once per group while the problem lasts, and resolves when the group is below the limit again', async () => {
    const h = await harness({ guardrails: WIDESPREAD, targets: svc('checkout', 10, 5) });
    await h.run();
    expect(h.takeTriggers()).toHaveLength(1);
    h.advance(60_000);
    const again = await h.run();
    expect(h.takeTriggers()).toEqual([]);
    expect(again.decisions[0]!.trace.map((v) => v.reason)).toContain(REASON.ESCALATION_DEDUP);
    expect(outcomes(again)['checkout-1']).toBe('escalated');
    h.setTargets(svc('checkout', 10, 1));
    h.advance(60_000);
    await h.run();
    expect(h.messages.map((m) => [m.event, m.dedupKey])).toEqual([['resolve', 'reflex-breaker/widespread/box/service=checkout']]);
    expect(h.calls.map((c) => c.target)).toEqual(['checkout-1']);
  });

  it('when the group message cannot be sent, the decisions stay blocked, the run reports it, and each is escalated as its rule says', async () => {
    const rules = [{ ...REPAIR, escalate: { on: ['blocked'] } }];
    const h = await harness({ rules, guardrails: WIDESPREAD, targets: svc('checkout', 10, 4) });
    h.channelDown = true;
    const r = await h.run();
    expect(h.calls).toEqual([]);
    expect(outcomes(r)['checkout-1']).toBe('blocked');
    expect(r.summary.problems.map((p) => p.reason)).toContain(REASON.ESCALATION_FAILED);
    const notes = r.decisions[0]!.trace.filter((v) => v.stage === 'notify').map((v) => v.reason);
    // The group message failed, then it was tried on its own too: a human must hear of it.
    expect(notes).toEqual([REASON.ESCALATION_FAILED, REASON.ESCALATION_FAILED]);
  });

  it('sends one message per tripped group, never one per decision', async () => {
    const h = await harness({ guardrails: WIDESPREAD, targets: [...svc('checkout', 10, 6), ...svc('search', 4, 3), ...svc('cart', 10, 0)] });
    await h.run();
    expect(
      h
        .takeTriggers()
        .map((m) => m.dedupKey)
        .sort(),
    ).toEqual(['reflex-breaker/widespread/box/service=checkout', 'reflex-breaker/widespread/box/service=search']);
    expect(h.calls).toEqual([]);
  });

  it('needs at least min_targets targets with a problem, whatever the fraction (2 of 3 is 67% but below 3)', async () => {
    const h = await harness({ guardrails: WIDESPREAD, targets: [...svc('checkout', 3, 2), ...svc('search', 20, 0)] });
    await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['checkout-1', 'checkout-2']);
  });

  it('also trips on a count (max_targets) in a large group where the fraction is small', async () => {
    const g = { widespread: { fraction: 1, min_targets: 1, max_targets: 2, group_by: ['service'] } };
    const two = await harness({ guardrails: g, targets: svc('checkout', 100, 2) });
    await two.run();
    expect(two.calls).toHaveLength(2);
    const three = await harness({ guardrails: g, targets: svc('checkout', 100, 3) });
    const r = await three.run();
    expect(three.calls).toEqual([]);
    expect(verdicts(r)['checkout-1']!.detail).toContain('3 of 100 box targets with service=checkout (3%) have a problem, more than the limit of 2 targets');
  });

  it('counts all targets of a kind together too (in total), whatever their labels', async () => {
    const h = await harness({ guardrails: { widespread: { fraction: 0.3, min_targets: 3, group_by: [] } }, targets: [...svc('a', 5, 2), ...svc('b', 5, 2)] });
    const r = await h.run();
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['a-1']!.detail).toContain('4 of 10 box targets in total (40%)');
  });

  it('in --dry-run says what it would send and sends nothing, and no decision would page on its own', async () => {
    const rules = [{ ...REPAIR, escalate: { on: ['blocked'] } }];
    const h = await harness({ rules, guardrails: WIDESPREAD, targets: svc('checkout', 10, 4) });
    const r = await h.run({ dryRun: true });
    expect(h.messages).toEqual([]);
    expect(outcomes(r)['checkout-1']).toBe('blocked');
    expect(r.decisions[0]!.trace.find((v) => v.reason === REASON.DRY_RUN)?.detail).toContain('would trigger on humans');
    // Each decision carries the group message's preview, and none would page on its own.
    for (const d of r.decisions) expect(d.trace.filter((v) => v.stage === 'notify').map((v) => v.reason)).toEqual([REASON.DRY_RUN]);
    // The real run: one message, no page per decision.
    await h.run();
    expect(h.takeTriggers().map((m) => m.dedupKey)).toEqual(['reflex-breaker/widespread/box/service=checkout']);
  });
});

describe('the implausible-facts breaker', () => {
  // The widespread breaker is kept out of these tests (a fraction of 1 never trips) to see this one alone.
  const G = { widespread: { fraction: 1, min_targets: 3 } };
  const unknown = (id: string): TargetSpec => ({ id, facts: { broken: undefined } });

  it('when every target has a problem or unknown facts at once, nothing acts and one escalation says to check the monitoring', async () => {
    const h = await harness({ guardrails: G, targets: [{ id: 'a', broken: true }, { id: 'b', broken: true }, unknown('c'), unknown('d')] });
    const r = await h.run();
    expect(h.calls).toEqual([]);
    expect(verdicts(r).a).toMatchObject({ outcome: 'escalated', reason: REASON.BREAKER_IMPLAUSIBLE });
    expect(verdicts(r).a!.detail).toContain('all 4 targets that rules apply to have a problem or unknown facts at once');
    expect(h.takeTriggers().map((m) => m.dedupKey)).toEqual(['reflex-breaker/implausible']);
  });

  it('does not trip while one target looks fine', async () => {
    const h = await harness({ guardrails: G, targets: [{ id: 'a', broken: true }, { id: 'b', broken: true }, unknown('c'), unknown('d'), { id: 'e' }] });
    await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['a', 'b']);
  });

  it('does not trip below min_targets (two targets both broken is plausible)', async () => {
    const h = await harness({
      guardrails: G,
      targets: [
        { id: 'a', broken: true },
        { id: 'b', broken: true },
      ],
    });
    await h.run();
    expect(h.calls).toHaveLength(2);
  });

  it('can be turned off (implausible: false)', async () => {
    const h = await harness({ guardrails: { widespread: { fraction: 1, min_targets: 3, implausible: false } }, targets: boxes(3, () => ({ broken: true })) });
    await h.run();
    expect(h.calls).toHaveLength(3);
  });

  it('resolves its escalation once the facts look plausible again', async () => {
    const h = await harness({ guardrails: G, targets: boxes(3, () => ({ broken: true })) });
    await h.run();
    expect(h.takeTriggers()).toHaveLength(1);
    h.setTargets([{ id: 'b-1', broken: true }, { id: 'b-2' }, { id: 'b-3' }]);
    await h.run();
    expect(h.messages.map((m) => m.event)).toEqual(['resolve']);
    expect(h.calls.map((c) => c.target)).toEqual(['b-1']);
  });
});
