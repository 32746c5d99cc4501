// `reflex serve`: the web console and HTTP API. It reads the store and never acts; only the off switch and disables
// change, with the token, audited. Flags and start-up checks here; the application is src/serve/.
import { relative } from 'node:path';
import { EXIT, UserError } from '../../errors.js';
import { entryUrl } from '../entry.js';
import type { RuleTests } from '../../serve/data.js';
import { DEFAULT_LISTEN, isLoopback, parseListen, readToken } from '../../serve/listen.js';
import { startServer } from '../../serve/server.js';
import { coverageOf } from '../../testing/coverage.js';
import { loadTests, testFilesOf, type ProjectEntry } from '../../testing/load.js';
import { runAll } from '../../testing/runner.js';
import { loadOrExit, openStoreOrExit, processSignal, redactUrl, type Loaded } from '../project.js';

export default async function serveCommand(opts: { config?: string; listen?: string; tokenFile?: string }): Promise<number> {
  let host: string;
  let port: number;
  let token: string | null;
  let warnings: string[];
  try {
    ({ host, port } = parseListen(opts.listen ?? DEFAULT_LISTEN));
    ({ token, warnings } = readToken(opts.tokenFile, process.env));
  } catch (err) {
    throw new UserError((err as Error).message, EXIT.CONFIG);
  }
  // Without a token anyone who reaches the port reads the fleet; only this machine may, then.
  if (!token && !isLoopback(host))
    throw new UserError(
      `refusing to listen on ${host} without a token: anyone who can reach it would see the fleet; set REFLEX_SERVE_TOKEN or --token-file, or listen on 127.0.0.1`,
      EXIT.CONFIG,
    );
  for (const w of warnings) process.stderr.write(`reflex serve: warning: ${w}\n`);
  const loaded = await loadOrExit(opts);
  const store = await openStoreOrExit(loaded.project);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  try {
    const coverage = await scenarioCoverage(loaded, log);
    const workerEntry = entryUrl() ?? undefined;
    const running = await startServer({ store, loaded, coverage }, { token, host, port, log, workerEntry }).catch((err: Error) => {
      throw new UserError(`reflex serve: ${err.message}`, EXIT.CONFIG, { cause: err });
    });
    process.stderr.write(
      `reflex serve: listening on ${running.url} (store ${redactUrl(loaded.project.config.store)}; ${token ? 'changes need the token' : 'read-only: no token configured'})\n`,
    );
    await new Promise<void>((resolve) => {
      const signal = processSignal();
      if (!signal) return; // embedded without main.ts: runs until the process ends
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await running.close();
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

/**
 * Which rules the project's scenario files test, for the Rules page: the scenarios run once at start-up, in memory
 * and on a synthetic clock as `reflex test` runs them (never acting). Null when the project has none.
 */
async function scenarioCoverage(loaded: Loaded, log: (l: string) => void): Promise<Map<string, RuleTests> | null> {
  const { project, ruleSet } = loaded;
  const found = testFilesOf(project);
  if (found.files.length === 0) return null;
  try {
    const entry: ProjectEntry = { configPath: project.configPath, project, ruleSet, diagnostics: [] };
    const tests = loadTests(found.files, { projects: new Map([[project.configPath, entry]]), defaultConfig: project.configPath });
    const results = await runAll(tests.files);
    const cov = coverageOf(tests.files, results).find((c) => c.config === (relative(process.cwd(), project.configPath) || project.configPath));
    if (!cov) return null;
    return new Map(cov.rules.map((r) => [r.name, { tested: r.tested, passing: r.passing, fired: r.fired }]));
  } catch (err) {
    log(`reflex serve: the scenario tests could not be run for the Rules page: ${(err as Error).message}`);
    return null;
  }
}
