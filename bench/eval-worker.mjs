// One implementation of the bench rules, timed in a fresh process:
//   node bench/eval-worker.mjs <reflex|handwritten|jre> <projectDir> <nowMs> <reps> <outFile> [sampleEvery]
// The first evaluation is "cold" (as in one `reflex run`), the others "warm". Writes the decision
// lines of the first evaluation, and the aggregate values, to outFile (JSON); prints timings as JSON.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [impl, dir, nowArg, repsArg, outFile, sampleArg] = process.argv.slice(2);
const now = Number(nowArg);
const reps = Number(repsArg);
const sampleEvery = Number(sampleArg ?? 1);
const times = [];
const cpuTimes = [];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
// The derive-everything workload carries its extra rule in its own file (fleet.mjs).
const deriveAll = existsSync(join(dir, 'rules', 'derive-all.yaml'));
let lines;
let aggregates = null;

if (impl === 'reflex') {
  const { loadReflex, collectTargets, evaluateReflex, reflexLines } = await import('./impl/reflex.mjs');
  const { project, ruleSet, interpreted } = loadReflex(dir);
  if (interpreted.length) process.stderr.write(`interpreted (not compiled) expressions:\n  ${interpreted.join('\n  ')}\n`);
  for (let i = 0; i < reps; i++) {
    const collected = await collectTargets(project);
    globalThis.gc?.();
    const c0 = cpu();
    const t0 = performance.now();
    const res = evaluateReflex(ruleSet, collected, now);
    times.push(performance.now() - t0);
    cpuTimes.push(cpu() - c0);
    if (i === 0) {
      lines = reflexLines(res);
      aggregates = {};
      for (const name of ruleSet.aggregates.keys()) {
        // every group's value, read through a member of the group (as conditions read it)
        aggregates[name] = {};
        for (const t of collected.targets) {
          const a = ruleSet.aggregates.get(name);
          const key = a.groupBy === 'depends_on' ? t.id : a.groupBy === 'all' ? '' : t.labels[a.groupBy[0]];
          if (key === undefined || key in aggregates[name]) continue;
          if (a.groupBy === 'depends_on' && t.kind !== 'datastore') continue;
          if (a.groupBy !== 'depends_on' && t.kind !== a.of) continue;
          const v = res.world.aggregate(name, t);
          aggregates[name][key] = typeof v === 'symbol' ? 'unknown' : v;
        }
      }
    }
  }
} else {
  const text = readFileSync(join(dir, 'inventory.json'), 'utf8');
  const fresh = () => JSON.parse(text).targets.map((t) => ({ ...t, labels: t.labels ?? {}, depends_on: t.depends_on ?? [], facts: t.facts ?? {} }));
  const run =
    impl === 'handwritten'
      ? (await import('./impl/handwritten.mjs')).evaluateHandwritten
      : impl === 'jre'
        ? (await import('./impl/jre.mjs')).evaluateJre
        : null;
  if (!run) throw new Error(`unknown implementation ${impl}`);
  for (let i = 0; i < reps; i++) {
    const targets = fresh();
    globalThis.gc?.();
    const c0 = cpu();
    const t0 = performance.now();
    const res = await run(targets, now, { sampleEvery, deriveAll });
    times.push(performance.now() - t0);
    cpuTimes.push(cpu() - c0);
    if (i === 0) {
      lines = res.lines;
      aggregates = {};
      for (const [name, m] of Object.entries(res.aggregates)) {
        aggregates[name] = {};
        for (const [k, v] of m) aggregates[name][k] = typeof v === 'symbol' ? 'unknown' : v;
      }
    }
  }
}

writeFileSync(outFile, JSON.stringify({ lines: lines.sort(), aggregates }));
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
process.stdout.write(
  `${JSON.stringify({
    impl,
    coldMs: times[0],
    warmMs: times.length > 1 ? median(times.slice(1)) : times[0],
    coldCpuMs: cpuTimes[0],
    warmCpuMs: cpuTimes.length > 1 ? median(cpuTimes.slice(1)) : cpuTimes[0],
    times,
    cpuTimes,
    decisions: lines.length,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
