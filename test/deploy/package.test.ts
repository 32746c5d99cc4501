// The npm package: what `npm pack` puts in the tarball (small, no source maps, no V8 cache, not the bundle and the
// unbundled build both), its metadata, and that the packed CLI works from the tarball as it will once installed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

describe('the npm package', () => {
  let dir: string;
  let packed: { filename: string; size: number; entryCount: number; files: { path: string; size: number }[] };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reflex-pack-'));
    const r = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
    packed = JSON.parse(r.stdout)[0];
  }, 180_000);

  it('is at most 1 MiB, with the bundled CLI only: no unbundled dist, no source maps, no V8 cache, no local state', () => {
    expect(statSync(join(dir, packed.filename)).size).toBeLessThanOrEqual(1024 * 1024);
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/bin/cli.cjs');
    expect(paths).toContain('dist/bin/reflex.cjs');
    expect(paths.filter((p) => p.startsWith('dist/') && !p.startsWith('dist/bin/'))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.map') || p.endsWith('.cache') || p.includes('.reflex/') || p.endsWith('.db'))).toEqual([]);
    for (const p of ['LICENSE', 'README.md', 'package.json', 'schema/config.schema.json', 'deploy/prometheus/reflex-alerts.yaml', 'docs/deploy.md'])
      expect(paths).toContain(p);
  });

  it('declares its licence with the licence text, where it lives and where bugs go', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(license).toContain('Apache License');
    expect(license).toContain('Version 2.0, January 2004');
    expect(pkg.repository.url).toMatch(/^git\+https:\/\/github\.com\/.+\.git$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs.url).toMatch(/\/issues$/);
    expect(pkg.bin.reflex).toBe('dist/bin/reflex.cjs');
    // Every package with an install script is decided on, so npm installs without warning about them.
    expect(pkg.allowScripts).toMatchObject({ 'better-sqlite3': true, esbuild: true });
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(`npm install -g ${pkg.name}`);
  });

  it('the CLI from the tarball checks and dry-runs the example it ships', () => {
    const out = join(dir, 'x');
    mkdirSync(out);
    expect(spawnSync('tar', ['-xzf', join(dir, packed.filename), '-C', out]).status).toBe(0);
    // What `npm install` would add: the dependencies (the checkout's, linked).
    symlinkSync(join(ROOT, 'node_modules'), join(out, 'package/node_modules'));
    const cli = join(out, 'package/dist/bin/reflex.cjs');
    const example = join(out, 'package/examples/webshop');
    const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(pkg.version);
    const check = spawnSync(process.execPath, [cli, 'check'], { cwd: example, encoding: 'utf8', timeout: 60_000 });
    expect(check.status, check.stderr).toBe(0);
    const run = spawnSync(process.execPath, [cli, 'run', '--dry-run'], { cwd: example, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('run #1 (dry run: nothing acts)');
  });
});
