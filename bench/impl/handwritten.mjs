// The bench rules (rules/sop.yaml) written by hand in plain JavaScript: the ceiling for Reflex's evaluation.
// Same three-valued semantics; no explanations, no compilation, no generic machinery.
import { U, all, and, computeAggregatesFast, eqStr, exists, fact, field, ge, gt, is, line, lt, not, or, readAgg, recentTs, Relations } from './common.mjs';

/** Acting rule outcome from its `when` and `context` conditions (each true / false / U). */
function outcome(when, context, forPending) {
  let u = false;
  for (const w of when) {
    if (w === false) return 'not_matched';
    if (w !== true) u = true;
  }
  if (u) return 'unknown';
  if (forPending) return 'pending';
  let cu = false;
  for (const c of context) {
    if (c === false) return 'blocked';
    if (c !== true) cu = true;
  }
  return cu ? 'unknown' : 'matched';
}

/** Evaluate every rule on every target; returns one line per decision that is not "not matched". */
export function evaluateHandwritten(targets, now, { deriveAll = false } = {}) {
  const out = [];
  const rel = new Relations(targets);
  const emit = (rule, t, o) => {
    if (o !== 'not_matched') out.push(line(rule, t.id, o));
  };

  // ---- derived facts
  for (const t of targets) {
    if (t.kind === 'datastore') {
      const w = or(gt(fact(t, 'p99_latency_ms'), 200), gt(fact(t, 'replication_lag_s'), 30));
      if (w === true) {
        t.facts.storage_slow = true;
        out.push(line('storage-slow', t.id, 'derived', true));
      } else if (w === false) t.facts.storage_slow = false;
      else out.push(line('storage-slow', t.id, 'unknown'));
    } else if (t.kind === 'instance') {
      const w = or(gt(fact(t, 'error_rate'), 0.05), gt(fact(t, 'p99_ms'), 1000));
      if (w === true) {
        t.facts.degraded = true;
        out.push(line('instance-degraded', t.id, 'derived', true));
      } else if (w === false) t.facts.degraded = false;
      else out.push(line('instance-degraded', t.id, 'unknown'));
      // The derive-everything workload (bench/project-derive): a fact on every instance.
      if (deriveAll && Object.hasOwn(t.facts, 'mem_pct') && Object.hasOwn(t.facts, 'disk_used_pct')) {
        const a = t.facts.mem_pct;
        const b = t.facts.disk_used_pct;
        if (typeof a === 'number' && typeof b === 'number') {
          const v = a / 100 + b / 100;
          t.facts.pressure = v;
          out.push(line('instance-pressure', t.id, 'derived', v));
        } else out.push(line('instance-pressure', t.id, 'unknown'));
      }
    } else if (t.kind === 'service') {
      if (Object.hasOwn(t.facts, 'max_instances') && Object.hasOwn(t.facts, 'desired_instances')) {
        const a = t.facts.max_instances;
        const b = t.facts.desired_instances;
        if (typeof a === 'number' && typeof b === 'number') {
          t.facts.headroom = a - b;
          out.push(line('service-headroom', t.id, 'derived', a - b));
        } else out.push(line('service-headroom', t.id, 'unknown'));
      }
    }
  }

  const aggs = computeAggregatesFast(targets);
  const notSlow = (d) => not(fact(d, 'storage_slow'));

  // ---- acting rules
  for (const t of targets) {
    const l = t.labels ?? {};
    switch (t.kind) {
      case 'instance': {
        const healthy = fact(t, 'healthy');
        const restarts = fact(t, 'restarts_1h');
        const svc = l.service;
        if (l.env === 'prod') {
          const when = [not(healthy), lt(restarts, 3)];
          // Context is only read when the problem is there.
          const o = outcome(when, []);
          emit(
            'restart-unhealthy-instance',
            t,
            o === 'matched'
              ? outcome(when, [
                  all(rel.dependsOn(t), notSlow),
                  lt(readAgg(aggs, 'unhealthy_fraction', svc), 0.5),
                  lt(readAgg(aggs, 'region_unhealthy_fraction', l.region), 0.2),
                ])
              : o,
          );
        }
        emit('escalate-crashloop', t, outcome([not(healthy), ge(restarts, 3)], []));
        emit('clean-full-disk', t, outcome([gt(fact(t, 'disk_used_pct'), 90)], [], true));
        {
          const when = [gt(fact(t, 'mem_pct'), 95), is(healthy)];
          const o = outcome(when, []);
          emit('recycle-leaky-instance', t, o === 'matched' ? outcome(when, [ge(readAgg(aggs, 'healthy_count', svc), 3)]) : o);
        }
        {
          const when = [is(fact(t, 'degraded')), recentTs(fact(t, 'deployed_at'), now, 1800)];
          const o = outcome(when, []);
          emit('rollback-bad-deploy', t, o === 'matched' ? outcome(when, [lt(readAgg(aggs, 'degraded_fraction', svc), 0.3)]) : o);
        }
        if (l.env === 'prod') {
          emit('drain-oom-killed', t, outcome([exists(fact(t, 'alerts'), (a) => eqStr(field(field(a, 'labels'), 'alertname'), 'OOMKilled'))], []));
        }
        break;
      }
      case 'service': {
        const svc = l.service;
        const paused = fact(t, 'paused');
        {
          const when = [gt(readAgg(aggs, 'avg_cpu', svc), 0.8), gt(fact(t, 'headroom'), 0)];
          emit('scale-out-hot-service', t, outcome(when, [all(rel.dependsOn(t), notSlow)]));
        }
        emit('service-outage', t, outcome([ge(readAgg(aggs, 'unhealthy_fraction', svc), 0.5)], []));
        emit('error-budget-burn', t, outcome([lt(fact(t, 'error_budget_remaining'), 0.1)], [not(paused)]));
        {
          const when = [lt(readAgg(aggs, 'avg_cpu', svc), 0.15), gt(fact(t, 'desired_instances'), 2)];
          const known = (d) => and(Object.hasOwn(d.facts, 'storage_slow'), not(fact(d, 'storage_slow')));
          emit('scale-in-idle-service', t, outcome(when, [not(paused), all(rel.dependsOn(t), known)]));
        }
        break;
      }
      case 'datastore': {
        emit('page-on-slow-database', t, outcome([is(fact(t, 'storage_slow'))], []));
        emit('expand-datastore-disk', t, outcome([gt(fact(t, 'disk_used_pct'), 85)], []));
        if (l.role === 'primary') {
          emit('failover-lagging-primary', t, outcome([gt(fact(t, 'replication_lag_s'), 60)], [lt(readAgg(aggs, 'unhealthy_dependents', t.id), 10)]));
        }
        {
          const when = [gt(fact(t, 'connections_used_pct'), 90)];
          const o = outcome(when, []);
          emit(
            'kill-idle-connections',
            t,
            o === 'matched' ? outcome(when, [not(exists(rel.dependents(t), (x) => and(x.kind === 'service', is(fact(x, 'paused')))))]) : o,
          );
        }
        break;
      }
      case 'customer': {
        if (l.tier === 'gold') {
          const when = [gt(fact(t, 'error_rate'), 0.02)];
          const o = outcome(when, []);
          emit(
            'tell-gold-customer',
            t,
            o === 'matched' ? outcome(when, [all(rel.upstream(t), (x) => or(x.kind !== 'datastore', not(fact(x, 'storage_slow'))))]) : o,
          );
        }
        emit('customer-on-burning-service', t, outcome([exists(rel.dependsOn(t), (s) => lt(fact(s, 'error_budget_remaining'), 0.05))], []));
        break;
      }
      case 'region': {
        emit('region-capacity', t, outcome([gt(fact(t, 'capacity_pct'), 85)], [lt(readAgg(aggs, 'region_unhealthy_fraction', l.region), 0.3)]));
        emit('region-incident', t, outcome([is(fact(t, 'incident_open')), ge(readAgg(aggs, 'region_unhealthy_fraction', l.region), 0.2)], []));
        break;
      }
    }
  }
  return { lines: out, aggregates: aggs, U };
}
