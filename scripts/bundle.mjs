// Bundles the compiled CLI (dist/cli/main.js) into dist/bin/: cli.cjs, one CommonJS file in which
// each command's modules are evaluated only when that command runs, and reflex.cjs, the launcher
// that runs it from V8's code cache (scripts/launcher.cjs). Starting from one file instead of ~150
// modules (zod, yaml, cel-js...), and without compiling it afresh, makes a small `reflex run` start
// about 40% faster (docs/performance.md).
import { build } from 'esbuild';
import { chmodSync, copyFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bin');
// Native addons and the PostgreSQL driver (loaded only for a postgres:// store) stay in node_modules.
const EXTERNAL = ['better-sqlite3', 'pg', 'pg-native'];

// Built beside and swapped in, so a CLI started meanwhile finds the old bundle or the new one.
const tmp = `${outdir}.${process.pid}.tmp`;
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outfile: join(tmp, 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: EXTERNAL,
  // The only use of import.meta is main.ts finding package.json next to it.
  define: { 'import.meta.url': '__reflexModuleUrl' },
  banner: { js: "const __reflexModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      // `await import('pg')` would stay a real import(), which a script run from the code cache
      // cannot make without an experimental option: load externals with require() instead.
      name: 'external-dynamic-imports-as-require',
      setup(b) {
        b.onResolve({ filter: new RegExp(`^(${EXTERNAL.join('|')})$`) }, (args) =>
          args.kind === 'dynamic-import' ? { path: args.path, namespace: 'external-require' } : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'external-require' }, (args) => ({
          contents: `module.exports = require(${JSON.stringify(args.path)});`,
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
});
copyFileSync(join(root, 'scripts/launcher.cjs'), join(tmp, 'reflex.cjs'));
chmodSync(join(tmp, 'reflex.cjs'), 0o755);
rmSync(outdir, { recursive: true, force: true });
renameSync(tmp, outdir);
