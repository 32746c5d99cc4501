// Bundles the compiled CLI (dist/cli/main.js) into dist/bin/: one file to start from plus a chunk per
// command, loaded only when that command runs. Starting from a handful of files instead of ~150
// modules (zod, yaml, cel-js...) saves about a third of `reflex run`'s start-up (docs/performance.md).
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bin');
// Built beside and swapped in, so a CLI started meanwhile finds the old bundle or the new one.
const tmp = `${outdir}.${process.pid}.tmp`;
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, 'dist/cli/main.js') },
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Native addons and the PostgreSQL driver (loaded only for a postgres:// store) stay in node_modules.
  external: ['better-sqlite3', 'pg', 'pg-native'],
  // Bundled CommonJS dependencies call require(); give them one.
  banner: { js: "import { createRequire as __reflexCreateRequire } from 'node:module'; const require = __reflexCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
rmSync(outdir, { recursive: true, force: true });
renameSync(tmp, outdir);
