// The decision detail: what `reflex why TARGET --run N [--rule R]` prints and its --json document, built by the same
// function as the CLI (src/explain/target.ts), so the page cannot say anything else.
import type { Project } from '../config/load.js';
import { UserError } from '../errors.js';
import { ruleSetOf } from '../explain/recorded.js';
import { explainTarget as explainOne } from '../explain/target.js';
import { nearestIds } from '../explain/nearest.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import type { RuleSet } from '../rules/ruleset.js';
import type { RunRecord, Store } from '../store/types.js';

export type WhyDoc = Record<string, unknown> & { run: number; target: Snapshot['targets'][number]; decisions: { rule: string }[] };

export async function explainTarget(
  store: Store,
  loaded: { project: Project; ruleSet: RuleSet },
  run: RunRecord,
  snap: Snapshot,
  targetId: string,
  rule?: string,
): Promise<{ doc: WhyDoc; text: string }> {
  const rs = await ruleSetOf(store, run, loaded);
  const r = rule !== undefined ? rs.ruleSet.rules.find((x) => x.name === rule) : undefined;
  if (rule !== undefined && !r) {
    const names = rs.ruleSet.rules.map((x) => x.name);
    const near = nearestIds(rule, names, 5);
    throw new UserError(`no rule "${rule}" in run #${run.id}${near.length ? `; nearest: ${near.join(', ')}` : ''}`);
  }
  // `reflex why` explains one level of derived facts unless --depth says otherwise. The snapshot is shared (cached):
  // the explanation works on copies of the targets it reaches.
  const { doc, text } = await explainOne(store, run, snap, rs, targetId, r, 1);
  return { doc: doc as WhyDoc, text };
}
