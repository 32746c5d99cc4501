// The compiled CLI as a process the test can wait on, signal and kill, and the processes it leaves behind (Linux /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../helpers.js';

export { sleep };

export interface Exit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout then stderr: for assertion messages. */
  out: string;
}

export interface Running {
  child: ChildProcess;
  pid: number;
  /** Send a signal (default SIGKILL: a runner that dies without a word). */
  kill(sig?: NodeJS.Signals): void;
  /** What it wrote so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

/**
 * Start `reflex -c DIR/CONFIG ARGS` in `dir`, as a scheduler would: the project's path is in its command line (so
 * `processesOf(dir)` finds it), colours are off and no failpoint is inherited from the test's environment.
 */
export function start(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, config = 'reflex.yaml'): Running {
  const child = spawn(process.execPath, [CLI, '-c', join(dir, config), ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', REFLEX_FAILPOINT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const pid = child.pid!;
  const exited = new Promise<Exit>((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => ok({ pid, code, signal, stdout, stderr, out: stdout + stderr }));
  });
  return { child, pid, kill: (sig = 'SIGKILL') => void child.kill(sig), stdout: () => stdout, stderr: () => stderr, exited };
}

/** Run `reflex ARGS` in the project to its end. */
export function reflexAsync(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, config = 'reflex.yaml'): Promise<Exit> {
  return start(dir, args, env, config).exited;
}

/** Poll `cond` every 5 ms until it gives a value; fail after `limitMs` (a bound against hanging, not a timing assertion). */
export async function until<T>(cond: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, limitMs = 30_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
}

// ---------------------------------------------------------------- processes left behind

export const HAS_PROC = existsSync('/proc/self/cmdline');

/** The live pids other than this test's, each with what `read` gives of its /proc folder (skipped when it throws: gone meanwhile). */
function eachProcess(read: (pid: number) => boolean): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (read(Number(p))) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The fields of /proc/PID/stat after the command name: state, parent pid, ... */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Pids of live processes whose command line mentions `dir`: a reflex run of this project, or an
 * action it started (a SIGKILLed runner's action is orphaned and goes on running).
 */
export function processesOf(dir: string): number[] {
  return eachProcess((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir));
}

/** Whether `pid` has a child process (a source command or an action it started). */
export function hasChild(pid: number): boolean {
  return eachProcess((p) => Number(statFields(p)[1]) === pid).length > 0;
}

/** Wait until nothing of this project runs any more (so every line an orphaned action will write is written). */
export async function waitQuiet(dir: string): Promise<void> {
  await until(() => processesOf(dir).length === 0, `the processes of ${dir} to exit`);
}

/** The state letter of a process (R, S, T for stopped, Z...), or null when it is gone. */
export function processState(pid: number): string | null {
  try {
    return statFields(pid)[0] ?? null;
  } catch {
    return null;
  }
}
