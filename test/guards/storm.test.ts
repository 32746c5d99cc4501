// The storm breaker: a remediation that causes new failures stops its rule and pages once, on a synthetic clock over many runs.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { boxes, harness, MIN, outcomes, verdicts, type Harness } from './harness.js';

const WEB = { blast_radius: { group_by: ['service'] } };
const N = 40;

/** A fleet of N boxes of service web; `broken` says which have the problem the rule repairs. */
function fleet(h: Harness, broken: Set<number>): void {
  h.setTargets(boxes(N, (i) => ({ labels: { service: 'web' }, broken: broken.has(i) })));
}

describe('the storm breaker', () => {
  it('each restart makes two new neighbours unhealthy: over 10 runs the rule stops at the third run and pages exactly once', async () => {
    const h = await harness({ guardrails: WEB });
    const broken = new Set([1]);
    let next = 2;
    // A restart fixes its own box and breaks two boxes nobody has touched yet.
    h.onExecute = (call) => {
      broken.delete(Number(call.target.slice(2)));
      for (let k = 0; k < 2 && next <= N; k++) broken.add(next++);
    };
    const stormTriggers = () => h.messages.filter((m) => m.event === 'trigger' && m.dedupKey.startsWith('reflex-breaker/storm/'));
    const perRun: number[] = [];
    for (let run = 1; run <= 10; run++) {
      fleet(h, broken);
      const before = h.calls.length;
      const r = await h.run();
      perRun.push(h.calls.length - before);
      if (run === 3) {
        const v = verdicts(r);
        const stopped = Object.values(v).filter((x) => x.reason === REASON.BREAKER_STORM);
        expect(stopped.length).toBeGreaterThan(0);
        expect(stopped[0]!.detail).toMatch(
          /^remediation storm in group service=web: 3 actions of rule "repair" in 30m, 6 new troubled targets after them \(b-2, b-3, b-4, b-5, b-6, \.\.\.\); the breaker trips at 1\.5 per action from 3 actions/,
        );
        expect(Object.values(outcomes(r)).every((o) => o === 'escalated')).toBe(true);
      }
      h.advance(MIN);
    }
    // Run 1 restarts b-1, run 2 its two victims; from run 3 nothing acts.
    expect(perRun).toEqual([1, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(stormTriggers().map((m) => [m.dedupKey, m.summary])).toEqual([
      [
        'reflex-breaker/storm/repair/service=web',
        'remediation storm in group service=web: 3 actions in 30m, 6 new troubled targets after them: rule repair stopped',
      ],
    ]);
    // No page per target: the storm's one message stands for every stopped decision.
    expect(h.messages.filter((m) => m.event === 'trigger')).toHaveLength(1);
  });

  it('resolves once the window holds no storm, and the rule acts again', async () => {
    const h = await harness({ guardrails: { ...WEB, storm: { window: '10m' } } });
    const broken = new Set([1]);
    let next = 2;
    h.onExecute = (call) => {
      broken.delete(Number(call.target.slice(2)));
      for (let k = 0; k < 2 && next <= N; k++) broken.add(next++);
    };
    for (let run = 1; run <= 3; run++) {
      fleet(h, broken);
      await h.run();
      h.advance(MIN);
    }
    expect(h.takeTriggers().map((m) => m.dedupKey)).toEqual(['reflex-breaker/storm/repair/service=web']);
    // A person fixes the fleet; past the window the actions no longer count and the message resolves.
    broken.clear();
    fleet(h, broken);
    h.advance(11 * MIN);
    await h.run();
    expect(h.messages.map((m) => [m.event, m.dedupKey])).toEqual([['resolve', 'reflex-breaker/storm/repair/service=web']]);
    // The rule is free to act again.
    broken.add(30);
    fleet(h, broken);
    h.onExecute = () => undefined;
    h.advance(MIN);
    await h.run();
    expect(h.calls.at(-1)!.target).toBe('b-30');
  });

  it('independent failures, one at a time, never trip it: each repair fixes its box and nothing new follows', async () => {
    const h = await harness({ guardrails: WEB });
    for (let run = 1; run <= 12; run++) {
      fleet(h, new Set([run])); // one box fails per run; the last one was repaired
      await h.run();
      h.advance(MIN);
    }
    expect(h.calls).toHaveLength(12);
    expect(h.messages.filter((m) => m.dedupKey.startsWith('reflex-breaker/storm/'))).toEqual([]);
  });

  it('can be switched off (guardrails.storm.enabled: false): the storm then runs to the other limits', async () => {
    const h = await harness({ guardrails: { ...WEB, storm: { enabled: false } } });
    const broken = new Set([1]);
    let next = 2;
    h.onExecute = (call) => {
      broken.delete(Number(call.target.slice(2)));
      for (let k = 0; k < 2 && next <= N; k++) broken.add(next++);
    };
    for (let run = 1; run <= 4; run++) {
      fleet(h, broken);
      await h.run();
      h.advance(MIN);
    }
    expect(h.calls.length).toBe(1 + 2 + 4 + 8);
  });
});

describe('the storm breaker judges only from runs that recorded what they saw', () => {
  it('actions of a run that crashed before recording its decisions are no evidence: many broken targets do not trip it', async () => {
    const h = await harness({ guardrails: WEB });
    // A run that journaled three actions and was killed before it recorded anything.
    const crashed = await h.store.beginRun({ startedAt: h.now, mode: 'enforce', holder: 'dead:1', ruleSetHash: 'x' });
    for (const t of ['b-1', 'b-2', 'b-3']) {
      await h.store.intentTransaction(null, (tx) =>
        tx.insertIntent({
          key: `crashed-${t}`,
          runId: crashed,
          rule: 'repair',
          action: 'fix',
          step: 0,
          target: t,
          kind: 'exec',
          describe: 'x',
          detail: {},
          cooldownKey: `action:repair:fix:${t}`,
          cooldownMs: 0,
          groups: ['service=web'],
          createdAt: h.now,
        }),
      );
    }
    h.advance(MIN);
    // Ten targets broken now (what the crashed run saw is unknown): without a baseline, nothing can be judged.
    fleet(h, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const r = await h.run();
    expect(Object.values(verdicts(r)).filter((v) => v.reason === REASON.BREAKER_STORM)).toEqual([]);
    expect(h.messages.filter((m) => m.dedupKey.startsWith('reflex-breaker/storm/'))).toEqual([]);
  });
});
