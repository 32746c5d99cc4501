// The exec action against real child processes: argv without a shell, exit codes, timeouts, output limits, environment.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planAction, PlanError } from '../../src/actions/index.js';
import { runProcess } from '../../src/actions/exec.js';
import { alive, exec, execCtx, planCtx, RECORD_ARGV, scope } from './helpers.js';

const NODE = process.execPath;
const tmp = () => mkdtempSync(join(tmpdir(), 'reflex-exec-'));

describe('exec: planning', () => {
  it('describes the full argv as a JSON array, as dry-run prints it', () => {
    const plan = planAction('restart', exec({ argv: ['systemctl', 'restart', '{{ labels.unit }}'] }), planCtx());
    expect(plan.describe).toBe('exec ["systemctl","restart","web-1.service"]');
    expect(plan.detail.argv).toEqual(['systemctl', 'restart', 'web-1.service']);
    expect(plan.kind).toBe('exec');
  });

  it('refuses a placeholder in the program name', () => {
    expect(() => planAction('x', exec({ argv: ['{{ labels.unit }}', 'restart'] }), planCtx())).toThrow(/argv\[0\].*literally/);
    expect(() => planAction('x', exec({ argv: ['/usr/bin/{{ labels.unit }}'] }), planCtx())).toThrow(PlanError);
  });

  it('refuses a missing or empty value instead of passing an empty argument', () => {
    expect(() => planAction('x', exec({ argv: ['echo', '{{ labels.nope }}'] }), planCtx())).toThrow(/\{\{ labels\.nope \}\}.*no label "nope"/);
    expect(() => planAction('x', exec({ argv: ['echo', '{{ labels.unit }}'] }), planCtx(scope({ labels: { unit: '' } })))).toThrow(/empty/);
    expect(() => planAction('x', exec({ argv: ['echo', '{{ facts.gone }}'] }), planCtx())).toThrow(/fact "gone".*unknown/);
  });

  it('places numbers and booleans as text, refuses lists and maps', () => {
    const plan = planAction('x', exec({ argv: ['echo', '{{ facts.restarts }}', '{{ facts.healthy }}'] }), planCtx());
    expect(plan.detail.argv).toEqual(['echo', '2', 'false']);
    const s = scope({ facts: { ips: ['10.0.0.1'], disk: { mount: '/var' } } });
    expect(() => planAction('x', exec({ argv: ['echo', '{{ facts.ips }}'] }), planCtx(s))).toThrow(/is a list/);
    expect(() => planAction('x', exec({ argv: ['echo', '{{ facts.disk }}'] }), planCtx(s))).toThrow(/is a map/);
    expect(planAction('x', exec({ argv: ['echo', '{{ facts.disk.mount }}', '{{ facts.ips.0 }}'] }), planCtx(s)).detail.argv).toEqual([
      'echo',
      '/var',
      '10.0.0.1',
    ]);
  });

  it('refuses a value that would be read as an option, unless a param pattern allows it', () => {
    const s = scope({ labels: { unit: '--force' } });
    expect(() => planAction('x', exec({ argv: ['systemctl', 'restart', '{{ labels.unit }}'] }), planCtx(s))).toThrow(/begins with "-"/);
    // With a literal prefix the value cannot start an option.
    expect(planAction('x', exec({ argv: ['tool', '--unit={{ labels.unit }}'] }), planCtx(s)).detail.argv).toEqual(['tool', '--unit=--force']);
    const withPattern = exec({ argv: ['tool', '{{ params.flag }}'], params: { flag: { pattern: '--(dry-run|force)' } } });
    expect(planAction('x', withPattern, planCtx(s, { with: { flag: '{{ labels.unit }}' } })).detail.argv).toEqual(['tool', '--force']);
  });

  it('renders params from with:, checks them against the whole-value pattern, and refuses undeclared ones', () => {
    const action = exec({ argv: ['systemctl', 'restart', '{{ params.unit }}'], params: { unit: { pattern: '[a-z0-9-]+\\.service' } } });
    const ok = planAction('restart', action, planCtx(scope(), { with: { unit: '{{ target.id }}.service' } }));
    expect(ok.describe).toBe('exec ["systemctl","restart","web-1.service"]');
    // The pattern must match the whole value: a trailing newline or suffix is not enough to pass.
    for (const id of ['web-1\nrm', 'web-1.service; rm', 'WEB-1']) {
      expect(() => planAction('restart', action, planCtx(scope({ id }), { with: { unit: '{{ target.id }}.service' } }))).toThrow(/does not match/);
    }
    expect(() => planAction('restart', action, planCtx(scope(), { with: { unit: 'web.service', other: 'x' } }))).toThrow(/no param "other"/);
    expect(() => planAction('restart', action, planCtx(scope(), { with: { unit: '{{ params.unit }}' } }))).toThrow(/may not refer to another param/);
    expect(() => planAction('restart', action, planCtx())).toThrow(/params\.unit.*no value/);
  });

  it('redacts secrets in describe', () => {
    const plan = planAction('x', exec({ argv: ['curl', '-H', 'Authorization: Bearer s3cr3t-token'] }), planCtx(scope(), { secrets: ['s3cr3t-token'] }));
    expect(plan.describe).toBe('exec ["curl","-H","Authorization: Bearer ***"]');
  });

  it('shows direction-changing characters as escapes in describe', () => {
    const plan = planAction('x', exec({ argv: ['echo', 'x{{ labels.unit }}'] }), planCtx(scope({ labels: { unit: 'a\u202Eb' } })));
    expect(plan.describe).toBe('exec ["echo","xa\\u202eb"]');
    expect(JSON.parse(plan.describe.slice(5))).toEqual(['echo', 'xa\u202Eb']);
  });
});

describe('exec: running', () => {
  it('runs a real command and reports success, exit code, output and duration', async () => {
    const plan = planAction('x', exec({ argv: ['/bin/echo', 'hello', '{{ target.id }}'] }), planCtx());
    const out = await plan.run(execCtx());
    expect(out).toMatchObject({ status: 'succeeded', exitCode: 0, output: 'hello web-1\n' });
    expect(out.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a non-zero exit code as failed, with stdout and stderr interleaved', async () => {
    const plan = planAction(
      'x',
      exec({ argv: [NODE, '-e', 'process.stdout.write("out\\n"); setTimeout(() => { process.stderr.write("err\\n"); process.exit(3); }, 50)'] }),
      planCtx(),
    );
    const out = await plan.run(execCtx());
    expect(out).toMatchObject({ status: 'failed', exitCode: 3, error: 'exited with code 3' });
    expect(out.output).toBe('out\nerr\n');
  });

  it('does not use a shell: metacharacters in config reach the program literally', async () => {
    const dir = tmp();
    const plan = planAction('x', exec({ argv: [NODE, RECORD_ARGV, '$(id)', 'a;b', '*'], env: ['RECORD_TO'] }), planCtx());
    const out = await plan.run(execCtx({ env: { ...process.env, RECORD_TO: join(dir, 'r.json') } }));
    expect(out.status).toBe('succeeded');
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).argv).toEqual(['$(id)', 'a;b', '*']);
  });

  it('reports a program that cannot start as failed', async () => {
    const plan = planAction('x', exec({ argv: ['/nonexistent/reflex-no-such-program'] }), planCtx());
    const out = await plan.run(execCtx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/cannot start.*ENOENT/);
  });

  it('runs a relative program from the project directory', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'hello.mjs'), '#!/usr/bin/env node\nconsole.log("from project")\n', { mode: 0o755 });
    const plan = planAction('x', exec({ argv: ['./hello.mjs'] }), planCtx());
    const out = await plan.run(execCtx({ projectDir: dir }));
    expect(out).toMatchObject({ status: 'succeeded', output: 'from project\n' });
  });

  it('passes only PATH and the allow-listed variables', async () => {
    const dir = tmp();
    const plan = planAction('x', exec({ argv: [NODE, RECORD_ARGV], env: ['RECORD_TO', 'ALLOWED_VAR'] }), planCtx());
    const env = { PATH: process.env.PATH, RECORD_TO: join(dir, 'r.json'), ALLOWED_VAR: 'yes', SECRET_VAR: 'must-not-leak', HOME: '/root' };
    expect((await plan.run(execCtx({ env }))).status).toBe('succeeded');
    const seen = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).env as Record<string, string>;
    expect(seen.ALLOWED_VAR).toBe('yes');
    expect(seen.SECRET_VAR).toBeUndefined();
    expect(seen.HOME).toBeUndefined();
    expect(Object.keys(seen).filter((k) => !['PATH', 'RECORD_TO', 'ALLOWED_VAR'].includes(k))).toEqual([]);
  });

  it('keeps at most max_output bytes and says how much it dropped', async () => {
    const plan = planAction('x', exec({ argv: [NODE, '-e', 'process.stdout.write("x".repeat(5000))'], max_output: 1000 }), planCtx());
    const out = await plan.run(execCtx());
    expect(out.status).toBe('succeeded');
    expect(out.output.startsWith(`${'x'.repeat(1000)}\n[reflex: output truncated at 1000 bytes; 4000 more bytes not kept]`)).toBe(true);
    expect(out.output).not.toContain('x'.repeat(1001));
  });

  it('redacts secrets in output, even one that straddles the output limit', async () => {
    const secret = 'TOPSECRETVALUE';
    const plan = planAction('x', exec({ argv: [NODE, '-e', `process.stdout.write("a".repeat(995) + "${secret}" + " tail")`], max_output: 1000 }), planCtx());
    const out = await plan.run(execCtx({ secrets: [secret] }));
    expect(out.output).not.toContain('TOPSE');
    expect(out.output).toContain('***');
  });

  it('on timeout kills the whole process group, grandchildren included', async () => {
    const dir = tmp();
    const pids = join(dir, 'pids.json');
    const script = `
      const { spawn } = require('node:child_process');
      const g = spawn('sleep', ['30'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(${JSON.stringify(pids)}, JSON.stringify({ child: process.pid, grandchild: g.pid }));
      setInterval(() => {}, 1000);`;
    const plan = planAction('x', exec({ argv: [NODE, '-e', script], timeout: '1s' }), planCtx());
    const out = await plan.run(execCtx());
    expect(out.status).toBe('timed_out');
    expect(out.error).toMatch(/timed out after 1000 ms; process group killed/);
    const { child, grandchild } = JSON.parse(readFileSync(pids, 'utf8')) as { child: number; grandchild: number };
    // Give the kernel a moment to tear the group down.
    for (let i = 0; i < 50 && ((await alive(child)) || (await alive(grandchild))); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await alive(child)).toBe(false);
    expect(await alive(grandchild)).toBe(false);
  });

  it('sends SIGKILL to a group that ignores SIGTERM after the grace period', async () => {
    const out = await runProcess(
      {
        argv: [NODE, '-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'],
        cwd: '.',
        env: { PATH: process.env.PATH! },
        timeoutMs: 500,
        maxOutput: 1000,
        killGraceMs: 300,
      },
      undefined,
      [],
    );
    // It ends at all (the test's timeout bounds it): SIGTERM alone would never end this process.
    expect(out.status).toBe('timed_out');
    expect(out.output).toContain('up');
  });

  it('kills the group when the run is cancelled', async () => {
    const ac = new AbortController();
    const plan = planAction('x', exec({ argv: ['sleep', '30'] }), planCtx());
    setTimeout(() => ac.abort(), 200);
    const out = await plan.run(execCtx({ signal: ac.signal }));
    expect(out).toMatchObject({ status: 'failed', error: 'cancelled; process group killed' });
  });

  it('never runs a refused plan: a NUL byte in a value stops planning', () => {
    const dir = tmp();
    const canary = join(dir, 'ran');
    expect(() =>
      planAction(
        'x',
        exec({ argv: [NODE, '-e', `require("fs").writeFileSync(${JSON.stringify(canary)}, "")`, '{{ labels.unit }}'] }),
        planCtx(scope({ labels: { unit: 'a\0b' } })),
      ),
    ).toThrow(/NUL/);
    expect(existsSync(canary)).toBe(false);
  });
});
