// Eight `reflex run` processes per round against one real PostgreSQL: every promise of one runner holds across them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLimit } from '../../src/guards/numbers.js';
import { shardOf } from '../../src/pipeline/shards.js';
import { reflex } from '../helpers.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';
import {
  actionLines,
  boxes,
  decisionsByRun,
  decisionsOf,
  executions,
  journal,
  limitViolations,
  reflexAsync,
  runs,
  scaleProject,
  type Exit,
} from './harness.js';

const schemas = schemaFactory('scaleout_conc');
afterAll(() => schemas.dropAll());

const PROCESSES = 8;
const ROUNDS = 10;
const SHARDS = 16;
const TARGETS = boxes(48, 4, 6); // 4 services of 12, every 6th box healthy: 40 broken
const COOLDOWN = { repair: 3000, poke: 5000 };
const PER_RULE = '6 per 3s';
const GROUP_FRACTION = 0.5;
const BUDGET = 4;
/** The group window: blast_radius.window, or the longest action timeout (10s) when longer. */
const GROUP_WINDOW_MS = 10_000;
/** Rounds in which the test switches automation off, or disables one target, for every runner at once. */
const SWITCHED_OFF = 3;
const DISABLED = { round: 6, target: 'box-004' };

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason)('scale-out: many runners, one set of guarantees', () => {
  const url = pgSkipReason ? '' : requirePgUrl();
  const schema = schemas.next();
  const project = scaleProject({
    url,
    schema,
    targets: TARGETS,
    rules: { repair: `${COOLDOWN.repair}ms`, poke: `${COOLDOWN.poke}ms` },
    shards: `{ count: ${SHARDS}, max_per_runner: 3, lease: 30s }`,
    guardrails: `{ budget_per_run: ${BUDGET}, widespread: { min_targets: 100000 }, blast_radius: { per_rule: "${PER_RULE}", group_fraction: ${GROUP_FRACTION}, group_by: [service], window: 3s }, failure_breaker: { failures: 1000, of_last: 1000 } }`,
  });
  const rounds: { round: number; exits: Exit[] }[] = [];

  beforeAll(async () => {
    for (let round = 0; round < ROUNDS; round++) {
      if (round === SWITCHED_OFF)
        expect(reflex(['-c', `${project.dir}/reflex.yaml`, 'disable', '--all', '--reason', 'test: off for one round']).status).toBe(0);
      if (round === DISABLED.round)
        expect(reflex(['-c', `${project.dir}/reflex.yaml`, 'disable', '--target', DISABLED.target, '--reason', 'test']).status).toBe(0);
      const exits = await Promise.all(Array.from({ length: PROCESSES }, () => reflexAsync(project.dir, ['run', '--quiet'])));
      rounds.push({ round, exits });
      if (round === SWITCHED_OFF) expect(reflex(['-c', `${project.dir}/reflex.yaml`, 'enable', '--all', '--reason', 'test']).status).toBe(0);
      if (round === DISABLED.round)
        expect(reflex(['-c', `${project.dir}/reflex.yaml`, 'enable', '--target', DISABLED.target, '--reason', 'test']).status).toBe(0);
    }
  }, 300_000);

  it('every process ran or found every shard taken (exit 0, 1 or 4), never a store error or a crash', () => {
    for (const { round, exits } of rounds) {
      for (const e of exits) {
        if (![0, 1, 4].includes(e.code ?? -1)) throw new Error(`round ${round}: pid ${e.pid} exited ${e.code} ${e.signal ?? ''}\n${e.stdout}\n${e.stderr}`);
        if (e.code === 4) expect(e.stderr).toMatch(/held by another runner/);
      }
      expect(exits.filter((e) => e.code !== 4).length, `round ${round}: runs that held shards`).toBeGreaterThanOrEqual(Math.ceil(SHARDS / 3));
    }
  });

  it('every target is evaluated in every round: the runs of a round hold every shard, and each decided about all of its targets', async () => {
    const c = await journal(url, schema);
    try {
      const all = await runs(c);
      const decisions = await decisionsByRun(c);
      for (const { round, exits } of rounds) {
        const pids = new Set(exits.filter((e) => e.code !== 4).map((e) => e.pid));
        const mine = all.filter((r) => pids.has(Number(r.holder.split(':').pop())));
        expect(mine.length, `round ${round}`).toBe(pids.size);
        const covered = new Set<string>();
        const decided = new Set<string>();
        for (const r of mine) {
          expect(['ok', 'problems'], `run #${r.id}: ${JSON.stringify(r.summary.problems)}`).toContain(r.status);
          const held = (r.shard ?? '').split(',').filter(Boolean);
          expect(held.length).toBeGreaterThan(0);
          held.forEach((s) => covered.add(s));
          // The run evaluated exactly the targets of its shards, for each rule.
          const own = TARGETS.filter((t) => held.includes(`shard:${shardOf({ id: t.id, labels: {} }, { count: SHARDS })}/${SHARDS}`));
          expect(r.summary.rules?.repair?.evaluated, `run #${r.id}`).toBe(own.length);
          expect(r.summary.rules?.poke?.evaluated, `run #${r.id}`).toBe(own.length);
          for (const key of decisions.get(r.id)?.keys() ?? []) decided.add(key);
        }
        expect(covered.size, `round ${round}: shards worked on`).toBe(SHARDS);
        // Broken targets have a recorded decision for each rule (not-matched ones are counted, not stored).
        for (const t of TARGETS.filter((x) => x.broken))
          for (const rule of ['repair', 'poke']) expect(decided.has(`${rule} ${t.id}`), `round ${round}: ${rule} ${t.id}`).toBe(true);
      }
    } finally {
      await c.end();
    }
  });

  it('no execution is duplicated: each journaled execution ran exactly once, after its intent was committed', async () => {
    const c = await journal(url, schema);
    try {
      const ex = await executions(c);
      const lines = actionLines(project.dir);
      expect(ex.length).toBeGreaterThan(20); // the limits bind, but plenty acts
      expect(
        ex.every((e) => e.status === 'succeeded'),
        JSON.stringify(ex.filter((e) => e.status !== 'succeeded')),
      ).toBe(true);
      expect(
        lines.every((l) => l.journal === 'running'),
        JSON.stringify(lines.filter((l) => l.journal !== 'running')),
      ).toBe(true);
      expect(lines.map((l) => Number(l.execution)).sort((a, b) => a - b)).toEqual(ex.map((e) => e.id).sort((a, b) => a - b));
      expect(new Set(ex.map((e) => e.key)).size).toBe(ex.length);
      // Each intent was fenced by, and records, its target's shard.
      for (const e of ex) expect(e.shard).toBe(`shard:${shardOf({ id: e.target, labels: {} }, { count: SHARDS })}/${SHARDS}`);
      const ran = rounds.flatMap((r) => r.exits).filter((e) => e.code !== 4).length;
      console.log(
        `scale-out: ${ROUNDS} rounds x ${PROCESSES} processes: ${ran} runs held shards, ${ROUNDS * PROCESSES - ran} found none free; ${ex.length} executions, ${lines.length} side effects`,
      );
    } finally {
      await c.end();
    }
  });

  it('no cooldown, blast-radius limit or run budget is ever exceeded across runners', async () => {
    const c = await journal(url, schema);
    try {
      const ex = await executions(c);
      const lim = parseLimit(PER_RULE);
      const { violations, peakPerRule } = limitViolations(ex, {
        cooldownMs: COOLDOWN,
        perRule: lim,
        perGroup: { max: Math.floor(GROUP_FRACTION * 12), windowMs: GROUP_WINDOW_MS },
        budgetPerRun: BUDGET,
      });
      expect(violations).toEqual([]);
      expect(peakPerRule).toBe(lim.max); // the limit was reached, so it was tested
    } finally {
      await c.end();
    }
  });

  it('the off switch and a disable stop every runner at once', async () => {
    const c = await journal(url, schema);
    try {
      const all = await runs(c);
      const ex = await executions(c);
      const runsOf = (round: number) => {
        const pids = new Set(rounds[round]!.exits.map((e) => e.pid));
        return all.filter((r) => pids.has(Number(r.holder.split(':').pop()))).map((r) => r.id);
      };
      // Switched off: nothing acts in that round, and every runner says why for every broken target.
      const off = runsOf(SWITCHED_OFF);
      expect(off.length).toBeGreaterThan(0);
      expect(ex.filter((e) => off.includes(e.run_id))).toEqual([]);
      const offDecisions = await decisionsOf(c, off);
      expect(new Set(offDecisions.map((d) => `${d.rule} ${d.target}`))).toEqual(
        new Set(TARGETS.filter((t) => t.broken).flatMap((t) => [`repair ${t.id}`, `poke ${t.id}`])),
      );
      expect(new Set(offDecisions.map((d) => `${d.outcome} ${d.reason}`))).toEqual(new Set(['blocked switch:off']));
      // One target disabled: whichever runner holds its shard blocks it, for both rules.
      const disabled = runsOf(DISABLED.round);
      expect(ex.filter((e) => disabled.includes(e.run_id) && e.target === DISABLED.target)).toEqual([]);
      const its = (await decisionsOf(c, disabled)).filter((d) => d.target === DISABLED.target);
      expect(its.map((d) => `${d.rule} ${d.outcome} ${d.reason}`).sort()).toEqual(['poke blocked disabled:target', 'repair blocked disabled:target']);
    } finally {
      await c.end();
    }
  });
});
