// Slow start (issue 14.4): a rule's actions of one run start in waves of 1, 2, 4, ... up to max_concurrency,
// widening only while the previous wave succeeded; a failure, the off switch or a disable stops the batch.
import { describe, expect, it } from 'vitest';
import { REASON } from '../../src/pipeline/reasons.js';
import { boxes, harness, outcomes, REPAIR, verdicts, type Harness } from './harness.js';

/** Holds each action until the event loop has had a chance to start every other action allowed to start with it. */
function waves(h: Harness): string[][] {
  const out: string[][] = [];
  let active = 0;
  let current: string[] | null = null;
  h.onExecute = async (c) => {
    if (active === 0 || !current) out.push((current = []));
    current.push(c.target);
    active++;
    await new Promise((r) => setTimeout(r, 5));
    active--;
    if (active === 0) current = null;
  };
  return out;
}

describe('slow start', () => {
  it('starts a rule’s actions in waves of 1, 2, 4 up to max_concurrency', async () => {
    const h = await harness({ defaults: { max_concurrency: 4 }, targets: boxes(12, () => ({ broken: true }), 't') });
    const seen = waves(h);
    const r = await h.run();
    expect(seen.map((w) => w.length)).toEqual([1, 2, 4, 4, 1]);
    expect(Object.values(outcomes(r)).every((o) => o === 'executed')).toBe(true);
  });

  it('a failure stops the rule’s batch after its wave; the rest is deferred to the next run with the reason', async () => {
    const h = await harness({ defaults: { max_concurrency: 4 }, targets: boxes(9, () => ({ broken: true })) });
    const seen = waves(h);
    h.outcome = (c) => (c.target === 'b-2' ? 'fail' : 'succeed');
    const r = await h.run();
    // waves: [b-1], [b-2, b-3]; b-2 failed, so b-4 .. b-9 never start.
    expect(seen).toEqual([['b-1'], ['b-2', 'b-3']]);
    const o = outcomes(r);
    expect([o['b-1'], o['b-2'], o['b-3']]).toEqual(['executed', 'failed', 'executed']);
    for (const t of ['b-4', 'b-5', 'b-6', 'b-7', 'b-8', 'b-9']) expect(o[t]).toBe('deferred');
    expect(verdicts(r)['b-4']).toMatchObject({
      stage: 'act',
      reason: REASON.SLOW_START,
      detail: 'slow start: not started in this run because the action on b-2 failed in the wave before (a wave of 2); the next run decides again',
    });
  });

  it('another rule is not held back by a failing one, and they share max_concurrency', async () => {
    const h = await harness({
      defaults: { max_concurrency: 2 },
      rules: [REPAIR, { ...REPAIR, name: 'other' }],
      targets: boxes(4, () => ({ broken: true })),
    });
    let active = 0;
    let most = 0;
    h.onExecute = async () => {
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    h.outcome = (c) => (c.rule === 'repair' ? 'fail' : 'succeed');
    const r = await h.run();
    expect(most).toBe(2);
    expect(outcomes(r)).toEqual({ 'b-1': 'failed', 'b-2': 'deferred', 'b-3': 'deferred', 'b-4': 'deferred' });
    expect(outcomes(r, 'other')).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'executed', 'b-4': 'executed' });
  });

  it('the off switch flipped while the first wave runs stops every later action of the run', async () => {
    const h = await harness({ defaults: { max_concurrency: 4 }, targets: boxes(10, () => ({ broken: true })) });
    const person = await h.second();
    h.onExecute = async (c) => {
      if (c.target === 'b-1') await person.setSwitch({ off: true, by: 'alice', reason: 'incident', at: h.now, until: null });
    };
    const r = await h.run();
    expect(h.calls.map((c) => c.target)).toEqual(['b-1']);
    const stopped = Object.entries(outcomes(r)).filter(([, o]) => o === 'blocked');
    expect(stopped).toHaveLength(9);
    expect(verdicts(r)['b-2']).toMatchObject({ stage: 'journal', reason: REASON.SWITCH_OFF });
    await person.close();
  });

  it('guardrails.slow_start: false starts up to max_concurrency at once', async () => {
    const h = await harness({ guardrails: { slow_start: false }, defaults: { max_concurrency: 4 }, targets: boxes(6, () => ({ broken: true })) });
    let ended = false;
    let startedBeforeFirstEnd = 0;
    h.onExecute = async () => {
      if (!ended) startedBeforeFirstEnd++;
      await new Promise((r) => setTimeout(r, 5));
      ended = true;
    };
    await h.run();
    expect(startedBeforeFirstEnd).toBe(4);
    expect(h.calls).toHaveLength(6);
  });
});
