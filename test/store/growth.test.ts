// A run that decides as the one before stores nothing new but its own rows (issue 15): no new decision body (the
// words of a would-be message included: they name neither the run nor its time) and no new target version; and a
// run that kept only the snapshot texts that changed reads back whole.
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { writeProject } from '../../bench/fleet.mjs';
import { loadProject } from '../../src/config/load.js';
import { runOnce } from '../../src/pipeline/run.js';
import { buildRuleSet } from '../../src/rules/ruleset.js';
import { openStore } from '../../src/store/index.js';
import { parseSnapshot } from '../../src/store/snapshot.js';
import { fixture, ROOT } from '../helpers.js';

const NOW = Date.parse('2026-11-20T10:00:00Z');

describe('store growth of a run that decides as the one before', () => {
  it('adds no decision body and no target version, and its snapshot reads back whole', async () => {
    const dir = fixture({}, 'reflex-growth-');
    writeProject(dir, 1000, NOW, resolve(ROOT, 'bench/project'), { deriveAll: true });
    const loaded = loadProject(join(dir, 'reflex.yaml'), {});
    const project = loaded.project!;
    const ruleSet = buildRuleSet(project).ruleSet!;
    const store = await openStore(project.config.store, dir);
    await store.migrate();
    const db = join(dir, project.config.store);
    const count = (table: string) => {
      const d = new Database(db, { readonly: true });
      try {
        return (d.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      } finally {
        d.close();
      }
    };
    try {
      // Two runs a few minutes apart (another time of day in every sentence), the same facts.
      const first = await runOnce({ project, ruleSet, store, dryRun: true, clock: () => NOW, holder: 'test:1' });
      const after1 = { bodies: count('decision_bodies'), versions: count('snapshot_targets'), decisions: count('decisions') };
      expect(first.ctx.snapshot!.texts.every((t) => t !== undefined)).toBe(true);
      const second = await runOnce({ project, ruleSet, store, dryRun: true, clock: () => NOW + 7 * 60_000, holder: 'test:1' });
      expect(count('decision_bodies')).toBe(after1.bodies);
      expect(count('snapshot_targets')).toBe(after1.versions);
      expect(count('decisions')).toBe(2 * after1.decisions);
      // It held no text of a target that did not change, and still reads back every target.
      expect(second.ctx.snapshot!.texts.filter((t) => t !== undefined)).toEqual([]);
      const parts = await store.getSnapshotParts(second.runId);
      const back = parseSnapshot(parts!) as { targets: { id: string }[] };
      expect(back.targets.map((t) => t.id)).toEqual(second.ctx.snapshot!.ids);
      expect(JSON.stringify(back.targets)).toBe(JSON.stringify((parseSnapshot((await store.getSnapshotParts(first.runId))!) as typeof back).targets));
      // A message's verdict names neither run nor time (the message carries both).
      const dry = (await store.getDecisions(second.runId)).find((d) => d.trace.some((v) => v.detail.includes('"verdict"')));
      expect(dry, 'a dry-run escalation preview').toBeDefined();
      expect(dry!.trace.map((v) => v.detail).join('\n')).not.toMatch(/\(run \d+\)|\d\d:\d\d UTC/);
    } finally {
      await store.close();
    }
  }, 120_000);
});
