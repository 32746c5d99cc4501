// After every run: record its metrics in the store, then write them to the textfile collector's file (atomically, by
// rename) and push them to the Pushgateway, as `metrics:` in reflex.yaml says. Metrics describe; they never decide: a
// failure here is a warning on stderr, and the run's result and exit code stay what they were.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { MetricsConfig } from '../config/schema.js';
import { redactUrl } from '../redact.js';
import type { MetricUpdate, Store } from '../store/types.js';
import { parseDuration } from '../util/duration.js';
import type { Logger } from '../util/log.js';
import { USER_AGENT } from '../util/version.js';
import { EXPOSITION_CONTENT_TYPE } from './exposition.js';
import { renderStoreMetrics } from './store.js';

/**
 * Replace `path` with `text` so that a reader (node_exporter) sees the old file or the new one, never half of one: write a
 * temporary file in the same folder (a name the collector ignores: it reads only *.prom), flush it, rename it over.
 */
export function writeTextfile(path: string, text: string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename itself survives a power cut only once the folder is flushed; not every file system allows it.
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    /* best effort */
  }
}

/** A grouping-key segment: values with a `/` (shard leases) or empty ones are sent base64url-encoded, as the Pushgateway allows. */
function segment(name: string, value: string): string {
  if (value !== '' && !/[/]/.test(value)) return `${name}/${encodeURIComponent(value)}`;
  return `${name}@base64/${Buffer.from(value).toString('base64url') || '='}`;
}

/** The Pushgateway URL of one runner's group: job, instance and (sharded layouts) shard. */
export function pushgatewayGroupUrl(base: string, key: { job: string; instance: string; shard?: string }): string {
  const root = base.replace(/\/+$/, '');
  const parts = [segment('job', key.job), segment('instance', key.instance)];
  if (key.shard) parts.push(segment('shard', key.shard));
  return `${root}/metrics/${parts.join('/')}`;
}

/**
 * Replace the runner's group on the Pushgateway (PUT: series the run no longer has go away with the old push).
 * Throws with the gateway's answer when it refuses.
 */
export async function pushMetrics(url: string, text: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': EXPOSITION_CONTENT_TYPE, 'user-agent': USER_AGENT },
    body: text,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`HTTP ${res.status}${body ? `: ${body.trim().slice(0, 300)}` : ''}`);
}

export interface PublishOptions {
  config: MetricsConfig;
  /** The folder of reflex.yaml: a relative textfile path is relative to it. */
  projectDir: string;
  store: Pick<Store, 'recordMetrics' | 'listMetrics' | 'getSwitch' | 'listDisables'>;
  update: MetricUpdate;
  /** The runner's scope ('' unsharded, its shard leases otherwise): its textfile and push hold its own last run. */
  scope: string;
  log: Logger;
  /** Redacts secrets from what is logged (a Pushgateway URL may carry credentials). */
  redact?: (s: string) => string;
}

/** Record one run's metrics and publish them. Never throws: every failure is a warning. */
export async function publishRunMetrics(o: PublishOptions): Promise<void> {
  const redact = o.redact ?? ((s: string) => s);
  try {
    await o.store.recordMetrics(o.update);
  } catch (err) {
    o.log.warn(`metrics: could not record this run's metrics in the store: ${redact((err as Error).message)}`);
  }
  const { textfile, pushgateway } = o.config;
  if (!textfile && !pushgateway) return;
  const now = o.update.at;
  if (textfile) {
    const path = isAbsolute(textfile) ? textfile : resolve(o.projectDir, textfile);
    try {
      writeTextfile(path, await renderStoreMetrics(o.store, { now, scopes: [o.scope] }));
      o.log.debug(`metrics: wrote ${path}`);
    } catch (err) {
      o.log.warn(`metrics: could not write the textfile ${path}: ${redact((err as Error).message)}`);
    }
  }
  if (pushgateway) {
    const url = pushgatewayGroupUrl(pushgateway, { job: o.config.job, instance: o.config.instance ?? hostname(), shard: o.scope || undefined });
    try {
      await pushMetrics(url, await renderStoreMetrics(o.store, { now, scopes: [o.scope], shardLabel: false }), parseDuration(o.config.timeout));
      o.log.debug(`metrics: pushed to ${redact(redactUrl(url))}`);
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${o.config.timeout}` : `${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`;
      o.log.warn(`metrics: could not push to the Pushgateway at ${redact(redactUrl(url))}: ${redact(why)}`);
    }
  }
}
