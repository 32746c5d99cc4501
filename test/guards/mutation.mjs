#!/usr/bin/env node
// Mutation check of the guardrails: removes one guardrail check at a time (in a copy of the tree) and runs the
// guardrail tests; every mutant must make at least one test fail. Run by hand: node test/guards/mutation.mjs [name...]
// It never touches the working tree: the copy lives in a temporary folder (node_modules linked).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * One mutant: in `file`, replace `find` (must occur exactly once) with `replace`. `build`: the tests that catch it
 * spawn the CLI. `tests`: other test files than test/guards (a check that lives in the store is tested with the store).
 */
const MUTANTS = [
  { name: '1 off switch (guard stage)', file: 'src/guards/index.ts', find: '  switchGuard,\n', replace: '' },
  { name: '1 off switch (intent transaction)', file: 'src/guards/intent.ts', find: '[switchIntentCheck, ', replace: '[' },
  {
    name: '1 off switch fails closed',
    file: 'src/guards/switches.ts',
    find: '      unreadable(ctx, live, `the off switch cannot be read',
    replace: '      if (Math.random() > 2) unreadable(ctx, live, `the off switch cannot be read',
  },
  { name: '1 off switch expiry (--until)', file: 'src/guards/switches.ts', find: 's.off && (s.until === null || s.until > now)', replace: 's.off' },
  { name: '2 disables (guard stage)', file: 'src/guards/index.ts', find: '  disableGuard,\n', replace: '' },
  { name: '2 disables (intent transaction)', file: 'src/guards/intent.ts', find: 'disableIntentCheck, cooldownIntentCheck', replace: 'cooldownIntentCheck' },
  {
    name: '2 disables expire by themselves',
    file: 'src/guards/switches.ts',
    find: 'if (x.removedAt !== null || (x.until !== null && x.until <= now)) continue;',
    replace: 'if (x.removedAt !== null) continue;',
  },
  {
    name: '2 disables expire by themselves (store filter)',
    file: 'src/store/sqlite/index.ts',
    find: "'SELECT * FROM disables WHERE removed_at IS NULL AND (until IS NULL OR until > ?) ORDER BY id'",
    replace: "'SELECT * FROM disables WHERE removed_at IS NULL AND ? IS NOT NULL ORDER BY id'",
    tests: ['test/store/sqlite.test.ts'],
  },
  {
    name: '2 disables fail closed',
    file: 'src/guards/switches.ts',
    find: '      unreadable(ctx, live, `disables cannot be read',
    replace: '      if (Math.random() > 2) unreadable(ctx, live, `disables cannot be read',
  },
  {
    name: '2 disable refuses a selector/target matching nothing',
    file: 'src/cli/commands/disable.ts',
    find: "    if (s.scope === 'target' || s.scope === 'selector') await refuseIfNothingMatches(store, project, s);\n",
    replace: '',
    build: true,
  },
  { name: '3 severity gate', file: 'src/guards/index.ts', find: '  severityGuard,\n', replace: '' },
  { name: '4 widespread breaker', file: 'src/guards/index.ts', find: '  widespreadGuard,\n', replace: '' },
  {
    name: '4 widespread: one escalation per group',
    file: 'src/guards/widespread.ts',
    find: '      await sendBreakerEscalation(ctx, {\n        dedupKey: WIDESPREAD_PREFIX + key,',
    replace: '      if (Math.random() < 2) continue;\n      await sendBreakerEscalation(ctx, {\n        dedupKey: WIDESPREAD_PREFIX + key,',
  },
  { name: '4 implausible-facts breaker', file: 'src/guards/index.ts', find: '  implausibleGuard,\n', replace: '' },
  { name: '5 blast radius per rule (guard stage)', file: 'src/guards/index.ts', find: '[ruleLimit, ', replace: '[' },
  { name: '5 blast radius per rule (intent transaction)', file: 'src/guards/intent.ts', find: 'ruleLimitIntentCheck, ', replace: '' },
  {
    name: '5 blast radius per action (guard stage)',
    file: 'src/guards/index.ts',
    find: 'actionLimit, groupLimit, minHealthyLimit',
    replace: 'groupLimit, minHealthyLimit',
  },
  { name: '5 blast radius per action (intent transaction)', file: 'src/guards/intent.ts', find: 'actionLimitIntentCheck, ', replace: '' },
  { name: '5 blast radius per group (guard stage)', file: 'src/guards/index.ts', find: 'groupLimit, minHealthyLimit', replace: 'minHealthyLimit' },
  { name: '5 blast radius per group (intent transaction)', file: 'src/guards/intent.ts', find: ', groupLimitIntentCheck]', replace: ']' },
  {
    name: '5 group limit: at least 1 target',
    file: 'src/guards/numbers.ts',
    find: 'return Math.max(1, Math.floor(fraction * size + EPS));',
    replace: 'return Math.floor(fraction * size + EPS);',
  },
  {
    name: '5 percentages: floating-point tolerance',
    file: 'src/guards/numbers.ts',
    find: 'return Math.max(1, Math.floor(fraction * size + EPS));',
    replace: 'return Math.max(1, Math.floor(fraction * size));',
  },
  { name: '5 min-healthy floor', file: 'src/guards/index.ts', find: 'minHealthyLimit, budgetLimit', replace: 'budgetLimit' },
  {
    name: '5 limits fail closed',
    file: 'src/guards/limits.ts',
    find: '          failClosed(ctx, live, l.name, err);\n          return;',
    replace: '          continue;',
  },
  { name: '6 budget per run', file: 'src/guards/index.ts', find: ', budgetLimit]', replace: ']' },
  { name: '7 failure breaker', file: 'src/guards/index.ts', find: '  failureBreakerGuard,\n', replace: '' },
  {
    name: '7 failure breaker fails closed',
    file: 'src/guards/failures.ts',
    find: "        failClosed(ctx, decisions, 'failure breaker', err);\n        continue;\n      }\n      const failed",
    replace: '        continue;\n      }\n      const failed',
  },
  {
    name: '8 shadow mode (dry-run rules never execute)',
    file: 'src/pipeline/stages/act.ts',
    find: "const shadow = !ctx.dryRun && d.rule.mode === 'dry-run';",
    replace: 'const shadow = false;',
  },
  { name: '9 cooldown (guard stage, before the limits)', file: 'src/guards/index.ts', find: '  cooldownGuard,\n', replace: '' },
  { name: '9 cooldown (cooldown stage)', file: 'src/pipeline/stages/cooldown.ts', find: '    if (l.length) await cooldownGuard.check(ctx, l);', replace: '' },
  { name: '9 cooldown (intent transaction)', file: 'src/guards/intent.ts', find: 'cooldownIntentCheck, ', replace: '' },
  {
    name: '9 cooldown ends exactly at its end',
    file: 'src/guards/cooldown.ts',
    find: 'if (!c || c.until <= now) return null;',
    replace: 'if (!c || c.until < now) return null;',
  },
  {
    name: '9 cooldown fails closed',
    file: 'src/guards/cooldown.ts',
    find: "          failClosed(ctx, [d], 'cooldown', err);\n          break;",
    replace: '          c = null;',
  },
];

function run(cmd, args, cwd) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
}

const only = process.argv.slice(2);
const mutants = only.length ? MUTANTS.filter((m) => only.some((o) => m.name.includes(o))) : MUTANTS;
const dir = mkdtempSync(join(tmpdir(), 'reflex-mutation-'));
try {
  for (const p of ['src', 'test', 'schema', 'examples', 'package.json', 'tsconfig.json', 'vitest.config.ts'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const build = () => run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);
  build();
  const tests = (withCli, files = ['test/guards']) => ['vitest', 'run', ...files, '--bail=1', ...(withCli ? [] : ['--exclude', 'test/guards/cli.test.ts'])];
  // The unmutated tree must pass, or no result means anything.
  const base = run('npx', tests(true), dir);
  if (base.status !== 0) {
    process.stdout.write(`${base.stdout + base.stderr}\nthe guardrail tests fail without any mutation: fix them first\n`);
    process.exit(2);
  }
  const rows = [];
  for (const m of mutants) {
    const path = join(dir, m.file);
    const text = readFileSync(path, 'utf8');
    const at = text.indexOf(m.find);
    if (at < 0 || text.indexOf(m.find, at + 1) >= 0) {
      rows.push([m.name, 'MUTATION NOT APPLIED (text not found once)', '']);
      continue;
    }
    writeFileSync(path, text.slice(0, at) + m.replace + text.slice(at + m.find.length));
    if (m.build) build();
    const r = run('npx', tests(!!m.build, m.tests), dir);
    writeFileSync(path, text);
    if (m.build) build();
    const failed = [...(r.stdout + r.stderr).matchAll(/FAIL\s+(test\/\S+) > (.+)/g)].map((x) => `${x[1]}: ${x[2].trim()}`);
    rows.push([m.name, r.status === 0 ? 'SURVIVED (no test failed)' : 'killed', failed[0] ?? '']);
    process.stderr.write(`${m.name}: ${rows[rows.length - 1][1]}\n`);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`${rows.map(([n, s, f]) => `${n.padEnd(w)}  ${s}${f ? `  (${f})` : ''}`).join('\n')}\n`);
  const survived = rows.filter((r) => r[1] !== 'killed').length;
  process.stdout.write(`${rows.length - survived} of ${rows.length} mutants killed\n`);
  process.exitCode = survived ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
