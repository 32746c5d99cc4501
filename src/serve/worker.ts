// The console's worker thread: a run's decision listing (the stored decisions and those recomputed from its snapshot,
// about a second of evaluation at 100,000 targets) is computed and kept here, off the thread that answers requests.
// The main thread asks for one filtered page at a time, so only a page (PAGE_SIZE decisions) and a count cross the
// thread boundary. The worker opens its own store connection (reads only: SQLite WAL readers, a PostgreSQL pool).
//
// The worker starts from the CLI's own entry module (dist/cli/main.js, or the bundle's dist/bin/cli.cjs), which
// hands over to runWorker when it finds WORKER_KEY in its workerData: nothing else needs to exist in the package.
import { Worker } from 'node:worker_threads';
import { loadProject } from '../config/load.js';
import { readSnapshot, recordedDecisions } from '../explain/recorded.js';
import { UserError } from '../errors.js';
import type { DecisionOutcome } from '../model.js';
import { buildRuleSet } from '../rules/ruleset.js';
import { openStore } from '../store/index.js';
import type { DecisionRecord, RunRecord, Store } from '../store/types.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import { explainTarget, type WhyDoc } from './why.js';

export const WORKER_KEY = 'reflexServeWorker';

/** One query of the listing: the filters within one run, and the page. */
export interface ListQuery {
  rule?: string;
  outcome?: DecisionOutcome;
  target?: string;
  /** key and value, already split and checked on the main thread. */
  label?: [string, string];
  page: number;
  size: number;
}

export interface ListPage {
  decisions: DecisionRecord[];
  total: number;
}

/** The filters of a run's listing, on both threads alike. `labelled`: the ids of the run's targets with the label. */
export function filterDecisions(list: DecisionRecord[], q: Omit<ListQuery, 'label' | 'page' | 'size'>, labelled?: Set<string>): DecisionRecord[] {
  let out = list;
  if (q.rule) out = out.filter((d) => d.rule === q.rule);
  if (q.outcome) out = out.filter((d) => d.outcome === q.outcome);
  if (q.target) out = out.filter((d) => d.target === q.target);
  if (labelled) out = out.filter((d) => labelled.has(d.target));
  return out;
}

type Ask =
  | { op: 'prepare'; run: RunRecord }
  | { op: 'page'; run: RunRecord; query: ListQuery }
  | { op: 'why'; run: RunRecord; target: string; rule?: string }
  | { op: 'seen'; run: RunRecord; target: string }
  | { op: 'open' };

/** What the target page shows of a target as the run saw it. */
export type Seen = { kind: string; labels: Record<string, string>; depends_on: string[] } | null;
type Request = Ask & { id: number };
type Reply = { id: number; value?: unknown; error?: { message: string; name: string } };

/**
 * The main thread's side: starts the worker, sends requests and matches replies. A worker that fails to start or
 * dies rejects what it was asked and `dead` says why; the read model then computes on its own thread.
 */
export class DecisionWorker {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  dead: Error | null = null;
  private readonly onDead: (err: Error) => void;

  /** `gated` (tests): the worker computes nothing until open() is called, so a test sees requests answered meanwhile. */
  /** `onDead`: called once if the worker fails (not when closed). */
  constructor(entry: string | URL, configPath: string, opts: { gated?: boolean; onDead?: (err: Error) => void } = {}) {
    this.onDead = opts.onDead ?? (() => {});
    const from = typeof entry === 'string' && entry.startsWith('file:') ? new URL(entry) : entry;
    this.worker = new Worker(from, { workerData: { [WORKER_KEY]: { configPath, gated: !!opts.gated } }, stdout: false, stderr: false });
    this.worker.unref(); // never keeps the process alive
    this.worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
      else p.resolve(m.value);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the console's worker thread exited (code ${code})`)));
  }

  private fail(err: Error): void {
    if (!this.dead) {
      this.dead = err;
      this.onDead(err);
    }
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private ask<T>(req: Ask): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  prepare(run: RunRecord): Promise<void> {
    return this.ask({ op: 'prepare', run });
  }

  page(run: RunRecord, query: ListQuery): Promise<ListPage> {
    return this.ask({ op: 'page', run, query });
  }

  /** The decision detail (serve/why.ts), explained over the worker's copy of the run's snapshot. */
  why(run: RunRecord, target: string, rule?: string): Promise<{ doc: WhyDoc; text: string }> {
    return this.ask({ op: 'why', run, target, rule });
  }

  /** A target as the run's snapshot has it, or null; rejects (UserError) when the run has no snapshot. */
  seen(run: RunRecord, target: string): Promise<Seen> {
    return this.ask({ op: 'seen', run, target });
  }

  open(): Promise<void> {
    return this.ask({ op: 'open' });
  }

  async close(): Promise<void> {
    this.dead ??= new Error("the console's worker thread was stopped");
    await this.worker.terminate();
  }
}

/** The worker's side: its own project, store and caches; answers requests one message at a time. */
export async function runWorker(data: { configPath: string; gated?: boolean }, port: import('node:worker_threads').MessagePort): Promise<void> {
  let openGate = () => {};
  const gate = data.gated ? new Promise<void>((r) => (openGate = r)) : Promise.resolve();
  const { project } = loadProject(data.configPath);
  if (!project) throw new Error(`the console's worker cannot load ${data.configPath}`);
  const built = buildRuleSet(project);
  if (!built.ruleSet) throw new Error(`the console's worker cannot build the rules of ${data.configPath}`);
  const loaded = { project, ruleSet: built.ruleSet };
  const store: Store = await openStore(project.config.store, project.dir);
  // Kept as the main thread would keep them: the snapshots of the last 3 runs asked about, the listings of the
  // last 6 with their label sets. A promise per run: requests that arrive together share one read.
  const keep = <V>(map: Map<number, Promise<V>>, max: number, id: number, load: () => Promise<V>): Promise<V> => {
    let p = map.get(id);
    if (!p) {
      p = load();
      map.set(id, p);
      p.catch(() => map.delete(id));
      while (map.size > max) map.delete(map.keys().next().value as number);
    }
    return p;
  };
  const snaps = new Map<number, Promise<Snapshot>>();
  const snapOf = (run: RunRecord) =>
    keep(snaps, 3, run.id, async () => {
      await gate;
      return readSnapshot(store, run);
    });
  const lists = new Map<number, Promise<{ decisions: DecisionRecord[]; labels: (k: string, v: string) => Set<string> }>>();
  const listOf = (run: RunRecord) =>
    keep(lists, 6, run.id, async () => {
      await gate;
      let missing = '';
      const snap = await snapOf(run).catch((err) => {
        if (!(err instanceof UserError)) throw err;
        missing = err.message; // no snapshot: only what it stored, and no label filter
        return undefined;
      });
      const decisions = snap ? await recordedDecisions(store, run, loaded, {}, snap) : await store.getDecisions(run.id);
      const byLabel = new Map<string, Set<string>>();
      const labels = (k: string, v: string) => {
        const key = `${k}\u0000${v}`;
        let s = byLabel.get(key);
        if (!snap) throw Object.assign(new Error(missing), { name: 'NotFound' });
        if (!s) byLabel.set(key, (s = new Set(snap.targets.filter((t) => t.labels[k] === v).map((t) => t.id))));
        return s;
      };
      return { decisions, labels };
    });
  port.on('message', async (m: Request) => {
    try {
      if (m.op === 'open') {
        openGate();
        return port.postMessage({ id: m.id } satisfies Reply);
      }
      let value: unknown;
      if (m.op === 'why') {
        value = await explainTarget(store, loaded, m.run, await snapOf(m.run), m.target, m.rule);
        return port.postMessage({ id: m.id, value } satisfies Reply);
      }
      if (m.op === 'seen') {
        const t = (await snapOf(m.run)).targets.find((x) => x.id === m.target);
        value = t ? ({ kind: t.kind, labels: t.labels, depends_on: t.depends_on } satisfies Seen) : null;
        return port.postMessage({ id: m.id, value } satisfies Reply);
      }
      const got = await listOf(m.run);
      if (m.op === 'page') {
        const q = m.query;
        const list = filterDecisions(got.decisions, q, q.label ? got.labels(q.label[0], q.label[1]) : undefined);
        value = { decisions: list.slice(q.page * q.size, (q.page + 1) * q.size), total: list.length } satisfies ListPage;
      }
      port.postMessage({ id: m.id, value } satisfies Reply);
    } catch (err) {
      const e = err as Error;
      port.postMessage({
        id: m.id,
        error: { message: e?.message ?? String(err), name: err instanceof UserError ? 'UserError' : (e?.name ?? 'Error') },
      } satisfies Reply);
    }
  });
}
