// Guardrails 1 and 2: the global off switch and scoped disables, with expiry, fail-closed reads and the re-check inside the intent transaction.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { boxes, faulty, harness, MIN, outcomes, REPAIR, T0, verdicts } from './harness.js';

describe('the global off switch', () => {
  it('when off, blocks every action with who and why, and nothing runs', async () => {
    const h = await harness({ targets: boxes(3, () => ({ broken: true })) });
    await h.store.setSwitch({ off: true, by: 'ann', reason: 'incident 42', at: T0, until: null });
    const r = await h.run();
    expect(h.calls).toEqual([]);
    const v = verdicts(r);
    expect(Object.values(v).map((x) => x.reason)).toEqual([REASON.SWITCH_OFF, REASON.SWITCH_OFF, REASON.SWITCH_OFF]);
    expect(v['b-1']!.detail).toBe('automation is switched off by ann: "incident 42"');
    expect(v['b-1']!.outcome).toBe('blocked');
  });

  it('with --until, is off until one millisecond before the expiry and on again at the exact expiry time', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    await h.store.setSwitch({ off: true, by: 'ann', reason: 'deploy', at: T0, until: T0 + 30 * MIN });
    h.now = T0 + 30 * MIN - 1;
    const before = verdicts(await h.run());
    expect(before.a!.reason).toBe(REASON.SWITCH_OFF);
    expect(before.a!.detail).toContain(`until ${new Date(T0 + 30 * MIN).toISOString()} (1ms more)`);
    h.now = T0 + 30 * MIN;
    expect(outcomes(await h.run())).toEqual({ a: 'executed' });
  });

  it('when its state cannot be read, automation is off for the run (fail closed) and the run reports the problem', async () => {
    const h = await harness({ targets: boxes(2, () => ({ broken: true })) });
    const r = await h.run({ store: faulty(h.store, new Set(['getSwitch'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'blocked', reason: REASON.SWITCH_UNREADABLE });
    expect(verdicts(r)['b-1']!.detail).toContain('the off switch cannot be read (injected fault: getSwitch is unreadable)');
    expect(r.summary.problems.map((p) => p.reason)).toContain(REASON.SWITCH_UNREADABLE);
  });

  it('flipped off during a run, stops every action that has not started (re-checked in the intent transaction)', async () => {
    const h = await harness({ targets: boxes(4, () => ({ broken: true })) });
    const person = await h.second();
    h.onExecute = async (c) => {
      if (c.target === 'b-2') await person.setSwitch({ off: true, by: 'bob', reason: 'stop!', at: h.now, until: null });
    };
    const r = await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2']);
    const v = verdicts(r);
    expect(v['b-1']!.outcome).toBe('executed');
    expect(v['b-2']!.outcome).toBe('executed'); // had started: it finishes
    for (const t of ['b-3', 'b-4']) {
      expect(v[t]).toMatchObject({ outcome: 'blocked', reason: REASON.SWITCH_OFF });
      expect(v[t]!.detail).toContain('(switched off during the run)');
    }
    // Nothing was journaled after the switch was committed.
    expect((await h.store.listExecutions({ limit: 10 })).map((e) => e.target).sort()).toEqual(['b-1', 'b-2']);
    await person.close();
  });

  it('an intent transaction that cannot read the switch records nothing and starts nothing', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    const r = await h.run({ store: faulty(h.store, new Set(['tx.getSwitch'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r).a).toMatchObject({ outcome: 'failed', reason: REASON.STORE_ERROR });
    expect(await h.store.listExecutions({ limit: 10 })).toEqual([]);
  });
});

describe('scoped disables', () => {
  const rules = [REPAIR, { ...REPAIR, name: 'tidy', do: [{ action: 'sweep' }] }];
  const actions = { fix: { kind: 'exec', argv: ['true'] }, sweep: { kind: 'exec', argv: ['true'] } };
  const targets = [
    { id: 'a', broken: true, labels: { customer: 'acme', region: 'eu' } },
    { id: 'b', broken: true, labels: { customer: 'acme', region: 'us' } },
    { id: 'c', broken: true, labels: { customer: 'globex', region: 'eu' } },
  ];
  const both = (r: Awaited<ReturnType<Awaited<ReturnType<typeof harness>>['run']>>) => ({ repair: outcomes(r, 'repair'), tidy: outcomes(r, 'tidy') });

  it('a rule disable stops only that rule, with who, why and for how long', async () => {
    const h = await harness({ rules, actions, targets });
    await h.store.addDisable({ scope: 'rule', value: 'tidy', selector: null, by: 'ann', reason: 'flaky', createdAt: T0, until: T0 + 60 * MIN });
    const r = await h.run();
    expect(both(r)).toEqual({ repair: { a: 'executed', b: 'executed', c: 'executed' }, tidy: { a: 'blocked', b: 'blocked', c: 'blocked' } });
    expect(verdicts(r, 'tidy').a).toMatchObject({
      reason: REASON.DISABLED_RULE,
      detail: `rule "tidy" disabled by ann: "flaky", for 1h more (until ${new Date(T0 + 60 * MIN).toISOString()})`,
    });
  });

  it('an action disable stops every rule that uses the action', async () => {
    const h = await harness({ rules, actions, targets });
    await h.store.addDisable({ scope: 'action', value: 'sweep', selector: null, by: 'ann', reason: 'r', createdAt: T0, until: null });
    const r = await h.run();
    expect(both(r).tidy).toEqual({ a: 'blocked', b: 'blocked', c: 'blocked' });
    expect(both(r).repair).toEqual({ a: 'executed', b: 'executed', c: 'executed' });
    expect(verdicts(r, 'tidy').a!.reason).toBe(REASON.DISABLED_ACTION);
  });

  it('a target disable stops every rule on that target only', async () => {
    const h = await harness({ rules, actions, targets });
    await h.store.addDisable({ scope: 'target', value: 'b', selector: null, by: 'ann', reason: 'r', createdAt: T0, until: null });
    const r = await h.run();
    expect(both(r)).toEqual({ repair: { a: 'executed', b: 'blocked', c: 'executed' }, tidy: { a: 'executed', b: 'blocked', c: 'executed' } });
    expect(verdicts(r).b!.reason).toBe(REASON.DISABLED_TARGET);
  });

  it('a label selector disable (customer, region...) stops targets having every label of it', async () => {
    const h = await harness({ rules, actions, targets });
    await h.store.addDisable({
      scope: 'selector',
      value: 'customer=acme,region=eu',
      selector: { customer: 'acme', region: 'eu' },
      by: 'ann',
      reason: 'r',
      createdAt: T0,
      until: null,
    });
    const r = await h.run();
    expect(both(r).repair).toEqual({ a: 'blocked', b: 'executed', c: 'executed' });
    expect(verdicts(r).a).toMatchObject({
      reason: REASON.DISABLED_SELECTOR,
      detail: 'targets with customer=acme,region=eu disabled by ann: "r", until enabled again',
    });
  });

  it('an expired disable stops applying by itself at the exact expiry time', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    await h.store.addDisable({ scope: 'target', value: 'a', selector: null, by: 'ann', reason: 'r', createdAt: T0, until: T0 + 10 * MIN });
    h.now = T0 + 10 * MIN - 1;
    expect(verdicts(await h.run()).a).toMatchObject({ outcome: 'blocked', reason: REASON.DISABLED_TARGET });
    h.now = T0 + 10 * MIN;
    expect(outcomes(await h.run())).toEqual({ a: 'executed' });
  });

  it('a lifted disable stops applying', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    await h.store.addDisable({ scope: 'target', value: 'a', selector: null, by: 'ann', reason: 'r', createdAt: T0, until: null });
    expect(outcomes(await h.run())).toEqual({ a: 'blocked' });
    await h.store.removeDisables({ scope: 'target', value: 'a' }, 'bob', h.now);
    expect(outcomes(await h.run())).toEqual({ a: 'executed' });
  });

  it('a disable added during a run stops the actions that have not started', async () => {
    const h = await harness({ targets: boxes(3, () => ({ broken: true })) });
    const person = await h.second();
    h.onExecute = async (c) => {
      if (c.target === 'b-1')
        await person.addDisable({ scope: 'target', value: 'b-3', selector: null, by: 'bob', reason: 'hands off', createdAt: h.now, until: null });
    };
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'blocked' });
    expect(verdicts(r)['b-3']!.reason).toBe(REASON.DISABLED_TARGET);
    await person.close();
  });

  it('when disables cannot be read, nothing acts (fail closed)', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    const r = await h.run({ store: faulty(h.store, new Set(['listDisables'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r).a).toMatchObject({ outcome: 'blocked', reason: REASON.SWITCH_UNREADABLE });
  });
});
