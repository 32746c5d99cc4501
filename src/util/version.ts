// Reflex's own version (from package.json), for the User-Agent of every request Reflex sends. Two folders below the package
// root, like cli/main.ts, so the path holds both in dist/ and in the bundle (dist/bin/cli.cjs).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const VERSION: string = require('../../package.json').version;

/** What every channel request says it is, so a receiver's logs name the sender and its version. */
export const USER_AGENT = `Reflex/${VERSION} (+https://github.com/reflex-remediation/reflex)`;
