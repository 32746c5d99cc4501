// `reflex serve` as people start it: where it listens, with which token, what it refuses, and a clean stop.
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseListen, readToken } from '../../src/serve/listen.js';
import { CLI, reflex, ROOT } from '../helpers.js';
import { recordedProject, TOKEN } from './harness.js';

let dir: string;
beforeAll(() => {
  ({ dir } = recordedProject());
});

/** Start `reflex serve`, wait for its "listening on" line, and give back its URL and a stop that waits for the exit. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}, script = CLI): Promise<{ url: string; stop: () => Promise<{ code: number | null; err: string }> }> {
  const child = spawn(process.execPath, [script, 'serve', ...args], { cwd: dir, env: { ...process.env, REFLEX_SERVE_TOKEN: '', ...env } });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`reflex serve did not start: ${err}`));
    }, 30_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          stop: async () => {
            child.kill('SIGTERM');
            const code = await exited;
            return { code, err };
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`reflex serve exited ${code}: ${err}`));
    });
  });
}

describe('reflex serve', () => {
  // The worker thread starts from the CLI's own entry: the compiled modules (tests) and the packaged bundle alike.
  it.each([
    ['the compiled modules', CLI],
    ['the bundle', join(ROOT, 'dist/bin/reflex.cjs')],
  ])("computes the decision listing in its worker thread from %s, with the run's counts", async (_name, script) => {
    const s = await serve(['--listen', '127.0.0.1:0'], {}, script);
    try {
      const run = (await (await fetch(`${s.url}/api/v1/runs/2`)).json()) as { run: { summary: { outcomes: Record<string, number> } } };
      const outcomes = Object.entries(run.run.summary.outcomes).filter(([o]) => o !== 'not_matched');
      expect(outcomes.length).toBeGreaterThan(0);
      for (const [outcome, n] of outcomes) {
        const page = (await (await fetch(`${s.url}/api/v1/decisions?run=2&outcome=${outcome}`)).json()) as { total: number };
        expect([outcome, page.total]).toEqual([outcome, n]);
      }
    } finally {
      const { code, err } = await s.stop();
      expect(code).toBe(0);
      // A worker that cannot start or dies says so once, and the listing falls back to the main thread.
      expect(err).not.toMatch(/worker thread/);
    }
  });

  it('listens on loopback, read-only without a token, answers /healthz, and stops on SIGTERM with exit 0', async () => {
    const s = await serve(['--listen', '127.0.0.1:0']);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const h = await (await fetch(`${s.url}/healthz`)).json();
      expect(h).toMatchObject({ status: 'ok', store: 'sqlite', lastRun: { id: 2 } });
      const r = await fetch(`${s.url}/api/v1/switch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"off":true,"reason":"x"}' });
      expect(r.status).toBe(403);
    } finally {
      const { code, err } = await s.stop();
      expect(code).toBe(0);
      expect(err).toContain('read-only: no token configured');
    }
  });

  it('refuses a non-loopback address without a token, and a token too short to be one', () => {
    const open = reflex(['serve', '--listen', '0.0.0.0:0'], { cwd: dir, env: { REFLEX_SERVE_TOKEN: '' } });
    expect(open.status).toBe(2);
    expect(open.stderr).toContain('refusing to listen on 0.0.0.0 without a token');
    expect(open.stderr).not.toMatch(/\n\s+at /);
    const short = reflex(['serve'], { cwd: dir, env: { REFLEX_SERVE_TOKEN: 'abc' } });
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('use at least 16');
    const bad = reflex(['serve', '--listen', 'localhost'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('write host:port');
    const missing = reflex(['serve', '--token-file', join(dir, 'nope')], { cwd: dir });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read it (ENOENT)');
  });

  it('takes the token from a file, accepts it as a bearer token, and never prints it', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o600);
    const s = await serve(['--listen', '127.0.0.1:0', '--token-file', file]);
    let err = '';
    try {
      const r = await fetch(`${s.url}/api/v1/switch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ off: true, reason: 'from the file token', by: 'ci' }),
      });
      expect(r.status).toBe(200);
      const wrong = await fetch(`${s.url}/api/v1/switch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
        body: '{"off":false}',
      });
      expect(wrong.status).toBe(403);
    } finally {
      ({ err } = await s.stop());
    }
    expect(err).toContain('changes need the token');
    expect(err).not.toContain(TOKEN);
    const st = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(st.switch).toMatchObject({ off: true, by: 'ci' });
    expect(JSON.stringify(st.audit)).not.toContain(TOKEN);
    reflex(['enable', '--all'], { cwd: dir });
  });

  it('listens on a non-loopback address when a token is set', async () => {
    const s = await serve(['--listen', '0.0.0.0:0'], { REFLEX_SERVE_TOKEN: TOKEN });
    try {
      expect(s.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      expect((await fetch(`${s.url.replace('0.0.0.0', '127.0.0.1')}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('says which address is in use', async () => {
    const s = await serve(['--listen', '127.0.0.1:0']);
    try {
      const port = new URL(s.url).port;
      const again = reflex(['serve', '--listen', `127.0.0.1:${port}`], { cwd: dir });
      expect(again.status).toBe(2);
      expect(again.stderr).toContain(`127.0.0.1:${port} is in use by another program`);
    } finally {
      await s.stop();
    }
  });
});

describe('listen and token parsing', () => {
  it('reads host:port forms and knows loopback from the rest', () => {
    expect(parseListen('127.0.0.1:9797')).toEqual({ host: '127.0.0.1', port: 9797 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(() => parseListen('127.0.0.1:99999')).toThrow('above 65535');
    expect(() => parseListen('[nope]:1')).toThrow('not an IPv6 address');
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', 'localhost.evil.example', '::ffff:10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });

  it('takes REFLEX_SERVE_TOKEN, or a file (which wins), and warns of a readable file', () => {
    expect(readToken(undefined, {})).toEqual({ token: null, warnings: [] });
    expect(readToken(undefined, { REFLEX_SERVE_TOKEN: ` ${TOKEN} ` }).token).toBe(TOKEN);
    const f = join(dir, 'open-token');
    writeFileSync(f, `${TOKEN}x\nsecond line\n`);
    chmodSync(f, 0o644);
    const r = readToken(f, { REFLEX_SERVE_TOKEN: TOKEN });
    expect(r.token).toBe(`${TOKEN}x`);
    expect(r.warnings.join('\n')).toContain('chmod 600');
    expect(r.warnings.join('\n')).toContain('the file wins');
    writeFileSync(f, '\n');
    expect(() => readToken(f, {})).toThrow('the token is empty');
  });
});
