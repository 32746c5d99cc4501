// Property-based: random sequences of runs, facts, failures, crashes and switch flips never break a guardrail's promise.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowedByFraction } from '../../src/guards/numbers.js';
import type { ExecutionRecord, Store } from '../../src/store/types.js';
import { faulty, harness, MIN, REPAIR, type Harness, type TargetSpec } from './harness.js';

const TARGETS = ['a1', 'a2', 'a3', 'a4', 'b1', 'b2'];
const serviceOf = (id: string) => (id.startsWith('a') ? 'alpha' : 'beta');
const GROUP_SIZE: Record<string, number> = { 'service=alpha': 4, 'service=beta': 2 };

interface Limits {
  perRule: number;
  groupFraction: number;
  budget: number;
}
const WINDOW = 10 * MIN;
const guardrails = (l: Limits) => ({
  budget_per_run: l.budget,
  widespread: { fraction: 0.8, min_targets: 3, group_by: ['service'] },
  blast_radius: { per_rule: `${l.perRule} per 10m`, group_fraction: l.groupFraction, group_by: ['service'], window: '10m' },
  failure_breaker: { failures: 3, of_last: 4 },
});
const limits = fc.record({
  perRule: fc.integer({ min: 1, max: 4 }),
  groupFraction: fc.constantFrom(0.25, 0.5, 0.75, 1),
  budget: fc.integer({ min: 1, max: 4 }),
});
const RULES = [
  { ...REPAIR, severity: 'warning' },
  { ...REPAIR, name: 'tidy', severity: 'info', when: { messy: 'facts.messy' }, do: [{ action: 'sweep' }] },
];
const ACTIONS = { fix: { kind: 'exec', argv: ['true'], cooldown: '5m' }, sweep: { kind: 'exec', argv: ['true'], cooldown: '3m' } };

type Step =
  | {
      kind: 'run';
      /** Time since the previous step: 0, exact boundaries, or anything up to 12 minutes. */
      advance: number;
      broken: boolean[];
      messy: boolean[];
      unknown: boolean[];
      failing: boolean[];
      /** Someone switches automation on again before the run (when it was off). */
      switchOnBefore: boolean;
      /** After this many actions of the run have started, the run crashes (its store writes fail). */
      crashAfter: number | null;
      /** After this many actions of the run have started, someone switches automation off. */
      switchOffAfter: number | null;
    }
  | { kind: 'switch'; off: boolean };

/** One boolean per target, true with probability 1 in `oneIn`. */
const flags = (oneIn: number) =>
  fc.array(
    fc.integer({ min: 1, max: oneIn }).map((n) => n === 1),
    { minLength: TARGETS.length, maxLength: TARGETS.length },
  );
const bools = flags(2);
const runStep = fc.record({
  kind: fc.constant('run' as const),
  advance: fc.oneof(fc.constantFrom(0, 1, 3 * MIN, 5 * MIN - 1, 5 * MIN, 10 * MIN - 1, 10 * MIN), fc.integer({ min: 0, max: 12 * MIN })),
  broken: flags(3),
  messy: flags(4),
  unknown: flags(8),
  failing: flags(3),
  switchOnBefore: fc.boolean(),
  crashAfter: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 5 }),
  switchOffAfter: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 8 }),
});
const switchStep = fc.record({ kind: fc.constant('switch' as const), off: fc.boolean() });
const scenario = fc.record({
  limits,
  concurrency: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(fc.oneof({ arbitrary: runStep, weight: 5 }, { arbitrary: switchStep, weight: 1 }), { minLength: 1, maxLength: 9 }),
});

function targets(s: Extract<Step, { kind: 'run' }>): TargetSpec[] {
  return TARGETS.map((id, i) => ({
    id,
    labels: { service: serviceOf(id) },
    facts: s.unknown[i] ? { broken: undefined, messy: undefined } : { broken: s.broken[i], messy: s.messy[i] },
  }));
}

/** Every promise, checked on the whole journal. */
function checkJournal(all: ExecutionRecord[], runs: Map<number, number>, l: Limits): void {
  for (const e of all) {
    // Never more executions of a rule in any window than its limit.
    const inWindow = all.filter((x) => x.rule === e.rule && x.createdAt > e.createdAt - WINDOW && x.createdAt <= e.createdAt);
    expect(inWindow.length, `executions of ${e.rule} in the 10m up to #${e.id}`).toBeLessThanOrEqual(l.perRule);
    // Never more distinct targets of a group in any window than its limit.
    for (const g of e.groups) {
      const targets = new Set(all.filter((x) => x.groups.includes(g) && x.createdAt > e.createdAt - WINDOW && x.createdAt <= e.createdAt).map((x) => x.target));
      expect(targets.size, `targets of ${g} in the 10m up to #${e.id}`).toBeLessThanOrEqual(allowedByFraction(l.groupFraction, GROUP_SIZE[g]!));
    }
    // A cooldown is never violated, whatever happened to the earlier execution (failed, interrupted).
    for (const x of all) {
      if (x.id < e.id && x.cooldownKey === e.cooldownKey)
        expect(e.createdAt - x.createdAt, `#${e.id} after #${x.id} (${e.cooldownKey})`).toBeGreaterThanOrEqual(x.cooldownMs);
    }
  }
  // Never more actions in one run than its budget.
  for (const [run, n] of runs) expect(n, `actions of run #${run}`).toBeLessThanOrEqual(l.budget);
}

async function maxId(s: Store): Promise<number> {
  return (await s.listExecutions({ limit: 1 }))[0]?.id ?? 0;
}

describe('guardrails over random sequences of runs', () => {
  it('never more executions per window than the limits, a cooldown never violated, nothing journaled while the off switch is committed', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limits: l, concurrency, steps }) => {
        const h: Harness = await harness({ guardrails: guardrails(l), rules: RULES, actions: ACTIONS, defaults: { max_concurrency: concurrency } });
        const person = await h.second();
        const faults = new Set<string>();
        const store = faulty(h.store, faults);
        // While the switch is off: the highest execution id when it went off (nothing may be journaled after it).
        let offAt: number | null = null;
        const switchOff = async () => {
          await person.setSwitch({ off: true, by: 'p', reason: 'test', at: h.now, until: null });
          offAt ??= await maxId(person);
        };
        const switchOn = async () => {
          if (offAt !== null) expect(await maxId(person), 'journaled while switched off').toBe(offAt);
          offAt = null;
          await person.setSwitch({ off: false, by: 'p', reason: 'test', at: h.now, until: null });
        };
        try {
          for (const s of steps) {
            if (s.kind === 'switch') {
              await (s.off ? switchOff() : switchOn());
              continue;
            }
            if (s.switchOnBefore && offAt !== null) await switchOn();
            h.advance(s.advance);
            h.setTargets(targets(s));
            let started = 0;
            h.outcome = (c) => (s.failing[TARGETS.indexOf(c.target)] ? 'fail' : 'succeed');
            h.onExecute = async () => {
              started++;
              if (s.switchOffAfter !== null && started === s.switchOffAfter + 1) await switchOff();
              if (s.crashAfter !== null && started === s.crashAfter + 1) faults.add('finishExecution').add('markRunning');
            };
            const crashed = await h.run({ store }).then(
              () => false,
              () => true,
            );
            expect(crashed || faults.size === 0).toBe(true);
            faults.clear();
            if (offAt !== null) expect(await maxId(person), 'journaled while switched off').toBe(offAt);
          }
          const all = await person.listExecutions({ limit: 10_000 });
          const runs = new Map<number, number>();
          for (const e of all) runs.set(e.runId, (runs.get(e.runId) ?? 0) + 1);
          checkJournal(all, runs, l);
        } finally {
          await person.close();
          await h.store.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it("nothing is acted on when any guardrail's own state cannot be read", async () => {
    const reads = [
      'getSwitch',
      'listDisables',
      'getCooldown',
      'recentOutcomes',
      'listExecutions',
      'unfinishedExecutions',
      'tx.getSwitch',
      'tx.activeDisables',
      'tx.cooldown',
      'tx.countExecutions',
      'tx.countTargetsInGroup',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...reads), bools, bools, fc.boolean(), async (fault, broken, messy, earlier) => {
        const g = guardrails({ perRule: 4, groupFraction: 1, budget: 10 });
        const h = await harness({ guardrails: { ...g, blast_radius: { ...g.blast_radius, min_healthy: 0.25 } }, rules: RULES, actions: ACTIONS });
        if (earlier) {
          // Some history, so that every guardrail has state to read.
          h.setTargets(TARGETS.map((id) => ({ id, labels: { service: serviceOf(id) }, broken: true })));
          await h.run();
          h.advance(20 * MIN);
        }
        const before = h.calls.length;
        const journaled = await maxId(h.store);
        h.setTargets(TARGETS.map((id, i) => ({ id, labels: { service: serviceOf(id) }, broken: broken[i], facts: { messy: messy[i] } })));
        // Reads the recover stage shares with the guards fail from the guard stage on.
        await h.run({ store: faulty(h.store, new Set([fault]), { armedBy: 'getSwitch' }) }).catch(() => undefined);
        expect(h.calls.length - before, `actions started with ${fault} unreadable`).toBe(0);
        expect(await maxId(h.store), `intents journaled with ${fault} unreadable`).toBe(journaled);
        await h.store.close();
      }),
      { numRuns: 25 },
    );
  });
});
