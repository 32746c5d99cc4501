// Which rules the scenarios test, which they show doing their job, and which enforced rules have no passing scenario.
import { relative } from 'node:path';
import type { Diagnostic } from '../config/diagnostics.js';
import type { LoadedRule, Project } from '../config/load.js';
import { buildRuleSet } from '../rules/ruleset.js';
import { loadTests, testFilesOf, type LoadedTestFile, type ProjectEntry } from './load.js';
import { runAll, type ScenarioResult } from './runner.js';

export interface RuleCoverage {
  name: string;
  /** Acts in enforce mode (has actions and is not in dry-run): what guardrails.require_tests is about. */
  enforced: boolean;
  /** Named by an expectation of some scenario. */
  tested: boolean;
  /** Named by an expectation of a scenario that passed. */
  passing: boolean;
  /** Acted, paged or set its fact in some step of some scenario. */
  fired: boolean;
}

export interface Coverage {
  /** The configuration, as shown (relative to the working directory). */
  config: string;
  requireTests: boolean;
  rules: RuleCoverage[];
}

export function isEnforced(project: Project, r: LoadedRule): boolean {
  return (r.do?.length ?? 0) > 0 && !r.derive && (r.mode ?? project.config.defaults.mode) === 'enforce';
}

/** Coverage per configuration under test, from the results of every scenario of its files. */
export function coverageOf(files: LoadedTestFile[], results: ScenarioResult[], cwd = process.cwd()): Coverage[] {
  const configOf = new Map(files.map((f) => [f.shown, f.entry]));
  const out = new Map<string, Coverage>();
  for (const f of files) {
    const e = f.entry;
    if (out.has(e.configPath)) continue;
    out.set(e.configPath, {
      config: relative(cwd, e.configPath) || e.configPath,
      requireTests: e.project.config.guardrails.require_tests,
      rules: e.project.rules.map((r) => ({ name: r.name, enforced: isEnforced(e.project, r), tested: false, passing: false, fired: false })),
    });
  }
  for (const res of results) {
    const e = configOf.get(res.file);
    const cov = e && out.get(e.configPath);
    if (!cov) continue;
    for (const r of cov.rules) {
      if (res.tested.has(r.name)) {
        r.tested = true;
        if (res.passed) r.passing = true;
      }
      if (res.fired.has(r.name)) r.fired = true;
    }
  }
  return [...out.values()];
}

/**
 * guardrails.require_tests, for `reflex check`: every enforced rule needs a passing scenario.
 * The project's scenario files are loaded and run (in memory, never acting); problems of
 * those files are reported too, since a broken scenario proves nothing.
 */
export async function requiredTests(project: Project): Promise<Diagnostic[]> {
  const built = buildRuleSet(project);
  if (!built.ruleSet) return [];
  const entry: ProjectEntry = { configPath: project.configPath, project, ruleSet: built.ruleSet, diagnostics: [] };
  const found = testFilesOf(project);
  const loaded = loadTests(found.files, { projects: new Map([[project.configPath, entry]]), defaultConfig: project.configPath });
  const mine = loaded.files.filter((f) => f.entry.configPath === project.configPath);
  const results = await runAll(mine);
  const out: Diagnostic[] = [...found.diagnostics, ...loaded.diagnostics];
  const passing = new Set<string>();
  const failing = new Set<string>();
  for (const r of results) for (const name of r.tested) (r.passed ? passing : failing).add(name);
  for (const r of project.rules) {
    if (!isEnforced(project, r) || passing.has(r.name)) continue;
    const why = failing.has(r.name) ? 'its scenarios fail (run `reflex test` to see why)' : 'no scenario tests it';
    out.push(
      r.loc.file.at(
        [...r.loc.path, r.mode ? 'mode' : 'name'],
        `rule "${r.name}" is enforced, but ${why}; guardrails.require_tests allows only tested rules to act: add a scenario that names it (rules/*_test.yaml, see docs/testing-rules.md) or keep it in dry-run`,
      ),
    );
  }
  return out;
}
