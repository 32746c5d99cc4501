// Command-line conventions, end to end with the compiled CLI: --log-format json on every command (one JSON object per
// line on stderr, with run, stage, rule and target where they apply), --verbose and --quiet everywhere, REFLEX_CONFIG,
// the stdout/stderr split, and completion scripts that real bash, zsh and fish load and complete with.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, fixture, reflex, ROOT } from '../helpers.js';

function webshop(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-cli-'));
  cpSync(join(ROOT, 'examples', 'webshop'), dir, { recursive: true, filter: (src) => !src.includes('.reflex') });
  return dir;
}

/** Every stderr line as JSON: throws with the line when one is not. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`not a JSON line on stderr: ${l}`);
      }
    });
}

describe('--log-format json', () => {
  let dir: string;
  beforeAll(() => {
    dir = webshop();
  });

  it('reflex run: stdout keeps its summary; stderr has one JSON object per line with the run, stage, rule and target', () => {
    spawnSync(process.execPath, ['demo/service.mjs', 'break', 'web-2'], { cwd: dir });
    const r = reflex(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^run #1: \d+ rules enforce/);
    const lines = jsonLines(r.stderr);
    for (const l of lines) {
      expect(typeof l.time).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(l.level);
      expect(typeof l.msg).toBe('string');
      expect(l.command).toBe('run');
    }
    const executed = lines.find((l) => l.outcome === 'executed');
    expect(executed).toMatchObject({ run: 1, stage: 'act', rule: 'restart-unhealthy-instance', target: 'web-2', level: 'info' });
    expect(lines.at(-1)).toMatchObject({ run: 1, level: 'info', targets: 6, problems: 0 });
    expect(String(lines.at(-1)!.msg)).toMatch(/^run #1 finished in \d+ ms: 6 targets; /);
  });

  it('a configuration error: each problem is one object with its file, line and column, and the exit code stays 2', () => {
    const bad = fixture({ 'reflex.yaml': 'rules: [rules.yaml]\nsourcez: []\n', 'rules.yaml': 'rules: []\n' });
    const r = reflex(['run', '--log-format', 'json'], { cwd: bad });
    expect(r.status).toBe(2);
    const lines = jsonLines(r.stderr);
    const problem = lines.find((l) => l.file !== undefined);
    expect(problem).toMatchObject({ level: 'error', line: 2, col: 1, command: 'run' });
    expect(String(problem!.file)).toMatch(/reflex\.yaml$/);
    expect(String(problem!.msg)).toContain('sourcez');
  });

  it('a usage error and a store error are JSON too', () => {
    const usage = reflex(['run', '--log-format', 'json', '--no-such-flag'], { cwd: dir });
    expect(usage.status).toBe(2);
    expect(jsonLines(usage.stderr)[0]).toMatchObject({ level: 'error', msg: "unknown option '--no-such-flag'" });
    // The store file is not a database: the store cannot be opened (exit 3).
    const store = fixture({ 'reflex.yaml': 'store: state.db\nrules: [rules.yaml]\n', 'rules.yaml': 'rules: []\n', 'state.db': 'not a database\n' });
    const r = reflex(['--log-format', 'json', 'status'], { cwd: store });
    expect(r.status).toBe(3);
    expect(jsonLines(r.stderr)).toEqual([
      expect.objectContaining({ level: 'error', command: 'status', msg: expect.stringContaining('cannot open the SQLite store') }),
    ]);
  });

  it('what a source says cannot steer a terminal or break a line: C1 controls and bidi marks are JSON escapes', () => {
    const d = webshop();
    const file = join(d, 'reflex.yaml');
    const evil = "process.stderr.write('bad\\u009b2J\\u202eevil\\u001b[31m'); process.exit(3)";
    writeFileSync(file, readFileSync(file, 'utf8').replace('argv: [node, demo/service.mjs, status]', `argv: [node, -e, ${JSON.stringify(evil)}]`));
    const r = reflex(['run', '--log-format', 'json'], { cwd: d });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    const failed = jsonLines(r.stderr).find((l) => l.source === 'health');
    expect(failed).toMatchObject({ level: 'warn', stage: 'collect' });
    expect(String(failed!.msg)).toContain('bad\u009b2J\u202eevil\u001b[31m');
  });
});

describe('--verbose, --quiet and REFLEX_CONFIG on every command', () => {
  let dir: string;
  beforeAll(() => {
    dir = webshop();
    writeFileSync(join(dir, 'reflex.yaml'), `${readFileSync(join(dir, 'reflex.yaml'), 'utf8')}\nmetrics:\n  textfile: .reflex/reflex.prom\n`);
    expect(reflex(['run', '--dry-run'], { cwd: dir }).status).toBe(0);
  });

  it('every command accepts --verbose and --quiet, before or after its name', () => {
    const commands = [['check'], ['status'], ['history'], ['test'], ['why', 'web-1'], ['schema'], ['replay', '1'], ['completion', 'bash']];
    commands.forEach((args, i) => {
      const flag = ['--verbose', '--quiet', '-v', '-q'][i % 4]!;
      const after = reflex([...args, flag], { cwd: dir });
      expect(after.status, `${args.join(' ')} ${flag}: ${after.stderr}`).toBe(0);
      const before = reflex([flag === '-v' ? '--quiet' : '-v', ...args], { cwd: dir });
      expect(before.status, `${flag} ${args.join(' ')}: ${before.stderr}`).toBe(0);
    });
  }, 180_000);

  it('--verbose shows what a run does on the side (the metrics written); --quiet prints only problems', () => {
    const v = reflex(['run', '--dry-run', '--verbose'], { cwd: dir });
    expect(v.stderr).toContain('debug: metrics: wrote ');
    const q = reflex(['run', '--dry-run', '--quiet'], { cwd: dir });
    expect(q.status).toBe(0);
    expect(q.stdout).toBe('');
    expect(q.stderr).toBe('');
  });

  it('REFLEX_CONFIG is the default for -c, and -c wins over it', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'reflex-cwd-'));
    const r = reflex(['check'], { cwd: elsewhere, env: { REFLEX_CONFIG: join(dir, 'reflex.yaml') } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: \d+ rules/);
    const other = fixture({ 'reflex.yaml': 'rules: [rules.yaml]\nsourcez: []\n', 'rules.yaml': 'rules: []\n' });
    const c = reflex(['check', '-c', join(other, 'reflex.yaml')], { cwd: elsewhere, env: { REFLEX_CONFIG: join(dir, 'reflex.yaml') } });
    expect(c.status).toBe(2);
    expect(c.stdout).toContain('sourcez');
    expect(reflex(['--help']).stdout).toContain('REFLEX_CONFIG');
  });
});

describe('reflex completion', () => {
  const script = (shell: string) => {
    const r = reflex(['completion', shell]);
    expect(r.status, r.stderr).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), 'reflex-completion-')), `reflex.${shell}`);
    writeFileSync(file, r.stdout);
    return file;
  };

  it('refuses a shell it does not know, as a usage error', () => {
    const r = reflex(['completion', 'tcsh']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('expected one of bash, zsh, fish');
  });

  it('bash: completes commands, their options and option values', () => {
    const file = script('bash');
    const complete = (line: string) => {
      const words = line.split(' ');
      const sh = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _reflex; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', sh], { encoding: 'utf8', timeout: 10_000 });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(complete('reflex ru')).toEqual(['run']);
    expect(complete('reflex run --dr')).toEqual(['--dry-run']);
    expect(complete('reflex --log-format ')).toEqual(['text', 'json']);
    expect(complete('reflex schema --kind ')).toEqual(['config', 'rules', 'tests']);
    expect(complete('reflex -c x.yaml dis')).toEqual(['disable']);
    expect(complete('reflex completion --he')).toEqual(['--help']);
  });

  it('zsh: the script parses and loads into the completion system', () => {
    if (!existsSync('/usr/bin/zsh')) {
      if (process.env.REFLEX_REQUIRE_SERVICES) throw new Error('/usr/bin/zsh is not installed (.ci/run installs it)');
      return;
    }
    const file = script('zsh');
    expect(spawnSync('zsh', ['-n', file], { encoding: 'utf8' }).stderr).toBe('');
    const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[reflex]`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('_reflex');
  });

  it('fish: completes commands and their options', () => {
    if (!existsSync('/usr/bin/fish')) {
      if (process.env.REFLEX_REQUIRE_SERVICES) throw new Error('/usr/bin/fish is not installed (.ci/run installs it)');
      return;
    }
    const file = script('fish');
    const complete = (line: string) => {
      const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, HOME: tmpdir() },
      });
      expect(r.stderr).toBe('');
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    };
    expect(complete('reflex ru')).toEqual(['run']);
    expect(complete('reflex run --dr')).toEqual(['--dry-run']);
    expect(complete('reflex --log-format ')).toEqual(expect.arrayContaining(['text', 'json']));
  });

  it('is generated from the command definitions: every command is there', () => {
    const bash = readFileSync(script('bash'), 'utf8');
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(10);
    for (const c of commands) expect(bash).toContain(`    ${c}) opts=`);
  });
});
