// A deterministic fleet for the benchmark: regions, services, datastores, instances and customers,
// mostly healthy, with the trouble a real fleet has on a bad day (see SCENARIOS below).
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'ap-east'];
const ZONES = ['a', 'b', 'c'];

/**
 * What goes wrong in every generated fleet, whatever its size:
 * - a service-wide outage: 75% of the instances of service 2 are unhealthy (restarts are
 *   then blocked by `not_widespread`, and `service-outage` escalates once);
 * - a regional incident: ap-south has an open incident and over a fifth of its instances down
 *   (restarts there are blocked by `region_ok`; `region-incident` escalates once);
 * - a slow datastore: the primary of service 4 answers in 850 ms (storage_slow), so restarts
 *   of its instances are blocked by `database_ok` and its gold customers are told;
 * - a lagging primary (service 5), a datastore whose metrics are missing (service 6: its
 *   storage_slow is unknown, and so are decisions that read it);
 * - a hot service (1) and an idle one (7); a paused service (3);
 * - background noise: ~1% unhealthy instances, full disks, leaky memory, OOM alerts,
 *   degraded instances (some freshly deployed), and ~0.5% of instances with unknown facts.
 */
export const SCENARIOS = {
  outageService: 2,
  slowDbService: 4,
  laggingDbService: 5,
  unknownDbService: 6,
  hotService: 1,
  idleService: 7,
  pausedService: 3,
  incidentRegion: 'ap-south',
};

/** mulberry32: a small, fast, seeded PRNG (the fleet must be the same on every machine). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n, w) => String(n).padStart(w, '0');
const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The fleet of `size` targets (exactly), as an inventory document. `now` (ms) anchors
 * deployment times: a "recent" deploy is 2-20 minutes before it, an old one 2-48 hours.
 */
export function generateFleet(size, now, seed = 42) {
  const r = rng(seed * 1_000_003 + size);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const nServices = Math.max(8, Math.round(size / 250));
  const nCustomers = Math.max(5, Math.round(size / 100));
  const nInstances = size - REGIONS.length - 3 * nServices - nCustomers;
  if (nInstances < nServices) throw new Error(`a fleet of ${size} targets is too small`);
  const targets = [];
  const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

  for (const region of REGIONS) {
    const incident = region === SCENARIOS.incidentRegion;
    targets.push({
      id: region,
      kind: 'region',
      labels: { region },
      facts: { capacity_pct: incident ? 88 : round(55 + r() * 35, 1), incident_open: incident },
    });
  }

  const services = [];
  for (let s = 0; s < nServices; s++) {
    const name = `svc-${pad(s, 3)}`;
    const db = `${name}-db`;
    const cache = `${name}-cache`;
    services.push({ name, db, cache });
    const desired = 2 + Math.floor(r() * 10);
    const facts = {
      desired_instances: s === SCENARIOS.idleService ? 6 : desired,
      max_instances: desired + 2 + Math.floor(r() * 8),
      error_budget_remaining: round(r() < 0.06 ? r() * 0.1 : 0.1 + r() * 0.9, 3),
      paused: s === SCENARIOS.pausedService,
    };
    if (s === SCENARIOS.outageService) facts.error_budget_remaining = 0.01;
    // A service without sizing facts: its `headroom` is never derived (unknown).
    if (s % 50 === 17) delete facts.max_instances;
    targets.push({ id: name, kind: 'service', labels: { service: name, team: `team-${s % 12}` }, depends_on: [db, cache], facts });

    const dbFacts = {
      p99_latency_ms: round(10 + r() * 60, 1),
      replication_lag_s: round(r() * 5, 2),
      connections_used_pct: round(r() < 0.05 ? 91 + r() * 8 : 20 + r() * 60, 1),
      disk_used_pct: round(r() < 0.05 ? 86 + r() * 12 : 30 + r() * 50, 1),
    };
    if (s === SCENARIOS.slowDbService) dbFacts.p99_latency_ms = 850;
    if (s === SCENARIOS.laggingDbService) dbFacts.replication_lag_s = 120;
    const dbEntry = { id: db, kind: 'datastore', labels: { service: name, role: 'primary', region: REGIONS[s % REGIONS.length] }, facts: dbFacts };
    if (s === SCENARIOS.unknownDbService) {
      delete dbEntry.facts.p99_latency_ms;
      delete dbEntry.facts.replication_lag_s;
      dbEntry.unknown = { p99_latency_ms: 'exporter down', replication_lag_s: 'exporter down' };
    }
    targets.push(dbEntry);
    targets.push({
      id: cache,
      kind: 'datastore',
      labels: { service: name, role: 'cache', region: REGIONS[(s + 1) % REGIONS.length] },
      facts: {
        p99_latency_ms: round(1 + r() * 5, 2),
        replication_lag_s: 0,
        connections_used_pct: round(10 + r() * 70, 1),
        disk_used_pct: round(10 + r() * 60, 1),
      },
    });
  }

  // Instances, spread over the services unevenly (a few big services, many small ones).
  const weights = services.map((_, i) => 1 + 3 * r() + (i % 10 === 0 ? 4 : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.max(1, Math.floor((w / total) * nInstances)));
  let rest = nInstances - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]++;

  services.forEach((svc, s) => {
    const base = s === SCENARIOS.hotService ? 0.86 : s === SCENARIOS.idleService ? 0.07 : 0.25 + r() * 0.4;
    for (let k = 0; k < counts[s]; k++) {
      const region = REGIONS[Math.floor(r() * REGIONS.length)];
      let healthy = r() >= 0.01;
      if (s === SCENARIOS.outageService && r() < 0.75) healthy = false;
      if (region === SCENARIOS.incidentRegion && r() < 0.22) healthy = false;
      const recent = r() < 0.08;
      const facts = {
        healthy,
        restarts_1h: healthy ? (r() < 0.05 ? 1 : 0) : Math.floor(r() * 5),
        cpu: round(Math.min(1, Math.max(0, base + (r() - 0.5) * 0.1)), 3),
        mem_pct: round(r() < 0.006 ? 95.5 + r() * 4 : 35 + r() * 55, 1),
        disk_used_pct: round(r() < 0.01 ? 90.5 + r() * 9 : 20 + r() * 65, 1),
        error_rate: round(r() < 0.01 ? 0.06 + r() * 0.2 : r() * 0.01, 4),
        p99_ms: Math.round(r() < 0.005 ? 1200 + r() * 3000 : 40 + r() * 400),
        deployed_at: iso(recent ? now - (2 + r() * 18) * 60_000 : now - (2 + r() * 46) * 3_600_000),
        alerts: r() < 0.004 ? [{ labels: { alertname: 'OOMKilled', severity: 'warning' } }] : r() < 0.01 ? [{ labels: { alertname: 'HighLatency' } }] : [],
      };
      const entry = {
        id: `${svc.name}-i${pad(k, 5)}`,
        kind: 'instance',
        labels: { service: svc.name, region, env: r() < 0.9 ? 'prod' : 'staging', zone: pick(ZONES) },
        depends_on: [svc.db, svc.cache],
        facts,
      };
      // ~0.5% of instances: the health probe timed out, or the cpu sample was stale.
      const u = r();
      if (u < 0.003) {
        delete facts.healthy;
        entry.unknown = { healthy: 'probe timed out' };
      } else if (u < 0.005) {
        delete facts.cpu;
        entry.unknown = { cpu: 'stale sample' };
      }
      targets.push(entry);
    }
  });

  for (let c = 0; c < nCustomers; c++) {
    const uses = new Set();
    const n = 1 + Math.floor(r() * 3);
    // Customers on the slow-database service make that scenario visible at every size.
    if (c % 10 === 0) uses.add(services[SCENARIOS.slowDbService].name);
    while (uses.size < n) uses.add(services[Math.floor(r() * services.length)].name);
    targets.push({
      id: `cust-${pad(c, 5)}`,
      kind: 'customer',
      labels: { tier: r() < 0.2 ? 'gold' : 'standard', region: pick(REGIONS) },
      depends_on: [...uses],
      facts: { error_rate: round(r() < 0.05 ? 0.021 + r() * 0.1 : r() * 0.015, 4) },
    });
  }
  if (targets.length !== size) throw new Error(`generated ${targets.length} targets instead of ${size}`);
  return { targets };
}

/**
 * The derive-everything workload's extra rule: a derived fact on every instance (about 98% of the
 * fleet), the shape that made every run store a copy of the fleet (issue 15). The hand-written and
 * json-rules-engine versions implement it when this file is in the project (eval-worker.mjs).
 */
export const DERIVE_ALL_RULE = `# The derive-everything workload: a fact derived on every instance.
rules:
  - name: instance-pressure
    target: { kind: instance }
    derive: pressure
    value: facts.mem_pct / 100.0 + facts.disk_used_pct / 100.0
    when:
      measured: has(facts.mem_pct) && has(facts.disk_used_pct)
`;

/**
 * Write a benchmark project for \`size\` targets into \`dir\`: the project template plus inventory.json;
 * with \`deriveAll\`, the derive-everything rule too (rules/derive-all.yaml).
 */
export function writeProject(dir, size, now, templateDir, { deriveAll = false } = {}) {
  mkdirSync(dir, { recursive: true });
  cpSync(templateDir, dir, { recursive: true });
  if (deriveAll) writeFileSync(join(dir, 'rules', 'derive-all.yaml'), DERIVE_ALL_RULE);
  const fleet = generateFleet(size, now);
  const json = JSON.stringify(fleet);
  writeFileSync(join(dir, 'inventory.json'), json);
  return { bytes: Buffer.byteLength(json), targets: fleet.targets.length, fleet };
}

/**
 * Between two runs, change \`fraction\` of the instances' facts the way a quiet minute does: their
 * p99 latency moves, within the range no rule reads as trouble (so every decision stays the same).
 * Deterministic per \`step\`. Returns the new inventory's size in bytes.
 */
export function perturbFleet(dir, fleet, fraction, step) {
  const r = rng(7919 * (step + 1));
  for (const t of fleet.targets) {
    if (t.kind !== 'instance' || t.facts.p99_ms === undefined || t.facts.p99_ms >= 1000) continue;
    if (r() < fraction) t.facts.p99_ms = 40 + Math.round(r() * 400);
  }
  const json = JSON.stringify(fleet);
  writeFileSync(join(dir, 'inventory.json'), json);
  return Buffer.byteLength(json);
}
