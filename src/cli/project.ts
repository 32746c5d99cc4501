// What most commands do first: load and check the project, open its store. Errors become clear messages.
import { userInfo } from 'node:os';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostics.js';
import { resolveConfigPath, type Project } from '../config/load.js';
import { EXIT, ExitError, UserError } from '../errors.js';
import { checkConfigFile } from '../check/index.js';
import type { RuleSet } from '../rules/ruleset.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { StoreError } from '../store/types.js';

export interface Loaded {
  project: Project;
  ruleSet: RuleSet;
  warnings: Diagnostic[];
}

/**
 * Load everything and apply the whole of `reflex check` (src/check/index.ts): a project `reflex check` refuses is
 * refused here too, with the same file:line:col messages and exit code 2, before anything starts. The rules
 * returned are the ones the check compiled.
 */
export async function loadOrExit(opts: { config?: string }): Promise<Loaded> {
  const { project, result, diagnostics, errors } = await checkConfigFile(resolveConfigPath(opts.config));
  if (!project || !result?.ruleSet || errors)
    throw new ExitError(
      EXIT.CONFIG,
      `${diagnosticsText(diagnostics)}\n${Math.max(errors, 1)} configuration error(s): nothing was started; run \`reflex check\` after fixing them`,
    );
  return { project, ruleSet: result.ruleSet, warnings: diagnostics.filter((d) => d.severity === 'warning') };
}

export function diagnosticsText(diags: Diagnostic[]): string {
  return diags.map(formatDiagnostic).join('\n');
}

/** Open (and migrate) the store a project names; `reflex disable --all` passes only where it is (cli/switch-store.ts). */
export async function openStoreOrExit(project: { config: { store: string }; dir: string }, opts: { initialize?: boolean } = {}): Promise<Store> {
  try {
    const store = await openStore(project.config.store, project.dir, opts);
    await store.migrate();
    return store;
  } catch (err) {
    if (err instanceof StoreError) throw new UserError(err.message, EXIT.STORE, { cause: err });
    throw new UserError(`cannot open the state store "${redactUrl(project.config.store)}": ${(err as Error).message}`, EXIT.STORE, { cause: err });
  }
}

/** Hide a password in a connection URL. */
export function redactUrl(spec: string): string {
  return spec.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** How long a run may go on past its deadline (stopping actions, recording, telling people) before the process ends. */
export const DEADLINE_GRACE_MS = 30_000;

/**
 * The run passed its deadline and was told to stop: if it is still at work DEADLINE_GRACE_MS later (a store or a
 * channel that does not answer), end the process with exit 1. The next run marks what was in flight as interrupted.
 */
export function exitIfStillBusy(deadlineMs: number): void {
  setTimeout(() => {
    process.stderr.write(
      `reflex: the run is still busy ${DEADLINE_GRACE_MS / 1000} s past its deadline of ${Math.round(deadlineMs / 1000)} s: exiting; the next run marks what was in flight as interrupted\n`,
    );
    process.exit(EXIT.PROBLEMS);
  }, DEADLINE_GRACE_MS).unref();
}

/** The signal main.ts aborts on SIGINT/SIGTERM. */
export function processSignal(): AbortSignal | undefined {
  return (globalThis as { reflexSignal?: AbortSignal }).reflexSignal;
}

/**
 * Who is making a change, for the audit log: --by, then REFLEX_USER, then the person behind sudo, then the
 * operating-system user (os.userInfo(), which needs no environment: cron and systemd set none), then $USER.
 */
export function who(by?: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = by?.trim() || env.REFLEX_USER || env.SUDO_USER;
  if (given) return given;
  try {
    const u = userInfo().username;
    if (u) return u;
  } catch {
    // no passwd entry for this uid (a container's random uid): fall back to the environment
  }
  return env.USER || env.USERNAME || env.LOGNAME || `uid ${process.getuid?.() ?? '?'}`;
}
