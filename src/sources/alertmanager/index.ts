// The Alertmanager source: the active (and optionally silenced or inhibited) alerts of each target, as one list fact.
import type { SourceConfig } from '../../config/schema.js';
import type { FactValue, TargetReport } from '../../model.js';
import { apiUrl, request, requestHeaders, shownUrl, snippet } from '../fetch.js';
import { maxBytesOf } from '../limits.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';

type Config = Extract<SourceConfig, { kind: 'alertmanager' }>;

/** One alert as rules see it in the fact list. */
export interface AlertFact {
  [key: string]: FactValue;
  name: string;
  severity: string;
  state: 'active' | 'suppressed';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  fingerprint: string;
}

interface GettableAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
  status?: { state?: string };
}

export function createAlertmanagerSource(config: Config): Source {
  const fact = config.fact ?? 'alerts';
  return {
    name: config.name,
    kind: 'alertmanager',
    declaredFacts: () => [fact],
    collect: (ctx) => collectAlerts(config, fact, ctx),
  };
}

async function collectAlerts(config: Config, fact: string, ctx: SourceContext): Promise<SourceOutput> {
  const includeSuppressed = config.include_suppressed ?? true;
  const idLabel = config.target?.id_label ?? 'instance';
  const kind = config.target?.kind;
  const keep = config.target?.keep_labels ?? [];
  const depLabel = config.target?.depends_on_label;

  const url = apiUrl(config.url, '/api/v2/alerts');
  const params = new URLSearchParams({
    active: 'true',
    silenced: String(includeSuppressed),
    inhibited: String(includeSuppressed),
    // Not yet routed alerts may still turn out silenced: they are left for the next run.
    unprocessed: 'false',
  });
  for (const m of config.filter ?? []) params.append('filter', m);
  url.search = params.toString();
  const res = await request(url, { headers: requestHeaders(config.auth, config.headers), signal: ctx.signal, maxBytes: maxBytesOf(config) });
  const where = shownUrl(url);
  if (res.status < 200 || res.status >= 300) {
    throw new SourceError(`${where}: HTTP ${res.status} ${res.statusText}${res.text ? `: ${snippet(res.text)}` : ''}`);
  }
  let alerts: unknown;
  try {
    alerts = JSON.parse(res.text);
  } catch {
    throw new SourceError(`${where}: the answer is not JSON: ${snippet(res.text) || '(empty body)'}`);
  }
  if (!Array.isArray(alerts)) throw new SourceError(`${where}: expected a list of alerts, got: ${snippet(res.text)}`);

  const byId = new Map<string, TargetReport & { facts: Record<string, FactValue> }>();
  let noId = 0;
  for (const a of alerts as GettableAlert[]) {
    const alert = toAlertFact(a, ctx.now, includeSuppressed);
    if (!alert) continue;
    const id = alert.labels[idLabel];
    if (!id) {
      noId++;
      continue;
    }
    let t = byId.get(id);
    if (!t) {
      t = { id, facts: { [fact]: [] } };
      if (kind) t.kind = kind;
      byId.set(id, t);
    }
    (t.facts[fact] as AlertFact[]).push(alert);
    for (const l of keep) if (alert.labels[l] !== undefined && l !== '__proto__') (t.labels ??= {})[l] = alert.labels[l];
    const dep = depLabel ? alert.labels[depLabel] : undefined;
    if (dep && dep !== id) {
      t.depends_on ??= [];
      if (!t.depends_on.includes(dep)) t.depends_on.push(dep);
    }
  }
  for (const t of byId.values()) (t.facts[fact] as AlertFact[]).sort(byNameThenFingerprint);
  const warnings = noId > 0 ? [`${noId} alerts have no "${idLabel}" label and name no target; they were ignored`] : [];
  const defaults = [kind ? { kind, facts: { [fact]: [] } } : { facts: { [fact]: [] } }];
  return { targets: [...byId.values()], facts: [fact], warnings, defaults };
}

/**
 * The alert as a fact, or null when it is not firing at `now`: resolved (endsAt passed), or in a
 * state other than active/suppressed, or suppressed while suppressed alerts are not wanted.
 */
export function toAlertFact(a: GettableAlert, now: number, includeSuppressed: boolean): AlertFact | null {
  if (!a || typeof a !== 'object' || !a.labels || typeof a.labels !== 'object') return null;
  const state = a.status?.state;
  if (state !== 'active' && state !== 'suppressed') return null;
  if (state === 'suppressed' && !includeSuppressed) return null;
  const ends = a.endsAt ? Date.parse(a.endsAt) : NaN;
  if (Number.isFinite(ends) && ends <= now && !a.endsAt!.startsWith('0001-')) return null;
  const labels = stringMap(a.labels);
  return {
    name: labels.alertname ?? '',
    severity: labels.severity ?? '',
    state,
    labels,
    annotations: stringMap(a.annotations ?? {}),
    startsAt: a.startsAt ?? '',
    fingerprint: a.fingerprint ?? '',
  };
}

function stringMap(m: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (k !== '__proto__') out[k] = String(v);
  return out;
}

function byNameThenFingerprint(a: AlertFact, b: AlertFact): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0;
}
