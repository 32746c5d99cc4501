// The HTTP JSON source: GET an endpoint, select records with CEL, compute each record's facts with CEL; or probe one target.
import type { FactTypeName, SourceConfig } from '../../config/schema.js';
import type { FactValue, TargetReport } from '../../model.js';
import { celVars, compileCel, TooDeep, toFactValue, type Program } from '../cel.js';
import { request, requestHeaders, shownUrl, snippet } from '../fetch.js';
import { maxBytesOf } from '../limits.js';
import { DEFAULT_MAX_DEPTH, FORBIDDEN_NAMES, valueProblem, WarningList } from '../shape.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';

type Config = Extract<SourceConfig, { kind: 'http' }>;

interface Compiled {
  records?: Program | undefined;
  facts: [string, Program][];
}

/** Compile every expression of an HTTP source; the messages name the field (for `reflex check` as for runs). */
export function compileHttpSource(config: Config): { compiled?: Compiled; errors: string[] } {
  const errors: string[] = [];
  const compile = (where: string, expr: string): Program | undefined => {
    try {
      return compileCel(expr);
    } catch (err) {
      errors.push(`${where}: ${(err as Error).message}`);
      return undefined;
    }
  };
  if (config.records !== undefined && config.target_id !== undefined) {
    errors.push('`records` and `target_id` exclude each other: a probe of one target has no records');
  }
  const records = config.records !== undefined ? compile('records', config.records) : undefined;
  const facts: [string, Program][] = [];
  for (const [name, decl] of Object.entries(config.facts)) {
    const expr = typeof decl === 'string' ? decl : decl.value;
    const p = compile(typeof decl === 'string' ? `facts.${name}` : `facts.${name}.value`, expr);
    if (p) facts.push([name, p]);
  }
  return errors.length > 0 ? { errors } : { compiled: { records, facts }, errors };
}

/** The types declared with `{value, type}` entries of `facts:`. */
function httpFactTypes(config: Config): Record<string, FactTypeName> {
  const out: Record<string, FactTypeName> = {};
  for (const [name, decl] of Object.entries(config.facts)) if (typeof decl !== 'string' && decl.type) out[name] = decl.type;
  return out;
}

export function createHttpSource(config: Config): Source {
  let compiled: Compiled | undefined;
  const factNames = Object.keys(config.facts);
  const types = httpFactTypes(config);
  return {
    name: config.name,
    kind: 'http',
    declaredFacts: () => factNames,
    declaredTypes: () => types,
    collect: async (ctx) => {
      if (!compiled) {
        const c = compileHttpSource(config);
        if (!c.compiled) throw new SourceError(`invalid expression: ${c.errors.join('; ')}`);
        compiled = c.compiled;
      }
      return collectHttp(config, compiled, factNames, ctx);
    },
  };
}

async function collectHttp(config: Config, compiled: Compiled, factNames: string[], ctx: SourceContext): Promise<SourceOutput> {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch (err) {
    throw new SourceError(`"${config.url}" is not a URL`, { cause: err });
  }
  const res = await request(url, { headers: requestHeaders(config.auth, config.headers), signal: ctx.signal, maxBytes: maxBytesOf(config) });
  const where = `GET ${shownUrl(url)}`;
  const probe = config.target_id !== undefined;
  let body: unknown;
  try {
    body = res.text.trim() === '' ? null : celSafe(JSON.parse(res.text), config.max_depth ?? DEFAULT_MAX_DEPTH);
  } catch {
    // A probe judges the answer itself (an HTML error page is an answer); records need JSON.
    if (!probe) throw new SourceError(`${where}: the answer is not JSON (HTTP ${res.status}): ${snippet(res.text) || '(empty body)'}`);
    body = res.text;
  }
  // A probe reports any HTTP status as a fact; a list of records behind an error status is not to be trusted.
  if (!probe && (res.status < 200 || res.status >= 300)) {
    throw new SourceError(`${where}: HTTP ${res.status} ${res.statusText}${res.text ? `: ${snippet(res.text)}` : ''}`);
  }
  const vars = { body, status: res.status, latencyMs: res.latencyMs };
  const warnings = new WarningList();
  const problems: string[] = [];
  let malformed = 0;
  // Records (not a probe's one answer) with a fact that could not be computed: their shape is not what the source expects.
  let failedRecords = 0;
  const maxDepth = config.max_depth ?? DEFAULT_MAX_DEPTH;
  const errorCounts = new Map<string, { count: number; first: string }>();

  const evalFacts = (record: unknown): Pick<TargetReport, 'facts' | 'unknown'> => {
    const facts: Record<string, FactValue> = {};
    let unknown: Record<string, string> | undefined;
    const v = celVars({ ...vars, record });
    for (const [name, program] of compiled.facts) {
      try {
        const value = toFactValue(program(v), maxDepth);
        const why = valueProblem(value, maxDepth);
        if (why) throw new Error(why);
        facts[name] = value;
      } catch (err) {
        const msg = oneLine((err as Error).message);
        (unknown ??= {})[name] = `error: ${msg}`;
        const c = errorCounts.get(name);
        if (c) c.count++;
        else errorCounts.set(name, { count: 1, first: msg });
      }
    }
    if (unknown && record !== body) failedRecords++;
    return unknown ? { facts, unknown } : { facts };
  };

  const targets: TargetReport[] = [];
  if (probe) {
    const t: TargetReport = { id: config.target_id!, ...evalFacts(body) };
    if (config.target?.kind) t.kind = config.target.kind;
    targets.push(t);
  } else {
    let records: unknown;
    if (compiled.records) {
      try {
        records = toPlain(compiled.records(celVars({ ...vars, record: body })));
      } catch (err) {
        throw new SourceError(`${where}: \`records\` failed: ${oneLine((err as Error).message)}`, { cause: err });
      }
      if (!Array.isArray(records)) throw new SourceError(`${where}: \`records\` must give a list, it gave ${describe(records)}`);
    } else {
      if (!Array.isArray(body)) {
        throw new SourceError(
          `${where}: the body is ${describe(body)}, not a list of records; set \`records\` (a CEL expression selecting them) or \`target_id\``,
        );
      }
      records = body;
    }
    const idField = config.target?.id_label ?? 'id';
    const keep = config.target?.keep_labels ?? [];
    const depField = config.target?.depends_on_label;
    let noId = 0;
    (records as unknown[]).forEach((record) => {
      const r =
        record instanceof Map
          ? Object.fromEntries(record)
          : record && typeof record === 'object' && !Array.isArray(record)
            ? (record as Record<string, unknown>)
            : undefined;
      const rawId = r && Object.hasOwn(r, idField) ? r[idField] : undefined;
      if ((typeof rawId !== 'string' || rawId === '') && (typeof rawId !== 'number' || !Number.isFinite(rawId))) {
        noId++;
        return;
      }
      const t: TargetReport = { id: String(rawId), ...evalFacts(record) };
      if (config.target?.kind) t.kind = config.target.kind;
      for (const l of keep) {
        const v = Object.hasOwn(r!, l) ? r![l] : undefined;
        if ((typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') && !FORBIDDEN_NAMES.has(l))
          (t.labels ??= {})[l] = String(v);
      }
      if (depField) {
        const d = Object.hasOwn(r!, depField) ? r![depField] : undefined;
        const deps = (Array.isArray(d) ? d : [d]).filter((x): x is string => typeof x === 'string' && x !== '');
        if (deps.length > 0) t.depends_on = deps;
      }
      targets.push(t);
    });
    if (noId > 0) {
      malformed += noId;
      const msg = `${noId} records have no "${idField}" field (text or number) and name no target; they were ignored`;
      warnings.add(msg);
      problems.push(`${where}: ${msg}`);
    }
  }
  for (const [name, c] of errorCounts) {
    warnings.add(`fact "${name}" could not be computed for ${c.count} ${c.count === 1 ? 'target' : 'targets'} (unknown there): ${c.first}`);
    if (problems.length < 20)
      problems.push(`${where}: fact "${name}" could not be computed for ${c.count} ${c.count === 1 ? 'record' : 'records'}: ${c.first}`);
  }
  malformed += failedRecords;
  return { targets, facts: factNames, warnings: warnings.done(), ...(problems.length ? { problems } : {}), ...(malformed ? { malformed } : {}) };
}

/**
 * The parsed body as CEL can read it: a map with a key such as `constructor` (which the
 * interpreter takes for the object's class) becomes a Map, and a value nested deeper than the
 * limit is replaced by nothing CEL can walk into (reading it is an error: that fact is unknown).
 * Iterative, so a body nested 100,000 levels deep costs no stack.
 */
export function celSafe(root: unknown, maxDepth: number): unknown {
  if (typeof root !== 'object' || root === null) return root;
  const holder: { v: unknown } = { v: root };
  const stack: { parent: Record<string, unknown> | unknown[] | Map<string, unknown>; key: string | number; depth: number }[] = [
    { parent: holder as unknown as Record<string, unknown>, key: 'v', depth: 1 },
  ];
  while (stack.length > 0) {
    const { parent, key, depth } = stack.pop()!;
    const v = parent instanceof Map ? parent.get(key as string) : (parent as Record<string | number, unknown>)[key];
    if (typeof v !== 'object' || v === null) continue;
    let out: unknown[] | Record<string, unknown> | Map<string, unknown>;
    if (depth > maxDepth) {
      out = new TooDeep(maxDepth) as unknown as Record<string, unknown>;
    } else if (Array.isArray(v)) {
      out = v;
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object' && v[i] !== null) stack.push({ parent: v, key: i, depth: depth + 1 });
    } else {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      // A Map reads `constructor` as a key like any other (the CEL library takes an object holding it for another type).
      const risky = keys.some((k) => FORBIDDEN_NAMES.has(k));
      if (risky) {
        const m = new Map<string, unknown>();
        for (const k of keys) if (k !== '__proto__') m.set(k, o[k]);
        out = m;
        for (const k of m.keys()) if (typeof m.get(k) === 'object' && m.get(k) !== null) stack.push({ parent: m, key: k, depth: depth + 1 });
      } else {
        out = o;
        for (const k of keys) if (typeof o[k] === 'object' && o[k] !== null) stack.push({ parent: o, key: k, depth: depth + 1 });
      }
    }
    if (out !== v) {
      if (parent instanceof Map) parent.set(key as string, out);
      else (parent as Record<string | number, unknown>)[key] = out;
    }
  }
  return holder.v;
}

function toPlain(v: unknown): unknown {
  return Array.isArray(v) ? v.map((x) => (x instanceof Map ? Object.fromEntries(x) : x)) : v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

function oneLine(msg: string): string {
  return msg.split('\n')[0]!.trim();
}
