// Guardrail 9: cooldowns per rule, action and target, counted from the intent, kept across runs and crashes, with exact boundaries.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { cooldownStage } from '../../src/pipeline/stages/cooldown.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { join } from 'node:path';
import { boxes, faulty, harness, MIN, outcomes, REPAIR, verdicts } from './harness.js';

const cool = (cooldown: string) => ({ fix: { kind: 'exec', argv: ['true'], cooldown } });

describe('cooldowns', () => {
  it('hold an action back until exactly the end of the cooldown, counted from the intent', async () => {
    const h = await harness({ actions: cool('10m'), targets: [{ id: 'a', broken: true }] });
    await h.run();
    h.advance(10 * MIN - 1);
    const r = await h.run();
    expect(verdicts(r).a).toMatchObject({
      outcome: 'cooled_down',
      reason: REASON.COOLDOWN,
      detail: 'cooling down: fix ran on a 9m59s ago; cooldown 10m, 1ms left',
    });
    h.advance(1);
    expect(outcomes(await h.run())).toEqual({ a: 'executed' });
    expect(h.calls).toHaveLength(2);
  });

  it('also follow a failed action', async () => {
    const h = await harness({ actions: cool('10m'), targets: [{ id: 'a', broken: true }] });
    h.outcome = () => 'fail';
    expect(outcomes(await h.run())).toEqual({ a: 'failed' });
    h.advance(5 * MIN);
    expect(outcomes(await h.run())).toEqual({ a: 'cooled_down' });
  });

  it('also follow an action whose run crashed after its intent was journaled (interrupted), and hold across processes', async () => {
    const h = await harness({ actions: cool('10m'), targets: [{ id: 'a', broken: true }] });
    // The run dies between the intent and the start of the action (the store write that starts it fails).
    await expect(h.run({ store: faulty(h.store, new Set(['markRunning'])) })).rejects.toThrow(/markRunning/);
    expect(h.calls).toEqual([]);
    await h.store.close();
    // A new process, a new connection: the journal and the cooldown are in the file.
    h.store = openSqliteStore(join(h.dir, 'state.db'), { now: h.clock });
    h.advance(5 * MIN);
    const r = await h.run();
    expect(r.ctx.interrupted).toHaveLength(1);
    expect(verdicts(r).a).toMatchObject({ outcome: 'cooled_down', reason: REASON.COOLDOWN });
    expect(h.calls).toEqual([]);
  });

  it('take their length from the step, else the action, else defaults.cooldown', async () => {
    const rules = [
      { ...REPAIR, name: 'by-step', do: [{ action: 'fix', cooldown: '3m' }] },
      { ...REPAIR, name: 'by-action', do: [{ action: 'fix' }] },
      { ...REPAIR, name: 'by-default', do: [{ action: 'other' }] },
    ];
    const actions = { fix: { kind: 'exec', argv: ['true'], cooldown: '7m' }, other: { kind: 'exec', argv: ['true'] } };
    const h = await harness({ rules, actions, defaults: { cooldown: '11m' }, targets: [{ id: 'a', broken: true }] });
    await h.run();
    h.advance(MIN);
    const r = await h.run();
    expect(verdicts(r, 'by-step').a!.detail).toContain('cooldown 3m, 2m left');
    expect(verdicts(r, 'by-action').a!.detail).toContain('cooldown 7m, 6m left');
    expect(verdicts(r, 'by-default').a!.detail).toContain('cooldown 11m, 10m left');
  });

  it('are kept per rule, action and target: another target, or another rule with the same action, is not held back', async () => {
    const rules = [REPAIR, { ...REPAIR, name: 'again' }];
    const h = await harness({ rules, actions: cool('1h'), targets: [{ id: 'a', broken: true }] });
    await h.run();
    h.setTargets([
      { id: 'a', broken: true },
      { id: 'b', broken: true },
    ]);
    h.advance(MIN);
    const r = await h.run();
    expect({ repair: outcomes(r, 'repair'), again: outcomes(r, 'again') }).toEqual({
      repair: { a: 'cooled_down', b: 'executed' },
      again: { a: 'cooled_down', b: 'executed' },
    });
  });

  it('are re-checked in the intent transaction: an intent another runner journals meanwhile cools this one down', async () => {
    const h = await harness({
      actions: cool('1h'),
      targets: [
        { id: 'a', broken: true },
        { id: 'b', broken: true },
      ],
    });
    const other = await h.second();
    h.onExecute = async (c) => {
      if (c.target !== 'a') return;
      await other.intentTransaction(null, (tx) =>
        tx.insertIntent({
          key: 'other-b',
          runId: 0,
          rule: 'repair',
          action: 'fix',
          step: 0,
          target: 'b',
          kind: 'exec',
          describe: 'x',
          detail: {},
          cooldownKey: 'action:repair:fix:b',
          cooldownMs: 60 * MIN,
          groups: [],
          createdAt: h.now,
        }),
      );
    };
    const r = await h.run();
    expect(outcomes(r)).toEqual({ a: 'executed', b: 'cooled_down' });
    expect(r.decisions.find((d) => d.target.id === 'b')!.trace.pop()).toMatchObject({
      stage: 'journal',
      reason: REASON.COOLDOWN,
      detail: 'cooling down: fix ran on b 0ms ago; cooldown 1h, 1h left',
    });
    await other.close();
  });

  it('are applied by the cooldown stage on its own too (a pipeline composed without the guard stage)', async () => {
    const h = await harness({ actions: cool('10m'), targets: [{ id: 'a', broken: true }] });
    await h.run();
    h.advance(MIN);
    const { ctx } = await h.run({ dryRun: true });
    const d = ctx.decisions.find((x) => x.target.id === 'a')!;
    expect(d.outcome).toBe('cooled_down');
    // The same decision, as if nothing had guarded it yet.
    d.outcome = 'matched';
    d.trace = d.trace.filter((v) => v.stage === 'evaluate');
    await cooldownStage.run(ctx);
    expect(d.outcome).toBe('cooled_down');
    expect(d.trace.pop()).toMatchObject({ stage: 'cooldown', reason: REASON.COOLDOWN, detail: 'cooling down: fix ran on a 1m ago; cooldown 10m, 9m left' });
  });

  it('read all at once for many decisions, hold to the same boundary and fail closed the same way', async () => {
    const many = boxes(70, () => ({ broken: true }));
    const h = await harness({ actions: cool('10m'), targets: many });
    await h.run();
    expect(h.calls).toHaveLength(70);
    h.advance(10 * MIN - 1);
    const held = await h.run();
    expect(new Set(Object.values(outcomes(held)))).toEqual(new Set(['cooled_down']));
    expect(verdicts(held)['b-70']!.detail).toBe('cooling down: fix ran on b-70 9m59s ago; cooldown 10m, 1ms left');
    const r = await h.run({ store: faulty(h.store, new Set(['listCooldowns'])) });
    expect(new Set(Object.values(verdicts(r)).map((v) => v.reason))).toEqual(new Set([REASON.GUARD_UNREADABLE]));
    h.advance(1);
    await h.run();
    expect(h.calls).toHaveLength(140);
  });

  it('when a cooldown cannot be read, the decision does not act (fail closed)', async () => {
    const h = await harness({ targets: [{ id: 'a', broken: true }] });
    const r = await h.run({ store: faulty(h.store, new Set(['getCooldown'])) });
    expect(h.calls).toEqual([]);
    expect(verdicts(r).a).toMatchObject({ outcome: 'blocked', reason: REASON.GUARD_UNREADABLE });
  });

  it('of sources reuse a result until exactly the end of the cooldown', async () => {
    const h = await harness({ sourceCooldown: '5m', targets: [{ id: 'a' }] });
    await h.run();
    h.setTargets([{ id: 'a', broken: true }]);
    h.advance(5 * MIN - 1);
    const cached = await h.run();
    expect(cached.summary.sources[0]).toMatchObject({ status: 'cached', cachedAt: h.now - 5 * MIN + 1 });
    expect(h.calls).toEqual([]);
    h.advance(1);
    const fresh = await h.run();
    expect(fresh.summary.sources[0]!.status).toBe('ok');
    expect(h.calls.map((c) => c.target)).toEqual(['a']);
  });
});
