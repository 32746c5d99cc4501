// The exec action: an argv array without a shell, one argument per templated value, a timeout that kills the whole process group.
import { spawn } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import type { ExecAction } from '../config/schema.js';
import type { ExecutionOutcome } from '../model.js';
import { makeRedactor } from '../redact.js';
import { DEFAULT_MAX_OUTPUT, displayJson, OutputCollector, quote } from './output.js';
import { patternedParams } from './params.js';
import { hasPlaceholder, parseTemplate, resolveRef } from './template.js';
import { PlanError, type ActionPlan, type ExecuteContext, type TemplateScope } from './types.js';

export type ExecActionConfig = z.output<typeof ExecAction>;

/** After SIGTERM, how long a process group has to exit before SIGKILL. */
export const KILL_GRACE_MS = 2000;

/** Used when the environment has no PATH at all. */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Render every argument. argv[0] must be written literally: a placeholder may
 * never choose the program. Each placeholder's value lands inside its one
 * argument (there is no shell to split it). A value at the very start of an
 * argument may not begin with "-", because the program would read it as an
 * option (`--exec=...`); a param with a declared pattern is exempt, since its
 * pattern says what is acceptable.
 */
export function renderArgv(name: string, config: ExecActionConfig, scope: TemplateScope): string[] {
  const program = config.argv[0]!;
  if (hasPlaceholder(program)) {
    throw new PlanError(`action ${name}: the program (argv[0] = ${quote(program)}) must be written literally, without placeholders`);
  }
  const checked = patternedParams(config);
  const argv = [program];
  config.argv.slice(1).forEach((template, i) => {
    let arg = '';
    parseTemplate(template).forEach((part, j) => {
      if ('text' in part) {
        arg += part.text;
        return;
      }
      const value = resolveRef(part.ref, scope, part.source);
      const param = part.ref.startsWith('params.') ? part.ref.slice('params.'.length) : undefined;
      if (j === 0 && value.startsWith('-') && !(param && checked.has(param))) {
        throw new PlanError(
          `action ${name}, argument ${i + 1}: ${part.source} = ${quote(value)} begins with "-" and would be read as an option; ` +
            `pass it through a param with a pattern that allows it, or put a literal prefix before the placeholder`,
        );
      }
      arg += value;
    });
    argv.push(arg);
  });
  argv.forEach((arg, i) => {
    if (arg.includes('\0')) throw new PlanError(`action ${name}, argument ${i}: contains a NUL byte`);
  });
  return argv;
}

/** Only PATH and the allow-listed names reach the command. */
export function allowedEnv(names: readonly string[] | undefined, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { PATH: env.PATH || FALLBACK_PATH };
  for (const n of names ?? []) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutput: number;
  killGraceMs?: number;
}

/**
 * Run a process in its own process group and wait for it and its output to
 * finish. stdout and stderr are captured together, interleaved in the order
 * the chunks arrived, up to maxOutput bytes. On timeout or cancellation the
 * whole group gets SIGTERM and, after a grace period, SIGKILL, so children the
 * command started (a `sleep` in a script) do not outlive it.
 */
export function runProcess(spec: ProcessSpec, signal: AbortSignal | undefined, secrets: readonly string[]): Promise<ExecutionOutcome> {
  const redact = makeRedactor(secrets);
  const started = performance.now();
  const output = new OutputCollector(spec.maxOutput, secrets);
  const grace = spec.killGraceMs ?? KILL_GRACE_MS;
  return new Promise<ExecutionOutcome>((resolveOutcome) => {
    let finished = false;
    let timedOut = false;
    let cancelled = false;
    let spawnError: Error | undefined;
    const timers: NodeJS.Timeout[] = [];

    const child = (() => {
      try {
        return spawn(spec.argv[0]!, spec.argv.slice(1), {
          cwd: spec.cwd,
          env: spec.env,
          detached: true, // its own process group, so the group can be killed as one
          shell: false,
          stdio: ['ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch (err) {
        spawnError = err as Error;
        return undefined;
      }
    })();

    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      for (const t of timers.splice(0)) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      child?.stdout?.destroy();
      child?.stderr?.destroy();
      const durationMs = Math.round(performance.now() - started);
      const out = output.text(redact);
      let outcome: ExecutionOutcome;
      if (spawnError) {
        const e = spawnError as NodeJS.ErrnoException;
        outcome = { status: 'failed', durationMs, output: out, error: redact(`cannot start ${quote(spec.argv[0]!)}: ${e.code ?? e.message}`) };
      } else if (timedOut) {
        outcome = { status: 'timed_out', durationMs, output: out, error: `timed out after ${spec.timeoutMs} ms; process group killed` };
      } else if (cancelled) {
        outcome = { status: 'failed', durationMs, output: out, error: 'cancelled; process group killed' };
      } else if (code === 0) {
        outcome = { status: 'succeeded', exitCode: 0, durationMs, output: out };
      } else if (code !== null) {
        outcome = { status: 'failed', exitCode: code, durationMs, output: out, error: `exited with code ${code}` };
      } else {
        outcome = { status: 'failed', durationMs, output: out, error: `killed by ${sig ?? 'a signal'}` };
      }
      if (code !== null && outcome.exitCode === undefined) outcome.exitCode = code;
      resolveOutcome(outcome);
    };

    const killGroup = (sig: NodeJS.Signals) => {
      if (!child?.pid) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* the group is already gone */
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      // The SIGKILL is sent even if the leader is gone: other members may ignore SIGTERM.
      const kill = setTimeout(() => {
        killGroup('SIGKILL');
        // Something outside the group (a setsid'd grandchild) may still hold our pipes: stop waiting for them.
        const give = setTimeout(() => finish(null, 'SIGKILL'), 1000);
        give.unref();
      }, grace);
      kill.unref();
    };
    const onAbort = () => {
      if (finished) return;
      cancelled = true;
      stop();
    };

    if (!child || spawnError) return finish(null, null);
    child.stdout!.on('data', (c: Buffer) => output.push(c));
    child.stderr!.on('data', (c: Buffer) => output.push(c));
    child.on('error', (err) => {
      spawnError = err;
      finish(null, null);
    });
    // 'close' waits for the output pipes too: the action is over when its output is.
    child.on('close', (code, sig) => finish(code, sig));
    timers.push(
      setTimeout(() => {
        timedOut = true;
        stop();
      }, spec.timeoutMs),
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Plan an exec action: render and check the argv now; run it later. */
export function planExec(name: string, config: ExecActionConfig, scope: TemplateScope, timeoutMs: number, secrets: readonly string[]): ActionPlan {
  const argv = renderArgv(name, config, scope);
  const redact = makeRedactor(secrets);
  const shown = argv.map(redact);
  const maxOutput = config.max_output ?? DEFAULT_MAX_OUTPUT;
  const plan: ActionPlan = {
    kind: 'exec',
    describe: `exec ${displayJson(shown)}`,
    detail: { argv: shown, cwd: config.cwd ?? '.', env: ['PATH', ...(config.env ?? [])], timeoutMs, maxOutput },
    timeoutMs,
    run(ctx: ExecuteContext) {
      const projectDir = ctx.projectDir;
      const program = argv[0]!.includes('/') && !isAbsolute(argv[0]!) ? resolve(projectDir, argv[0]!) : argv[0]!;
      return runProcess(
        {
          argv: [program, ...argv.slice(1)],
          cwd: resolve(projectDir, config.cwd ?? '.'),
          env: allowedEnv(config.env, ctx.env),
          // Read at run time: the engine may set a step's own timeout on the plan.
          timeoutMs: plan.timeoutMs,
          maxOutput,
        },
        ctx.signal,
        [...secrets, ...ctx.secrets],
      );
    },
  };
  return plan;
}

/** The exec kind's own checks for `reflex check` (no target needed): the program is written literally. */
export function checkExec(name: string, config: ExecActionConfig): string[] {
  return hasPlaceholder(config.argv[0]!) ? [`action ${name}, argv[0]: the program must be written literally, without placeholders`] : [];
}

/** Every template of an exec action, with where it is. */
export function execTemplates(config: ExecActionConfig): [string, string][] {
  return config.argv.map((a, i) => [`argv[${i}]`, a]);
}
