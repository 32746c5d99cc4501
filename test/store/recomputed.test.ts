// A run that stored only what it must (issue 15) is explained exactly like the same run stored in full,
// the way Reflex recorded runs before: every decision, `reflex why` for targets of every kind of
// outcome, `reflex replay` and `reflex status`, on SQLite and on PostgreSQL.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeProject } from '../../bench/fleet.mjs';
import { loadProject } from '../../src/config/load.js';
import { recordedDecisions } from '../../src/explain/recorded.js';
import { sourceProblems, toRecord } from '../../src/pipeline/decision.js';
import type { Snapshot } from '../../src/pipeline/stages/collect.js';
import { type Decision, evaluate } from '../../src/rules/evaluate.js';
import { runOnce } from '../../src/pipeline/run.js';
import { buildRuleSet } from '../../src/rules/ruleset.js';
import { openStore } from '../../src/store/index.js';
import { parseSnapshot, snapshotJson } from '../../src/store/snapshot.js';
import type { Store } from '../../src/store/types.js';
import { fixture, reflex, ROOT } from '../helpers.js';
import { pgSkipReason, requirePgUrl, schemaFactory } from './pg.js';

const NOW = Date.parse('2026-11-20T10:00:00Z');
const schemas = schemaFactory('recomputed');
afterAll(() => schemas.dropAll());

/** The bench fleet (1,000 targets, with the derive-everything rule) in a project whose store is `store`. */
function project(store: string): string {
  const dir = fixture({}, 'reflex-recomputed-');
  writeProject(dir, 1000, NOW, resolve(ROOT, 'bench/project'), { deriveAll: true });
  const cfg = join(dir, 'reflex.yaml');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^store: .*$/m, `store: ${JSON.stringify(store)}`));
  return dir;
}

async function runIn(dir: string): Promise<{ store: Store; runId: number; full: () => Promise<void>; loaded: ReturnType<typeof load> }> {
  const loaded = load(dir);
  const store = await openStore(loaded.project.config.store, dir);
  await store.migrate();
  const res = await runOnce({ ...loaded, store, dryRun: true, clock: () => NOW, holder: 'test:1' });
  return {
    store,
    runId: res.runId,
    loaded,
    // As Reflex recorded a run before: the snapshot whole, every decision but the not-matched ones,
    // derived ones with their conditions (the evaluate stage explained them then, as explainDerived
    // true does: the same evaluation of the same pre-derive facts).
    full: async () => {
      const snap = res.ctx.snapshot!;
      const run = (await store.getRun(res.runId))!;
      const doc = parseSnapshot({ meta: snap.meta, ids: snap.ids, texts: snap.texts }) as Snapshot;
      const explained = new Map<string, Decision>();
      for (const d of evaluate(loaded.ruleSet, doc.targets, {
        now: NOW,
        runId: res.runId,
        forState: new Map(),
        factSources: doc.factSources,
        sourceProblems: sourceProblems(doc.sources),
      }).decisions)
        if (d.outcome === 'derived') explained.set(`${d.rule.name}\u0000${d.target.id}`, d);
      const asBefore = (d: Decision) => (d.outcome === 'derived' ? explained.get(`${d.rule.name}\u0000${d.target.id}`)! : d);
      await store.finishRun(
        res.runId,
        {
          finishedAt: run.finishedAt!,
          status: run.status,
          summary: run.summary,
          snapshot: new Uint8Array(gzipSync(snapshotJson(snap))),
          decisions: res.decisions.filter((d) => d.outcome !== 'not_matched').map((d) => toRecord(res.ctx, asBefore(d))),
        },
        null,
      );
    },
  };
}

function load(dir: string) {
  const { project } = loadProject(join(dir, 'reflex.yaml'));
  const { ruleSet } = buildRuleSet(project!);
  return { project: project!, ruleSet: ruleSet! };
}

/**
 * The two runs happen a moment apart: a dry-run escalation's would-be log line carries the wall-clock
 * time it was rendered at (not the run's clock). That time is the only thing left out of comparisons.
 */
const wallTime = /(\\*)"time\1":\1"[0-9T:.Z-]+\1"/g;
const same = <T>(x: T): unknown => JSON.parse(JSON.stringify(x).replace(wallTime, '$1"time$1":$1"-$1"'));

/** The CLI's answer (wall-clock times of would-be log lines left out, as above). */
const cli = (dir: string, args: string[]) => {
  const r = reflex(args, { cwd: dir });
  expect(r.status, r.out).toBe(0);
  return r.stdout.replace(wallTime, '$1"time$1":$1"-$1"');
};

function explainsAlike(label: string, makeStore: () => string): void {
  describe(`${label}: a run stored by change is explained like the same run stored in full`, () => {
    it('every decision, why for each kind of outcome, replay and status answer the same', async () => {
      const lean = project(makeStore());
      const whole = project(makeStore());
      const a = await runIn(lean);
      const b = await runIn(whole);
      await b.full();
      try {
        const runA = (await a.store.getRun(a.runId))!;
        const runB = (await b.store.getRun(b.runId))!;
        expect(a.runId).toBe(b.runId);
        // The lean run stored far fewer decisions and no derived one.
        const storedA = await a.store.getDecisions(a.runId);
        const storedB = await b.store.getDecisions(b.runId);
        expect(storedA.some((d) => d.outcome === 'derived')).toBe(false);
        expect(storedB.filter((d) => d.outcome === 'derived').length).toBeGreaterThan(900);
        expect(storedA.length).toBeLessThan(storedB.length / 5);
        // Materialised, it is every decision the full run stored, in the same order, field for field.
        const all = await recordedDecisions(a.store, runA, a.loaded);
        expect(same(all)).toEqual(same(storedB));
        expect(same(await recordedDecisions(b.store, runB, b.loaded))).toEqual(same(storedB));
        // One target of each outcome (and one nothing applies to): `reflex why` prints the same, text and JSON.
        const pick = new Map<string, string>();
        for (const d of storedB) if (!pick.has(d.outcome)) pick.set(d.outcome, d.target);
        pick.set('datastore', 'svc-004-db');
        pick.set('region', 'ap-south');
        expect([...pick.keys()]).toEqual(expect.arrayContaining(['derived', 'unknown', 'blocked', 'pending', 'dry_run']));
        await a.store.close();
        await b.store.close();
        for (const t of new Set(pick.values())) {
          expect(cli(lean, ['why', t, '--run', String(a.runId)])).toBe(cli(whole, ['why', t, '--run', String(b.runId)]));
          const [ja, jb] = [cli(lean, ['why', t, '--run', String(a.runId), '--json']), cli(whole, ['why', t, '--run', String(b.runId), '--json'])];
          expect(ja).toBe(jb);
        }
        // replay: the same differences (none: the rules are the same); the rule-set hashes differ with the store line of reflex.yaml.
        const replay = (dir: string, id: number) => {
          const r = JSON.parse(cli(dir, ['replay', String(id), '--json']));
          return { run: r.run, at: r.at, differences: r.differences };
        };
        expect(replay(lean, a.runId)).toEqual(replay(whole, b.runId));
        expect(replay(lean, a.runId).differences).toEqual([]);
        // status: what breakers and shadow rules did, and the run's counts (its timings and source durations differ).
        const status = (dir: string) => {
          const s = JSON.parse(cli(dir, ['status', '--json']));
          return { shadow: s.shadow, guardrails: s.guardrails, outcomes: s.lastRun.summary.outcomes, rules: s.lastRun.summary.rules };
        };
        expect(status(lean)).toEqual(status(whole));
        // status says how big the store is and what retention keeps.
        const st = JSON.parse(cli(lean, ['status', '--json'])).store;
        expect(st).toMatchObject({ runs: 1, retention: { age: '30d', maxRuns: null } });
        expect(st.bytes).toBeGreaterThan(100_000);
        expect(cli(lean, ['status'])).toMatch(/^store: [\d.]+ (kB|MB) \((sqlite|postgres)\), 1 run kept since 2026-11-20T10:00:00.000Z; retention 30d$/m);
      } finally {
        await a.store.close().catch(() => undefined);
        await b.store.close().catch(() => undefined);
      }
    }, 180_000);
  });
}

explainsAlike('sqlite', () => '.reflex/state.db');
if (pgSkipReason === null) explainsAlike('postgres', () => `${requirePgUrl()}${requirePgUrl().includes('?') ? '&' : '?'}schema=${schemas.next()}`);
// Skipped only without PostgreSQL on a developer machine (no REFLEX_TEST_PG): CI sets REFLEX_TEST_PG and
// REFLEX_REQUIRE_SERVICES (.ci/run), and then pgSkipReason is null, so these tests always run there.
else describe.skip(`postgres (skipped: ${pgSkipReason})`, () => it('needs PostgreSQL', () => {}));
