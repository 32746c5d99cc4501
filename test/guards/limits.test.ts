// Guardrails 5 and 6: blast radius (per rule, per action, per group, min-healthy floor) and the per-run budget, with their exact boundaries.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import type { IntentInput, Store } from '../../src/store/types.js';
import { boxes, faulty, harness, MIN, outcomes, REPAIR, verdicts } from './harness.js';

/** Journal an execution as another runner would (intent only). */
async function journal(store: Store, i: Partial<IntentInput> & { target: string; createdAt: number }): Promise<number> {
  const res = await store.intentTransaction(null, (tx) =>
    tx.insertIntent({
      key: `other-${i.target}-${i.createdAt}-${Math.random()}`,
      runId: 0,
      rule: 'repair',
      action: 'fix',
      step: 0,
      kind: 'exec',
      describe: 'x',
      detail: {},
      cooldownKey: `other:${i.target}`,
      cooldownMs: 0,
      groups: [],
      ...i,
    }),
  );
  if (!res.inserted) throw new Error('not inserted');
  return res.id;
}

describe('blast radius per rule', () => {
  const G = { blast_radius: { per_rule: '3 per 10m' } };

  it('acts on exactly the limit, then blocks with the numbers', async () => {
    const h = await harness({ guardrails: G, targets: boxes(5, () => ({ broken: true })) });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'executed', 'b-4': 'blocked', 'b-5': 'blocked' });
    expect(verdicts(r)['b-4']).toMatchObject({
      stage: 'guard',
      reason: REASON.BLAST_RULE,
      detail: 'blast radius: 3 of a limit of 3 executions of rule "repair" per 10m used',
    });
    const dry = await harness({ guardrails: G, targets: boxes(5, () => ({ broken: true })) });
    expect(outcomes(await dry.run({ dryRun: true }))).toEqual({ 'b-1': 'dry_run', 'b-2': 'dry_run', 'b-3': 'dry_run', 'b-4': 'blocked', 'b-5': 'blocked' });
  });

  it('counts earlier runs in the window, which ends exactly one window after an execution', async () => {
    const h = await harness({ guardrails: G, targets: boxes(3, () => ({ broken: true })) });
    await h.run();
    h.setTargets(boxes(3, () => ({ broken: true }), 'c'));
    h.advance(10 * MIN - 1);
    const inside = await h.run();
    expect(h.calls).toHaveLength(3);
    expect(verdicts(inside)['c-1']!.detail).toBe('blast radius: 3 of a limit of 3 executions of rule "repair" per 10m used');
    h.advance(1);
    await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2', 'b-3', 'c-1', 'c-2', 'c-3']);
  });

  it('is re-checked in the intent transaction: executions another runner journals during the run count', async () => {
    const h = await harness({ guardrails: G, targets: boxes(3, () => ({ broken: true })) });
    const other = await h.second();
    h.onExecute = async (c) => {
      if (c.target === 'b-1') await journal(other, { target: 'elsewhere', createdAt: h.now });
    };
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'blocked' });
    expect(verdicts(r)['b-3']).toMatchObject({
      stage: 'journal',
      reason: REASON.BLAST_RULE,
      detail: 'blast radius: 3 of a limit of 3 executions of rule "repair" per 10m used',
    });
    await other.close();
  });

  it('when the journal cannot be read, nothing acts (fail closed)', async () => {
    const h = await harness({ guardrails: G, targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run({ store: faulty(h.store, new Set(['listExecutions']), { armedBy: 'getSwitch' }) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['b-1']!.reason).toBe(REASON.GUARD_UNREADABLE);
  });

  it('when the count inside the intent transaction fails, the action does not start', async () => {
    const h = await harness({ guardrails: G, targets: boxes(1, () => ({ broken: true })) });
    const r = await h.run({ store: faulty(h.store, new Set(['tx.countExecutions'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['b-1']!.reason).toBe(REASON.STORE_ERROR);
  });
});

describe('blast radius per action', () => {
  it('limits an action across every rule that uses it', async () => {
    const rules = [REPAIR, { ...REPAIR, name: 'again' }];
    const h = await harness({ rules, guardrails: { blast_radius: { per_action: '3 per 5m' } }, targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run();
    expect(h.calls.map((c) => `${c.rule}:${c.target}`)).toEqual(['repair:b-1', 'repair:b-2', 'again:b-1']);
    expect(verdicts(r, 'again')['b-2']).toMatchObject({
      stage: 'guard',
      reason: REASON.BLAST_ACTION,
      detail: 'blast radius: 3 of a limit of 3 fix actions per 5m used',
    });
    // A preview applies it too (nothing is journaled in --dry-run).
    const dry = await harness({ rules, guardrails: { blast_radius: { per_action: '3 per 5m' } }, targets: boxes(2, () => ({ broken: true })) });
    expect(outcomes(await dry.run({ dryRun: true }), 'again')).toEqual({ 'b-1': 'dry_run', 'b-2': 'blocked' });
  });

  it('is re-checked in the intent transaction', async () => {
    const h = await harness({ guardrails: { blast_radius: { per_action: '2 per 5m' } }, targets: boxes(2, () => ({ broken: true })) });
    const other = await h.second();
    h.onExecute = async () => void (await journal(other, { target: 'x', rule: 'other-rule', createdAt: h.now }));
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'blocked' });
    expect(verdicts(r)['b-2']).toMatchObject({ stage: 'journal', reason: REASON.BLAST_ACTION });
    await other.close();
  });
});

describe('blast radius per group', () => {
  const grp = (fraction: number, extra: Record<string, unknown> = {}) => ({
    blast_radius: { group_fraction: fraction, group_by: ['service'], window: '10m', ...extra },
  });
  const svc = (n: number, broken: number) => boxes(n, (i) => ({ labels: { service: 'checkout' }, broken: i <= broken }));

  it('20% of 7 targets allows floor(1.4) = 1', async () => {
    const h = await harness({ guardrails: grp(0.2), targets: svc(7, 3) });
    const r = await h.run();
    expect(h.calls).toHaveLength(1);
    expect(verdicts(r)['b-2']).toMatchObject({
      stage: 'guard',
      reason: REASON.BLAST_GROUP,
      detail: 'blast radius: 1 of a limit of 1 targets with service=checkout acted on per 10m used (20% of 7 targets; running actions count)',
    });
  });

  it('20% of 10 allows exactly 2; 29% of 100 allows 29 (no floating-point loss)', async () => {
    const ten = await harness({ guardrails: grp(0.2), targets: svc(10, 5) });
    await ten.run();
    expect(ten.calls).toHaveLength(2);
    const hundred = await harness({ guardrails: grp(0.29), targets: svc(100, 40) });
    await hundred.run();
    expect(hundred.calls).toHaveLength(29);
  });

  it('allows at least one target when the fraction rounds down to 0 (20% of 4), and none with a fraction of 0', async () => {
    const four = await harness({ guardrails: grp(0.2), targets: svc(4, 2) });
    await four.run();
    expect(four.calls).toHaveLength(1);
    const zero = await harness({ guardrails: grp(0), targets: svc(4, 2) });
    const r = await zero.run();
    expect(zero.calls).toEqual([]);
    expect(verdicts(r)['b-1']!.detail).toContain('0 of a limit of 0 targets');
  });

  it('group_max caps a large group below its fraction', async () => {
    const h = await harness({ guardrails: grp(0.5, { group_max: 2 }), targets: svc(20, 6) });
    const r = await h.run();
    expect(h.calls).toHaveLength(2);
    expect(verdicts(r)['b-3']!.detail).toBe(
      'blast radius: 2 of a limit of 2 targets with service=checkout acted on per 10m used (50% of 20 targets, at most 2; running actions count)',
    );
  });

  it('counts distinct targets: a second rule acting on a target already counted takes no new place', async () => {
    const rules = [REPAIR, { ...REPAIR, name: 'again' }];
    const h = await harness({ rules, guardrails: grp(0.2), targets: svc(5, 2) });
    const r = await h.run();
    expect(h.calls.map((c) => `${c.rule}:${c.target}`)).toEqual(['repair:b-1', 'again:b-1']);
    expect(outcomes(r, 'again')).toEqual({ 'b-1': 'executed', 'b-2': 'blocked' });
  });

  it('counts earlier runs within the window, which ends exactly one window after an execution', async () => {
    const h = await harness({ guardrails: grp(0.2), targets: svc(10, 3) });
    await h.run(); // b-1, b-2
    h.setTargets(boxes(10, (i) => ({ labels: { service: 'checkout' }, broken: i === 3 })));
    h.advance(10 * MIN - 1);
    await h.run();
    expect(h.calls).toHaveLength(2);
    h.advance(1);
    await h.run(); // the window has moved past the first run
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2', 'b-3']);
  });

  it('widens the window to the longest action timeout, so an action that may still be running counts', async () => {
    const h = await harness({ guardrails: grp(0.2), actions: { fix: { kind: 'exec', argv: ['true'], timeout: '1h' } }, targets: svc(10, 2) });
    await h.run();
    h.setTargets(boxes(10, (i) => ({ labels: { service: 'checkout' }, broken: i === 3 })));
    h.advance(30 * MIN);
    const r = await h.run();
    expect(h.calls).toHaveLength(2);
    expect(verdicts(r)['b-3']!.detail).toBe(
      'blast radius: 2 of a limit of 2 targets with service=checkout acted on per 1h (the longest action timeout, longer than the window of 10m) used (20% of 10 targets; running actions count)',
    );
  });

  it('is re-checked in the intent transaction: targets another runner acts on meanwhile take places', async () => {
    const h = await harness({ guardrails: grp(0.2), targets: svc(10, 3) });
    const other = await h.second();
    h.onExecute = async (c) => {
      if (c.target === 'b-1') await journal(other, { target: 'b-7', groups: ['service=checkout'], createdAt: h.now });
    };
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'blocked', 'b-3': 'blocked' });
    expect(verdicts(r)['b-2']).toMatchObject({ stage: 'journal', reason: REASON.BLAST_GROUP });
    expect(verdicts(r)['b-2']!.detail).toContain('2 of a limit of 2 targets with service=checkout');
    await other.close();
  });
});

describe('the min-healthy floor', () => {
  const G = (min_healthy: number) => ({ blast_radius: { group_fraction: 1, group_by: ['service'], min_healthy } });
  const svc = (n: number, broken: number) => boxes(n, (i) => ({ labels: { service: 'web' }, broken: i <= broken }));

  it('acts while the others keep the floor: 50% of 4 needs 2 healthy, 2 broken leave exactly 2', async () => {
    const h = await harness({ guardrails: G(0.5), targets: svc(4, 2) });
    await h.run();
    expect(h.calls).toHaveLength(2);
  });

  it('blocks when acting would leave fewer: 3 broken of 4 leave 1, below 2', async () => {
    const h = await harness({ guardrails: G(0.5), targets: svc(4, 3) });
    const r = await h.run();
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['b-1']).toMatchObject({
      reason: REASON.MIN_HEALTHY,
      detail: 'min healthy: acting on b-1 would leave 1 of 4 targets with service=web healthy, below the floor of 50% (2)',
    });
  });

  it('rounds the floor up: 50% of 3 keeps 2, so one broken of 3 may be repaired and two may not', async () => {
    const one = await harness({ guardrails: G(0.5), targets: svc(3, 1) });
    await one.run();
    expect(one.calls).toHaveLength(1);
    const two = await harness({ guardrails: G(0.5), targets: svc(3, 2) });
    await two.run();
    expect(two.calls).toEqual([]);
  });

  it('counts targets with unknown facts and targets being acted on as not healthy', async () => {
    const h = await harness({ guardrails: G(0.5), targets: [...svc(4, 1), { id: 'u', labels: { service: 'web' }, facts: { broken: undefined } }] });
    // 5 targets: need 3; b-1 broken, u unknown: 3 healthy stay.
    await h.run();
    expect(h.calls).toHaveLength(1);
    // 75% of 4 needs 3. b-1 is broken; an action journaled on b-4 and not finished takes b-4 out too.
    // (A real run first marks what a crashed run left unfinished as interrupted; --dry-run leaves it, like another shard's running action.)
    const busy = await harness({ guardrails: G(0.75), targets: [...svc(4, 1)] });
    expect(outcomes(await busy.run({ dryRun: true }))).toEqual({ 'b-1': 'dry_run' });
    await journal(busy.store, { target: 'b-4', groups: ['service=web'], createdAt: busy.now - 5 * MIN });
    const r = await busy.run({ dryRun: true });
    expect(verdicts(r)['b-1']).toMatchObject({
      reason: REASON.MIN_HEALTHY,
      detail: 'min healthy: acting on b-1 would leave 2 of 4 targets with service=web healthy, below the floor of 75% (3)',
    });
  });

  it('when in-flight actions cannot be read, nothing acts (fail closed)', async () => {
    const h = await harness({ guardrails: G(0.5), targets: svc(4, 1) });
    const r = await h.run({ store: faulty(h.store, new Set(['unfinishedExecutions']), { armedBy: 'getSwitch' }) });
    expect(verdicts(r)['b-1']!.reason).toBe(REASON.GUARD_UNREADABLE);
    expect(h.calls).toEqual([]);
    expect(r.summary.problems.length).toBeGreaterThan(0);
  });
});

describe('the budget per run', () => {
  it('acts on exactly the budget and defers the rest, highest severity first, then rule order, then target', async () => {
    const rules = [
      { ...REPAIR, name: 'low', severity: 'info' },
      { ...REPAIR, name: 'high', severity: 'warning' },
    ];
    const h = await harness({ rules, guardrails: { budget_per_run: 3 }, targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run();
    expect(h.calls.map((c) => `${c.rule}:${c.target}`)).toEqual(['high:b-1', 'high:b-2', 'low:b-1']);
    expect(verdicts(r, 'low')['b-2']).toMatchObject({
      outcome: 'deferred',
      reason: REASON.BUDGET,
      detail:
        "budget: 3 of the run's budget of 3 actions used: deferred to the next run (actions are taken highest severity first, then in rule order, then by target id)",
    });
    expect(r.summary.outcomes.deferred).toBe(1);
  });

  it('a deferred decision acts in the next run', async () => {
    const h = await harness({ guardrails: { budget_per_run: 2 }, targets: boxes(3, () => ({ broken: true })) });
    await h.run();
    h.advance(MIN);
    h.setTargets(boxes(3, (i) => ({ broken: i === 3 })));
    await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2', 'b-3']);
  });

  it('counts every step of a decision, and a decision that does not fit whole waits', async () => {
    const rules = [{ ...REPAIR, do: [{ action: 'fix' }, { action: 'sweep' }] }];
    const actions = { fix: { kind: 'exec', argv: ['true'] }, sweep: { kind: 'exec', argv: ['true'] } };
    const h = await harness({ rules, actions, guardrails: { budget_per_run: 3 }, targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'deferred' });
    expect(verdicts(r)['b-2']!.detail).toContain("2 of the run's budget of 3 actions used (this decision needs 2)");
  });

  it('a budget of 0 defers everything', async () => {
    const h = await harness({ guardrails: { budget_per_run: 0 }, targets: boxes(1, () => ({ broken: true })) });
    expect(outcomes(await h.run())).toEqual({ 'b-1': 'deferred' });
  });

  it('decisions that are cooling down do not use up the budget', async () => {
    const h = await harness({
      guardrails: { budget_per_run: 1 },
      actions: { fix: { kind: 'exec', argv: ['true'], cooldown: '1h' } },
      targets: boxes(1, () => ({ broken: true })),
    });
    await h.run();
    h.setTargets(boxes(2, () => ({ broken: true })));
    h.advance(MIN);
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'cooled_down', 'b-2': 'executed' });
  });
});

describe('rules in dry-run (shadow) mode and the limits', () => {
  it('share what the enforced ones leave, as they would if promoted: a shadow rule cannot starve an enforced one', async () => {
    const rules = [{ ...REPAIR, name: 'shadow', mode: 'dry-run', severity: 'critical' }, REPAIR];
    const h = await harness({ rules, guardrails: { budget_per_run: 2 }, targets: boxes(3, () => ({ broken: true })) });
    const r = await h.run();
    expect(outcomes(r, 'repair')).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'deferred' });
    expect(outcomes(r, 'shadow')).toEqual({ 'b-1': 'deferred', 'b-2': 'deferred', 'b-3': 'deferred' });
    const some = await harness({ rules, guardrails: { budget_per_run: 4 }, targets: boxes(3, () => ({ broken: true })) });
    expect(outcomes(await some.run(), 'shadow')).toEqual({ 'b-1': 'dry_run', 'b-2': 'deferred', 'b-3': 'deferred' });
    const lots = await harness({ rules, guardrails: { budget_per_run: 10 }, targets: boxes(3, () => ({ broken: true })) });
    const r2 = await lots.run();
    expect(outcomes(r2, 'shadow')).toEqual({ 'b-1': 'dry_run', 'b-2': 'dry_run', 'b-3': 'dry_run' });
    expect(lots.calls.every((c) => c.rule === 'repair')).toBe(true);
  });
});
