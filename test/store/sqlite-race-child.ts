// A child process of the SQLite race test: inserts the shared intent keys as fast as it can once the start time comes.
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { intent } from './contract.js';

const [path, name] = process.argv.slice(2) as [string, string];
const store = openSqliteStore(path);
await store.migrate();
// Both children start together: each says it is ready, then waits for the parent's go on stdin.
process.stderr.write('ready\n');
await new Promise<void>((r) => process.stdin.once('data', () => r()));
process.stdin.pause();
// Each child walks the keys in its own random order, so they collide all along instead of one leading.
const order = Array.from({ length: 200 }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const startedAt = Date.now();
const won: string[] = [];
let limited = 0;
for (const [n, i] of order.entries()) {
  const key = `race:${i}`;
  const r = await store.intentTransaction(null, (tx) => tx.insertIntent(intent({ key, runId: name === 'a' ? 1 : 2, createdAt: Date.now() })));
  if (r.inserted) won.push(key);
  if (n < 100) {
    // a limit shared across processes: at most 50 "limited" intents in all
    const ok = await store.intentTransaction(null, async (tx) => {
      if ((await tx.countExecutions({ since: 0, action: 'limited' })) >= 50) return false;
      return (await tx.insertIntent(intent({ key: `limited:${name}:${i}`, action: 'limited', createdAt: Date.now() }))).inserted;
    });
    if (ok) limited++;
  }
}
const endedAt = Date.now();
await store.close();
process.stdout.write(JSON.stringify({ won, limited, startedAt, endedAt }));
