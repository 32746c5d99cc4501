// The command source: run an argv (no shell) that prints targets as JSON; bounded output, allow-listed environment, killed as a group on timeout.
import { spawn } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import type { SourceConfig } from '../../config/schema.js';
import { DEFAULT_COMMAND_MAX_BYTES, maxBytesOf } from '../limits.js';
import { pathText, readTargetsDocument, ShapeError } from '../shape.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';

type Config = Extract<SourceConfig, { kind: 'command' }>;

/** Standard output larger than this fails the source (and the command is stopped), unless the source sets max_bytes. */
export const MAX_STDOUT = DEFAULT_COMMAND_MAX_BYTES;
/** How much of standard error is kept for the failure message (its end: where the error usually is). */
export const STDERR_TAIL = 4 * 1024;
/** After SIGTERM on timeout, the group gets this long before SIGKILL. */
const KILL_GRACE_MS = 2_000;
/** Always passed through: a command needs to find programs and a home. */
const BASE_ENV = ['PATH', 'HOME'];

/** The fact names of `facts:` (a list of names, or a map of name: type). */
export function commandFactNames(config: Config): string[] | null {
  if (!config.facts) return null;
  return Array.isArray(config.facts) ? config.facts : Object.keys(config.facts);
}

export function createCommandSource(config: Config): Source {
  const types = config.facts && !Array.isArray(config.facts) ? config.facts : {};
  return {
    name: config.name,
    kind: 'command',
    declaredFacts: () => commandFactNames(config),
    declaredTypes: () => types,
    collect: (ctx) => collectCommand(config, ctx),
  };
}

/** Only PATH, HOME and the listed names reach the command (secrets of the runner stay out). */
export function commandEnv(env: NodeJS.ProcessEnv, allow: readonly string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of [...BASE_ENV, ...allow]) if (env[k] !== undefined) out[k] = env[k];
  return out;
}

export interface CommandResult {
  stdout: string;
  stderrTail: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run argv in its own process group; rejects with a SourceError for a spawn failure or oversized output; rethrows an abort. */
export function runCommand(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; signal: AbortSignal; maxStdout?: number }): Promise<CommandResult> {
  const maxStdout = opts.maxStdout ?? MAX_STDOUT;
  return new Promise((resolvePromise, reject) => {
    if (opts.signal.aborted) return reject(opts.signal.reason);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    const out: Buffer[] = [];
    let outSize = 0;
    let errTail = Buffer.alloc(0);
    let failure: unknown;
    let settled = false;

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* the group is gone already */
      }
    };
    const stop = (why: unknown) => {
      if (failure !== undefined) return;
      failure = why;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const onAbort = () => stop(opts.signal.reason);
    opts.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (b: Buffer) => {
      outSize += b.length;
      if (outSize > maxStdout) stop(new SourceError(`the output is larger than the limit of ${maxStdout} bytes; the command was stopped`));
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      errTail = Buffer.concat([errTail, b]);
      if (errTail.length > STDERR_TAIL) errTail = errTail.subarray(errTail.length - STDERR_TAIL);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      const what = err.code === 'ENOENT' ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new SourceError(`${argv[0]}: ${what}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (failure !== undefined) return reject(failure);
      resolvePromise({ stdout: Buffer.concat(out).toString('utf8'), stderrTail: errTail.toString('utf8'), code, signal });
    });
  });
}

async function collectCommand(config: Config, ctx: SourceContext): Promise<SourceOutput> {
  const cwd = config.cwd ? (isAbsolute(config.cwd) ? config.cwd : resolve(ctx.projectDir, config.cwd)) : ctx.projectDir;
  const r = await runCommand(config.argv, { cwd, env: commandEnv(ctx.env, config.env), signal: ctx.signal, maxStdout: maxBytesOf(config) });
  const cmd = config.argv[0]!;
  const tail = r.stderrTail.trim() ? `; stderr: ${r.stderrTail.trim()}` : '';
  if (r.code !== 0) {
    throw new SourceError(r.signal ? `${cmd} was killed by ${r.signal}${tail}` : `${cmd} exited with code ${r.code}${tail}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(r.stdout);
  } catch (err) {
    const shown = r.stdout.trim().slice(0, 120).replace(/\s+/g, ' ');
    throw new SourceError(`${cmd} printed no JSON (${(err as Error).message.replace(/\s+/g, ' ')}): ${shown || '(nothing)'}${tail}`, { cause: err });
  }
  let doc: ReturnType<typeof readTargetsDocument>;
  try {
    // A malformed record costs its own facts (unknown, with the reason), never the others'.
    doc = readTargetsDocument(data, { maxDepth: config.max_depth, where: (p) => `${cmd} output ${pathText(p)}` });
  } catch (err) {
    if (err instanceof ShapeError) throw new SourceError(`${cmd} printed JSON of the wrong shape: ${pathText(err.path)}: ${err.message}`, { cause: err });
    throw err;
  }
  const declared = commandFactNames(config) ?? [];
  const undeclared = config.facts ? doc.facts.filter((f) => !declared.includes(f)) : [];
  const warnings = [...doc.warnings];
  if (undeclared.length > 0) warnings.push(`the command printed facts not listed in \`facts\`: ${undeclared.join(', ')}`);
  const problems = doc.problems.map((p) => `${cmd} output ${pathText(p.path)}: ${p.message}`);
  return {
    targets: doc.targets,
    facts: [...new Set([...declared, ...doc.facts])],
    warnings,
    ...(problems.length ? { problems } : {}),
    ...(doc.malformed ? { malformed: doc.malformed } : {}),
  };
}
