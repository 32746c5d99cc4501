// Micro-benchmark: compiled CEL vs the cel-js interpreter vs hand-written JS, over 100,000 activations.
// Run: npx tsx bench/cel-micro.ts [activations] (kept out of src/, so it is never part of dist/)
import { compile, UNKNOWN, type CompiledExpr } from '../src/rules/cel/index.js';

const U = UNKNOWN;
const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = 15;

const VARS = {
  facts: 'map<string, dyn>',
  labels: 'map<string, string>',
  target: 'map<string, string>',
  agg: 'map<string, dyn>',
  depends_on: 'list<map<string, dyn>>',
  now: 'timestamp',
};

// ---------------------------------------------------------------- activations (deterministic)

let seed = 42;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

const NOW = new Date('2024-05-01T12:00:00Z');
const ALERTS = ['HighErrorRate', 'DiskFull', 'HighLatency', 'InstanceDown'];

function makeActivation(i: number): object {
  const facts: Record<string, unknown> = {};
  if (rnd() < 0.95) facts.up = rnd() < 0.2 ? 0 : 1;
  if (rnd() < 0.95) facts.restarts_1h = Math.floor(rnd() * 6);
  if (rnd() < 0.9) facts.deployed_at = new Date(NOW.getTime() - Math.floor(rnd() * 3_600_000)).toISOString();
  if (rnd() < 0.9)
    facts.alerts = Array.from({ length: Math.floor(rnd() * 4) }, () => ({
      labels: { alertname: ALERTS[Math.floor(rnd() * ALERTS.length)]!, severity: 'page' },
    }));
  facts.cpu = rnd();
  const deps = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, j) => {
    const f: Record<string, unknown> = { lag: rnd() * 10 };
    if (rnd() < 0.97) f.healthy = rnd() < 0.9;
    return { id: `db-${j}`, kind: 'datastore', labels: { role: j ? 'replica' : 'primary' }, facts: f };
  });
  return {
    facts,
    labels: { env: rnd() < 0.7 ? 'prod' : 'staging', service: `svc-${i % 50}` },
    target: { id: i % 3 ? `i-${i}` : `Web-${i % 1000}`, kind: 'instance' },
    agg: rnd() < 0.98 ? { service_unhealthy: rnd() * 0.6 } : {},
    depends_on: deps,
    now: NOW,
  };
}

// ---------------------------------------------------------------- the conditions, and what a careful person would write by hand

type Act = {
  facts: Record<string, unknown>;
  labels: Record<string, unknown>;
  agg: Record<string, unknown>;
  depends_on: { facts: Record<string, unknown> }[];
  target: { id: string };
  now: Date;
};

const WEB = /^i-[0-9]+$/;
const WEB_I = /^web-[0-9]+$/i;

const CASES: { name: string; cel: string; hand: (a: Act) => unknown }[] = [
  {
    name: 'facts and &&',
    cel: 'facts.up == 0 && facts.restarts_1h < 3',
    hand: (a) => {
      const up = a.facts.up;
      const c1 = up === undefined ? U : up === 0;
      if (c1 === false) return false;
      const r = a.facts.restarts_1h;
      const c2 = typeof r === 'number' ? r < 3 : U;
      if (c2 === false) return false;
      return c1 === true && c2 === true ? true : U;
    },
  },
  {
    name: 'relations: all()',
    cel: 'depends_on.all(d, d.facts.healthy)',
    hand: (a) => {
      const ds = a.depends_on;
      let unknown = false;
      for (let i = 0; i < ds.length; i++) {
        const h = ds[i]!.facts.healthy;
        if (h === false) return false;
        if (h !== true) unknown = true;
      }
      return unknown ? U : true;
    },
  },
  {
    name: 'aggregate and label',
    cel: 'agg.service_unhealthy > 0.3 && labels.env == "prod"',
    hand: (a) => {
      const x = a.agg.service_unhealthy;
      const c1 = typeof x === 'number' ? x > 0.3 : U;
      if (c1 === false) return false;
      const env = a.labels.env;
      const c2 = typeof env === 'string' ? env === 'prod' : U;
      if (c2 === false) return false;
      return c1 === true && c2 === true ? true : U;
    },
  },
  {
    name: 'in + map()',
    cel: '"HighErrorRate" in facts.alerts.map(a, a.labels.alertname)',
    hand: (a) => {
      const alerts = a.facts.alerts;
      if (!Array.isArray(alerts)) return U;
      const names: unknown[] = [];
      for (let i = 0; i < alerts.length; i++) {
        const n = alerts[i]?.labels?.alertname;
        if (n === undefined) return U;
        names.push(n);
      }
      return names.includes('HighErrorRate');
    },
  },
  {
    name: 'timestamps',
    cel: 'now - timestamp(facts.deployed_at) > duration("10m")',
    hand: (a) => {
      const s = a.facts.deployed_at;
      if (typeof s !== 'string') return U;
      const t = Date.parse(s);
      if (Number.isNaN(t)) return U;
      return a.now.getTime() - t > 600_000;
    },
  },
  {
    // RE2 translated to a JS RegExp (the common subset).
    name: 'matches (RE2 as JS)',
    cel: 'target.id.matches("^i-[0-9]+$")',
    hand: (a) => WEB.test(a.target.id),
  },
  {
    // RE2-only syntax, matched by re2js.
    name: 'matches (re2js)',
    cel: 'target.id.matches("(?i)^web-[[:digit:]]+$")',
    hand: (a) => WEB_I.test(a.target.id),
  },
];

// ---------------------------------------------------------------- measuring

/** One pass over all activations: ns per evaluation, and the tally of results. */
function pass(acts: object[], f: (a: object) => unknown): { ns: number; tally: string } {
  let t = 0;
  let fl = 0;
  let u = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < acts.length; i++) {
    const v = f(acts[i]!);
    if (v === true) t++;
    else if (v === false) fl++;
    else u++;
  }
  return { ns: Number(process.hrtime.bigint() - start) / acts.length, tally: `${t}/${fl}/${u}` };
}

/** Rounds interleave the contenders so that noise from the machine hits all of them; the best pass counts. */
function race(acts: object[], contenders: ((a: object) => unknown)[]): { ns: number; tally: string }[] {
  const best = contenders.map(() => ({ ns: Infinity, tally: '' }));
  for (let round = 0; round < ROUNDS; round++) {
    contenders.forEach((f, i) => {
      const r = pass(acts, f);
      if (r.ns < best[i]!.ns) best[i] = r;
    });
  }
  return best;
}

function main(): void {
  const acts = Array.from({ length: N }, (_, i) => makeActivation(i));
  console.log(`${N} activations, best of ${ROUNDS} rounds, ns per evaluation (true/false/unknown tallies must match)\n`);
  console.log(['condition'.padEnd(22), 'hand-written', 'compiled', 'interpreter', 'compiled/hand', 'interp/hand'].join('  '));
  for (const c of CASES) {
    const r = compile(c.cel, { variables: VARS });
    if (!r.expr) throw new Error(`${c.cel}: ${r.errors.map((e) => e.message).join('; ')}`);
    const expr: CompiledExpr = r.expr;
    if (!expr.fast) throw new Error(`${c.cel} did not compile: ${expr.fallback}`);
    const [hand, fast, interp] = race(acts, [c.hand as (a: object) => unknown, (a) => expr.eval(a), (a) => expr.interpret(a)]) as [
      { ns: number; tally: string },
      { ns: number; tally: string },
      { ns: number; tally: string },
    ];
    if (hand.tally !== fast.tally || fast.tally !== interp.tally) {
      throw new Error(`${c.name}: results differ: hand ${hand.tally}, compiled ${fast.tally}, interpreter ${interp.tally}`);
    }
    console.log(
      [
        c.name.padEnd(22),
        hand.ns.toFixed(1).padStart(12),
        fast.ns.toFixed(1).padStart(8),
        interp.ns.toFixed(1).padStart(11),
        `${(fast.ns / hand.ns).toFixed(2)}x`.padStart(13),
        `${(interp.ns / hand.ns).toFixed(1)}x`.padStart(11),
      ].join('  '),
      `  (${hand.tally})`,
    );
  }
}

main();
