// The Prometheus source: PromQL instant queries at the run's time, one fact per query, each series mapped onto a target by a label.
import type { SourceConfig } from '../../config/schema.js';
import type { TargetReport } from '../../model.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { apiUrl, request, requestHeaders, shownUrl, snippet } from '../fetch.js';
import { maxBytesOf } from '../limits.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';
import { mapLimit } from '../util.js';

type Config = Extract<SourceConfig, { kind: 'prometheus' }>;
type QueryConfig = Config['queries'][number];

export const DEFAULT_STALENESS_MS = 5 * 60_000;
const QUERY_CONCURRENCY = 4;
/** Longer encoded queries are sent as a POST form, which Prometheus accepts the same way. */
const MAX_GET_QUERY = 2_000;

interface Mapping {
  idLabel: string;
  kind?: string | undefined;
  keepLabels: string[];
  dependsOnLabel?: string | undefined;
}

/** The query's mapping overrides the source's field by field. */
export function mappingFor(config: Config, q: QueryConfig): Mapping {
  const s = config.target;
  const o = q.target;
  return {
    idLabel: o?.id_label ?? s?.id_label ?? 'instance',
    kind: o?.kind ?? s?.kind,
    keepLabels: o?.keep_labels ?? s?.keep_labels ?? [],
    dependsOnLabel: o?.depends_on_label ?? s?.depends_on_label,
  };
}

export function createPrometheusSource(config: Config): Source {
  const facts = [...new Set(config.queries.map((q) => q.fact))];
  // Every sample is a number; `type: bool` makes it true or false. Two queries for one fact with
  // different types leave the fact untyped (its values are checked by neither).
  const types: Record<string, 'bool' | 'number'> = {};
  const mixed = new Set<string>();
  for (const q of config.queries) {
    const t = q.type ?? 'number';
    if (types[q.fact] !== undefined && types[q.fact] !== t) mixed.add(q.fact);
    types[q.fact] = t;
  }
  for (const f of mixed) delete types[f];
  return {
    name: config.name,
    kind: 'prometheus',
    declaredFacts: () => facts,
    declaredTypes: () => types,
    collect: (ctx) => collectPrometheus(config, facts, ctx),
  };
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

type QueryAnswer = { ok: true; resultType: string; result: unknown; warnings: string[] } | { ok: false; message: string };

async function collectPrometheus(config: Config, facts: string[], ctx: SourceContext): Promise<SourceOutput> {
  const staleMs = config.staleness ? parseDuration(config.staleness) : DEFAULT_STALENESS_MS;
  const headers = requestHeaders(config.auth, config.headers);
  const endpoint = apiUrl(config.url, '/api/v1/query');
  const maxBytes = maxBytesOf(config);
  const answers = await mapLimit(config.queries, QUERY_CONCURRENCY, (q) => runQuery(endpoint, headers, q.query, ctx, maxBytes));

  const failures = answers.filter((a): a is Extract<QueryAnswer, { ok: false }> => !a.ok);
  if (failures.length === config.queries.length) {
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more queries failed)` : '';
    throw new SourceError(`query for fact "${config.queries[0]!.fact}" failed: ${failures[0]!.message}${more}`);
  }

  const warnings: string[] = [];
  const byId = new Map<string, TargetReport>();
  config.queries.forEach((q, i) => {
    const a = answers[i]!;
    const label = `query for fact "${q.fact}"`;
    if (!a.ok) {
      warnings.push(`${label} failed, the fact is unknown: ${a.message}`);
      return;
    }
    for (const w of a.warnings) warnings.push(`${label}: Prometheus warns: ${w}`);
    if (a.resultType !== 'vector') {
      warnings.push(`${label} returned a ${a.resultType}, which names no target; the fact is unknown (write an instant vector that carries the target label)`);
      return;
    }
    const samples = Array.isArray(a.result) ? (a.result as Sample[]) : [];
    if (samples.length === 0) {
      if (q.expect_targets !== false) {
        warnings.push(`${label} returned no series; the fact is unknown for every target (set expect_targets: false if an empty answer is normal)`);
      }
      return;
    }
    mapSamples(q, mappingFor(config, q), samples, byId, ctx.now, staleMs, (w) => warnings.push(`${label}: ${w}`));
  });
  return { targets: [...byId.values()], facts, warnings };
}

function mapSamples(
  q: QueryConfig,
  m: Mapping,
  samples: Sample[],
  byId: Map<string, TargetReport>,
  now: number,
  staleMs: number,
  warn: (w: string) => void,
): void {
  let missingId = 0;
  const seriesPerTarget = new Map<string, number>();
  for (const s of samples) {
    const metric = s.metric ?? {};
    const id = metric[m.idLabel];
    if (!id) {
      missingId++;
      continue;
    }
    let t = byId.get(id);
    if (!t) {
      t = { id, facts: {} };
      byId.set(id, t);
    }
    if (m.kind && !t.kind) t.kind = m.kind;
    for (const l of m.keepLabels) {
      const v = metric[l];
      if (v !== undefined && l !== '__proto__') (t.labels ??= {})[l] = v;
    }
    if (m.dependsOnLabel) {
      const dep = metric[m.dependsOnLabel];
      if (dep && dep !== id) {
        t.depends_on ??= [];
        if (!t.depends_on.includes(dep)) t.depends_on.push(dep);
      }
    }
    const n = (seriesPerTarget.get(id) ?? 0) + 1;
    seriesPerTarget.set(id, n);
    if (n > 1) continue;
    const [ts, raw] = Array.isArray(s.value) ? s.value : [NaN, ''];
    const age = now - Number(ts) * 1000;
    const value = q.type === 'bool' ? parseBoolSample(raw) : parseSampleValue(raw);
    if (!Number.isFinite(Number(ts))) (t.unknown ??= {})[q.fact] = 'the sample has no timestamp';
    else if (age > staleMs) (t.unknown ??= {})[q.fact] = `stale: sample is ${formatDuration(age)} old (limit ${formatDuration(staleMs)})`;
    else if (typeof value === 'string') (t.unknown ??= {})[q.fact] = value;
    else t.facts![q.fact] = value;
  }
  let ambiguous = 0;
  for (const [id, n] of seriesPerTarget) {
    if (n < 2) continue;
    ambiguous++;
    const t = byId.get(id)!;
    delete t.facts![q.fact];
    (t.unknown ??= {})[q.fact] = `ambiguous: the query returned ${n} series for this target (aggregate it, e.g. max by (${m.idLabel}) (...))`;
  }
  if (missingId > 0) warn(`${missingId} series have no "${m.idLabel}" label and were ignored`);
  if (ambiguous > 0) warn(`${ambiguous} targets have more than one series; their fact is unknown (aggregate by "${m.idLabel}")`);
}

/**
 * A sample value as a number, or the reason it is unknown. NaN and ±Inf are not numbers a rule can
 * compare safely (every comparison with NaN is false, and JSON cannot carry either), so they are unknown.
 */
export function parseSampleValue(raw: unknown): number | string {
  if (raw === 'NaN') return 'value is NaN';
  if (raw === '+Inf' || raw === 'Inf') return 'value is +Inf';
  if (raw === '-Inf') return 'value is -Inf';
  const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  return Number.isFinite(v) ? v : `value "${String(raw)}" is not a number`;
}

/**
 * A sample of a `type: bool` query: 1 is true, 0 is false (what `up`, or a comparison with the
 * `bool` modifier such as `up == bool 1`, returns); any other value is unknown, with the reason.
 */
export function parseBoolSample(raw: unknown): boolean | string {
  const v = parseSampleValue(raw);
  if (typeof v === 'string') return v;
  if (v === 1) return true;
  if (v === 0) return false;
  return `value ${v} is neither 0 nor 1 (the query is declared type: bool)`;
}

async function runQuery(endpoint: URL, headers: Record<string, string>, query: string, ctx: SourceContext, maxBytes: number): Promise<QueryAnswer> {
  const params = new URLSearchParams({ query, time: (ctx.now / 1000).toFixed(3) });
  const encoded = params.toString();
  const url = new URL(endpoint);
  let res: Awaited<ReturnType<typeof request>>;
  if (encoded.length <= MAX_GET_QUERY) {
    url.search = encoded;
    res = await request(url, { headers, signal: ctx.signal, maxBytes });
  } else {
    res = await request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: encoded,
      signal: ctx.signal,
      maxBytes,
    });
  }
  let body: { status?: string; data?: { resultType?: string; result?: unknown }; errorType?: string; error?: string; warnings?: unknown } | undefined;
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    body = undefined;
  }
  // Prometheus answers a bad or failed query with a JSON error (HTTP 400, 422 or 503): that is the query's problem.
  if (body && body.status === 'error') return { ok: false, message: `${body.errorType ?? 'error'}: ${body.error ?? 'no detail'}` };
  const where = shownUrl(endpoint);
  if (res.status < 200 || res.status >= 300) {
    throw new SourceError(`${where}: HTTP ${res.status} ${res.statusText}${res.text ? `: ${snippet(res.text)}` : ''}`);
  }
  if (body?.status !== 'success' || !body.data || typeof body.data.resultType !== 'string') {
    throw new SourceError(`${where}: not a Prometheus query API answer: ${snippet(res.text) || '(empty body)'}`);
  }
  const warnings = Array.isArray(body.warnings) ? body.warnings.map(String) : [];
  return { ok: true, resultType: body.data.resultType, result: body.data.result, warnings };
}
