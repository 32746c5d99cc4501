// Small fakes for source tests, in one place: an in-memory source cache and hand-made sources.
import type { SourceCache } from '../../src/sources/collect.js';
import type { Source, SourceContext, SourceOutput } from '../../src/sources/types.js';

/** An in-memory implementation of the two store methods source cooldowns use (for tests that do not need a real store). */
export class MemoryCache implements SourceCache {
  readonly entries = new Map<string, { at: number; payload: Uint8Array }>();
  async getSourceCache(name: string) {
    return this.entries.get(name) ?? null;
  }
  async setSourceCache(name: string, at: number, payload: Uint8Array) {
    this.entries.set(name, { at, payload });
  }
}

/** A source whose collect is the given function. */
export function fakeSource(name: string, collect: (ctx: SourceContext) => Promise<SourceOutput>, declared: string[] | null = null): Source {
  return { name, kind: 'fake', declaredFacts: () => declared, collect };
}

export const baseOpts = { now: Date.parse('2025-01-01T00:00:00Z'), projectDir: '/', env: {}, concurrency: 4, defaultTimeoutMs: 2_000 };

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 (port chosen by the system) answering with `handler`; records every request. */
export async function startServer(handler: (req: SeenRequest, res: ServerResponse) => void | Promise<void>): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://x'),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      Promise.resolve(handler(seen, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A SourceContext with a fresh signal. */
export function context(now: number, signal: AbortSignal = new AbortController().signal): SourceContext {
  return { signal, now, projectDir: '/', env: {} };
}
