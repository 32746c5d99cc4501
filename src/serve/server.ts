// Runs the console's app on a real socket (@hono/node-server): the peer address for the audit log, a clean stop.
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createApp, type AppOptions } from './app.js';
import type { ServeDeps } from './data.js';

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The client's address as the socket sees it (a proxy in front shows as the proxy). */
function peer(c: Context): string {
  try {
    const a = getConnInfo(c).remote;
    return a.address ? (a.addressType === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** How often `reflex serve` looks for a new finished run to read ahead (one `listRuns` of one row). */
export const WATCH_MS = 5000;

export function startServer(deps: ServeDeps, opts: Omit<AppOptions, 'clientOf' | 'signal'> & { host: string; port: number }): Promise<Running> {
  const stop = new AbortController();
  const app = createApp(deps, { warm: true, watchMs: WATCH_MS, ...opts, clientOf: peer, signal: stop.signal });
  return new Promise((resolve, reject) => {
    let server: ServerType;
    const onError = (err: NodeJS.ErrnoException) => {
      stop.abort();
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `${opts.host}:${opts.port} is in use by another program`
            : err.code === 'EACCES'
              ? `not allowed to listen on ${opts.host}:${opts.port} (ports below 1024 need privileges)`
              : err.code === 'EADDRNOTAVAIL'
                ? `${opts.host} is not an address of this machine`
                : `cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, (info) => {
      server.off('error', onError);
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            stop.abort();
            server.close(() => done());
            // Keep-alive connections would hold the close open: end them.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', onError);
  });
}
