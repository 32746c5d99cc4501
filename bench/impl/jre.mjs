// The bench rules (rules/sop.yaml) in json-rules-engine: one engine per target kind, one run per target.
// json-rules-engine has two-valued conditions, so each Reflex condition becomes three conditions
// (holds / fails / unknown) over custom operators, and each rule becomes the JRE rules that decide
// its outcome. Relations and aggregates are computed in JS (common.mjs) and passed in as facts,
// the way JRE users do it.
import jre from 'json-rules-engine';
import { U, all, and, computeAggregates, eqStr, exists, field, ge, gt, is, line, lt, not, or, readAgg, recentTs, Relations } from './common.mjs';

const { Engine } = jre;

// Facts arrive as JRE facts: a missing one is `undefined` (allowUndefinedFacts), read here as unknown.
const v = (x) => (x === undefined ? U : x);
const notSlow = (d) => not(Object.hasOwn(d.facts, 'storage_slow') ? d.facts.storage_slow : U);

/** Three-valued operators: each registered three times, as NAME (holds), NAME! (fails) and NAME? (unknown). */
function operators(now) {
  return {
    lt: (a, b) => lt(v(a), b),
    gt: (a, b) => gt(v(a), b),
    ge: (a, b) => ge(v(a), b),
    not: (a) => not(v(a)),
    is: (a) => is(v(a)),
    // has() is never unknown: only "holds" and "fails" are used
    has: (a) => a !== undefined,
    recent: (a, seconds) => recentTs(v(a), now, seconds),
    alertNamed: (a, name) => exists(v(a), (x) => eqStr(field(field(x, 'labels'), 'alertname'), name)),
    allNotSlow: (list) => all(list, notSlow),
    allKnownNotSlow: (list) => all(list, (d) => and(Object.hasOwn(d.facts, 'storage_slow'), notSlow(d))),
    noPausedService: (list) => not(exists(list, (x) => and(x.kind === 'service', is(Object.hasOwn(x.facts, 'paused') ? x.facts.paused : U)))),
    upstreamStorageOk: (list) => all(list, (x) => or(x.kind !== 'datastore', notSlow(x))),
    anyBudgetBelow: (list, c) => exists(list, (s) => lt(Object.hasOwn(s.facts, 'error_budget_remaining') ? s.facts.error_budget_remaining : U, c)),
  };
}

// ---- condition trees: a Reflex condition as its three JRE forms
const leaf = (fact, op, value = null) => ({
  T: { fact, operator: op, value },
  F: { fact, operator: `${op}!`, value },
  U: { fact, operator: `${op}?`, value },
});
const anyOf = (a, b) => ({ T: { any: [a.T, b.T] }, F: { all: [a.F, b.F] }, U: { all: [{ not: { any: [a.T, b.T] } }, { not: { all: [a.F, b.F] } }] } });
const allOf = (a, b) => ({ T: { all: [a.T, b.T] }, F: { any: [a.F, b.F] }, U: { all: [{ not: { all: [a.T, b.T] } }, { not: { any: [a.F, b.F] } }] } });

/** The JRE rules deciding one Reflex rule's outcome; a target on which none fires is "not matched". */
function acting(name, when, context = [], opts = {}) {
  const holds = when.map((c) => c.T);
  const event = (outcome) => ({ type: 'decision', params: { rule: name, outcome } });
  const whenUnknown = { all: [{ not: { any: when.map((c) => c.F) } }, { any: when.map((c) => c.U) }] };
  if (opts.pending)
    return [
      { conditions: { all: holds }, event: event('pending') },
      { conditions: whenUnknown, event: event('unknown') },
    ];
  const rules = [{ conditions: { all: [...holds, ...context.map((c) => c.T)] }, event: event('matched') }];
  if (context.length) {
    rules.push({ conditions: { all: [...holds, { any: context.map((c) => c.F) }] }, event: event('blocked') });
    rules.push({
      conditions: { any: [whenUnknown, { all: [...holds, { not: { any: context.map((c) => c.F) } }, { any: context.map((c) => c.U) }] }] },
      event: event('unknown'),
    });
  } else rules.push({ conditions: whenUnknown, event: event('unknown') });
  return rules;
}

/** A derive rule (without value): derived when it holds, false when it fails, unknown otherwise. */
function deriving(name, cond) {
  return [
    { conditions: cond.T, event: { type: 'derive', params: { rule: name, value: true } } },
    { conditions: cond.F, event: { type: 'derive', params: { rule: name, value: false } } },
  ];
}

const RULES = {
  derive: {
    datastore: deriving('storage-slow', anyOf(leaf('p99_latency_ms', 'gt', 200), leaf('replication_lag_s', 'gt', 30))),
    instance: deriving('instance-degraded', anyOf(leaf('error_rate', 'gt', 0.05), leaf('p99_ms', 'gt', 1000))),
    service: [
      {
        conditions: { all: [leaf('max_instances', 'has').T, leaf('desired_instances', 'has').T] },
        event: { type: 'derive', params: { rule: 'service-headroom', value: 'difference' } },
      },
    ],
  },
  act: {
    instance: [
      ...acting(
        'restart-unhealthy-instance',
        [leaf('env_prod', 'is'), leaf('healthy', 'not'), leaf('restarts_1h', 'lt', 3)],
        [leaf('depends_on', 'allNotSlow'), leaf('agg_unhealthy_fraction', 'lt', 0.5), leaf('agg_region_unhealthy_fraction', 'lt', 0.2)],
      ),
      ...acting('escalate-crashloop', [allOf(leaf('healthy', 'not'), leaf('restarts_1h', 'ge', 3))]),
      ...acting('clean-full-disk', [leaf('disk_used_pct', 'gt', 90)], [], { pending: true }),
      ...acting('recycle-leaky-instance', [leaf('mem_pct', 'gt', 95), leaf('healthy', 'is')], [leaf('agg_healthy_count', 'ge', 3)]),
      ...acting('rollback-bad-deploy', [leaf('degraded', 'is'), leaf('deployed_at', 'recent', 1800)], [leaf('agg_degraded_fraction', 'lt', 0.3)]),
      ...acting('drain-oom-killed', [leaf('env_prod', 'is'), leaf('alerts', 'alertNamed', 'OOMKilled')]),
    ],
    service: [
      ...acting('scale-out-hot-service', [leaf('agg_avg_cpu', 'gt', 0.8), leaf('headroom', 'gt', 0)], [leaf('depends_on', 'allNotSlow')]),
      ...acting('service-outage', [leaf('agg_unhealthy_fraction', 'ge', 0.5)]),
      ...acting('error-budget-burn', [leaf('error_budget_remaining', 'lt', 0.1)], [leaf('paused', 'not')]),
      ...acting(
        'scale-in-idle-service',
        [leaf('agg_avg_cpu', 'lt', 0.15), leaf('desired_instances', 'gt', 2)],
        [leaf('paused', 'not'), leaf('depends_on', 'allKnownNotSlow')],
      ),
    ],
    datastore: [
      ...acting('page-on-slow-database', [leaf('storage_slow', 'is')]),
      ...acting('expand-datastore-disk', [leaf('disk_used_pct', 'gt', 85)]),
      ...acting('failover-lagging-primary', [leaf('role_primary', 'is'), leaf('replication_lag_s', 'gt', 60)], [leaf('agg_unhealthy_dependents', 'lt', 10)]),
      ...acting('kill-idle-connections', [leaf('connections_used_pct', 'gt', 90)], [leaf('dependents', 'noPausedService')]),
    ],
    customer: [
      ...acting('tell-gold-customer', [leaf('tier_gold', 'is'), leaf('error_rate', 'gt', 0.02)], [leaf('upstream', 'upstreamStorageOk')]),
      ...acting('customer-on-burning-service', [leaf('depends_on', 'anyBudgetBelow', 0.05)]),
    ],
    region: [
      ...acting('region-capacity', [leaf('capacity_pct', 'gt', 85)], [leaf('agg_region_unhealthy_fraction', 'lt', 0.3)]),
      ...acting('region-incident', [leaf('incident_open', 'is'), leaf('agg_region_unhealthy_fraction', 'ge', 0.2)]),
    ],
  },
};

const PRESSURE = [
  {
    conditions: { all: [leaf('mem_pct', 'has').T, leaf('disk_used_pct', 'has').T] },
    event: { type: 'derive', params: { rule: 'instance-pressure', value: 'sum' } },
  },
];

// Label selectors (env: prod, role: primary, tier: gold) are conditions on the facts env_prod,
// role_primary and tier_gold: a target they exclude fails the rule, which is "not matched".

function makeEngine(rules, ops, rel) {
  const engine = new Engine([], { allowUndefinedFacts: true });
  if (rel) {
    // Relations as dynamic facts, computed only when a condition reads them.
    const target = (almanac) => almanac.factValue('target');
    engine.addFact('depends_on', async (_p, almanac) => rel.dependsOn(await target(almanac)));
    engine.addFact('dependents', async (_p, almanac) => rel.dependents(await target(almanac)));
    engine.addFact('upstream', async (_p, almanac) => rel.upstream(await target(almanac)));
  }
  for (const [name, f] of Object.entries(ops)) {
    engine.addOperator(name, (a, b) => f(a, b) === true);
    engine.addOperator(`${name}!`, (a, b) => f(a, b) === false);
    engine.addOperator(`${name}?`, (a, b) => {
      const r = f(a, b);
      return r !== true && r !== false;
    });
  }
  for (const r of rules) engine.addRule(r);
  return engine;
}

/**
 * Evaluate every rule on every target (or on `sample` of the targets for the acting rules,
 * all targets still feeding derived facts and aggregates). Returns decision lines as the other
 * implementations do. Async: json-rules-engine is promise-based.
 */
export async function evaluateJre(targets, now, { sampleEvery = 1, deriveAll = false } = {}) {
  const ops = operators(now);
  const derive = Object.fromEntries(Object.entries(RULES.derive).map(([k, rules]) => [k, makeEngine(rules, ops)]));
  // The derive-everything workload (bench/project-derive): a fact on every instance, its own engine
  // (the value is computed in JS, as for service-headroom: JRE computes no values).
  const pressure = deriveAll ? makeEngine(PRESSURE, ops) : null;
  const out = [];
  const rel = new Relations(targets);
  const act = Object.fromEntries(Object.entries(RULES.act).map(([k, rules]) => [k, makeEngine(rules, ops, rel)]));

  for (const t of targets) {
    const engine = derive[t.kind];
    if (!engine) continue;
    const { events } = await engine.run({ ...t.facts });
    const ev = events[0];
    if (t.kind === 'service') {
      if (ev) {
        const a = t.facts.max_instances;
        const b = t.facts.desired_instances;
        if (typeof a === 'number' && typeof b === 'number') {
          t.facts.headroom = a - b;
          out.push(line('service-headroom', t.id, 'derived', a - b));
        } else out.push(line('service-headroom', t.id, 'unknown'));
      }
      continue;
    }
    if (pressure && t.kind === 'instance') {
      const { events: pe } = await pressure.run({ ...t.facts });
      if (pe[0]) {
        const a = t.facts.mem_pct;
        const b = t.facts.disk_used_pct;
        if (typeof a === 'number' && typeof b === 'number') {
          t.facts.pressure = a / 100 + b / 100;
          out.push(line('instance-pressure', t.id, 'derived', t.facts.pressure));
        } else out.push(line('instance-pressure', t.id, 'unknown'));
      }
    }
    const fact = t.kind === 'datastore' ? 'storage_slow' : 'degraded';
    const rule = t.kind === 'datastore' ? 'storage-slow' : 'instance-degraded';
    if (!ev) out.push(line(rule, t.id, 'unknown'));
    else {
      t.facts[fact] = ev.params.value;
      if (ev.params.value) out.push(line(rule, t.id, 'derived', true));
    }
  }

  const aggs = computeAggregates(targets);
  let i = 0;
  for (const t of targets) {
    const engine = act[t.kind];
    if (!engine) continue;
    if (sampleEvery > 1 && i++ % sampleEvery !== 0) continue;
    const l = t.labels ?? {};
    const key = t.kind === 'region' ? l.region : l.service;
    const facts = {
      ...t.facts,
      target: t,
      env_prod: l.env === 'prod',
      role_primary: l.role === 'primary',
      tier_gold: l.tier === 'gold',
      agg_unhealthy_fraction: v0(readAgg(aggs, 'unhealthy_fraction', key)),
      agg_region_unhealthy_fraction: v0(readAgg(aggs, 'region_unhealthy_fraction', l.region)),
      agg_healthy_count: v0(readAgg(aggs, 'healthy_count', key)),
      agg_degraded_fraction: v0(readAgg(aggs, 'degraded_fraction', key)),
      agg_avg_cpu: v0(readAgg(aggs, 'avg_cpu', key)),
      agg_unhealthy_dependents: v0(readAgg(aggs, 'unhealthy_dependents', t.id)),
    };
    const { events } = await engine.run(facts);
    for (const ev of events) out.push(line(ev.params.rule, t.id, ev.params.outcome));
  }
  return { lines: out, aggregates: aggs };
}

const v0 = (x) => (x === U ? undefined : x);
