// Shared fakes for action tests: a scope, an execute context, a local HTTP server that records raw requests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ExecAction, HttpAction } from '../../src/config/schema.js';
import type { ExecuteContext, PlanContext, TemplateScope } from '../../src/actions/types.js';
import type { FactValue } from '../../src/model.js';

export const RECORD_ARGV = join(import.meta.dirname, 'fixtures/record-argv.mjs');

export function scope(
  over: { labels?: Record<string, string>; facts?: Record<string, FactValue>; params?: Record<string, string>; id?: string } = {},
): TemplateScope {
  return {
    target: { id: over.id ?? 'web-1', kind: 'instance' },
    labels: over.labels ?? { service: 'web', unit: 'web-1.service' },
    facts: over.facts ?? { restarts: 2, healthy: false },
    params: over.params ?? {},
    rule: { name: 'restart-unhealthy', severity: 'warning' },
  };
}

export function planCtx(s: TemplateScope = scope(), over: Partial<PlanContext> = {}): PlanContext {
  return { name: 'a', scope: s, defaultTimeoutMs: 10_000, secrets: [], ...over };
}

export function execCtx(over: Partial<ExecuteContext> = {}): ExecuteContext {
  return { signal: new AbortController().signal, env: process.env, projectDir: process.cwd(), secrets: [], ...over };
}

export const exec = (c: Record<string, unknown>) => ExecAction.parse({ kind: 'exec', ...c });
export const http = (c: Record<string, unknown>) => HttpAction.parse({ kind: 'http', ...c });

export interface Recorded {
  method: string;
  /** The request target exactly as it came on the request line. */
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

export interface Receiver {
  base: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** A local HTTP server that records every request; `respond` decides the answer (default 200 "ok"). */
export async function receiver(respond?: (req: Recorded, res: ServerResponse) => void): Promise<Receiver> {
  const requests: Recorded[] = [];
  const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      if (respond) respond(rec, res);
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** True while a process exists and is not a zombie (a zombie is dead, just not yet reaped by its new parent). */
export async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
