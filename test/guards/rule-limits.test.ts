// Limits on the rule itself (issue 14.5): a rule's `limits:` tighten the global guardrails, which stay a ceiling;
// `reflex check` refuses a rule limit looser than its ceiling.
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../src/config/load.js';
import { REASON } from '../../src/pipeline/reasons.js';
import { buildRuleSet } from '../../src/rules/ruleset.js';
import { fixture } from '../helpers.js';
import { boxes, harness, MIN, outcomes, REPAIR, verdicts } from './harness.js';

const OTHER = { ...REPAIR, name: 'other' };

describe('a rule limit tightens the global one', () => {
  it('blast_radius: the rule stops at its own limit while another rule goes on to the global one', async () => {
    const h = await harness({
      guardrails: { blast_radius: { per_rule: '5 per 10m' } },
      rules: [{ ...REPAIR, limits: { blast_radius: '2 per 30m' } }, OTHER],
      targets: boxes(6, () => ({ broken: true })),
    });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'blocked', 'b-4': 'blocked', 'b-5': 'blocked', 'b-6': 'blocked' });
    expect(verdicts(r)['b-3']).toMatchObject({
      stage: 'guard',
      reason: REASON.BLAST_RULE,
      detail: `blast radius: 2 of the rule's own limit of 2 executions of rule "repair" per 30m used (limits.blast_radius)`,
    });
    expect(Object.values(outcomes(r, 'other')).filter((o) => o === 'executed')).toHaveLength(5);
    // Its own window (30m) is longer than the global one: 20 minutes later it is still full, 30 minutes later free.
    h.advance(20 * MIN);
    const later = await h.run();
    expect(verdicts(later)['b-1']!.reason).toBe(REASON.BLAST_RULE);
    h.advance(10 * MIN);
    const free = await h.run();
    expect(Object.values(outcomes(free)).filter((o) => o === 'executed')).toHaveLength(2);
  });

  it('blast_radius is re-checked in the intent transaction against executions another runner journals', async () => {
    const h = await harness({ rules: [{ ...REPAIR, limits: { blast_radius: '2 per 10m' } }], targets: boxes(3, () => ({ broken: true })) });
    const other = await h.second();
    h.onExecute = async (c) => {
      if (c.target !== 'b-1') return;
      await other.intentTransaction(null, (tx) =>
        tx.insertIntent({
          key: `elsewhere-${h.now}`,
          runId: 0,
          rule: 'repair',
          action: 'fix',
          step: 0,
          target: 'elsewhere',
          kind: 'exec',
          describe: 'x',
          detail: {},
          cooldownKey: 'other:elsewhere',
          cooldownMs: 0,
          groups: [],
          createdAt: h.now,
        }),
      );
    };
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'blocked', 'b-3': 'blocked' });
    expect(verdicts(r)['b-2']).toMatchObject({ stage: 'journal', reason: REASON.BLAST_RULE });
    await other.close();
  });

  it('budget_per_run: the rule defers beyond its own budget; the run budget still applies to all', async () => {
    const h = await harness({
      guardrails: { budget_per_run: 5 },
      rules: [{ ...REPAIR, limits: { budget_per_run: 2 } }, OTHER],
      targets: boxes(4, () => ({ broken: true })),
    });
    const r = await h.run();
    expect(outcomes(r)).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'deferred', 'b-4': 'deferred' });
    expect(verdicts(r)['b-3']!.detail).toMatch(/^budget: 2 of rule "repair"'s own budget of 2 actions per run used \(limits.budget_per_run\)/);
    // The other rule takes what the run's budget has left (5 - 2 = 3), no more.
    expect(outcomes(r, 'other')).toEqual({ 'b-1': 'executed', 'b-2': 'executed', 'b-3': 'executed', 'b-4': 'deferred' });
    expect(verdicts(r, 'other')['b-4']!.detail).toMatch(/^budget: 5 of the run's budget of 5 actions used/);
  });

  it('group_fraction: the rule acts on its own fraction of a group; the global fraction is the ceiling for all rules', async () => {
    const svc = boxes(10, () => ({ broken: true, labels: { service: 'checkout' } }));
    const h = await harness({
      guardrails: { blast_radius: { group_fraction: 0.5, group_by: ['service'], window: '10m' } },
      rules: [{ ...REPAIR, limits: { group_fraction: 0.2 } }],
      targets: svc,
    });
    const r = await h.run();
    expect(Object.entries(outcomes(r)).filter(([, o]) => o === 'executed')).toHaveLength(2);
    expect(verdicts(r)['b-3']).toMatchObject({
      stage: 'guard',
      reason: REASON.BLAST_GROUP,
      detail: `blast radius: 2 of the rule's own limit of 2 targets with service=checkout acted on by rule "repair" per 10m used (limits.group_fraction 20% of 10 targets; running actions count)`,
    });
    // The next run, within the window (the cooldown has ended): the rule may act on the targets it already took
    // again, and on no other (its acted targets are in the journal).
    h.advance(MIN);
    const again = await h.run();
    expect(
      Object.entries(outcomes(again))
        .filter(([, o]) => o === 'executed')
        .map(([t]) => t),
    ).toEqual(['b-1', 'b-10']);
    expect(verdicts(again)['b-3']!.reason).toBe(REASON.BLAST_GROUP);
  });
});

describe('reflex check refuses a rule limit looser than its ceiling', () => {
  function check(limits: Record<string, unknown>, guardrails: Record<string, unknown> = {}) {
    const dir = fixture({
      'reflex.yaml': JSON.stringify({
        rules: ['rules.yaml'],
        sources: [{ name: 'inv', kind: 'inventory', path: 'inv.json' }],
        actions: { fix: { kind: 'exec', argv: ['true'] } },
        guardrails: { budget_per_run: 10, blast_radius: { per_rule: '5 per 10m', group_fraction: 0.3 }, ...guardrails },
      }),
      'rules.yaml': `rules:\n  - name: repair\n    target: { kind: box }\n    when: { broken: facts.broken }\n    do: [{ action: fix }]\n    limits: ${JSON.stringify(limits)}\n`,
      'inv.json': '{"targets": []}',
    });
    const { project, diagnostics } = loadProject(`${dir}/reflex.yaml`);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return buildRuleSet(project!).diagnostics.filter((d) => d.severity === 'error');
  }

  it('accepts tighter limits and the same limit', () => {
    expect(check({ blast_radius: '2 per 10m', budget_per_run: 3, group_fraction: 0.1 })).toEqual([]);
    expect(check({ blast_radius: '5 per 10m' })).toEqual([]);
    // More executions over a longer window still binds first in some windows: 8 per hour is tighter than 30 per hour.
    expect(check({ blast_radius: '8 per 1h' })).toEqual([]);
  });

  it('reports each looser limit at its position, naming the ceiling', () => {
    const errs = check({ blast_radius: '6 per 10m', budget_per_run: 11, group_fraction: 0.5 });
    expect(errs.map((e) => e.message)).toEqual([
      'rule "repair": limits.blast_radius "6 per 10m" is looser than guardrails.blast_radius.per_rule "5 per 10m", which stays the ceiling (a rule\'s limits can only tighten the global ones)',
      'rule "repair": limits.budget_per_run 11 is looser than guardrails.budget_per_run 10, which stays the ceiling',
      'rule "repair": limits.group_fraction 0.5 is looser than guardrails.blast_radius.group_fraction 0.3, which stays the ceiling',
    ]);
    for (const e of errs) expect(e.line).toBe(6);
    expect(check({ blast_radius: '5 per 5m' }).map((e) => e.message)[0]).toMatch(/looser than/);
  });

  it('a group fraction needs groups', () => {
    expect(check({ group_fraction: 0.1 }, { blast_radius: { per_rule: '5 per 10m', group_by: [] } }).map((e) => e.message)).toEqual([
      'rule "repair": limits.group_fraction needs groups, and guardrails.blast_radius.group_by is empty',
    ]);
  });
});
