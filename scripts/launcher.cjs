#!/usr/bin/env node
// Starts the bundled CLI (cli.cjs) from V8's code cache when there is one that fits: compiling the
// ~2 MB bundle is about a third of a small `reflex run`. (Node 22's module.enableCompileCache() does
// this for modules; Node 20 has no such thing.) Built by scripts/bundle.mjs; see docs/performance.md.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, wrap } = require('node:module');

// `reflex --version` is asked by scripts and health checks: answered here, as cli.cjs would, before loading it.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${require('../../package.json').version}\n`);
  process.exit(0);
}

const file = path.join(__dirname, 'cli.cjs');
// Beside the bundle, written by the first run that found none (or one for another Node): only
// where the installation itself is writable, never in a shared place another user could write to.
const cacheFile = path.join(__dirname, 'cli.cache');
// The hashbang line is emptied (not removed) so that line numbers in stack traces stay right.
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/, '');
// V8's code cache keeps the file name the bundle was compiled under: a cache made in another place (the build
// machine, before the installation was copied) would put that place's path in every stack trace. So the cache
// starts with the path it was made for, and one made elsewhere is dropped (and made again here, if writable).
const CACHE_MAGIC = 'reflex-code-cache 1\n';
const cacheHeader = Buffer.from(`${CACHE_MAGIC}${file}\n`, 'utf8');
let cachedData;
try {
  const raw = fs.readFileSync(cacheFile);
  if (raw.length > cacheHeader.length && raw.subarray(0, cacheHeader.length).equals(cacheHeader)) cachedData = raw.subarray(cacheHeader.length);
} catch {
  // no cache yet
}
const script = new vm.Script(wrap(source), { filename: file, cachedData });
const args = process.argv.slice(2);
const trivial = args.length === 1 && /^(-h|--help)$/.test(args[0]);
if ((cachedData === undefined || script.cachedDataRejected) && !trivial) {
  // After a command that did real work, so the cache holds the functions a run compiles.
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([cacheHeader, script.createCachedData()]));
      fs.renameSync(tmp, cacheFile);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // a read-only installation: no cache, a slower start
      }
    }
  });
}
const mod = { exports: {}, id: file, filename: file, loaded: false, children: [], paths: [] };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, __dirname);
