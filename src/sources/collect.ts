// The collect stage: run every source concurrently within its timeout (or reuse its cooldown cache) and merge what they report into targets.
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FactValue, Target, TargetReport } from '../model.js';
import type { Store } from '../store/types.js';
import type { FactTypeName } from '../config/schema.js';
import { formatDuration } from '../util/duration.js';
import { DEFAULT_MAX_DEPTH, FORBIDDEN_NAMES, forbiddenName, forbiddenText, typeName, valueProblem, WarningList } from './shape.js';
import { SourceError, type Source, type SourceOutput } from './types.js';

export type SourceStatus = 'ok' | 'failed' | 'timeout' | 'cached';

/** What happened to one source in one run; kept in the run summary and shown by explanations. */
export interface SourceReport {
  name: string;
  kind: string;
  status: SourceStatus;
  /** Why the source failed or timed out (its facts are unknown this run). */
  error?: string;
  warnings: string[];
  durationMs: number;
  /** How many targets the source reported. */
  targets: number;
  /** Facts the source set (declared facts when it failed: those are the facts left unknown). */
  facts: string[];
  /** When the reused result was collected (status `cached`). */
  cachedAt?: number;
  /** Records with a mistake (left out, or with their facts unknown and the reason); absent when none. */
  malformed?: number;
  /** The first mistakes in the data, each `where: message`. */
  problems?: string[];
}

/** The two store methods source cooldowns need. */
export type SourceCache = Pick<Store, 'getSourceCache' | 'setSourceCache'>;

export interface CollectOptions {
  /** The run's clock (ms since epoch). */
  now: number;
  projectDir: string;
  env: NodeJS.ProcessEnv;
  /** Sources running at once (at least 1). */
  concurrency: number;
  defaultTimeoutMs: number;
  /** Source name -> timeout in ms (overrides the default). */
  timeouts?: Record<string, number>;
  /** Source name -> cooldown in ms: reuse a successful result younger than this. */
  cooldowns?: Record<string, number>;
  cache?: SourceCache;
  /** Cancels the whole collection (the run was interrupted). */
  signal?: AbortSignal;
}

export interface CollectResult {
  /** Every target any source reported, merged by id, in order of first appearance (sources in configuration order). */
  targets: Target[];
  /** One per source, in configuration order. */
  reports: SourceReport[];
  /** Fact name -> the source it comes from (the first source in configuration order that set it, or declares it). */
  factSources: Record<string, string>;
}

/** Version of the cached payload layout; a payload of another version is ignored. */
const CACHE_VERSION = 1;

interface Outcome {
  report: SourceReport;
  output?: SourceOutput;
}

/** Run all sources and merge their targets. Never throws because of a source: a failed source is a report. */
export async function collectAll(sources: Source[], opts: CollectOptions): Promise<CollectResult> {
  const outcomes: Outcome[] = new Array(sources.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sources.length) {
      const i = next++;
      outcomes[i] = await collectOne(sources[i]!, opts);
    }
  };
  const n = Math.max(1, Math.min(Math.floor(opts.concurrency) || 1, sources.length));
  await Promise.all(Array.from({ length: n }, worker));
  return mergeOutcomes(outcomes);
}

async function collectOne(source: Source, opts: CollectOptions): Promise<Outcome> {
  const started = performance.now();
  const base = { name: source.name, kind: source.kind };
  const elapsed = () => Math.round(performance.now() - started);
  const failed = (status: 'failed' | 'timeout', error: string, warnings: string[] = []): Outcome => ({
    report: { ...base, status, error, warnings, durationMs: elapsed(), targets: 0, facts: declared(source) },
  });

  if (opts.signal?.aborted) return failed('failed', `cancelled before it started: ${reasonText(opts.signal.reason)}`);

  const cooldown = opts.cooldowns?.[source.name] ?? 0;
  const warnings: string[] = [];
  if (cooldown > 0 && opts.cache) {
    try {
      const hit = await opts.cache.getSourceCache(source.name);
      const age = hit ? opts.now - hit.at : -1;
      if (hit && age >= 0 && age < cooldown) {
        const cached = decodeCached(hit.payload, source.fingerprint);
        if (cached) {
          const output = screenOutput(cached, source);
          return {
            output,
            report: {
              ...base,
              status: 'cached',
              warnings: output.warnings,
              durationMs: elapsed(),
              targets: output.targets.length,
              facts: output.facts,
              cachedAt: hit.at,
              ...dataProblems(output),
            },
          };
        }
      }
    } catch (err) {
      warnings.push(`could not read the cached result, collecting afresh: ${errorText(err)}`);
    }
  }

  const timeoutMs = opts.timeouts?.[source.name] ?? opts.defaultTimeoutMs;
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new SourceError(`timed out after ${formatDuration(timeoutMs)}`));
  }, timeoutMs);
  const onCancel = () => ac.abort(new SourceError(`cancelled: ${reasonText(opts.signal?.reason)}`));
  opts.signal?.addEventListener('abort', onCancel, { once: true });
  // A source that ignores its signal must still not hold the run: race it against the abort.
  const aborted = new Promise<never>((_, reject) => {
    ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  let output: SourceOutput;
  try {
    const work = source.collect({ signal: ac.signal, now: opts.now, projectDir: opts.projectDir, env: opts.env });
    work.catch(() => {});
    output = await Promise.race([work, aborted]);
    if (!output || !Array.isArray(output.targets) || !Array.isArray(output.warnings) || !Array.isArray(output.facts)) {
      throw new Error('the source returned no targets/warnings/facts lists');
    }
    output = screenOutput(output, source);
  } catch (err) {
    if (timedOut) return failed('timeout', `timed out after ${formatDuration(timeoutMs)}`, warnings);
    if (ac.signal.aborted) return failed('failed', reasonText(ac.signal.reason), warnings);
    return failed('failed', errorText(err), warnings);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCancel);
  }

  if (cooldown > 0 && opts.cache) {
    try {
      await opts.cache.setSourceCache(source.name, opts.now, encodeCached(output, source.fingerprint));
    } catch (err) {
      warnings.push(`could not store the result for its cooldown (it will be collected again next run): ${errorText(err)}`);
    }
  }
  return {
    output,
    report: {
      ...base,
      status: 'ok',
      warnings: [...warnings, ...output.warnings],
      durationMs: elapsed(),
      targets: output.targets.length,
      facts: output.facts,
      ...dataProblems(output),
    },
  };
}

function dataProblems(output: SourceOutput): Pick<SourceReport, 'malformed' | 'problems'> {
  const out: Pick<SourceReport, 'malformed' | 'problems'> = {};
  if (output.malformed) out.malformed = output.malformed;
  if (output.problems?.length) out.problems = output.problems;
  return out;
}

const TYPE_CHECK: Record<FactTypeName, (v: unknown) => boolean> = {
  bool: (v) => typeof v === 'boolean',
  number: (v) => typeof v === 'number',
  string: (v) => typeof v === 'string',
};

/**
 * The net every source's data passes, whatever its kind (and its cached results too): a report
 * without a usable id is left out; a label that is not text is dropped; a fact whose value cannot
 * be used (nested deeper than max_depth, a number out of range, a `__proto__` key) or is not of its
 * declared type is unknown there with the reason. Nothing here can exhaust the stack, so hostile
 * data costs its own facts, never the run. Reports are copied before they are changed: a source
 * may keep the objects it returned.
 */
export function screenOutput(output: SourceOutput, source: Pick<Source, 'declaredTypes' | 'maxDepth'>): SourceOutput {
  const maxDepth = source.maxDepth ?? DEFAULT_MAX_DEPTH;
  let types: Record<string, FactTypeName> | undefined;
  try {
    types = source.declaredTypes?.();
  } catch {
    types = undefined;
  }
  const typed = types && Object.keys(types).length > 0 ? types : undefined;
  const warnings = new WarningList();
  let malformed = 0;
  let targets: TargetReport[] | undefined;
  const list = output.targets as unknown[];
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as TargetReport;
    if (sound(r, maxDepth, typed)) {
      targets?.push(r);
      continue;
    }
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id === '') {
      targets ??= list.slice(0, i) as TargetReport[];
      malformed++;
      warnings.add(`a target report without a usable id (${typeName((r as { id?: unknown } | null)?.id)}) was left out`);
      continue;
    }
    let copy: TargetReport | undefined;
    const own = (): TargetReport => {
      if (!copy) {
        copy = { ...r, facts: { ...r.facts }, ...(r.unknown ? { unknown: { ...r.unknown } } : {}) };
        if (r.labels) copy.labels = { ...r.labels };
      }
      return copy;
    };
    const labels = r.labels;
    if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) {
      delete own().labels;
      warnings.add(`target "${r.id}": its labels are ${typeName(labels)}, not a map; dropped`);
    } else if (labels) {
      for (const k of Object.keys(labels)) {
        if (typeof labels[k] === 'string' && !FORBIDDEN_NAMES.has(k)) continue;
        delete own().labels![k];
        warnings.add(
          `target "${r.id}": label ${FORBIDDEN_NAMES.has(k) ? forbiddenText(k, 'a label name') : `\`${k}\` is ${typeName(labels[k])}, not text`}; dropped`,
        );
      }
    }
    const facts = r.facts;
    let bad = false;
    if (facts !== undefined && (typeof facts !== 'object' || facts === null || Array.isArray(facts))) {
      delete own().facts;
      bad = true;
      warnings.add(`target "${r.id}": its facts are ${typeName(facts)}, not a map; dropped`);
    } else if (facts) {
      for (const k of Object.keys(facts)) {
        const v: unknown = facts[k];
        let why: string | null;
        if (FORBIDDEN_NAMES.has(k)) why = forbiddenText(k, 'a fact name');
        else {
          why = v === undefined ? 'the fact has no value' : valueProblem(v, maxDepth);
          const want = typed?.[k];
          if (!why && want && !TYPE_CHECK[want](v)) {
            why = `declared \`type: ${want}\`, but the source gave ${typeName(v)}${v !== null && typeof v !== 'object' ? ` (${shortValue(v)})` : ''}`;
          }
        }
        if (!why) continue;
        const t = own();
        delete t.facts![k];
        if (!FORBIDDEN_NAMES.has(k)) (t.unknown ??= {})[k] = why;
        bad = true;
        warnings.add(`target "${r.id}": fact \`${k}\` is unknown: ${why}`);
      }
    }
    if (r.unknown !== undefined && (typeof r.unknown !== 'object' || r.unknown === null)) {
      delete own().unknown;
      bad = true;
    } else if (r.unknown) {
      for (const k of Object.keys(r.unknown)) {
        if (typeof r.unknown[k] === 'string' && !FORBIDDEN_NAMES.has(k)) continue;
        const t = own();
        if (FORBIDDEN_NAMES.has(k)) delete t.unknown![k];
        else t.unknown![k] = 'unknown (the source gave a reason that is not text)';
      }
    }
    if (bad) malformed++;
    if (copy) {
      targets ??= list.slice(0, i) as TargetReport[];
      targets.push(copy);
    } else if (targets) targets.push(r);
  }
  if (!targets && malformed === 0) return output;
  return {
    ...output,
    targets: targets ?? output.targets,
    warnings: [...output.warnings, ...warnings.done()],
    malformed: (output.malformed ?? 0) + malformed,
    // A changed report is a new object; the others are the source's own, as before.
    owned: output.owned,
  };
}

/** True when a report needs nothing from the net (nearly every report): checked without allocating anything. */
function sound(r: TargetReport, maxDepth: number, typed: Record<string, FactTypeName> | undefined): boolean {
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id === '') return false;
  const l = r.labels as Record<string, unknown> | undefined;
  if (l !== undefined) {
    if (typeof l !== 'object' || l === null || Array.isArray(l)) return false;
    for (const k in l) if (typeof l[k] !== 'string' || forbiddenName(k)) return false;
  }
  const f = r.facts as Record<string, unknown> | undefined;
  if (f !== undefined) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return false;
    for (const k in f) {
      const v = f[k];
      if (forbiddenName(k)) return false;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return false;
      } else if (typeof v === 'object') {
        if (v !== null && valueProblem(v, maxDepth) !== null) return false;
      } else if (typeof v !== 'string' && typeof v !== 'boolean') return false;
      if (typed) {
        const want = typed[k];
        if (want && !TYPE_CHECK[want](v)) return false;
      }
    }
  }
  const u = r.unknown as Record<string, unknown> | undefined;
  if (u !== undefined) {
    if (typeof u !== 'object' || u === null) return false;
    for (const k in u) if (typeof u[k] !== 'string' || k === '__proto__') return false;
  }
  return true;
}

function shortValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function declared(source: Source): string[] {
  try {
    return source.declaredFacts() ?? [];
  } catch {
    return [];
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}

/** A message for people: SourceErrors speak for themselves; anything else is shown with its cause. */
export function errorText(err: unknown): string {
  if (err instanceof SourceError) return err.message;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

export function encodeCached(output: SourceOutput, fingerprint = ''): Uint8Array {
  return gzipSync(JSON.stringify({ v: CACHE_VERSION, fingerprint, output }));
}

/** The cached output, or null when it is unreadable or was collected under another configuration. */
export function decodeCached(payload: Uint8Array, fingerprint = ''): SourceOutput | null {
  try {
    const data = JSON.parse(gunzipSync(payload).toString('utf8')) as { v?: number; fingerprint?: string; output?: SourceOutput };
    if (data.v !== CACHE_VERSION || (data.fingerprint ?? '') !== fingerprint || !data.output || !Array.isArray(data.output.targets)) return null;
    return data.output;
  } catch {
    return null;
  }
}

function cloneValue(v: FactValue): FactValue {
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

/** Keys that `in` finds on every object: the copying merge never takes a fact of these names. */
const inherited = (k: string): boolean => k in Object.prototype;

/**
 * The first report of a target, taken as the target itself instead of copied (the source said its
 * output is owned by the collector: new objects, used by no one else). Only when taking it gives
 * exactly what copying would: no duplicate dependencies, no fact or unknown reason that copying
 * would skip. Otherwise null, and the report is copied.
 */
function adopt(r: TargetReport): Target | null {
  const deps = r.depends_on;
  if (deps && deps.length > 1) {
    if (deps.length === 2 ? deps[0] === deps[1] : new Set(deps).size !== deps.length) return null;
  }
  const facts = r.facts ?? {};
  for (const k in facts) if (inherited(k) || k === '__proto__') return null;
  let unknown: Record<string, string> | undefined;
  if (r.unknown) {
    for (const k in r.unknown) {
      if (k === '__proto__' || Object.hasOwn(facts, k)) continue;
      unknown ??= {};
      if (!Object.hasOwn(unknown, k)) unknown[k] = r.unknown[k]!;
    }
  }
  const t: Target = { id: r.id, kind: r.kind ?? '', labels: r.labels ?? {}, depends_on: deps ?? [], facts };
  if (unknown) t.unknown = unknown;
  return t;
}

/**
 * Merge the sources' reports by target id, sources in configuration order. The first source to
 * set a label, a fact or the kind of a target wins; later conflicting values are reported as
 * warnings of the later source. `depends_on` is the union. A fact with a value is never unknown.
 */
function mergeOutcomes(outcomes: Outcome[]): CollectResult {
  const byId = new Map<string, Target>();
  const factSources: Record<string, string> = {};
  // One source whose ids are distinct: every report is a new target, so no index by id is needed
  // (at 100,000 targets that index costs more than the merge itself).
  const reporting = outcomes.filter((o) => o.output);
  const alone = reporting.length === 1 && reporting[0]!.output!.distinct === true ? ([] as Target[]) : null;

  outcomes.forEach(({ output, report }) => {
    if (!output) return;
    for (const f of output.facts) if (!(f in factSources)) factSources[f] = report.name;
    let kindConflicts = 0;
    let labelConflicts = 0;
    const factConflicts = new Map<string, { count: number; example: string }>();
    const owned = output.owned === true;
    for (const r of output.targets as TargetReport[]) {
      let t = alone ? undefined : byId.get(r.id);
      if (!t) {
        if (owned) {
          const adopted = adopt(r);
          if (adopted) {
            if (alone) alone.push(adopted);
            else byId.set(r.id, adopted);
            continue;
          }
        }
        t = {
          id: r.id,
          kind: r.kind ?? '',
          labels: r.labels ? { ...r.labels } : {},
          depends_on: r.depends_on ? [...new Set(r.depends_on)] : [],
          facts: {},
        };
        if (alone) alone.push(t);
        else byId.set(r.id, t);
      } else {
        if (r.kind) {
          if (t.kind === '') t.kind = r.kind;
          else if (t.kind !== r.kind) kindConflicts++;
        }
        if (r.labels) {
          for (const k in r.labels) {
            const v = r.labels[k]!;
            if (!Object.hasOwn(t.labels, k)) {
              if (k !== '__proto__') t.labels[k] = v;
            } else if (t.labels[k] !== v) labelConflicts++;
          }
        }
        if (r.depends_on) for (const d of r.depends_on) if (!t.depends_on.includes(d)) t.depends_on.push(d);
      }
      if (r.facts) {
        for (const k in r.facts) {
          if (k === '__proto__') continue;
          if (!Object.hasOwn(t.facts, k)) t.facts[k] = r.facts[k]!;
          else if (factSources[k] !== report.name) {
            const c = factConflicts.get(k);
            if (c) c.count++;
            else factConflicts.set(k, { count: 1, example: r.id });
          }
        }
      }
      if (r.unknown) {
        for (const k in r.unknown) {
          if (k === '__proto__' || Object.hasOwn(t.facts, k)) continue;
          t.unknown ??= {};
          if (!Object.hasOwn(t.unknown, k)) t.unknown[k] = r.unknown[k]!;
        }
      }
    }
    if (kindConflicts > 0) report.warnings.push(`${kindConflicts} targets have another kind in an earlier source; the earlier kind is kept`);
    if (labelConflicts > 0) report.warnings.push(`${labelConflicts} labels differ from an earlier source's; the earlier values are kept`);
    for (const [fact, c] of factConflicts) {
      report.warnings.push(
        `fact "${fact}" of ${c.count} targets (e.g. "${c.example}") is also set by "${factSources[fact]}", listed earlier, whose values are kept`,
      );
    }
  });

  const targets = alone ?? [...byId.values()];
  for (const t of targets) {
    if (t.kind === '') t.kind = 'unknown';
    if (t.unknown) {
      for (const k in t.unknown) if (Object.hasOwn(t.facts, k)) delete t.unknown[k];
      if (Object.keys(t.unknown).length === 0) delete t.unknown;
    }
  }

  outcomes.forEach(({ output, report }) => {
    if (!output?.defaults) return;
    for (const d of output.defaults) {
      for (const f of Object.keys(d.facts)) if (!(f in factSources)) factSources[f] = report.name;
      for (const t of targets) {
        if (d.kind !== undefined && t.kind !== d.kind) continue;
        for (const f in d.facts) {
          if (Object.hasOwn(t.facts, f) || (t.unknown && Object.hasOwn(t.unknown, f))) continue;
          t.facts[f] = cloneValue(d.facts[f]!);
        }
      }
    }
  });

  // Facts of failed sources stay unknown, but explanations still need to know where they would have come from.
  outcomes.forEach(({ output, report }) => {
    if (output) return;
    for (const f of report.facts) if (!(f in factSources)) factSources[f] = report.name;
  });

  return { targets, reports: outcomes.map((o) => o.report), factSources };
}
