// The hand-written implementation as a whole process, the way `reflex run` is one: read the inventory,
// evaluate the bench rules (bench/impl/handwritten.mjs), print the counts. Its CPU time and peak RSS are
// what `reflex run --dry-run` is held to (issue 15: at most 3 times the CPU).
//   node [--require bench/rss-preload.cjs] bench/handwritten-run.mjs <projectDir> <nowMs>
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateHandwritten } from './impl/handwritten.mjs';

const [dir, nowArg] = process.argv.slice(2);
const deriveAll = existsSync(join(dir, 'rules', 'derive-all.yaml'));
const targets = JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')).targets.map((t) => ({
  ...t,
  labels: t.labels ?? {},
  depends_on: t.depends_on ?? [],
  facts: t.facts ?? {},
}));
const { lines } = evaluateHandwritten(targets, Number(nowArg), { deriveAll });
const counts = {};
for (const l of lines) {
  const o = l.split('\t')[2];
  counts[o] = (counts[o] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify({ targets: targets.length, decisions: lines.length, counts })}\n`);
