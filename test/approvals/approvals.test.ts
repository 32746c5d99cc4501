// Approvals through the real engine and a real SQLite file: asked with an id, one use, expiry, fresh facts, same parameters, one guard.
import { describe, expect, it } from 'vitest';
import { approve, reject } from '../../src/approvals/decide.js';
import { harness, MIN, outcomes, REPAIR, verdicts } from '../guards/harness.js';

const ASKS = { ...REPAIR, mode: 'approve' };

async function asked(o: Parameters<typeof harness>[0] = {}) {
  const h = await harness({ rules: [ASKS], targets: [{ id: 'b-1', broken: true }], ...o });
  const r = await h.run();
  return { h, r };
}

describe('mode: approve', () => {
  it('records the decision as awaiting approval with an id, and its one message carries the exact command', async () => {
    const { h, r } = await asked();
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'awaiting_approval', reason: 'approval:pending' });
    expect(verdicts(r)['b-1']!.detail).toContain('reflex approve 1 --reason "..."');
    expect(h.calls).toEqual([]);
    const [a] = await h.store.listApprovals({ status: ['pending'], limit: 10 });
    expect(a).toMatchObject({ id: 1, rule: 'repair', target: 'b-1', guard: 'mode', status: 'pending', facts: { 'facts.broken': true } });
    expect(a!.actions[0]!.describe).toContain('exec');
    const [m] = h.takeTriggers();
    expect(m!.summary).toContain('reflex approve 1 --reason "..."');
    expect(m!.details).toMatchObject({ approval: 1, approve: 'reflex approve 1 --reason "..."', facts: { 'facts.broken': true } });
    // Asked again in the next run: the same approval, no second message.
    h.advance(MIN);
    const r2 = await h.run();
    expect(verdicts(r2)['b-1']!.detail).toContain('reflex approve 1 ');
    expect(h.takeTriggers()).toEqual([]);
    expect(await h.store.listApprovals({ limit: 10 })).toHaveLength(1);
  });

  it('is used once: the next run acts once and records who approved it; later runs ask again instead of reusing it', async () => {
    const { h } = await asked();
    h.advance(MIN);
    await approve(h.store, 1, { by: 'alice', reason: 'checked it', now: h.now });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed' });
    expect(r.decisions[0]!.trace.some((v) => v.reason === 'approval:approved' && v.detail.includes('alice'))).toBe(true);
    expect(h.calls).toHaveLength(1);
    const a = (await h.store.getApproval(1))!;
    expect(a).toMatchObject({ status: 'used', usedRun: r.runId, by: 'alice', reason: 'checked it' });
    expect(a.executionId).toBe(r.decisions[0]!.actions[0]!.executionId);
    // The approval's request is resolved.
    expect(h.messages.some((m) => m.event === 'resolve' && m.dedupKey === 'reflex-approval/1')).toBe(true);
    // After the cooldown, the problem is still there: a new request, not a second use.
    h.advance(2 * MIN);
    const r2 = await h.run();
    expect(outcomes(r2)).toEqual({ 'b-1': 'awaiting_approval' });
    expect(h.calls).toHaveLength(1);
    expect((await h.store.listApprovals({ status: ['pending'], limit: 10 })).map((x) => x.id)).toEqual([2]);
    // An approval is audited.
    expect((await h.store.listAudit(10)).find((x) => x.action === 'approve')).toMatchObject({ by: 'alice', detail: { id: 1, reason: 'checked it' } });
  });

  it('expires unused after its expiry (default 30m): nothing runs, and a new approval is asked for', async () => {
    const { h } = await asked();
    await approve(h.store, 1, { by: 'alice', reason: 'ok', now: h.now });
    expect((await h.store.getApproval(1))!.expiresAt).toBe(h.now + 30 * MIN);
    h.advance(30 * MIN);
    const r = await h.run();
    expect(h.calls).toEqual([]);
    expect(outcomes(r)).toEqual({ 'b-1': 'awaiting_approval' });
    expect(await h.store.getApproval(1)).toMatchObject({ status: 'expired' });
    expect((await h.store.getApproval(1))!.note).toContain('expired unused');
    expect(r.decisions[0]!.trace.some((v) => v.reason === 'approval:gone')).toBe(true);
  });

  it('is refused on changed facts: the rule no longer holds for the target, so nothing runs', async () => {
    const { h } = await asked();
    await approve(h.store, 1, { by: 'alice', reason: 'ok', now: h.now });
    h.setTargets([{ id: 'b-1', broken: false }]);
    h.advance(MIN);
    await h.run();
    expect(h.calls).toEqual([]);
    const a = (await h.store.getApproval(1))!;
    expect(a.status).toBe('refused');
    expect(a.note).toContain('no longer holds');
  });

  it('is refused on changed parameters: the action would now run with other values, which are asked about anew', async () => {
    const h = await harness({
      rules: [{ ...ASKS, do: [{ action: 'fix', with: { size: '{{ facts.size }}' } }] }],
      actions: { fix: { kind: 'exec', argv: ['true', '{{ params.size }}'], params: { size: { pattern: '[0-9]+' } }, cooldown: '1m' } },
      targets: [{ id: 'b-1', broken: true, facts: { size: 3 } }],
    });
    await h.run();
    await approve(h.store, 1, { by: 'alice', reason: 'grow to 3', now: h.now });
    h.setTargets([{ id: 'b-1', broken: true, facts: { size: 30 } }]);
    h.advance(MIN);
    const r = await h.run();
    expect(h.calls).toEqual([]);
    const a = (await h.store.getApproval(1))!;
    expect(a.status).toBe('refused');
    expect(a.note).toContain('parameters changed');
    expect(a.note).toContain('"30"');
    const [again] = await h.store.listApprovals({ status: ['pending'], limit: 5 });
    expect(again!.id).toBe(2);
    expect(again!.actions[0]!.describe).toContain('"30"');
    expect(verdicts(r)['b-1']!.detail).toContain('reflex approve 2 ');
  });

  it('still lets the off switch, the disables and the cooldowns stop it: it waits, unused, until they allow it', async () => {
    const { h } = await asked();
    await approve(h.store, 1, { by: 'alice', reason: 'ok', now: h.now });
    await h.store.addDisable({ scope: 'target', value: 'b-1', selector: null, by: 'bob', reason: 'maintenance', createdAt: h.now, until: null });
    h.advance(MIN);
    const r = await h.run();
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'blocked', reason: 'disabled:target' });
    expect(await h.store.getApproval(1)).toMatchObject({ status: 'approved' });
    await h.store.removeDisables({ scope: 'target', value: 'b-1' }, 'bob', h.now);
    h.advance(MIN);
    const r2 = await h.run();
    expect(outcomes(r2)).toEqual({ 'b-1': 'executed' });
    expect(h.calls).toHaveLength(1);
  });

  it('a switch turned off while the run works stops it in the intent transaction, leaving the approval unused', async () => {
    const h = await harness({
      rules: [ASKS],
      targets: [
        { id: 'b-1', broken: true },
        { id: 'b-2', broken: true },
      ],
    });
    await h.run();
    await approve(h.store, 1, { by: 'alice', reason: 'ok', now: h.now });
    await approve(h.store, 2, { by: 'alice', reason: 'ok', now: h.now });
    h.onExecute = async () => {
      await h.store.setSwitch({ off: true, by: 'bob', reason: 'stop', at: h.now, until: null });
    };
    h.advance(MIN);
    await h.run();
    expect(h.calls).toHaveLength(1);
    const statuses = (await h.store.listApprovals({ limit: 5 })).map((a) => a.status).sort();
    expect(statuses).toEqual(['approved', 'used']);
  });
});

describe('approval.on: guards that let a person approve', () => {
  it('the severity gate: a critical decision waits; approved, it goes past the severity gate and no other guard', async () => {
    const h = await harness({
      rules: [{ ...REPAIR, severity: 'critical', approval: { on: ['severity'] } }],
      guardrails: { max_severity: 'warning', blast_radius: { per_rule: '0 per 10m' } },
      targets: [{ id: 'b-1', broken: true }],
    });
    const r = await h.run();
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'awaiting_approval', reason: 'approval:pending' });
    expect(r.decisions[0]!.trace.some((v) => v.reason === 'severity')).toBe(true);
    await approve(h.store, 1, { by: 'alice', reason: 'ok', now: h.now });
    h.advance(MIN);
    // Past the severity gate, the blast-radius limit (0 per 10m) still applies: the approval does not let it past that.
    const r2 = await h.run();
    expect(verdicts(r2)['b-1']).toMatchObject({ outcome: 'blocked', reason: 'blast-radius:rule' });
    expect(r2.decisions[0]!.trace.find((v) => v.reason === 'approval:approved' && v.stage === 'guard')!.detail).toContain('approved by alice (#1)');
    expect(h.calls).toEqual([]);
    expect(await h.store.getApproval(1)).toMatchObject({ status: 'approved' });
  });

  it('a limit: a decision over the blast radius waits; approved, it acts past that limit, counted in the journal', async () => {
    const h = await harness({
      rules: [{ ...REPAIR, approval: { on: ['limit'] } }],
      guardrails: { blast_radius: { per_rule: '1 per 10m' } },
      targets: [
        { id: 'b-1', broken: true },
        { id: 'b-2', broken: true },
      ],
    });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'awaiting_approval' });
    await approve(h.store, 1, { by: 'alice', reason: 'one more is fine', now: h.now });
    h.advance(MIN);
    h.setTargets([{ id: 'b-2', broken: true }]);
    const r2 = await h.run();
    expect(outcomes(r2)).toEqual({ 'b-2': 'executed' });
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2']);
  });

  it('the budget: a deferred decision waits; approved, it acts past the budget in the next run, and still counts in it', async () => {
    const h = await harness({
      rules: [{ ...REPAIR, approval: { on: ['budget'] } }],
      guardrails: { budget_per_run: 1 },
      targets: [
        { id: 'b-1', broken: true },
        { id: 'b-2', broken: true },
      ],
    });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'awaiting_approval' });
    expect(r.decisions.find((d) => d.target.id === 'b-2')!.trace.some((v) => v.reason === 'budget')).toBe(true);
    await approve(h.store, 1, { by: 'alice', reason: 'both today', now: h.now });
    h.setTargets([
      { id: 'b-2', broken: true },
      { id: 'b-3', broken: true },
    ]);
    h.advance(MIN);
    const r2 = await h.run();
    // b-2 goes past the budget with its approval, and still counts in it (an approval adds no room for others): b-3 waits.
    expect(outcomes(r2)).toEqual({ 'b-2': 'executed', 'b-3': 'awaiting_approval' });
    expect(h.calls.map((c) => c.target)).toEqual(['b-1', 'b-2']);
  });

  it('a rule that does not allow approval for a guard is stopped by it as before', async () => {
    const h = await harness({
      rules: [{ ...REPAIR, severity: 'critical', approval: { on: ['budget'] } }],
      guardrails: { max_severity: 'warning' },
      targets: [{ id: 'b-1', broken: true }],
    });
    const r = await h.run();
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'blocked', reason: 'severity' });
    expect(await h.store.listApprovals({ limit: 5 })).toEqual([]);
  });
});

describe('reflex approve and reflex reject (the checks behind them)', () => {
  it('refuses a missing reason, an unknown id and an approval that is not pending, changing nothing', async () => {
    const { h } = await asked();
    await expect(approve(h.store, 1, { by: 'alice', reason: '  ', now: h.now })).rejects.toThrow(/--reason must say why/);
    await expect(approve(h.store, 9, { by: 'alice', reason: 'x', now: h.now })).rejects.toThrow(/no approval #9/);
    await approve(h.store, 1, { by: 'alice', reason: 'x', now: h.now });
    await expect(approve(h.store, 1, { by: 'bob', reason: 'y', now: h.now })).rejects.toThrow(/approval #1 is not pending: it is approved by alice/);
    await expect(reject(h.store, 1, { by: 'bob', reason: 'y', now: h.now })).rejects.toThrow(/not pending/);
    expect(await h.store.getApproval(1)).toMatchObject({ status: 'approved', by: 'alice' });
  });

  it('a rejection is audited, resolves the request, and holds until the problem clears', async () => {
    const { h } = await asked();
    h.takeTriggers();
    await reject(h.store, 1, { by: 'bob', reason: 'not now', now: h.now });
    h.advance(MIN);
    const r = await h.run();
    expect(verdicts(r)['b-1']).toMatchObject({ outcome: 'blocked', reason: 'approval:rejected' });
    expect(h.messages.some((m) => m.event === 'resolve' && m.dedupKey === 'reflex-approval/1')).toBe(true);
    expect(h.takeTriggers()).toEqual([]);
    expect((await h.store.listAudit(5)).find((a) => a.action === 'reject')).toMatchObject({ by: 'bob', detail: { id: 1, reason: 'not now' } });
    h.setTargets([{ id: 'b-1', broken: false }]);
    h.advance(MIN);
    await h.run();
    h.setTargets([{ id: 'b-1', broken: true }]);
    h.advance(MIN);
    const r2 = await h.run();
    expect(verdicts(r2)['b-1']).toMatchObject({ outcome: 'awaiting_approval' });
    expect(verdicts(r2)['b-1']!.detail).toContain('reflex approve 2 ');
  });
});
