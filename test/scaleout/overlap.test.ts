// Two shard layouts at once (a rollout of a new shards.count): every target is worked on by two runners per round, and the store alone keeps the promises.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSkipReason, requirePgUrl, schemaFactory } from '../store/pg.js';
import { actionLines, boxes, executions, journal, limitViolations, reflexAsync, scaleProject, traceOf, type Exit } from './harness.js';

const schemas = schemaFactory('scaleout_overlap');
afterAll(() => schemas.dropAll());

const ROUNDS = 6;
const TARGETS = boxes(32, 4, 8); // 4 services of 8, 28 broken
const COOLDOWN_MS = 2000;
const PER_RULE = { max: 8, windowMs: 2000 };
const BUDGET = 5;

// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
describe.skipIf(pgSkipReason)('scale-out: runners of two layouts on the same targets', () => {
  const url = pgSkipReason ? '' : requirePgUrl();
  const schema = schemas.next();
  const project = scaleProject({
    url,
    schema,
    targets: TARGETS,
    rules: { repair: `${COOLDOWN_MS}ms`, poke: `${COOLDOWN_MS}ms` },
    shards: '{ count: 16, max_per_runner: 4, lease: 30s }',
    guardrails: `{ budget_per_run: ${BUDGET}, widespread: { min_targets: 100000 }, blast_radius: { per_rule: "${PER_RULE.max} per 2s", group_fraction: 0.5, group_by: [service], window: 2s }, failure_breaker: { failures: 1000, of_last: 1000 } }`,
  });
  // The same project with 8 shards: its leases (shard:i/8) are not the 16-shard layout's, so both act on every target.
  copyFileSync(join(project.dir, 'reflex.yaml'), join(project.dir, 'reflex-8.yaml'));
  writeFileSync(
    join(project.dir, 'reflex-8.yaml'),
    readFileSync(join(project.dir, 'reflex-8.yaml'), 'utf8').replace(
      'shards: { count: 16, max_per_runner: 4, lease: 30s }',
      'shards: { count: 8, max_per_runner: 2, lease: 30s }',
    ),
  );
  const exits: Exit[] = [];

  beforeAll(async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const all = await Promise.all([
        ...Array.from({ length: 4 }, () => reflexAsync(project.dir, ['run', '--quiet'])),
        ...Array.from({ length: 4 }, () => reflexAsync(project.dir, ['run', '--quiet'], {}, 'reflex-8.yaml')),
      ]);
      exits.push(...all);
    }
  }, 300_000);

  it('every runner ran to the end (exit 0, 1 or 4)', () => {
    for (const e of exits) if (![0, 1, 4].includes(e.code ?? -1)) throw new Error(`pid ${e.pid} exited ${e.code}:\n${e.stdout}\n${e.stderr}`);
  });

  it('racing runners never run an action twice nor pass a cooldown or limit: the intent transaction refuses the loser', async () => {
    const c = await journal(url, schema);
    try {
      const ex = await executions(c);
      const lines = actionLines(project.dir);
      expect(ex.every((e) => e.status === 'succeeded')).toBe(true);
      expect(
        lines
          .filter((l) => l.journal !== 'running')
          .map(
            (l) =>
              `${l.rule} ${l.target} at=${l.at} exec=${l.execution} journal=${l.journal}; ` +
              ex
                .filter((e) => e.target === l.target && e.rule === l.rule)
                .map((e) => `#${e.id}@${e.created_at}`)
                .join(' '),
          ),
      ).toEqual([]);
      expect(lines.map((l) => Number(l.execution)).sort((a, b) => a - b)).toEqual(ex.map((e) => e.id).sort((a, b) => a - b));
      // Both layouts acted.
      expect(new Set(ex.map((e) => e.shard?.split('/')[1]))).toEqual(new Set(['16', '8']));
      const { violations } = limitViolations(ex, {
        cooldownMs: { repair: COOLDOWN_MS, poke: COOLDOWN_MS },
        perRule: PER_RULE,
        perGroup: { max: 4, windowMs: 10_000 },
        budgetPerRun: BUDGET,
      });
      expect(violations).toEqual([]);
      // The races happened: decisions that passed their runner's guard stage were refused inside the intent transaction.
      const refused = (await c.query('SELECT d.run_id, d.at, d.trace, b.body FROM decisions d LEFT JOIN decision_bodies b ON b.hash = d.body')).rows
        .map((r) => traceOf(r).find((v) => v.stops && v.stage === 'journal'))
        .filter((v) => v !== undefined);
      expect(refused.length).toBeGreaterThan(0);
      console.log(
        `scale-out overlap: ${ROUNDS} rounds x 8 processes of two layouts: ${ex.length} executions; ${refused.length} intents refused in the transaction (${[...new Set(refused.map((v) => v!.reason))].join(', ')})`,
      );
    } finally {
      await c.end();
    }
  });
});
