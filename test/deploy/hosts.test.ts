// The single-host deployment files: systemd units that systemd itself parses without a complaint, and a crontab line
// whose flock really keeps a second run from starting while the first is at work.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { assignments, trailingComment } from './lint.js';

const SYSTEMD = join(ROOT, 'deploy/systemd');
const UNITS = ['reflex.service', 'reflex.timer', 'reflex-serve.service'];
const ANALYZE = '/usr/bin/systemd-analyze';

describe('deploy/systemd', () => {
  it('no value carries a trailing comment, and every key sits in a section', () => {
    for (const u of UNITS) {
      const lines = assignments(readFileSync(join(SYSTEMD, u), 'utf8'));
      expect(lines.length).toBeGreaterThan(3);
      for (const a of lines) {
        expect(a.section, `${u}:${a.line}`).not.toBe('');
        expect(trailingComment(a), `${u}:${a.line}: ${a.key}=${a.value} (systemd would keep the comment in the value)`).toBe(false);
      }
    }
    // The flagging itself: the old snippet of docs/scale-out.md is caught.
    const old = assignments('[Service]\nEnvironmentFile=/etc/reflex/env        # REFLEX_PG_PASSWORD=...\n');
    expect(trailingComment(old[0]!)).toBe(true);
  });

  it('the service runs reflex run as a oneshot, non-root, treating exit 1 and 4 as done; the timer starts it every minute', () => {
    const svc = assignments(readFileSync(join(SYSTEMD, 'reflex.service'), 'utf8'));
    const get = (k: string) => svc.filter((a) => a.key === k).map((a) => a.value);
    expect(get('Type')).toEqual(['oneshot']);
    expect(get('User')).toEqual(['reflex']);
    expect(get('ExecStart')[0]).toMatch(/^\/usr\/bin\/reflex run /);
    expect(get('SuccessExitStatus')).toEqual(['1 4']);
    const timer = assignments(readFileSync(join(SYSTEMD, 'reflex.timer'), 'utf8'));
    expect(timer.find((a) => a.key === 'OnCalendar')?.value).toBe('*-*-* *:*:00');
    expect(timer.find((a) => a.key === 'Unit')?.value).toBe('reflex.service');
  });

  it('systemd-analyze verify accepts the units without a single warning', () => {
    if (!existsSync(ANALYZE)) {
      if (process.env.REFLEX_REQUIRE_SERVICES) throw new Error(`${ANALYZE} is not installed (apt-get install systemd; .ci/run does it)`);
      console.warn(`skipping: ${ANALYZE} is not installed`);
      return;
    }
    // verify checks that ExecStart's program exists: a stand-in reflex, the units otherwise byte for byte.
    const dir = mkdtempSync(join(tmpdir(), 'reflex-units-'));
    const bin = join(dir, 'reflex');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    for (const u of UNITS) writeFileSync(join(dir, u), readFileSync(join(SYSTEMD, u), 'utf8').replaceAll('/usr/bin/reflex', bin));
    const r = spawnSync(ANALYZE, ['verify', ...UNITS.map((u) => `./${u}`)], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // And it does complain about the kind of mistake this guards against.
    writeFileSync(join(dir, 'bad.service'), '[Service]\nType=oneshot\nExecStart=/bin/true\nSuccessExitStatus=1 4   # skipped runs\n');
    expect(spawnSync(ANALYZE, ['verify', './bad.service'], { cwd: dir, encoding: 'utf8', timeout: 60_000 }).stderr).toContain('Failed to parse');
  });
});

describe('deploy/cron/reflex.cron', () => {
  const text = readFileSync(join(ROOT, 'deploy/cron/reflex.cron'), 'utf8');
  const job = text.split('\n').find((l) => /^[*0-9]/.test(l))!;

  it('is one /etc/cron.d line: five time fields, the user, then reflex run under flock -n', () => {
    const m = /^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (.+)$/.exec(job);
    expect(m).not.toBeNull();
    expect(m!.slice(1, 6)).toEqual(['*', '*', '*', '*', '*']);
    expect(m![6]).toBe('reflex');
    expect(m![7]).toMatch(/flock -n \S+ reflex run /);
  });

  it("flock -n makes a second run exit at once while the first holds the lock; reflex's output goes where the line says", async () => {
    if (!existsSync('/usr/bin/flock')) {
      if (process.env.REFLEX_REQUIRE_SERVICES) throw new Error('/usr/bin/flock is not installed (util-linux)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'reflex-cron-'));
    const bin = join(dir, 'bin');
    spawnSync('mkdir', ['-p', bin, join(dir, 'etc'), join(dir, 'log')]);
    // A stand-in reflex that records its start and works until the test lets it go (at most 20 s).
    writeFileSync(
      join(bin, 'reflex'),
      `#!/bin/sh\necho "started $*" >> ${dir}/starts\necho "diagnostic" >&2\ni=0\nwhile [ ! -e ${dir}/release ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n`,
    );
    chmodSync(join(bin, 'reflex'), 0o755);
    const command = job
      .replace(/^(\S+ ){6}/, '')
      .replaceAll('/etc/reflex', join(dir, 'etc'))
      .replaceAll('/run/lock/reflex.lock', join(dir, 'reflex.lock'))
      .replaceAll('/var/log/reflex/reflex.log', join(dir, 'log/reflex.log'));
    const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin` };
    const first = spawn('/bin/sh', ['-c', command], { env, stdio: 'ignore' });
    const firstDone = new Promise<number | null>((r) => first.once('exit', r));
    // Wait (bounded) until the first one is at work.
    for (let i = 0; i < 100 && !existsSync(join(dir, 'starts')); i++) await new Promise((r) => setTimeout(r, 50));
    const second = spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8', timeout: 10_000 });
    writeFileSync(join(dir, 'release'), '');
    expect(second.status).toBe(1);
    expect(await firstDone).toBe(0);
    expect(readFileSync(join(dir, 'starts'), 'utf8')).toBe('started run --quiet --log-format json\n');
    expect(readFileSync(join(dir, 'log/reflex.log'), 'utf8')).toBe('diagnostic\n');
  }, 30_000);
});
