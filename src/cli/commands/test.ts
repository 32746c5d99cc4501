// `reflex test [files...]`: run scenario tests of rules on a synthetic clock; exit 0 all pass, 1 a scenario failed, 2 a file is invalid.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { formatDiagnostic, type Diagnostic } from '../../config/diagnostics.js';
import { resolveConfigPath } from '../../config/load.js';
import { checkConfigFile, checkProject, sortDiagnostics } from '../../check/index.js';
import { EXIT, ExitError, UserError } from '../../errors.js';
import { coverageOf } from '../../testing/coverage.js';
import { loadEntry, loadTests, testFilesOf, type ProjectEntry } from '../../testing/load.js';
import { jsonReport, junitReport, textReport, type Report } from '../../testing/report.js';
import { runAll } from '../../testing/runner.js';

/** --junit-locations: file and line attributes on each testcase (outside the common JUnit schema). */
let junitLocations = false;

export default async function test(
  opts: { config?: string; run?: string; junit?: string; junitLocations?: boolean; json?: boolean },
  args: string[],
): Promise<number> {
  junitLocations = !!opts.junitLocations;
  let filter: RegExp | undefined;
  if (opts.run !== undefined) {
    try {
      filter = new RegExp(opts.run);
    } catch (err) {
      throw new UserError(`--run: not a regular expression: ${(err as Error).message}`, EXIT.CONFIG);
    }
  }

  const projects = new Map<string, ProjectEntry>();
  let files = args;
  let defaultConfig: string | undefined;
  const pre: ReturnType<typeof testFilesOf>['diagnostics'] = [];
  if (files.length === 0) {
    // No files named: the scenario files of the configuration (its `tests:`, or *_test.yaml beside its rules).
    defaultConfig = resolveConfigPath(opts.config);
    const entry = loadEntry(defaultConfig, projects);
    // One validation path: scenarios run only against a configuration `reflex check` accepts.
    const checked = await checkConfigFile(defaultConfig, { requireTests: false });
    if (!entry.project || !entry.ruleSet || checked.errors) {
      const diagnostics = checked.errors ? checked.diagnostics : entry.diagnostics;
      const errors = diagnostics.filter((d) => d.severity === 'error').length;
      // CI still gets a report that says why nothing ran.
      if (opts.junit)
        writeJunit(opts.junit, {
          results: [],
          diagnostics,
          invalid: [{ shown: relative(process.cwd(), defaultConfig) || defaultConfig, diagnostics }],
        });
      throw new ExitError(
        EXIT.CONFIG,
        `${sortDiagnostics(diagnostics).map(formatDiagnostic).join('\n')}\n${errors} configuration error(s): no scenario was run; run \`reflex check\` after fixing them`,
      );
    }
    const found = testFilesOf(entry.project);
    pre.push(...found.diagnostics);
    files = found.files;
    if (files.length === 0) {
      throw new ExitError(
        EXIT.CONFIG,
        'reflex test: no scenario files found: write rules/NAME_test.yaml beside your rules (see docs/testing-rules.md), or name files: reflex test FILE...',
      );
    }
  }

  // Files named on the command line test the configuration they name (or the nearest one), unless -c says which.
  const loaded = loadTests(files, { projects, defaultConfig: defaultConfig ?? (opts.config ? resolveConfigPath(opts.config) : undefined) });
  // One validation path: scenarios run only against configurations `reflex check` accepts.
  const refused = await checkEntries(projects, defaultConfig);
  if (refused.length) throw refusal(refused, opts.junit);
  const results = await runAll(loaded.files, filter);
  if (filter && results.length === 0 && loaded.invalid.length === 0) {
    throw new ExitError(EXIT.CONFIG, `reflex test: no scenario matches --run ${JSON.stringify(opts.run)}`);
  }
  const report: Report = {
    results,
    diagnostics: sortDiagnostics([...pre, ...loaded.diagnostics]),
    invalid: loaded.invalid,
    // Coverage speaks of all scenarios; with --run only some ran.
    coverage: filter ? undefined : coverageOf(loaded.files, results),
  };
  if (opts.junit) writeJunit(opts.junit, report);
  process.stdout.write(opts.json ? jsonReport(report) : textReport(report));
  if (loaded.invalid.length || report.diagnostics.some((d) => d.severity === 'error')) return EXIT.CONFIG;
  return results.every((r) => r.passed) ? EXIT.OK : EXIT.PROBLEMS;
}

/**
 * The whole of `reflex check` on every configuration the scenarios use (guardrails.require_tests aside: that is what
 * this command runs); returns the diagnostics of those it refuses.
 */
async function checkEntries(projects: Map<string, ProjectEntry>, checkedAlready?: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  for (const e of projects.values()) {
    if (!e.project || e.configPath === checkedAlready) continue;
    const r = await checkProject(e.project, undefined, { requireTests: false });
    if (r.diagnostics.some((d) => d.severity === 'error')) out.push(...r.diagnostics.filter((d) => d.severity === 'error'));
  }
  return out;
}

/** The exit for configurations `reflex check` refuses: its messages, and a JUnit report that says why nothing ran. */
function refusal(diagnostics: Diagnostic[], junit: string | undefined): ExitError {
  if (junit) writeJunit(junit, { results: [], diagnostics, invalid: [] });
  return new ExitError(
    EXIT.CONFIG,
    `${sortDiagnostics(diagnostics).map(formatDiagnostic).join('\n')}\n${diagnostics.length} configuration error(s): no scenario was run; run \`reflex check\` after fixing them`,
  );
}

function writeJunit(file: string, report: Report): void {
  try {
    writeFileSync(file, junitReport(report, { locations: junitLocations }));
  } catch (err) {
    throw new UserError(`--junit: cannot write ${file}: ${(err as Error).message}`, EXIT.CONFIG);
  }
}
