// The HTTP JSON source: GET an endpoint, select records with CEL, compute each record's facts with CEL; or probe one target.
import type { SourceConfig } from '../../config/schema.js';
import type { FactValue, TargetReport } from '../../model.js';
import { celVars, compileCel, toFactValue, type Program } from '../cel.js';
import { request, requestHeaders, shownUrl, snippet } from '../fetch.js';
import { WarningList } from '../shape.js';
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
  for (const [name, expr] of Object.entries(config.facts)) {
    const p = compile(`facts.${name}`, expr);
    if (p) facts.push([name, p]);
  }
  return errors.length > 0 ? { errors } : { compiled: { records, facts }, errors };
}

export function createHttpSource(config: Config): Source {
  let compiled: Compiled | undefined;
  const factNames = Object.keys(config.facts);
  return {
    name: config.name,
    kind: 'http',
    declaredFacts: () => factNames,
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
  const res = await request(url, { headers: requestHeaders(config.auth, config.headers), signal: ctx.signal });
  const where = `GET ${shownUrl(url)}`;
  const probe = config.target_id !== undefined;
  let body: unknown;
  try {
    body = res.text.trim() === '' ? null : JSON.parse(res.text);
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
  const errorCounts = new Map<string, { count: number; first: string }>();

  const evalFacts = (record: unknown): Pick<TargetReport, 'facts' | 'unknown'> => {
    const facts: Record<string, FactValue> = {};
    let unknown: Record<string, string> | undefined;
    const v = celVars({ ...vars, record });
    for (const [name, program] of compiled.facts) {
      try {
        facts[name] = toFactValue(program(v));
      } catch (err) {
        const msg = oneLine((err as Error).message);
        (unknown ??= {})[name] = `error: ${msg}`;
        const c = errorCounts.get(name);
        if (c) c.count++;
        else errorCounts.set(name, { count: 1, first: msg });
      }
    }
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
      const r = record && typeof record === 'object' && !Array.isArray(record) ? (record as Record<string, unknown>) : undefined;
      const rawId = r?.[idField];
      if (typeof rawId !== 'string' && typeof rawId !== 'number') {
        noId++;
        return;
      }
      const t: TargetReport = { id: String(rawId), ...evalFacts(record) };
      if (config.target?.kind) t.kind = config.target.kind;
      for (const l of keep) {
        const v = r![l];
        if ((typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && l !== '__proto__') (t.labels ??= {})[l] = String(v);
      }
      if (depField) {
        const d = r![depField];
        const deps = (Array.isArray(d) ? d : [d]).filter((x): x is string => typeof x === 'string' && x !== '');
        if (deps.length > 0) t.depends_on = deps;
      }
      targets.push(t);
    });
    if (noId > 0) warnings.add(`${noId} records have no "${idField}" field (text or number) and name no target; they were ignored`);
  }
  for (const [name, c] of errorCounts) {
    warnings.add(`fact "${name}" could not be computed for ${c.count} ${c.count === 1 ? 'target' : 'targets'} (unknown there): ${c.first}`);
  }
  return { targets, facts: factNames, warnings: warnings.done() };
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
