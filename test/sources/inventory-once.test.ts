// `reflex run` reads each inventory once: the check before the run keeps what it read, and the collect stage takes
// it only if the file still holds exactly those bytes. (Its own file: readInventoriesOnce is for the whole process.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSource } from '../../src/sources/index.js';
import { readInventoriesOnce } from '../../src/sources/inventory/index.js';
import type { SourceContext } from '../../src/sources/types.js';
import { fixture } from '../helpers.js';

const ctx = (projectDir: string): SourceContext => ({ signal: new AbortController().signal, now: Date.now(), projectDir, env: {} });
const doc = (up: number) => JSON.stringify({ targets: [{ id: 'a', kind: 'instance', facts: { up } }] });

describe('inventories read once per run', () => {
  it('the second reading takes the first if the file is unchanged, reads anew if it changed, and nothing is kept after', async () => {
    readInventoriesOnce();
    const dir = fixture({ 'inv.json': doc(1), 'other.json': doc(5) });
    const src = createSource({ name: 'inv', kind: 'inventory', path: 'inv.json' });
    const check = await src.collect(ctx(dir));
    const run = await src.collect(ctx(dir));
    expect(run).toBe(check); // the same reading, not a second parse
    // Later readings (another run in a long-lived process) read the file: nothing is held for them.
    writeFileSync(join(dir, 'inv.json'), doc(2));
    const later = await src.collect(ctx(dir));
    expect(later.targets[0]!.facts).toEqual({ up: 2 });
    expect(await src.collect(ctx(dir))).not.toBe(later);

    // A file that changes between the check and the run is read anew, even with the same size.
    const other = createSource({ name: 'other', kind: 'inventory', path: 'other.json' });
    const first = await other.collect(ctx(dir));
    writeFileSync(join(dir, 'other.json'), doc(6));
    const second = await other.collect(ctx(dir));
    expect(second).not.toBe(first);
    expect(second.targets[0]!.facts).toEqual({ up: 6 });
  });
});
