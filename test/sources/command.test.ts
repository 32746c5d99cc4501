import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandEnv } from '../../src/sources/command/index.js';
import { collectAll, createSource } from '../../src/sources/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/types.js';
import { fixture } from '../helpers.js';
import { baseOpts, context } from './helpers.js';

const node = process.execPath;
const command = (argv: string[], extra: object = {}) => createSource({ name: 'cmd', kind: 'command', argv, ...extra } as never);
const ctxIn = (dir: string, env: NodeJS.ProcessEnv = process.env) => ({ ...context(Date.now()), projectDir: dir, env });

describe('command source', () => {
  it('reads targets from the JSON the command prints, run in the project directory', async () => {
    const dir = fixture({
      'scripts/forecast.mjs': `console.log(JSON.stringify({ targets: [{ id: 'disk-1', kind: 'volume', facts: { full_in_hours: 12.5, cwd: process.cwd() } }] }));`,
    });
    const out = await command([node, 'scripts/forecast.mjs'], { facts: ['full_in_hours', 'cwd'] }).collect(ctxIn(dir));
    expect(out.targets).toEqual([{ id: 'disk-1', kind: 'volume', facts: { full_in_hours: 12.5, cwd: dir } }]);
    expect(out.facts).toEqual(['full_in_hours', 'cwd']);
    expect(out.warnings).toEqual([]);
  });

  it('passes arguments without a shell', async () => {
    const dir = fixture({ 'echo.mjs': `console.log(JSON.stringify([{ id: process.argv[2] }]));` });
    const out = await command([node, 'echo.mjs', '$(touch pwned); `id` && x']).collect(ctxIn(dir));
    expect(out.targets).toEqual([{ id: '$(touch pwned); `id` && x' }]);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('passes only PATH, HOME and the allow-listed variables', async () => {
    const dir = fixture({ 'env.mjs': `console.log(JSON.stringify([{ id: 'x', facts: { env: Object.keys(process.env).sort() } }]));` });
    const env = { PATH: process.env.PATH, HOME: '/home/x', SECRET_TOKEN: 's3cret', REGION: 'eu' };
    const out = await command([node, 'env.mjs'], { env: ['REGION'] }).collect(ctxIn(dir, env));
    expect(out.targets[0]!.facts!.env).toEqual(['HOME', 'PATH', 'REGION']);
    expect(commandEnv(env, ['MISSING'])).toEqual({ PATH: process.env.PATH, HOME: '/home/x' });
  });

  it('fails with the exit code and the end of stderr', async () => {
    const dir = fixture({ 'fail.mjs': `process.stderr.write('x'.repeat(10000) + 'database unreachable\\n'); process.exit(3);` });
    const err = await command([node, 'fail.mjs'])
      .collect(ctxIn(dir))
      .catch((e: Error) => e);
    expect(err.message).toMatch(/exited with code 3; stderr: x+database unreachable$/);
    expect(err.message.length).toBeLessThan(4_400);
  });

  it('fails clearly on output that is not JSON or not targets, and on a missing command', async () => {
    const dir = fixture({ 'text.mjs': `console.log('hello');`, 'shape.mjs': `console.log(JSON.stringify({ targets: [{ kind: 'x' }] }));` });
    await expect(command([node, 'text.mjs']).collect(ctxIn(dir))).rejects.toThrow(/printed no JSON \(.*\): hello$/);
    await expect(command([node, 'shape.mjs']).collect(ctxIn(dir))).resolves.toMatchObject({
      targets: [],
      malformed: 1,
      problems: [`${node} output targets[0]: a target needs an \`id\`; the entry is left out`],
    });
    writeFileSync(join(dir, 'list.mjs'), `console.log(JSON.stringify({ targets: 'x' }));`);
    await expect(command([node, 'list.mjs']).collect(ctxIn(dir))).rejects.toThrow('printed JSON of the wrong shape: targets: `targets` must be a list');
    await expect(command(['./no-such-tool']).collect(ctxIn(dir))).rejects.toThrow('./no-such-tool: command not found');
  });

  it('stops a command whose output is too large', async () => {
    const dir = fixture({ 'big.mjs': `const s = 'x'.repeat(1 << 20); for (let i = 0; i < 40; i++) process.stdout.write(s); setTimeout(() => {}, 60000);` });
    // The command would sleep for a minute after writing: it is stopped, not waited for (the test's timeout bounds it).
    await expect(command([node, 'big.mjs']).collect(ctxIn(dir))).rejects.toThrow(
      'the output is larger than the limit of 16777216 bytes; the command was stopped',
    );
  });

  it('kills the whole process group on timeout', async () => {
    const dir = fixture({
      'hang.mjs': `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
writeFileSync('child.pid', String(child.pid));
setInterval(() => {}, 1000);`,
    });
    const res = await collectAll([command([node, 'hang.mjs'])], { ...baseOpts, projectDir: dir, env: process.env, defaultTimeoutMs: 1_000 });
    expect(res.reports[0]).toMatchObject({ status: 'timeout', error: 'timed out after 1s' });
    const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    // A killed process may stay a zombie until PID 1 reaps it: that counts as dead.
    const alive = () => {
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      } catch {
        return true;
      }
    };
    const deadline = Date.now() + 5_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});

describe('source cooldown with the SQLite store', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('runs an expensive command once within its cooldown, and again after it', async () => {
    const dir = fixture({
      'analysis.mjs': `import { readFileSync, writeFileSync } from 'node:fs';
let n = 0;
try { n = Number(readFileSync('counter', 'utf8')); } catch {}
n++;
writeFileSync('counter', String(n));
console.log(JSON.stringify({ targets: [{ id: 'db-1', facts: { forecast_run: n } }] }));`,
    });
    store = openSqliteStore(join(dir, 'state.db'));
    await store.migrate();
    const source = command([node, 'analysis.mjs'], { name: 'forecast', cooldown: '10m' });
    const opts = { ...baseOpts, projectDir: dir, env: process.env, cache: store, cooldowns: { forecast: 600_000 } };
    const t0 = baseOpts.now;
    const runs = [];
    for (const dt of [0, 60_000, 300_000, 599_000]) runs.push(await collectAll([source], { ...opts, now: t0 + dt }));
    expect(readFileSync(join(dir, 'counter'), 'utf8')).toBe('1');
    expect(runs.map((r) => r.reports[0]!.status)).toEqual(['ok', 'cached', 'cached', 'cached']);
    expect(runs.map((r) => r.targets[0]!.facts.forecast_run)).toEqual([1, 1, 1, 1]);
    expect(runs[3]!.reports[0]!.cachedAt).toBe(t0);

    const later = await collectAll([source], { ...opts, now: t0 + 600_000 });
    expect(later.reports[0]!.status).toBe('ok');
    expect(later.targets[0]!.facts.forecast_run).toBe(2);
    expect(readFileSync(join(dir, 'counter'), 'utf8')).toBe('2');
  });
});
