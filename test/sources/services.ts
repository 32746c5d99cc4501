// Real Prometheus and Alertmanager for integration tests: free loopback ports, temporary data dirs, bounded waits, process-group stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/**
 * Whether a service binary is here. Missing: tests skip with the reason, unless REFLEX_REQUIRE_SERVICES
 * is set (CI), where a missing binary is a failure.
 */
export function serviceAvailability(bin: string): { available: boolean; reason: string; mustFail: boolean } {
  const available = existsSync(bin);
  const reason = `${bin} is not installed (apt-get install ${bin.endsWith('alertmanager') ? 'prometheus-alertmanager' : 'prometheus'}; .ci/run does it)`;
  if (!available && !process.env.REFLEX_REQUIRE_SERVICES) console.warn(`skipping: ${reason}`);
  return { available, reason, mustFail: !available && !!process.env.REFLEX_REQUIRE_SERVICES };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Service {
  url: string;
  dir: string;
  /** The last output of the process, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Start a server binary in its own process group with a temp dir, and wait (bounded) until `readyPath` answers 200. */
export async function startService(opts: {
  bin: string;
  args: (ctx: { port: number; dir: string }) => string[];
  files?: (ctx: { port: number; dir: string }) => Record<string, string>;
  readyPath: string;
  readyTimeoutMs?: number;
}): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-svc-'));
  const port = await freePort();
  for (const [name, text] of Object.entries(opts.files?.({ port, dir }) ?? {})) writeFileSync(join(dir, name), text);
  let output = '';
  const child: ChildProcess = spawn(opts.bin, opts.args({ port, dir }), { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitedP = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const killed = await Promise.race([exitedP.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
      if (!killed) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await Promise.race([exitedP, new Promise((r) => setTimeout(r, 2_000))]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${opts.bin} exited before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(url + opts.readyPath, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.bin} was not ready within ${opts.readyTimeoutMs ?? 30_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dir, log: () => output, stop };
}

/** Poll `check` until it returns a value (not undefined), within `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
