// A stack trace never names the build machine's path (issue 13.10): a copied installation's code cache was made elsewhere.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fixture, ROOT } from '../helpers.js';

const BUNDLE = join(ROOT, 'dist/bin');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An installation as npm lays it out: package.json, dist/bin (the bundle and its launcher) and node_modules beside. */
function install(into: string): string {
  mkdirSync(join(into, 'dist'), { recursive: true });
  for (const f of ['cli.cjs', 'cli.cjs.map', 'reflex.cjs']) cpSync(join(BUNDLE, f), join(into, 'dist/bin', f));
  writeFileSync(join(into, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'));
  return join(into, 'dist/bin/reflex.cjs');
}

/**
 * A preload that makes a function the CLI calls throw: a stand-in for any bug, so that the top-level handler
 * prints the stack trace it prints for bugs (exit 70), with the bundle's frames in it.
 */
const BOOM = `const real = process.cwd;
process.cwd = function cwd() {
  if (new Error().stack.includes('cli.cjs')) throw new Error('a bug, for the test');
  return real();
};
`;

// Skipped only when the bundle was not built (running this file alone without `npm run build`); `npm test` builds first.
describe.skipIf(!existsSync(join(BUNDLE, 'cli.cjs')))('stack traces of a copied installation', () => {
  it("name the copy's own path, not the path where its code cache was made", () => {
    const root = fixture({ 'boom.cjs': BOOM }, 'reflex-install-');
    dirs.push(root);
    const project = join(root, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'reflex.yaml'), 'rules: [rules.yaml]\n');
    writeFileSync(join(project, 'rules.yaml'), 'rules: []\n');
    // Built and first run at one place (a build machine, an image build step): that run writes the code cache.
    const first = install(join(root, 'build-machine'));
    const made = spawnSync(process.execPath, [first, 'check'], { cwd: project, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    expect(existsSync(join(root, 'build-machine/dist/bin/cli.cache'))).toBe(true);
    // Copied whole, cache included, to where it is used; the original is gone.
    cpSync(join(root, 'build-machine'), join(root, 'server'), { recursive: true, verbatimSymlinks: true });
    rmSync(join(root, 'build-machine'), { recursive: true, force: true });
    const copy = join(root, 'server/dist/bin/reflex.cjs');
    for (let i = 0; i < 2; i++) {
      // Twice: once with the cache made elsewhere, once with the cache the copy then made for itself.
      const r = spawnSync(process.execPath, ['-r', join(root, 'boom.cjs'), copy, 'check'], { cwd: project, encoding: 'utf8' });
      expect(r.status).toBe(70);
      expect(r.stderr).toMatch(/internal error: Error: a bug, for the test/);
      expect(r.stderr).toContain(join(root, 'server/dist/bin/cli.cjs'));
      expect(r.stderr).not.toContain('build-machine');
    }
  });
});
