// The bundled CLI (the package's bin: a launcher running dist/bin/cli.cjs from V8's code cache) behaves exactly like the compiled modules it is built from.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers.js';

const BUNDLE = join(ROOT, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin.reflex as string);

function run(entry: string, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [entry, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the small bench project (an inventory, three rules, one action, one channel). */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-bundle-'));
  cpSync(join(ROOT, 'bench/small'), dir, { recursive: true });
  return dir;
}

/** A run's JSON without what differs from run to run. */
function stable(stdout: string): unknown {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  for (const k of ['run', 'startedAt', 'durationMs', 'timingsMs']) delete doc[k];
  for (const s of doc.sources as { durationMs?: number }[]) delete s.durationMs;
  return doc;
}

describe('the bundled CLI', () => {
  // Skipped only when the bundle was not built (running this file alone without `npm run build`); `npm test` builds first.
  it.skipIf(!existsSync(BUNDLE))('answers --version, --help, check, an unknown command and a dry run like the compiled modules', () => {
    const dir = project();
    // Without a code cache (it is then written), and with the one just written.
    rmSync(join(ROOT, 'dist/bin/cli.cache'), { force: true });
    for (let pass = 0; pass < 2; pass++) {
      for (const args of [['--version'], ['--help'], ['run', '--help'], ['check'], ['nonsense']]) {
        expect(run(BUNDLE, args, dir), args.join(' ')).toEqual(run(CLI, args, dir));
      }
      const a = run(CLI, ['run', '--dry-run', '--json'], project());
      const b = run(BUNDLE, ['run', '--dry-run', '--json'], project());
      expect(b.status).toBe(a.status);
      expect(b.stderr).toBe(a.stderr);
      expect(stable(b.stdout)).toEqual(stable(a.stdout));
      expect(existsSync(join(ROOT, 'dist/bin/cli.cache'))).toBe(true);
    }
  });
});
