// Reflex's own evaluation, in-process: the project loaded and compiled as `reflex run` does it, the
// targets collected from the inventory source, then the pure evaluation (derive rules, then every rule).
import { resolve } from 'node:path';

// The build to measure: the bench's own copy (REFLEX_BENCH_DIST), or the repository's dist/.
const dist = process.env.REFLEX_BENCH_DIST ?? resolve(import.meta.dirname, '../../dist');
const { loadProject } = await import(`${dist}/config/load.js`);
const { buildRuleSet } = await import(`${dist}/rules/ruleset.js`);
const { collectAll } = await import(`${dist}/sources/collect.js`);
const { createSources } = await import(`${dist}/sources/index.js`);
const { evaluate } = await import(`${dist}/rules/evaluate.js`);

/** Load and compile the project in `dir`; throws on configuration errors. */
export function loadReflex(dir) {
  const { project, diagnostics } = loadProject(resolve(dir, 'reflex.yaml'));
  if (!project) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const built = buildRuleSet(project);
  if (!built.ruleSet) throw new Error(built.diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`).join('\n'));
  const slow = [];
  for (const r of built.ruleSet.rules) for (const c of [...r.when, ...r.context]) if (!c.expr.fast) slow.push(`${r.name}.${c.name}: ${c.expr.fallback}`);
  for (const a of built.ruleSet.aggregates.values()) for (const e of [a.where, a.value]) if (e && !e.fast) slow.push(`aggregate ${a.name}: ${e.fallback}`);
  return { project, ruleSet: built.ruleSet, interpreted: slow };
}

/** The targets as the collect stage builds them (fresh objects each call: evaluation adds derived facts). */
export async function collectTargets(project) {
  const r = await collectAll(createSources(project.config.sources), {
    now: Date.now(),
    projectDir: project.dir,
    env: {},
    concurrency: 4,
    defaultTimeoutMs: 60_000,
  });
  return { targets: r.targets, factSources: r.factSources };
}

/** Evaluate; returns the decision lines (rule, target, outcome, derived value) of every decision that is not "not matched". */
export function evaluateReflex(ruleSet, collected, now) {
  const res = evaluate(ruleSet, collected.targets, { now, runId: 1, forState: new Map(), factSources: collected.factSources, sourceProblems: {} });
  return res;
}

export function reflexLines(res) {
  return res.decisions
    .filter((d) => d.outcome !== 'not_matched')
    .map((d) =>
      d.outcome === 'derived'
        ? `${d.rule.name}\t${d.target.id}\t${d.outcome}\t${JSON.stringify(d.target.facts[d.rule.derive])}`
        : `${d.rule.name}\t${d.target.id}\t${d.outcome}`,
    );
}
