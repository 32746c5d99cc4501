// `reflex init` writes a project that passes `reflex check` and runs in dry-run, and never overwrites by surprise.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fixture, reflex } from '../helpers.js';

describe('reflex init', () => {
  it('writes a project that passes check and runs in dry-run', () => {
    const parent = fixture({});
    const init = reflex(['init', 'proj'], { cwd: parent });
    expect(init.status).toBe(0);
    expect(init.stdout).toContain('wrote proj/reflex.yaml');
    const dir = join(parent, 'proj');
    for (const f of ['reflex.yaml', 'rules/starter.yaml', 'inventory.yaml', '.gitignore', 'schema/config.schema.json', 'schema/rules.schema.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }

    const check = reflex(['check'], { cwd: dir });
    expect(check.stdout).toMatch(/^ok: 3 rules, 1 aggregates, 1 sources, 1 actions, 1 channels\n$/);
    expect(check.status).toBe(0);

    const run = reflex(['run', '--dry-run'], { cwd: dir });
    expect(run.out).not.toMatch(/internal error/);
    expect([0, 1]).toContain(run.status);
    expect(run.stdout).toContain('restart-unhealthy-instance');
  });

  it('writes the JSON Schemas of the running version, and the files it writes validate against them', () => {
    const dir = fixture({});
    expect(reflex(['init'], { cwd: dir }).status).toBe(0);
    for (const kind of ['config', 'rules']) {
      expect(readFileSync(join(dir, `schema/${kind}.schema.json`), 'utf8')).toBe(reflex(['schema', '--kind', kind]).stdout);
    }
    const ajv = new Ajv2020({ strict: true });
    ajv.addKeyword('patternErrorMessage');
    const cfg = ajv.compile(JSON.parse(readFileSync(join(dir, 'schema/config.schema.json'), 'utf8')));
    const rules = ajv.compile(JSON.parse(readFileSync(join(dir, 'schema/rules.schema.json'), 'utf8')));
    expect(cfg(parse(readFileSync(join(dir, 'reflex.yaml'), 'utf8')))).toBe(true);
    expect(rules(parse(readFileSync(join(dir, 'rules/starter.yaml'), 'utf8')))).toBe(true);
    expect(readFileSync(join(dir, 'reflex.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=schema\/config\.schema\.json$/m);
    expect(readFileSync(join(dir, 'rules/starter.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\.\/schema\/rules\.schema\.json$/m);
  });

  it('refuses to overwrite an existing project without --force, and writes nothing', () => {
    const dir = fixture({ 'reflex.yaml': '# mine\nrules: [r.yaml]\n' });
    const r = reflex(['init', '.'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('reflex.yaml already exists: nothing was written (use --force to overwrite)');
    expect(readFileSync(join(dir, 'reflex.yaml'), 'utf8')).toBe('# mine\nrules: [r.yaml]\n');
    expect(existsSync(join(dir, 'inventory.yaml'))).toBe(false);
  });

  it('overwrites with --force, but keeps an existing .gitignore', () => {
    const dir = fixture({ 'reflex.yaml': '# mine\n', '.gitignore': 'node_modules/\n' });
    const r = reflex(['init', '--force'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'reflex.yaml'), 'utf8')).toContain('yaml-language-server');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n');
    expect(reflex(['check'], { cwd: dir }).status).toBe(0);
  });

  it('refuses a path that is a file', () => {
    const dir = fixture({ 'taken.txt': 'x' });
    const r = reflex(['init', 'taken.txt'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('taken.txt exists and is not a folder');
  });
});
