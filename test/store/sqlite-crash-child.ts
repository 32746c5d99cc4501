// A child process of the SQLite crash test: journals an intent, says so, then waits to be killed mid-"action".
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { intent } from './contract.js';

const [path] = process.argv.slice(2) as [string];
const store = openSqliteStore(path);
await store.migrate();
const r = await store.intentTransaction(null, (tx) => tx.insertIntent(intent({ key: 'crash:1' })));
if (!r.inserted) throw new Error('not inserted');
await store.markRunning(r.id, 2_000);
process.stdout.write(`running ${r.id}\n`);
setInterval(() => {}, 1000); // the "action" never ends: the parent kills this process
