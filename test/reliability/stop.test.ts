// No hang, ever (issue 13.6): SIGTERM ends any command within seconds, and a run past its deadline starts nothing more, records what it can and exits non-zero.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { actionLines, crashProject, executions, hasChild, processesOf, runs, setAction, setBroken, start, until, waitQuiet } from './harness.js';
import { removedAfterAll } from '../harness/project.js';

const project = removedAfterAll(crashProject);
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.closeAllConnections?.(), s.close();
});

/**
 * An action that appends its target (as the harness's does: actions.log), then ignores SIGTERM and holds for a
 * minute, as a badly behaved restart script would: only the SIGKILL that follows the SIGTERM ends it.
 */
const STUBBORN = `import { appendFileSync } from 'node:fs';
const here = new URL('.', import.meta.url).pathname;
process.on('SIGTERM', () => {});
appendFileSync(here + 'actions.log', process.argv[2] + ' pid=' + process.pid + ' execution=- journal=-\\n');
setTimeout(() => {}, 60_000);
`;

/** An HTTP receiver that accepts requests and never answers them. */
async function silentReceiver(): Promise<{ url: string; requests: () => number }> {
  let n = 0;
  const server = createServer(() => {
    n++;
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests: () => n };
}

/**
 * A project whose second rule tells a webhook that never answers about broken box `a`, while `a`'s action is held
 * (until the test is over): the run is stopped while people are still being told.
 */
async function silentHookProject(): Promise<{ hook: Awaited<ReturnType<typeof silentReceiver>>; dir: string }> {
  const hook = await silentReceiver();
  const dir = project({
    channels: `  hook: { kind: webhook, url: "${hook.url}" }`,
    rules: `  - name: tell
    target: { kind: box }
    when: { broken: facts.broken }
    mode: enforce
    escalate: { to: hook, on: [matched] }
`,
  });
  setBroken(dir, ['a']);
  setAction(dir, { gate: true });
  return { hook, dir };
}

/** The run's JSON document (reflex run --json). */
const doc = (stdout: string) =>
  JSON.parse(stdout) as { problems: { reason: string; detail: string }[]; decisions: { target: string; outcome: string; reason: string | null }[] };

describe('SIGTERM', () => {
  it('during an action that ignores SIGTERM: the action is killed, recorded failed, nothing more starts, the run is closed and exits', async () => {
    const dir = project();
    writeFileSync(join(dir, 'action.mjs'), STUBBORN);
    setBroken(dir, ['a', 'b', 'c']);
    const run = start(dir, ['run', '--json']);
    await until(() => actionLines(dir).length === 1, 'the first action to start');
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code, exit.out).toBe(1);
    expect(exit.stderr).toMatch(/reflex: SIGTERM: stopping; no new action will start/);
    const d = doc(exit.stdout);
    const by = Object.fromEntries(d.decisions.map((x) => [x.target, x]));
    expect(by.a).toMatchObject({ outcome: 'failed' });
    expect(by.b).toMatchObject({ outcome: 'blocked', reason: 'run:stopped' });
    expect(by.c).toMatchObject({ outcome: 'blocked', reason: 'run:stopped' });
    expect(executions(dir).map((e) => [e.target, e.status, e.error])).toEqual([['a', 'failed', 'cancelled; process group killed']]);
    expect(runs(dir).map((r) => r.status)).not.toContain('running');
    expect(actionLines(dir).map((l) => l.target)).toEqual(['a']);
    await waitQuiet(dir);
    expect(processesOf(dir)).toEqual([]);
  });

  it('while a command source never answers: the run ends, the source is reported cancelled and nothing acts', async () => {
    const dir = project();
    // A second source that hangs far past anything the test waits for.
    writeFileSync(
      join(dir, 'reflex.yaml'),
      readFileSync(join(dir, 'reflex.yaml'), 'utf8').replace(
        '  - { name: inventory, kind: inventory, path: inventory.json }',
        `  - { name: inventory, kind: inventory, path: inventory.json }
  - name: slow
    kind: command
    argv: [${JSON.stringify(process.execPath)}, -e, "setTimeout(() => {}, 3600000)"]
    timeout: 1h`,
      ),
    );
    setBroken(dir, ['a']);
    const run = start(dir, ['run']);
    await until(() => hasChild(run.pid), 'the source command to start');
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code, exit.out).toBe(1);
    expect(exit.stdout).toMatch(/source slow \(command\): FAILED.*cancelled/);
    await waitQuiet(dir);
  });

  it('while a channel never answers: the command still ends within seconds of SIGTERM (exit 143), and says why', async () => {
    const { hook, dir } = await silentHookProject();
    const run = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    // A stop cancels actions, not what people must hear about them: notify gets a signal of its own, and
    // this channel holds each attempt for the whole action_timeout (60s). The process ends anyway.
    run.child.kill('SIGTERM');
    await until(() => hook.requests() > 0, 'the channel to be called after the stop');
    const exit = await run.exited;
    expect(exit.code).toBe(143);
    expect(exit.stderr).toMatch(/reflex: still busy 10 s after SIGTERM: exiting; the next run marks what was in flight as interrupted/);
  });

  it('a second SIGTERM ends the command at once', async () => {
    const { hook, dir } = await silentHookProject();
    const run = start(dir, ['run']);
    await until(() => actionLines(dir).length === 1, 'the action to start');
    run.child.kill('SIGTERM');
    await until(() => hook.requests() > 0 && /SIGTERM: stopping/.test(run.stderr()), 'the first SIGTERM to be seen');
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code).toBe(143);
    expect(exit.stderr).toMatch(/reflex: SIGTERM again: exiting now/);
  });
});

describe('the run deadline (defaults.run_timeout)', () => {
  it('past it no more actions start, the running one is stopped, the run is recorded and exits 1 with the reason', async () => {
    const dir = project({ defaults: '  run_timeout: 2s' });
    writeFileSync(join(dir, 'action.mjs'), STUBBORN.replace("process.on('SIGTERM', () => {});\n", ''));
    setBroken(dir, ['a', 'b', 'c']);
    const exit = await start(dir, ['run', '--json']).exited;
    expect(exit.code, exit.out).toBe(1);
    const d = doc(exit.stdout);
    expect(d.problems).toContainEqual({
      stage: 'run',
      reason: 'run:deadline',
      detail: 'the run passed its deadline of 2s (defaults.run_timeout): no action starts after it, and actions still running were stopped',
    });
    const by = Object.fromEntries(d.decisions.map((x) => [x.target, x]));
    expect(by.a).toMatchObject({ outcome: 'failed' });
    expect(by.b).toMatchObject({ outcome: 'blocked', reason: 'run:deadline' });
    expect(by.c).toMatchObject({ outcome: 'blocked', reason: 'run:deadline' });
    expect(actionLines(dir).map((l) => l.target)).toEqual(['a']);
    expect(executions(dir).map((e) => e.status)).toEqual(['failed']);
    expect(runs(dir).map((r) => r.status)).not.toContain('running');
    await waitQuiet(dir);
  });

  it('a run timeout of 0 is a check error', async () => {
    const dir = project({ defaults: '  run_timeout: 0s' });
    const exit = await start(dir, ['check']).exited;
    expect(exit.code).toBe(2);
    expect(exit.out).toMatch(/reflex\.yaml:\d+:\d+: a run timeout of 0s would stop every run before it acts/);
  });
});
