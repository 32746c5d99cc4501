// A child process of the SQLite race test: inserts the shared intent keys as fast as it can once the start time comes.
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { intent } from './contract.js';

const [path, name, startAt] = process.argv.slice(2) as [string, string, string];
const store = openSqliteStore(path);
await store.migrate();
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const won: string[] = [];
let limited = 0;
for (let i = 0; i < 200; i++) {
  const key = `race:${i}`;
  const r = await store.intentTransaction(null, (tx) => tx.insertIntent(intent({ key, runId: name === 'a' ? 1 : 2, createdAt: Date.now() })));
  if (r.inserted) won.push(key);
  if (i < 100) {
    // a limit shared across processes: at most 50 "limited" intents in all
    const ok = await store.intentTransaction(null, async (tx) => {
      if ((await tx.countExecutions({ since: 0, action: 'limited' })) >= 50) return false;
      return (await tx.insertIntent(intent({ key: `limited:${name}:${i}`, action: 'limited', createdAt: Date.now() }))).inserted;
    });
    if (ok) limited++;
  }
}
await store.close();
process.stdout.write(JSON.stringify({ won, limited }));
