// Command-line conventions: help, version, usage errors and a missing configuration, all without a stack trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex, ROOT } from '../helpers.js';

const STACK = /\n\s+at .+:\d+:\d+\)?\n/;
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

/** The commands `reflex --help` lists, so that a new command is covered without editing this test. */
function commands(): string[] {
  const help = reflex(['--help']).stdout;
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('reflex command line', () => {
  it('--version prints the package version', () => {
    for (const flag of ['--version', '-V']) {
      const r = reflex([flag]);
      expect(r.stdout).toBe(`${version}\n`);
      expect(r.status).toBe(0);
    }
  });

  it('--help lists the commands and the exit codes', () => {
    const r = reflex(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Exit codes:');
    expect(commands()).toEqual(expect.arrayContaining(['init', 'check', 'schema', 'run']));
  });

  it('--help on every command exits 0 and describes it', () => {
    const names = commands();
    expect(names.length).toBeGreaterThanOrEqual(4);
    for (const name of names) {
      const r = reflex([name, '--help']);
      expect(r.status, `reflex ${name} --help`).toBe(0);
      expect(r.stdout).toContain(`Usage: reflex ${name}`);
      expect(r.stderr).toBe('');
    }
  });

  it('an unknown command exits 2 with a clear message and no stack trace', () => {
    const r = reflex(['chekc']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'chekc'");
    expect(r.out).not.toMatch(STACK);
  });

  it('an unknown flag exits 2 with a clear message and no stack trace', () => {
    const r = reflex(['check', '--frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
    expect(r.out).not.toMatch(STACK);
  });

  it('an invalid choice exits 2 and names the allowed values', () => {
    const r = reflex(['schema', '--kind', 'rulez']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Allowed choices are config, rules, tests');
  });

  it('check without a reflex.yaml says so, suggests reflex init, and exits 2', () => {
    const dir = fixture({});
    const r = reflex(['check'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('reflex.yaml: no configuration found here (create one with `reflex init`)');
    expect(r.out).not.toMatch(STACK);
  });

  it('--config naming a missing file says so and exits 2', () => {
    const dir = fixture({});
    const r = reflex(['check', '--config', 'nowhere/reflex.yaml'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('nowhere/reflex.yaml: no configuration found here (create one with `reflex init`)');
  });

  it('run without a reflex.yaml exits 2 with the same advice', () => {
    const dir = fixture({});
    const r = reflex(['run', '--dry-run'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.out).toContain('reflex init');
    expect(r.out).not.toMatch(STACK);
  });

  it('a reflex.yaml that is not YAML at all is a configuration error, not a crash', () => {
    const dir = fixture({ 'reflex.yaml': 'rules: [unclosed\n  - "also: bad\n' });
    const r = reflex(['check'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^reflex\.yaml:\d+:\d+: /m);
    expect(r.out).not.toMatch(STACK);
  });

  it('a reflex.yaml that is a list, or empty, is explained', () => {
    const list = reflex(['check'], { cwd: fixture({ 'reflex.yaml': '- a\n- b\n' }) });
    expect(list.stdout).toContain('reflex.yaml:1:1: the configuration must be a map, not a list');
    expect(list.status).toBe(2);
    const empty = reflex(['check'], { cwd: fixture({ 'reflex.yaml': '# nothing yet\n' }) });
    expect(empty.stdout).toContain('reflex.yaml:1:1: no rule files match "rules/*.yaml"');
    expect(empty.status).toBe(2);
  });
});
