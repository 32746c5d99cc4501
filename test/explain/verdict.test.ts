// The verdict sentence (pure), the live verdict of a decision of the current run, the run header, the closing hint
// and nearest ids: each outcome's exact words.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadProject } from '../../src/config/load.js';
import { nearestIds } from '../../src/explain/nearest.js';
import { hintTarget, liveVerdict } from '../../src/explain/text.js';
import { inputName, pendingText, timeOf, type VerdictInput, verdictSentence } from '../../src/explain/verdict.js';
import type { Target } from '../../src/model.js';
import { ruleModes, summaryHeader } from '../../src/pipeline/summary.js';
import { evaluate } from '../../src/rules/evaluate.js';
import { buildRuleSet } from '../../src/rules/ruleset.js';
import { fixture } from '../helpers.js';

const AT = Date.parse('2026-12-03T10:04:00Z');
const base = (o: Partial<VerdictInput>): VerdictInput => ({
  rule: 'restart-unhealthy',
  target: 'web-2',
  outcome: 'executed',
  conditions: [
    { name: 'unhealthy', expr: '!facts.healthy', result: true, inputs: { 'facts.healthy': false } },
    { name: 'few_restarts', expr: 'facts.restarts_1h < 3', result: true, inputs: { 'facts.restarts_1h': 1 } },
  ],
  trace: [],
  actions: ['restart-instance'],
  run: { id: 41, at: AT, dryRun: false },
  asOf: AT + 60_000,
  ...o,
});
const because = 'because unhealthy (healthy = false) and few_restarts (restarts_1h = 1)';

describe('verdictSentence', () => {
  it('an executed action: what ran, when, in which run, and the conditions that held with their values', () => {
    expect(verdictSentence(base({}))).toBe(`ran restart-instance on web-2 at 10:04 UTC (run 41) ${because}`);
    // A run of another day carries its date.
    expect(verdictSentence(base({ asOf: AT + 86_400_000 }))).toBe(`ran restart-instance on web-2 at 2026-12-03 10:04 UTC (run 41) ${because}`);
    expect(verdictSentence(base({ actions: ['drain', 'restart-instance'] }))).toContain('ran drain then restart-instance on web-2');
  });

  it('a context that does not hold names the condition and the derived fact behind it', () => {
    const s = verdictSentence(
      base({
        target: 'web-3',
        outcome: 'blocked',
        conditions: [
          ...base({}).conditions,
          {
            name: 'context.database_ok',
            expr: 'depends_on.all(d, !d.facts.db_slow)',
            result: false,
            inputs: { 'depends_on[db-main].facts.db_slow': true },
          },
        ],
        trace: [{ stage: 'evaluate', reason: 'context', detail: 'context "database_ok" does not hold', stops: true }],
        provenance: (k) => (k === 'depends_on[db-main].facts.db_slow' ? 'derived by db-slow from p99_ms = 350' : undefined),
      }),
    );
    expect(s).toBe('did not run restart-instance on web-3: database_ok does not hold (db-main db_slow = true, derived by db-slow from p99_ms = 350)');
  });

  it('guardrails, cooldowns and the budget speak in their own numbers; a message sent is said', () => {
    const stop = (reason: string, detail: string, outcome: VerdictInput['outcome'] = 'blocked') =>
      verdictSentence(base({ outcome, trace: [{ stage: 'guard', reason: reason as never, detail, stops: true }] }));
    expect(stop('blast-radius:rule', 'blast radius: 3 of a limit of 3 executions of rule "r" per 10m used')).toBe(
      'did not run restart-instance on web-2: blast radius: 3 of a limit of 3 executions of rule "r" per 10m used',
    );
    expect(stop('cooldown', 'cooling down: restart-instance ran on web-2 5m ago; cooldown 30m', 'cooled_down')).toBe(
      'did not run restart-instance on web-2: cooling down: restart-instance ran on web-2 5m ago; cooldown 30m',
    );
    expect(stop('budget', "budget: 5 of the run's budget of 5 actions used: deferred to the next run", 'deferred')).toBe(
      "did not run restart-instance on web-2 yet: budget: 5 of the run's budget of 5 actions used: deferred to the next run",
    );
    const paged = verdictSentence(
      base({
        outcome: 'blocked',
        escalateTo: 'oncall',
        trace: [
          { stage: 'guard', reason: 'severity', detail: 'severity critical is above the limit warning: a human decides', stops: true },
          { stage: 'notify', reason: 'escalated', detail: 'escalated on oncall' },
        ],
      }),
    );
    expect(paged).toBe('did not run restart-instance on web-2: severity critical is above the limit warning: a human decides; paged oncall');
  });

  it('failures, dry runs, shadow mode, pages, unknowns and not-matched', () => {
    const failed = base({
      outcome: 'failed',
      trace: [{ stage: 'act', reason: 'failed', detail: 'execution #7 restart-instance failed (exit 1)', stops: true }],
    });
    expect(verdictSentence(failed)).toBe(
      `ran restart-instance on web-2 at 10:04 UTC (run 41) and it failed: execution #7 restart-instance failed (exit 1); it ran ${because}`,
    );
    const page0 = base({ outcome: 'dry_run', actions: [], escalateTo: 'oncall', trace: [{ stage: 'notify', reason: 'dry-run', detail: 'shown, not sent' }] });
    expect(verdictSentence(page0)).toBe(`would page oncall about web-2 (run 41; the rule is in shadow mode: nothing was sent) ${because}`);
    expect(verdictSentence({ ...page0, run: { ...page0.run, dryRun: true } })).toBe(
      `would page oncall about web-2 (run 41 was a dry run: nothing was sent) ${because}`,
    );
    const dry = base({
      outcome: 'dry_run',
      run: { id: 41, at: AT, dryRun: true },
      trace: [{ stage: 'act', reason: 'dry-run', detail: '--dry-run: would run exec', stops: true }],
    });
    expect(verdictSentence(dry)).toBe(`would run restart-instance on web-2 (run 41 was a dry run: nothing ran) ${because}`);
    const shadow = base({ outcome: 'dry_run', trace: [{ stage: 'act', reason: 'shadow', detail: 'shadow', stops: true }] });
    expect(verdictSentence(shadow)).toBe(`would run restart-instance on web-2 (run 41; the rule is in shadow mode: nothing ran) ${because}`);
    const page = base({ outcome: 'escalated', actions: [], escalateTo: 'oncall', trace: [{ stage: 'notify', reason: 'escalated', detail: 'sent' }] });
    expect(verdictSentence(page)).toBe(`paged oncall about web-2 at 10:04 UTC (run 41) ${because}`);
    // In a message (which carries its run and time), the same decision reads the same in every run.
    expect(verdictSentence({ ...page, timeless: true })).toBe(`paged oncall about web-2 ${because}`);
    expect(verdictSentence({ ...base({}), timeless: true })).toBe(`ran restart-instance on web-2 ${because}`);
    expect(verdictSentence({ ...dry, timeless: true })).toBe(`would run restart-instance on web-2 (the run was a dry run: nothing ran) ${because}`);
    expect(verdictSentence({ ...shadow, timeless: true })).toBe(`would run restart-instance on web-2 (the rule is in shadow mode: nothing ran) ${because}`);
    const unknown = base({
      outcome: 'unknown',
      trace: [{ stage: 'evaluate', reason: 'unknown', detail: '"unhealthy" is unknown: fact "healthy" is unknown: source "health" timed out', stops: true }],
    });
    expect(verdictSentence(unknown)).toBe(
      'could not decide about web-2: "unhealthy" is unknown: fact "healthy" is unknown: source "health" timed out; restart-instance did not run',
    );
    const nm = base({ outcome: 'not_matched', conditions: [{ name: 'disk_full', expr: 'facts.disk > 90.0', result: false, inputs: { 'facts.disk': 41 } }] });
    expect(verdictSentence(nm)).toBe('nothing to do for web-2: disk_full does not hold (disk = 41)');
    const derived = base({
      outcome: 'derived',
      derive: 'db_slow',
      value: true,
      actions: [],
      conditions: [{ name: 'slow', expr: 'facts.p99 > 200.0', result: true, inputs: { 'facts.p99': 350 } }],
    });
    expect(verdictSentence(derived)).toBe('set db_slow = true on web-2 because slow (p99 = 350)');
  });

  it('a pending `for` counts runs, and says that dry runs do not', () => {
    const pending = (detail: string, dryRun: boolean) =>
      verdictSentence(
        base({ outcome: 'pending', run: { id: 41, at: AT, dryRun }, trace: [{ stage: 'evaluate', reason: 'pending:for', detail, stops: true }] }),
      );
    expect(pending('conditions have held for 1 of the required 2 consecutive runs', true)).toBe(
      'restart-instance on web-2 is pending: 1 of 2 runs so far; dry runs do not count',
    );
    expect(pending('conditions have held for 2m of the required 5m', false)).toBe('restart-instance on web-2 is pending: held 2m of 5m so far');
  });

  it("pins the evaluate stage's `for` wording that pendingText reads", () => {
    const dir = fixture({
      'reflex.yaml': 'rules: [rules.yaml]\nactions: { fix: { kind: exec, argv: [echo] } }\n',
      'rules.yaml':
        'rules:\n  - { name: by-runs, target: { kind: i }, when: { down: facts.up == 0.0 }, for: 2 runs, do: [{ action: fix }] }\n  - { name: by-time, target: { kind: i }, when: { down: facts.up == 0.0 }, for: 5m, do: [{ action: fix }] }\n',
    });
    const { project, diagnostics } = loadProject(join(dir, 'reflex.yaml'), {});
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    const rs = buildRuleSet(project!).ruleSet!;
    const targets: Target[] = [{ id: 'a', kind: 'i', labels: {}, depends_on: [], facts: { up: 0 } }];
    const now = 1_000_000;
    const forState = new Map([['by-time\u0000a', { rule: 'by-time', target: 'a', since: now - 120_000, runs: 3, lastRunId: 1 }]]);
    const ev = evaluate(rs, targets, { now, runId: 2, forState, factSources: {}, sourceProblems: {} });
    const texts = ev.decisions.map((d) =>
      pendingText(
        d.trace.find((v) => v.reason === 'pending:for'),
        true,
      ),
    );
    expect(texts).toEqual(['1 of 2 runs so far; dry runs do not count', 'held 2m of 5m so far; dry runs do not count']);
    // The live verdict of a decision of the current run is the same sentence.
    expect(liveVerdict(ev.decisions[0]!, { id: 2, now, dryRun: true })).toBe('fix on a is pending: 1 of 2 runs so far; dry runs do not count');
    expect(hintTarget(ev.decisions)).toBe('a');
  });

  it('names inputs as people read them, and times in UTC', () => {
    expect(inputName('facts.cpu')).toBe('cpu');
    expect(inputName('depends_on[db-main].facts.storage_slow')).toBe('db-main storage_slow');
    expect(inputName('labels.zone')).toBe('label zone');
    expect(inputName('agg.unhealthy_fraction')).toBe('agg.unhealthy_fraction');
    expect(timeOf(AT, AT)).toBe('10:04 UTC');
    expect(timeOf(AT)).toBe('2026-12-03 10:04 UTC');
  });
});

describe('the run summary', () => {
  it('the header shows the mix of modes, derive rules apart, and a dry run says nothing acts', () => {
    const modes = ruleModes([
      { derive: null, mode: 'enforce' },
      { derive: null, mode: 'enforce' },
      { derive: null, mode: 'dry-run' },
      { derive: null, mode: 'dry-run' },
      { derive: null, mode: 'dry-run' },
    ]);
    expect(modes).toEqual({ enforce: 2, shadow: 3, derive: 0 });
    const s = { run: 4, mode: 'enforce' as const, startedAt: '2026-12-03T10:04:00.000Z', targets: 12, ruleModes: modes };
    expect(summaryHeader(s, 80)).toBe('run #4: 2 rules enforce, 3 shadow; at 2026-12-03T10:04:00.000Z: 12 targets, 80 ms');
    expect(summaryHeader({ ...s, ruleModes: { enforce: 0, shadow: 5, derive: 1 } }, 80)).toBe(
      'run #4: 5 rules shadow, 1 derive; at 2026-12-03T10:04:00.000Z: 12 targets, 80 ms',
    );
    expect(summaryHeader({ ...s, mode: 'dry-run', ruleModes: { enforce: 1, shadow: 0, derive: 0 } }, 80)).toBe(
      'run #4 (dry run: nothing acts): 1 rule enforce; at 2026-12-03T10:04:00.000Z: 12 targets, 80 ms',
    );
  });
});

describe('nearestIds', () => {
  it('the nearest ids first, abbreviations included, none from far away', () => {
    const ids = ['web-1', 'web-2', 'web-10', 'web-22a', 'db-main', 'checkout'];
    expect(nearestIds('web-22', ids, 3)).toEqual(['web-2', 'web-22a', 'web-1']);
    expect(nearestIds('db', ids, 3)).toEqual(['db-main']);
    expect(nearestIds('zzzzzzzz', ids, 3)).toEqual([]);
  });
});
