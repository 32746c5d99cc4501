// `reflex why` end to end (issue 17), on the compiled CLI: verdict sentences first, where derived facts and aggregates
// came from, exclusions, the fleet view, unseen targets, `for` in dry runs, and the run summary's header and hint.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { timeOf } from '../../src/explain/verdict.js';
import { fixture, ROOT, reflex } from '../helpers.js';

/**
 * Workers fed by a queue source. Two derive rules in a chain (queue-backlogged -> worker-stalled), an aggregate over
 * the derived fact, an acting rule that excludes gold workers, a shadow rule with `for: 2 runs`, and a rule of
 * another kind. w-4 has no queue facts (unknown); w-acme-1 is gold; w-3 is fine.
 */
const FILES = {
  'reflex.yaml': `
rules: [rules.yaml]
sources:
  - { name: inv, kind: inventory, path: inv.yaml }
  - { name: queues, kind: command, argv: [node, -e, "process.stdout.write(require('fs').readFileSync('queues.json','utf8'))"], facts: [queue_depth, consumers] }
actions:
  restart: { kind: exec, argv: [node, -e, "1"] }
channels: { oncall: { kind: log, path: esc.log } }
defaults: { escalate_to: oncall }
guardrails: { widespread: { min_targets: 1000 }, blast_radius: { per_rule: "1 per 10m", group_fraction: 1 } }
`,
  'inv.yaml': `targets:
  - { id: w-1, kind: worker, labels: { tier: silver, pool: q } }
  - { id: w-2, kind: worker, labels: { tier: silver, pool: q } }
  - { id: w-3, kind: worker, labels: { tier: silver, pool: q } }
  - { id: w-4, kind: worker, labels: { tier: silver, pool: q } }
  - { id: w-acme-1, kind: worker, labels: { tier: gold, pool: q } }
  - { id: q-main, kind: queue, labels: { pool: q }, facts: { depth: 50 } }
`,
  'queues.json': JSON.stringify({
    targets: [
      { id: 'w-1', facts: { queue_depth: 1840, consumers: 0 } },
      { id: 'w-2', facts: { queue_depth: 1840, consumers: 0 } },
      { id: 'w-3', facts: { queue_depth: 5, consumers: 2 } },
      { id: 'w-acme-1', facts: { queue_depth: 1840, consumers: 0 } },
    ],
  }),
  'rules.yaml': `aggregates:
  - { name: stalled_count, of: worker, group_by: [pool], function: count, where: facts.stalled, max_unknown: 0.5 }
rules:
  - name: queue-backlogged
    target: { kind: worker }
    derive: backlogged
    when: { backlog: facts.queue_depth > 1000.0 }
  - name: worker-stalled
    target: { kind: worker }
    derive: stalled
    when: { backlogged: facts.backlogged, no_consumers: facts.consumers == 0.0 }
  - name: restart-stalled-worker
    target: { kind: worker, labels: { tier: "!gold" } }
    when: { stalled: facts.stalled }
    context: { few_stalled: agg.stalled_count < 10 }
    mode: enforce
    do: [{ action: restart }]
  - name: drain-stalled-worker
    target: { kind: worker }
    when: { stalled: facts.stalled }
    for: 2 runs
    do: [{ action: restart }]
  - name: page-deep-queue
    target: { kind: queue }
    when: { deep: facts.depth > 1000.0 }
    escalate: oncall
`,
};

/** The lines of a command's output, with the run's times made comparable. */
const lines = (s: string) => s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TIME').split('\n');

describe('reflex why on a worker fleet', () => {
  let dir: string;
  let at3 = 0;
  const runs: string[] = [];
  beforeAll(() => {
    dir = fixture(FILES, 'reflex-why-');
    // Runs 1 and 2 are dry runs, run 3 acts.
    for (const args of [['run', '--dry-run'], ['run', '--dry-run'], ['run']]) {
      const r = reflex(args, { cwd: dir });
      expect(r.status, r.out).toBe(0);
      runs.push(r.stdout);
    }
    at3 = Date.parse(JSON.parse(reflex(['why', 'w-1', '--json'], { cwd: dir }).stdout).at);
  });

  it('the run summary header shows the real mix of modes, and --json carries ruleModes', () => {
    const r = reflex(['run', '--dry-run', '--json'], { cwd: dir });
    expect(JSON.parse(r.stdout).ruleModes).toEqual({ enforce: 1, shadow: 2, derive: 2 });
    const text = reflex(['run', '--dry-run'], { cwd: dir }).stdout;
    expect(text).toMatch(/^run #5 \(dry run: nothing acts\): 1 rule enforce, 2 shadow, 2 derive; at \S+Z: 6 targets, \d+ ms\n/);
    const run3 = JSON.parse(reflex(['history', '--runs', '--json'], { cwd: dir }).stdout).find((x: { id: number }) => x.id === 3);
    expect(run3.summary.ruleModes).toEqual({ enforce: 1, shadow: 2, derive: 2 });
  });

  it('a dry run does not advance a `for` streak, and says so', () => {
    // Run 2 is the second dry run in a row: the streak is still at 1 of 2.
    expect(runs[1]).toContain('  PENDING     drain-stalled-worker  w-1  pending: 1 of 2 runs so far; dry runs do not count\n');
    const w = reflex(['why', 'w-1', '--rule', 'drain-stalled-worker', '--run', '2'], { cwd: dir });
    expect(lines(w.stdout)[0]).toBe('drain-stalled-worker: restart on w-1 is pending: 1 of 2 runs so far; dry runs do not count');
    // The enforced run counts its own run only: the two dry runs before it did not move the streak.
    expect(runs[2]).toContain('  PENDING     drain-stalled-worker  w-1  conditions have held for 1 of the required 2 consecutive runs\n');
    const enforced = reflex(['why', 'w-1', '--rule', 'drain-stalled-worker', '--run', '3'], { cwd: dir });
    expect(lines(enforced.stdout)[0]).toBe('drain-stalled-worker: restart on w-1 is pending: 1 of 2 runs so far');
  });

  it('starts with one verdict sentence per rule; derived facts name the rule that set them, one level deep', () => {
    const r = reflex(['why', 'w-1', '--run', '3'], { cwd: dir });
    expect(r.status, r.out).toBe(0);
    const out = lines(r.stdout);
    expect(out.slice(0, 5)).toEqual([
      'queue-backlogged: set backlogged = true on w-1 because backlog (queue_depth = 1840)',
      'worker-stalled: set stalled = true on w-1 because backlogged (backlogged = true, derived by queue-backlogged from queue_depth = 1840) and no_consumers (consumers = 0)',
      `restart-stalled-worker: ran restart on w-1 at ${timeOf(at3, Date.now())} (run 3) because stalled (stalled = true, derived by worker-stalled from backlogged = true, consumers = 0)`,
      'drain-stalled-worker: restart on w-1 is pending: 1 of 2 runs so far',
      '',
    ]);
    expect(r.stdout).toContain(
      [
        '  facts:',
        '    queue_depth = 1840  (from source "queues")',
        '    consumers = 0  (from source "queues")',
        '    backlogged = true  (derived by rule queue-backlogged in this run)',
        '      holds   backlog: facts.queue_depth > 1000.0',
        '                facts.queue_depth = 1840 (from source "queues")',
        '    stalled = true  (derived by rule worker-stalled in this run)',
        '      holds   backlogged: facts.backlogged',
        '                facts.backlogged = true (derived by rule queue-backlogged in this run)',
        '      holds   no_consumers: facts.consumers == 0.0',
        '                facts.consumers = 0 (from source "queues")',
        '',
      ].join('\n'),
    );
    // The acting rule's condition on a derived fact shows the deriving rule's conditions and their inputs.
    expect(r.stdout).toContain(
      [
        'rule restart-stalled-worker (severity warning): EXECUTED',
        '  conditions:',
        '    holds   stalled: facts.stalled',
        '              facts.stalled = true (derived by rule worker-stalled in this run)',
        '                holds   backlogged: facts.backlogged',
        '                          facts.backlogged = true (derived by rule queue-backlogged in this run)',
        '                holds   no_consumers: facts.consumers == 0.0',
        '                          facts.consumers = 0 (from source "queues")',
        '    holds   context.few_stalled: agg.stalled_count < 10',
        '              agg.stalled_count = 3 (count over the worker targets with pool=q: 5 members, 1 unknown, 3 counted)',
        '  trace:',
      ].join('\n'),
    );
  });

  it('--depth 2 goes one derive rule further back, and lists the members an aggregate counted', () => {
    const r = reflex(['why', 'w-1', '--run', '3', '--rule', 'restart-stalled-worker', '--depth', '2'], { cwd: dir });
    expect(r.stdout).toContain(
      [
        '    holds   stalled: facts.stalled',
        '              facts.stalled = true (derived by rule worker-stalled in this run)',
        '                holds   backlogged: facts.backlogged',
        '                          facts.backlogged = true (derived by rule queue-backlogged in this run)',
        '                            holds   backlog: facts.queue_depth > 1000.0',
        '                                      facts.queue_depth = 1840 (from source "queues")',
        '                holds   no_consumers: facts.consumers == 0.0',
        '                          facts.consumers = 0 (from source "queues")',
        '    holds   context.few_stalled: agg.stalled_count < 10',
        '              agg.stalled_count = 3 (count over the worker targets with pool=q: 5 members, 1 unknown, 3 counted)',
        '                counted: w-1, w-2, w-acme-1',
        '                unknown: w-4',
      ].join('\n'),
    );
    expect(reflex(['why', 'w-1', '--depth', 'x'], { cwd: dir }).stderr).toContain('--depth x: expected a whole number from 0 to 10');
  });

  it('a guardrail stop is one sentence with its numbers; --json carries the same sentences', () => {
    const r = reflex(['why', 'w-2', '--run', '3', '--rule', 'restart-stalled-worker'], { cwd: dir });
    const first = 'did not run restart on w-2: blast radius: 1 of a limit of 1 executions of rule "restart-stalled-worker" per 10m used';
    expect(lines(r.stdout)[0]).toBe(`restart-stalled-worker: ${first}`);
    const j = JSON.parse(reflex(['why', 'w-2', '--run', '3', '--json'], { cwd: dir }).stdout);
    const d = j.decisions.find((x: { rule: string }) => x.rule === 'restart-stalled-worker');
    expect(d.verdict).toBe(first);
    expect(j.verdicts.map((v: { rule: string }) => v.rule)).toEqual(['queue-backlogged', 'worker-stalled', 'restart-stalled-worker', 'drain-stalled-worker']);
    expect(j.factOrigins).toEqual({
      queue_depth: { source: 'queues' },
      consumers: { source: 'queues' },
      backlogged: { derivedBy: 'queue-backlogged', outcome: 'derived' },
      stalled: { derivedBy: 'worker-stalled', outcome: 'derived' },
    });
    expect(j.aggregates).toEqual([
      {
        name: 'stalled_count',
        function: 'count',
        of: 'worker',
        group: 'with pool=q',
        members: 5,
        unknown: 1,
        counted: 3,
        maxUnknown: 0.5,
        value: 3,
        first: { counted: ['w-1', 'w-2', 'w-acme-1'], unknown: ['w-4'] },
      },
    ]);
  });

  it('a target the selector excludes: the selector and the label value that excluded it, with or without --rule', () => {
    const one = reflex(['why', 'w-acme-1', '--run', '3', '--rule', 'restart-stalled-worker'], { cwd: dir });
    expect(one.status).toBe(0);
    expect(lines(one.stdout)[0]).toBe('restart-stalled-worker: does not apply to w-acme-1: its target selector tier: "!gold" excludes it (tier = gold)');
    expect(one.stdout).toContain('\nrule restart-stalled-worker: does not apply\n  selector tier: "!gold": tier = gold\n');
    expect(one.stdout).not.toContain('no rule applies');
    const all = lines(reflex(['why', 'w-acme-1', '--run', '3'], { cwd: dir }).stdout);
    expect(all.slice(0, 5)).toEqual([
      'queue-backlogged: set backlogged = true on w-acme-1 because backlog (queue_depth = 1840)',
      'worker-stalled: set stalled = true on w-acme-1 because backlogged (backlogged = true, derived by queue-backlogged from queue_depth = 1840) and no_consumers (consumers = 0)',
      'drain-stalled-worker: restart on w-acme-1 is pending: 1 of 2 runs so far',
      'restart-stalled-worker: does not apply to w-acme-1: its target selector tier: "!gold" excludes it (tier = gold)',
      '',
    ]);
    const kind = reflex(['why', 'q-main', '--run', '3', '--rule', 'restart-stalled-worker'], { cwd: dir });
    expect(lines(kind.stdout)[0]).toBe('restart-stalled-worker: does not apply to q-main: the rule is for targets of kind worker, and q-main is of kind queue');
    const j = JSON.parse(reflex(['why', 'w-acme-1', '--run', '3', '--json'], { cwd: dir }).stdout);
    expect(j.excluded).toEqual([
      {
        rule: 'restart-stalled-worker',
        by: 'selector',
        ruleKind: 'worker',
        misses: [{ label: 'tier', want: '!gold', value: 'gold', clause: 'tier: "!gold"', seen: 'tier = gold' }],
        verdict: 'does not apply to w-acme-1: its target selector tier: "!gold" excludes it (tier = gold)',
      },
    ]);
  });

  it('unknown and not-matched decisions are one sentence each', () => {
    const u = lines(reflex(['why', 'w-4', '--run', '3', '--rule', 'restart-stalled-worker'], { cwd: dir }).stdout)[0];
    expect(u).toBe(
      'restart-stalled-worker: could not decide about w-4: "stalled" is unknown: fact "stalled" is unknown: derived by rule "worker-stalled", whose conditions are unknown; restart did not run',
    );
    const n = lines(reflex(['why', 'w-3', '--run', '3'], { cwd: dir }).stdout);
    expect(n.slice(0, 4)).toEqual([
      'queue-backlogged: set backlogged = false on w-3: backlog does not hold (queue_depth = 5)',
      'worker-stalled: set stalled = false on w-3: backlogged does not hold (backlogged = false, derived by queue-backlogged from queue_depth = 5)',
      'restart-stalled-worker: nothing to do for w-3: stalled does not hold (stalled = false, derived by worker-stalled from backlogged = false)',
      'drain-stalled-worker: nothing to do for w-3: stalled does not hold (stalled = false, derived by worker-stalled from backlogged = false)',
    ]);
  });

  it('why --rule R without a target summarises the rule over the fleet', () => {
    const r = reflex(['why', '--rule', 'restart-stalled-worker', '--run', '3'], { cwd: dir });
    expect(r.status, r.out).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'rule restart-stalled-worker in run #3 at TIME (rule in enforce mode)',
      '  5 worker targets: 4 evaluated, 1 excluded by its target selector (tier: "!gold": 1)',
      '  EXECUTED         1  w-1',
      '  BLOCKED          1  w-2',
      '  UNKNOWN          1  w-4',
      '                      1: "stalled" is unknown: fact "stalled" is unknown: derived by rule "worker-stalled", whose conditions are unknown',
      '  NOT MATCHED      1  w-3',
      '                      stalled does not hold: 1',
      '  EXCLUDED         1  w-acme-1',
      'stopped by:',
      '  blast-radius:rule: 1 decision (w-2)',
      '    blast radius: 1 of a limit of 1 executions of rule "restart-stalled-worker" per 10m used',
      'explain one: reflex why w-1 --rule restart-stalled-worker --run 3',
      '',
    ]);
    const j = JSON.parse(reflex(['why', '--rule', 'restart-stalled-worker', '--run', '3', '--json'], { cwd: dir }).stdout);
    expect(j.outcomes).toEqual([
      { outcome: 'executed', count: 1, first: ['w-1'] },
      { outcome: 'blocked', count: 1, first: ['w-2'] },
      { outcome: 'unknown', count: 1, first: ['w-4'] },
      { outcome: 'not_matched', count: 1, first: ['w-3'] },
    ]);
    expect(j.stopped).toEqual([
      {
        reason: 'blast-radius:rule',
        count: 1,
        details: [{ detail: 'blast radius: 1 of a limit of 1 executions of rule "restart-stalled-worker" per 10m used', count: 1 }],
        first: ['w-2'],
      },
    ]);
    const none = reflex(['why'], { cwd: dir });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('name a target (reflex why web-2), or a rule for the fleet view (reflex why --rule R)');
    const typo = reflex(['why', '--rule', 'restart-stalled-wroker'], { cwd: dir });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('no rule "restart-stalled-wroker" in run #');
    expect(typo.stderr).toContain('nearest: restart-stalled-worker');
  });

  it('a target never seen: the nearest ids seen, the sources asked, and the run that last decided about it', () => {
    const r = reflex(['why', 'w-11', '--run', '3'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      [
        'reflex: target "w-11" was not seen in run #3, did you mean "w-1"?',
        '  nearest ids seen in run #3: w-1, w-2, w-3, w-4',
        '  sources asked in run #3: inv (inventory: ok, 6 targets), queues (command: ok, 4 targets); 6 targets in all',
        '',
      ].join('\n'),
    );
    // w-4 leaves the inventory: the latest run never saw it, an earlier one decided about it.
    const inv = join(dir, 'inv.yaml');
    const text = readFileSync(inv, 'utf8');
    writeFileSync(inv, text.replace(/ {2}- \{ id: w-4,.*\n/, ''));
    try {
      expect(reflex(['run', '--dry-run'], { cwd: dir }).status).toBe(0);
      const gone = reflex(['why', 'w-4'], { cwd: dir });
      expect(gone.status).toBe(2);
      expect(gone.stderr).toMatch(/^reflex: target "w-4" was not seen in run #(\d+), did you mean "w-1"\?\n/);
      expect(gone.stderr).toMatch(/ {2}it was last decided about in run #\d+: reflex why w-4 --run \d+\n$/);
    } finally {
      writeFileSync(inv, text);
    }
  });
});

describe('the closing hint of a run summary', () => {
  it('names a pending target before an unknown one', () => {
    const dir = fixture({
      'reflex.yaml': `
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
actions: { fix: { kind: exec, argv: [node, -e, "1"] } }
`,
      'inv.yaml': 'targets:\n  - { id: a-1, kind: instance }\n  - { id: b-1, kind: instance, facts: { up: 0 } }\n',
      'rules.yaml':
        'rules:\n  - { name: fix-down, target: { kind: instance }, when: { down: facts.up == 0.0 }, for: 3 runs, mode: enforce, do: [{ action: fix }] }\n',
    });
    const r = reflex(['run'], { cwd: dir });
    expect(r.stdout).toContain('  UNKNOWN     fix-down  a-1  "down" is unknown: fact "up" is unknown: source "inv" reported no value for this target\n');
    expect(r.stdout).toContain('  PENDING     fix-down  b-1  conditions have held for 1 of the required 3 consecutive runs\n');
    expect(r.stdout).toMatch(/\nexplain a target: reflex why b-1\n$/);
    expect(r.stdout).toMatch(/^run #1: 1 rule enforce; at /);
  });
});

describe('docs/concepts.md', () => {
  it('shows the answer reflex why really gives on the webshop example with a slow database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-why-doc-'));
    cpSync(join(ROOT, 'examples/webshop'), dir, { recursive: true, filter: (src) => !src.includes('.reflex') });
    const demo = (...args: string[]) => spawnSync(process.execPath, ['demo/service.mjs', ...args], { cwd: dir, encoding: 'utf8' });
    expect(reflex(['run', '--dry-run'], { cwd: dir }).status).toBe(0);
    demo('break', 'web-2');
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('p99_latency_ms: 35,', 'p99_latency_ms: 350,'));
    demo('break', 'web-3');
    expect(reflex(['run'], { cwd: dir }).status).toBe(0);
    const answer = reflex(['why', 'web-3'], { cwd: dir }).stdout;
    const md = readFileSync(join(ROOT, 'docs/concepts.md'), 'utf8');
    const shown = /```\n\$ reflex why web-3\n([\s\S]*?)```/.exec(md)?.[1];
    expect(shown).toBeDefined();
    expect(lines(answer)).toEqual(lines(shown!));
  });
});
