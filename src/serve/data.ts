// The console's read model: what each page and API call shows, read from the store in short queries (never a long
// transaction, so runs keep writing), with finished runs' snapshots and decisions cached (they no longer change).
import { relative } from 'node:path';
import type { Project } from '../config/load.js';
import { UserError } from '../errors.js';
import { readSnapshot, recordedDecisions } from '../explain/recorded.js';
import { describeDisable, describeSwitch, switchOff } from '../guards/switches.js';
import type { DecisionOutcome } from '../model.js';
import { OUTCOME_ORDER } from '../explain/text.js';
import { GUARDRAIL_REASONS, REASON } from '../pipeline/reasons.js';
import type { Snapshot } from '../pipeline/stages/collect.js';
import type { RuleSet } from '../rules/ruleset.js';
import type {
  ApprovalRecord,
  AuditRecord,
  DecisionRecord,
  DisableRecord,
  EscalationRecord,
  ExecutionRecord,
  RunRecord,
  Store,
  SwitchState,
  VerificationRecord,
} from '../store/types.js';
import { explainTarget, type WhyDoc } from './why.js';
import { type DecisionWorker, filterDecisions, type ListPage, type ListQuery } from './worker.js';

/** Which scenario tests name a rule, computed once when the console starts (`reflex test`'s coverage). */
export interface RuleTests {
  tested: boolean;
  passing: boolean;
  fired: boolean;
}

export interface ServeDeps {
  store: Store;
  loaded: { project: Project; ruleSet: RuleSet };
  /** Rule name -> its scenario coverage; null when the project has no scenario files. */
  coverage: Map<string, RuleTests> | null;
  clock?: () => number;
}

export const PAGE_SIZE = 50;

/** Outcomes in the order people read them: the same order as `reflex run` and `reflex why` (explain/text.ts). */
export const OUTCOMES: readonly DecisionOutcome[] = OUTCOME_ORDER;

export interface Stopped {
  reason: string;
  detail: string;
  count: number;
  examples: { rule: string; target: string }[];
}

export interface Overview {
  now: number;
  automation: 'on' | 'off';
  switch: SwitchState;
  switchText: string | null;
  lastRun: (RunRecord & { ageMs: number }) | null;
  escalations: EscalationRecord[];
  /** Breakers and limits that stopped decisions in the latest finished run. */
  breakers: { run: number | null; stopped: Stopped[] };
  interrupted: ExecutionRecord[];
  /** What rules in shadow (dry-run) mode would have done in the latest enforcing run. */
  shadow: { run: number | null; decisions: DecisionRecord[] };
  /** Recent runs, oldest first, with their outcome counts (the chart). */
  recent: { id: number; startedAt: number; status: string; mode: string; outcomes: Record<string, number> }[];
  activeDisables: number;
  /** Decisions waiting for a person (reflex approvals). */
  pendingApprovals: number;
  /** Actions that did not help and still stop their rule on their target (verify:). */
  ineffective: number;
}

export interface DecisionFilter {
  run?: number;
  rule?: string;
  outcome?: DecisionOutcome;
  target?: string;
  /** `key=value` (one label). */
  label?: string;
  page: number;
}

/** A small LRU of promises: one read per key even when requests arrive together. */
class Lru<K, V> {
  private readonly map = new Map<K, Promise<V>>();
  constructor(private readonly max: number) {}
  get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const p = load();
    this.map.set(key, p);
    p.catch(() => this.map.delete(key));
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
    return p;
  }
}

export class ReadModel {
  readonly store: Store;
  readonly loaded: ServeDeps['loaded'];
  readonly coverage: ServeDeps['coverage'];
  readonly clock: () => number;
  private readonly snapshots = new Lru<number, Snapshot>(3);
  private readonly decisions = new Lru<number, DecisionRecord[]>(6);
  private readonly stored = new Lru<number, DecisionRecord[]>(6);
  private readonly whys = new Lru<string, { doc: WhyDoc; text: string }>(200);
  /** Run and label -> the ids of the run's targets with it (a label filter would otherwise scan the fleet each time). */
  private readonly labelled = new Lru<string, Set<string>>(50);
  /** The ids of the runs prepared ahead (warm(), watch()), oldest first: what tests and the bench observe. */
  readonly prepared: number[] = [];
  /** How many times a run's decisions were recomputed from its snapshot (once per run while it stays cached). */
  recomputed = 0;

  /** Computes and keeps runs' listings off this thread (src/serve/worker.ts); null or dead: on this thread. */
  worker: DecisionWorker | null = null;

  constructor(deps: ServeDeps) {
    this.store = deps.store;
    this.loaded = deps.loaded;
    this.coverage = deps.coverage;
    this.clock = deps.clock ?? Date.now;
  }

  async run(id: number): Promise<RunRecord> {
    const r = Number.isSafeInteger(id) && id > 0 ? await this.store.getRun(id) : null;
    if (!r) throw new NotFound(`no run #${id} in the store`);
    return r;
  }

  /** A finished run's snapshot is read (and unzipped) once; an unfinished one has none yet. */
  async snapshot(run: RunRecord): Promise<Snapshot> {
    if (run.finishedAt === null) throw new NotFound(`run #${run.id} has not finished: it has no facts snapshot yet`);
    return this.snapshots.get(run.id, () => readSnapshot(this.store, run));
  }

  /**
   * Every decision of a finished run but the not-matched ones, as `reflex why`, replay and status see them: the stored
   * ones and those recomputed from the snapshot (derived, unknown: runs store by change, src/explain/recorded.ts).
   */
  async runDecisions(run: RunRecord): Promise<DecisionRecord[]> {
    if (run.finishedAt === null) return [];
    return this.decisions.get(run.id, async () => {
      const snap = await this.snapshot(run).catch((err) => {
        if (err instanceof NotFound || err instanceof UserError) return undefined; // no snapshot: only what it stored
        throw err;
      });
      if (!snap) return this.store.getDecisions(run.id);
      this.recomputed++;
      return recordedDecisions(this.store, run, this.loaded, {}, snap);
    });
  }

  /**
   * Only what the run stored: every decision a stage after evaluate spoke of (guardrails, dry-run, actions). What the
   * overview reads, without recomputing the rest.
   */
  async storedDecisions(run: RunRecord): Promise<DecisionRecord[]> {
    if (run.finishedAt === null) return [];
    return this.stored.get(run.id, () => this.store.getDecisions(run.id));
  }

  /** Load the latest finished run's snapshot and decisions into the caches. */
  async warm(): Promise<void> {
    const r = await this.latestFinished();
    if (r) await this.prepare(r);
  }

  /**
   * Read a finished run ahead: its snapshot, its stored decisions and the recomputed ones, into the caches. A request
   * about the run while this works waits for the same reads (the caches hold promises), nothing is computed twice.
   */
  async prepare(run: RunRecord): Promise<void> {
    // With the worker, this thread reads only what the overview needs; the worker reads the snapshot, recomputes
    // the listing and answers the pages, explanations and targets that need them.
    const here = async () => {
      await Promise.all([this.snapshot(run).catch(() => null), this.storedDecisions(run)]);
      await this.runDecisions(run);
    };
    await this.offThread<unknown>(async (w) => Promise.all([this.storedDecisions(run), w.prepare(run)]), here);
    if (!this.prepared.includes(run.id)) this.prepared.push(run.id); // warm() and the watch's first look meet here
    if (this.prepared.length > 100) this.prepared.shift();
  }

  /** Ask the worker; without one, or once it has died, compute here instead. */
  private async offThread<T>(there: (w: DecisionWorker) => Promise<T>, here: () => Promise<T>): Promise<T> {
    const w = this.worker;
    if (!w || w.dead) return here();
    try {
      return await there(w);
    } catch (err) {
      if (w.dead) return here();
      if ((err as Error).name === 'NotFound') throw new NotFound((err as Error).message);
      throw err;
    }
  }

  /** A page of one run's listing and how many match, from the worker or computed here. */
  private async listPage(run: RunRecord, q: ListQuery): Promise<ListPage> {
    if (run.finishedAt === null) return { decisions: [], total: 0 };
    return this.offThread(
      (w) => w.page(run, q),
      async () => {
        let labelled: Set<string> | undefined;
        if (q.label) {
          const [k, v] = q.label;
          labelled = await this.labelled.get(`${run.id}\u0000${k}\u0000${v}`, async () => {
            const snap = await this.snapshot(run);
            return new Set(snap.targets.filter((t) => t.labels[k] === v).map((t) => t.id));
          });
        }
        const list = filterDecisions(await this.runDecisions(run), q, labelled);
        return { decisions: list.slice(q.page * q.size, (q.page + 1) * q.size), total: list.length };
      },
    );
  }

  /**
   * Notice new finished runs by itself: every `periodMs`, one cheap query for the latest run; a new finished one is
   * prepared ahead (prepare()), so the first person to open its decisions does not wait for the recomputation. One
   * check at a time; a failure is logged once per run (or once per store error message) and never stops the watch.
   * Returns the function that stops it.
   */
  watch(periodMs: number, log: (line: string) => void): () => void {
    let seen = 0;
    let busy = false;
    let stopped = false;
    let lastError = '';
    const tick = async () => {
      if (busy || stopped) return;
      busy = true;
      try {
        const [latest] = await this.store.listRuns({ limit: 1 });
        if (!latest || latest.id <= seen || latest.finishedAt === null) return;
        seen = latest.id; // a failed preparation is not retried every period: the request that needs it will try again
        if (latest.status === 'failed') return;
        await this.prepare(latest);
        lastError = '';
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        if (message !== lastError && !stopped) log(`reflex serve: reading run #${seen} ahead failed: ${message}`);
        lastError = message;
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), periodMs);
    timer.unref(); // the watch never keeps the process alive
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  async latestFinished(filter: (r: RunRecord) => boolean = () => true): Promise<RunRecord | null> {
    const runs = await this.store.listRuns({ limit: 50 });
    return runs.find((r) => r.finishedAt !== null && r.status !== 'failed' && filter(r)) ?? null;
  }

  async overview(): Promise<Overview> {
    const now = this.clock();
    const sw = await this.store.getSwitch();
    const runs = await this.store.listRuns({ limit: 30 });
    const lastRun = runs[0] ?? null;
    const escalations = await this.store.listEscalations({ status: 'open', limit: 100 });
    const interrupted = (await this.store.listExecutions({ limit: 500 })).filter(
      (e) => e.status === 'interrupted' && now - (e.finishedAt ?? e.createdAt) < 7 * 86_400_000,
    );
    const finished = runs.find((r) => r.finishedAt !== null && r.status !== 'failed') ?? null;
    const stopped = finished ? guardrailsStopped(await this.storedDecisions(finished)) : [];
    const enforce = runs.find((r) => r.finishedAt !== null && r.status !== 'failed' && r.mode === 'enforce') ?? null;
    const shadow = enforce ? (await this.storedDecisions(enforce)).filter((d) => d.trace.some((v) => v.reason === REASON.SHADOW)) : [];
    const disables = await this.store.listDisables({ activeAt: now });
    const pending = await this.store.listApprovals({ status: ['pending'], limit: 1000 });
    const ineffective = await this.store.listVerifications({ status: 'ineffective', open: true, limit: 1000 });
    return {
      now,
      automation: switchOff(sw, now) ? 'off' : 'on',
      switch: sw,
      switchText: switchOff(sw, now) ? describeSwitch(sw, now) : null,
      lastRun: lastRun ? { ...lastRun, ageMs: Math.max(0, now - lastRun.startedAt) } : null,
      escalations,
      breakers: { run: finished?.id ?? null, stopped },
      interrupted,
      shadow: { run: enforce?.id ?? null, decisions: shadow },
      recent: runs
        .slice()
        .reverse()
        .map((r) => ({ id: r.id, startedAt: r.startedAt, status: r.status, mode: r.mode, outcomes: outcomesOf(r) })),
      activeDisables: disables.length,
      pendingApprovals: pending.length,
      ineffective: ineffective.length,
    };
  }

  /** Runs, newest first, a page at a time (`before`: the id the previous page ended at). */
  async runs(page: number): Promise<{ runs: RunRecord[]; page: number; more: boolean }> {
    const all = await this.store.listRuns({ limit: (page + 1) * PAGE_SIZE + 1 });
    const runs = all.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    return { runs, page, more: all.length > (page + 1) * PAGE_SIZE };
  }

  async runDetail(id: number): Promise<{
    run: RunRecord;
    rules: { rule: string; counts: Record<string, number> }[];
    sources: { name: string; kind: string; status: string; durationMs: number; targets: number; error?: string; warnings: string[] }[];
    timings: { stage: string; ms: number }[];
    problems: { stage?: string; reason?: string; detail?: string }[];
  }> {
    const run = await this.run(id);
    const s = run.summary as {
      rules?: Record<string, Record<string, number>>;
      sources?: { name: string; kind: string; status: string; durationMs: number; targets: number; error?: string; warnings?: string[] }[];
      timingsMs?: Record<string, number>;
      problems?: { stage?: string; reason?: string; detail?: string }[];
    };
    return {
      run,
      rules: Object.entries(s.rules ?? {}).map(([rule, counts]) => ({ rule, counts })),
      sources: (s.sources ?? []).map((x) => ({ ...x, warnings: x.warnings ?? [] })),
      timings: Object.entries(s.timingsMs ?? {}).map(([stage, ms]) => ({ stage, ms })),
      problems: s.problems ?? [],
    };
  }

  /**
   * Decisions matching the filters, newest first, a page at a time. Within one run (the latest finished one unless a
   * run is named, or a target or rule is, which are searched across runs) the run's decisions are filtered in memory
   * (a label filter reads the run's snapshot); across runs the store's history is read. Not-matched decisions are not stored: the decision detail recomputes them.
   */
  async decisionsPage(f: DecisionFilter): Promise<{ decisions: DecisionRecord[]; page: number; more: boolean; run: number | null; total: number | null }> {
    const size = PAGE_SIZE;
    // Across runs only by target or rule (the store has indexes for those); otherwise one run, the latest by default.
    if (f.run !== undefined || f.label !== undefined || (f.target === undefined && f.rule === undefined)) {
      const run = f.run !== undefined ? await this.run(f.run) : await this.latestFinished();
      if (!run) return { decisions: [], page: f.page, more: false, run: null, total: 0 };
      const label = f.label ? splitLabel(f.label) : undefined;
      const got = await this.listPage(run, { rule: f.rule, outcome: f.outcome, target: f.target, label, page: f.page, size });
      return { decisions: got.decisions, page: f.page, more: got.total > (f.page + 1) * size, run: run.id, total: got.total };
    }
    const got = await this.store.decisionHistory({
      target: f.target || undefined,
      rule: f.rule || undefined,
      outcomes: f.outcome ? [f.outcome] : undefined,
      limit: (f.page + 1) * size + 1,
    });
    return { decisions: got.slice(f.page * size, (f.page + 1) * size), page: f.page, more: got.length > (f.page + 1) * size, run: null, total: null };
  }

  /**
   * The decision detail: `reflex why TARGET --run N [--rule R]`. Recomputing it re-evaluates the run's rules (see
   * docs/performance.md for what that costs on a large fleet); a finished run does not change, so answers are kept.
   */
  async why(runId: number | undefined, target: string, rule?: string): Promise<{ doc: WhyDoc; text: string }> {
    const run = runId !== undefined ? await this.run(runId) : await this.latestFinished();
    if (!run) throw new NotFound('no finished run recorded yet');
    const load = async () => {
      try {
        return await this.offThread(
          (w) => w.why(run, target, rule),
          async () => explainTarget(this.store, this.loaded, run, await this.snapshot(run), target, rule),
        );
      } catch (err) {
        if (err instanceof UserError || (err as Error).name === 'UserError') throw new NotFound((err as Error).message);
        throw err;
      }
    };
    // Executions change after the run (a late outcome, an interrupted one): keep answers only briefly.
    const key = `${run.id}\u0000${target}\u0000${rule ?? ''}\u0000${Math.floor(this.clock() / 60_000)}`;
    return run.finishedAt === null ? load() : this.whys.get(key, load);
  }

  /** A target across runs: its latest labels and facts, and every recorded decision and execution about it. */
  async target(
    id: string,
    page: number,
  ): Promise<{
    id: string;
    seen: { run: number; kind: string; labels: Record<string, string>; depends_on: string[] } | null;
    decisions: DecisionRecord[];
    executions: ExecutionRecord[];
    verifications: VerificationRecord[];
    approvals: ApprovalRecord[];
    more: boolean;
  }> {
    const latest = await this.latestFinished();
    let seen = null;
    if (latest) {
      try {
        const t = await this.offThread(
          (w) => w.seen(latest, id),
          async () => (await this.snapshot(latest)).targets.find((x) => x.id === id) ?? null,
        );
        if (t) seen = { run: latest.id, kind: t.kind, labels: t.labels, depends_on: t.depends_on };
      } catch {
        // a run without a snapshot (pruned): the history below still tells the story
      }
    }
    const got = await this.store.decisionHistory({ target: id, limit: (page + 1) * PAGE_SIZE + 1 });
    const executions = await this.store.listExecutions({ target: id, limit: 100 });
    if (!seen && got.length === 0 && executions.length === 0) throw new NotFound(`no target "${id}" in the latest run or in the history`);
    // As `reflex why` lists them: the latest five of each.
    const verifications = await this.store.listVerifications({ target: id, limit: 5 });
    const approvals = await this.store.listApprovals({ target: id, limit: 5 });
    return {
      id,
      seen,
      decisions: got.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE),
      executions,
      verifications,
      approvals,
      more: got.length > (page + 1) * PAGE_SIZE,
    };
  }

  /** The journal, newest first; filters by status, rule and target. */
  async executions(f: {
    status?: string;
    rule?: string;
    target?: string;
    page: number;
  }): Promise<{ executions: ExecutionRecord[]; page: number; more: boolean }> {
    // The store filters by rule and target; a status filter reads more rows and filters them here.
    const want = (f.page + 1) * PAGE_SIZE + 1;
    const limit = f.status ? Math.max(want * 4, 1000) : want;
    let list = await this.store.listExecutions({ rule: f.rule || undefined, target: f.target || undefined, limit });
    if (f.status) list = list.filter((e) => e.status === f.status);
    return { executions: list.slice(f.page * PAGE_SIZE, (f.page + 1) * PAGE_SIZE), page: f.page, more: list.length > (f.page + 1) * PAGE_SIZE };
  }

  async guardrails(): Promise<{
    now: number;
    switch: SwitchState;
    automation: 'on' | 'off';
    switchText: string | null;
    disables: (DisableRecord & { text: string; active: boolean })[];
    audit: AuditRecord[];
  }> {
    const now = this.clock();
    const sw = await this.store.getSwitch();
    const all = await this.store.listDisables({});
    const active = new Set((await this.store.listDisables({ activeAt: now })).map((d) => d.id));
    return {
      now,
      switch: sw,
      automation: switchOff(sw, now) ? 'off' : 'on',
      switchText: switchOff(sw, now) ? describeSwitch(sw, now) : null,
      disables: all
        .map((d) => ({ ...d, text: describeDisable(d, now), active: active.has(d.id) }))
        .sort((a, b) => Number(b.active) - Number(a.active) || b.createdAt - a.createdAt)
        .slice(0, 200),
      audit: await this.store.listAudit(200),
    };
  }

  /** Decisions waiting for a person, oldest first, and the recent answered or closed requests, newest first. */
  async approvals(): Promise<{ now: number; pending: ApprovalRecord[]; recent: ApprovalRecord[] }> {
    const pending = (await this.store.listApprovals({ status: ['pending'], limit: 500 })).reverse();
    const recent = (await this.store.listApprovals({ limit: 200 })).filter((a) => a.status !== 'pending').slice(0, 100);
    return { now: this.clock(), pending, recent };
  }

  /** Recent verifications, newest first; the ineffective ones that still stop their rule come first. */
  async verifications(): Promise<{ now: number; stopping: VerificationRecord[]; recent: VerificationRecord[] }> {
    const stopping = await this.store.listVerifications({ status: 'ineffective', open: true, limit: 500 });
    const held = new Set(stopping.map((v) => v.executionId));
    const recent = (await this.store.listVerifications({ limit: 200 })).filter((v) => !held.has(v.executionId));
    return { now: this.clock(), stopping, recent };
  }

  /** Every rule with its mode, severity, actions and scenario coverage. */
  rules(): {
    name: string;
    kind: 'act' | 'escalate' | 'derive';
    mode: string;
    severity: string;
    actions: string[];
    file: string;
    tests: RuleTests | null;
    enforcedUntested: boolean;
  }[] {
    const { project, ruleSet } = this.loaded;
    return ruleSet.rules.map((r) => {
      const tests = this.coverage?.get(r.name) ?? null;
      const actions = r.steps.map((s) => s.action);
      const kind = r.derive ? 'derive' : actions.length ? 'act' : 'escalate';
      return {
        name: r.name,
        kind,
        mode: r.mode,
        severity: r.severity,
        actions,
        file: relative(project.dir, r.loc.file.path),
        tests,
        enforcedUntested: kind === 'act' && r.mode === 'enforce' && !tests?.passing,
      };
    });
  }
}

/** A page or record that does not exist: 404, with a message for people. */
export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

export function splitLabel(label: string): [string, string] {
  const i = label.indexOf('=');
  if (i <= 0) throw new BadRequest(`label filter "${label}": write it as key=value`);
  return [label.slice(0, i).trim(), label.slice(i + 1).trim()];
}

/** A change that no longer applies (an approval already answered, nothing to clear): 409, with how it stands. */
export class Conflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Conflict';
  }
}

/** A request the console cannot serve as asked (a bad filter): 400, with a message for people. */
export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

export function outcomesOf(r: RunRecord): Record<string, number> {
  const o = (r.summary as { outcomes?: Record<string, number> }).outcomes;
  return o && typeof o === 'object' ? o : {};
}

/** Decisions of a run stopped by a breaker or a limit, grouped by reason and detail (the numbers). */
export function guardrailsStopped(decisions: DecisionRecord[]): Stopped[] {
  const out = new Map<string, Stopped>();
  for (const d of decisions) {
    const v = d.trace.filter((x) => x.stops).pop();
    if (!v || !GUARDRAIL_REASONS.has(v.reason)) continue;
    const key = `${v.reason}\u0000${v.detail}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { reason: v.reason, detail: v.detail, count: 0, examples: [] }));
    g.count++;
    if (g.examples.length < 3) g.examples.push({ rule: d.rule, target: d.target });
  }
  return [...out.values()];
}
