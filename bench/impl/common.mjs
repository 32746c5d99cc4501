// What the hand-written and json-rules-engine versions of the bench rules share: Reflex's
// three-valued logic on plain values, the relations between targets, and the group aggregates.
// (json-rules-engine has neither relations nor aggregates: its users compute them in JS and pass
// them in as facts, which is what jre.mjs does with these helpers.)

/** Unknown: a missing fact, a value of the wrong type, an aggregate that cannot be known. */
export const U = Symbol('unknown');

// ---- three-valued primitives, with CEL's rules: false && U = false, true || U = true, wrong type = U
export const not = (v) => (typeof v === 'boolean' ? !v : U);
export const is = (v) => (typeof v === 'boolean' ? v : U);
export const lt = (v, c) => (typeof v === 'number' && typeof c === 'number' ? v < c : U);
export const le = (v, c) => (typeof v === 'number' && typeof c === 'number' ? v <= c : U);
export const gt = (v, c) => (typeof v === 'number' && typeof c === 'number' ? v > c : U);
export const ge = (v, c) => (typeof v === 'number' && typeof c === 'number' ? v >= c : U);
export const and = (a, b) => (a === false || b === false ? false : a === true && b === true ? true : U);
export const or = (a, b) => (a === true || b === true ? true : a === false && b === false ? false : U);
/** CEL `==` between a value and a string literal: unknown stays unknown; other types are simply not equal. */
export const eqStr = (v, s) => (v === U || v === undefined ? U : v === s);
/** `list.all(x, p)`: false if p is false for one, else unknown if unknown for one, else true; not a list: unknown. */
export function all(list, p) {
  if (!Array.isArray(list)) return U;
  let u = false;
  for (let i = 0; i < list.length; i++) {
    const v = p(list[i]);
    if (v === false) return false;
    if (v !== true) u = true;
  }
  return u ? U : true;
}
export function exists(list, p) {
  if (!Array.isArray(list)) return U;
  let u = false;
  for (let i = 0; i < list.length; i++) {
    const v = p(list[i]);
    if (v === true) return true;
    if (v !== false) u = true;
  }
  return u ? U : false;
}
/** A field of a map (a CEL `m.k`): a missing key, or reading a field of a non-map, is unknown. */
export function field(m, k) {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return U;
  return Object.hasOwn(m, k) ? m[k] : U;
}
/** `timestamp(s) > now - seconds`: unknown unless s is an RFC 3339 time. */
export function recentTs(s, now, seconds) {
  if (typeof s !== 'string') return U;
  const t = Date.parse(s);
  if (!Number.isFinite(t) || !/^\d{4}-\d\d-\d\dT/.test(s)) return U;
  return t > now - seconds * 1000;
}
/** Facts read from a target (undefined = unknown, as in Reflex where a missing fact is unknown). */
export const fact = (t, f) => (Object.hasOwn(t.facts, f) ? t.facts[f] : U);

// ---- relations
export class Relations {
  constructor(targets) {
    this.byId = new Map();
    for (const t of targets) this.byId.set(t.id, t);
    this.dependentsIdx = null;
    this.deps = new Map();
    this.up = new Map();
  }
  dependsOn(t) {
    let l = this.deps.get(t);
    if (!l) {
      l = (t.depends_on ?? []).map((id) => this.byId.get(id) ?? { id, kind: 'unknown', labels: {}, depends_on: [], facts: {} });
      this.deps.set(t, l);
    }
    return l;
  }
  dependents(t) {
    if (!this.dependentsIdx) {
      const idx = new Map();
      for (const x of this.byId.values()) {
        for (const d of x.depends_on ?? []) {
          let l = idx.get(d);
          if (!l) idx.set(d, (l = []));
          l.push(x);
        }
      }
      this.dependentsIdx = idx;
    }
    return this.dependentsIdx.get(t.id) ?? [];
  }
  upstream(t) {
    let out = this.up.get(t);
    if (out) return out;
    const seen = new Set([t.id]);
    out = [];
    let frontier = [t];
    while (frontier.length) {
      const next = [];
      for (const x of frontier) {
        for (const n of this.dependsOn(x)) {
          if (seen.has(n.id)) continue;
          seen.add(n.id);
          out.push(n);
          next.push(n);
        }
      }
      frontier = next;
    }
    this.up.set(t, out);
    return out;
  }
}

// ---- aggregates: the same definitions as rules/sop.yaml, with Reflex's rules for unknown members
const MAX_UNKNOWN = 0.1;

/**
 * Compute one aggregate for all groups. `keyOf(member)` -> group keys; `where(member)` ->
 * true/false/U; `value(member)` -> number or U. Returns Map key -> number | U.
 */
export function aggregate(targets, of, keysOf, fn, where, value) {
  const states = new Map();
  for (const m of targets) {
    if (m.kind !== of) continue;
    const keys = keysOf(m);
    if (keys.length === 0) continue;
    const inc = where ? where(m) : true;
    let unknown = inc !== true && inc !== false;
    let num = null;
    if (!unknown && inc === true && value) {
      const v = value(m);
      if (typeof v === 'number' && Number.isFinite(v)) num = v;
      else unknown = true;
    }
    for (const k of keys) {
      let s = states.get(k);
      if (!s) states.set(k, (s = { n: 0, unknown: 0, count: 0, sum: 0, known: 0 }));
      s.n++;
      if (unknown) s.unknown++;
      else if (inc === true) {
        s.count++;
        if (num !== null) {
          s.known++;
          s.sum += num;
        }
      }
    }
  }
  const out = new Map();
  for (const [k, s] of states) {
    if (s.unknown / s.n > MAX_UNKNOWN) {
      out.set(k, U);
      continue;
    }
    const known = s.n - s.unknown;
    if (fn === 'count') out.set(k, s.count);
    else if (fn === 'fraction') out.set(k, known === 0 ? U : s.count / known);
    else if (fn === 'avg') out.set(k, s.known === 0 ? U : s.sum / s.known);
    else throw new Error(`aggregate function ${fn} is not used by the bench`);
  }
  return out;
}

const byLabel = (l) => (m) => (m.labels && m.labels[l] !== undefined ? [m.labels[l]] : []);
const byDeps = (m) => [...new Set(m.depends_on ?? [])];

/**
 * The bench's six aggregates (rules/sop.yaml), each a Map from group key to value, the generic
 * way (one pass per aggregate). jre.mjs uses this: JRE users compute aggregates in JS.
 * Needs derived facts (degraded) set first.
 */
export function computeAggregates(targets) {
  return {
    unhealthy_fraction: aggregate(targets, 'instance', byLabel('service'), 'fraction', (m) => not(fact(m, 'healthy'))),
    avg_cpu: aggregate(targets, 'instance', byLabel('service'), 'avg', null, (m) => fact(m, 'cpu')),
    healthy_count: aggregate(targets, 'instance', byLabel('service'), 'count', (m) => is(fact(m, 'healthy'))),
    degraded_fraction: aggregate(targets, 'instance', byLabel('service'), 'fraction', (m) => is(fact(m, 'degraded'))),
    region_unhealthy_fraction: aggregate(targets, 'instance', byLabel('region'), 'fraction', (m) => not(fact(m, 'healthy'))),
    unhealthy_dependents: aggregate(targets, 'instance', byDeps, 'count', (m) => not(fact(m, 'healthy'))),
  };
}

/**
 * The same six aggregates as a hand-written program would compute them: one pass over the
 * instances, no closures, no arrays per member. Same values as computeAggregates.
 */
export function computeAggregatesFast(targets) {
  const svc = new Map();
  const region = new Map();
  const deps = new Map();
  const state = (m, k) => {
    let s = m.get(k);
    if (!s) m.set(k, (s = { n: 0, unhealthyU: 0, unhealthy: 0, cpuN: 0, cpuU: 0, cpuSum: 0, healthyU: 0, healthy: 0, degradedU: 0, degraded: 0 }));
    return s;
  };
  for (let i = 0; i < targets.length; i++) {
    const m = targets[i];
    if (m.kind !== 'instance') continue;
    const f = m.facts;
    const h = Object.hasOwn(f, 'healthy') ? f.healthy : U;
    const hb = typeof h === 'boolean';
    const c = Object.hasOwn(f, 'cpu') ? f.cpu : U;
    const cn = typeof c === 'number' && Number.isFinite(c);
    const d = Object.hasOwn(f, 'degraded') ? f.degraded : U;
    const db = typeof d === 'boolean';
    const s = m.labels.service;
    if (s !== undefined) {
      const g = state(svc, s);
      g.n++;
      if (!hb) g.unhealthyU++, g.healthyU++;
      else if (h) g.healthy++;
      else g.unhealthy++;
      if (cn) g.cpuN++, (g.cpuSum += c);
      else g.cpuU++;
      if (!db) g.degradedU++;
      else if (d) g.degraded++;
    }
    const r = m.labels.region;
    if (r !== undefined) {
      const g = state(region, r);
      g.n++;
      if (!hb) g.unhealthyU++;
      else if (!h) g.unhealthy++;
    }
    const dl = m.depends_on;
    for (let j = 0; j < dl.length; j++) {
      if (dl.indexOf(dl[j]) !== j) continue;
      const g = state(deps, dl[j]);
      g.n++;
      if (!hb) g.unhealthyU++;
      else if (!h) g.unhealthy++;
    }
  }
  const frac = (n, u, k) => (u / n > MAX_UNKNOWN || n === u ? U : k / (n - u));
  const out = {
    unhealthy_fraction: new Map(),
    avg_cpu: new Map(),
    healthy_count: new Map(),
    degraded_fraction: new Map(),
    region_unhealthy_fraction: new Map(),
    unhealthy_dependents: new Map(),
  };
  for (const [k, g] of svc) {
    out.unhealthy_fraction.set(k, frac(g.n, g.unhealthyU, g.unhealthy));
    out.avg_cpu.set(k, g.cpuU / g.n > MAX_UNKNOWN || g.cpuN === 0 ? U : g.cpuSum / g.cpuN);
    out.healthy_count.set(k, g.healthyU / g.n > MAX_UNKNOWN ? U : g.healthy);
    out.degraded_fraction.set(k, frac(g.n, g.degradedU, g.degraded));
  }
  for (const [k, g] of region) out.region_unhealthy_fraction.set(k, frac(g.n, g.unhealthyU, g.unhealthy));
  for (const [k, g] of deps) out.unhealthy_dependents.set(k, g.unhealthyU / g.n > MAX_UNKNOWN ? U : g.unhealthy);
  return out;
}

/** A target reads the value of its own group; a group without members counts 0 (count, fraction) or is unknown (avg). */
export function readAgg(aggs, name, key) {
  if (key === undefined) return U;
  const v = aggs[name].get(key);
  if (v === undefined) return name === 'avg_cpu' ? U : 0;
  return v;
}

/** One line per decision: rule, target, outcome (and the value of a derived fact). */
export const line = (rule, target, outcome, value) =>
  value === undefined ? `${rule}\t${target}\t${outcome}` : `${rule}\t${target}\t${outcome}\t${JSON.stringify(value)}`;
