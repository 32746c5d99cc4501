import { describe, expect, it } from 'vitest';
import { changesSince, snapshotInput } from './snapshot.js';

const fleet = (n: number, tweak: Record<number, number> = {}) =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, kind: 'instance', facts: { cpu: tweak[i] ?? i } }));
const id = (s: string) => s;
const headOf = (s: ReturnType<typeof snapshotInput>) => ({ order: s.order!, digests: s.digests, ids: () => s.ids });
const kept = (s: ReturnType<typeof snapshotInput>) => s.texts.flatMap((t, i) => (t === undefined ? [] : [s.ids[i]]));

describe('snapshots by change', () => {
  it('without a base keeps every text, with its digest and the order', () => {
    const s = snapshotInput({ v: 1 }, fleet(4), id);
    expect(kept(s)).toEqual(['t0', 't1', 't2', 't3']);
    expect(s.digests.length).toBe(4 * 12);
    expect(changesSince({ order: null, digests: null, ids: () => [] }, s, s.order!)).toEqual({ changed: [0, 1, 2, 3], gone: [] });
  });

  it('with the head as base keeps only what changed, and that is exactly what the store writes', () => {
    const first = snapshotInput({}, fleet(5), id);
    const next = snapshotInput({}, fleet(5, { 1: 99, 4: 7 }), id, { seq: 1, order: first.order!, digests: first.digests, ids: null });
    expect(kept(next)).toEqual(['t1', 't4']);
    expect(next.base).toBe(1);
    expect(changesSince(headOf(first), next, next.order!)).toEqual({ changed: [1, 4], gone: [] });
  });

  it('a fleet in another order is compared by id: new targets keep their text, unchanged ones do not', () => {
    const first = snapshotInput({}, fleet(4), id);
    const reordered = [...fleet(4, { 2: 50 })].reverse().concat([{ id: 'new', kind: 'instance', facts: { cpu: 1 } }]);
    const next = snapshotInput({}, reordered, id, { seq: 1, order: first.order!, digests: first.digests, ids: first.ids });
    expect(kept(next).sort()).toEqual(['new', 't2']);
    const c = changesSince(headOf(first), next, next.order!);
    expect(c.changed.map((i) => next.ids[i]).sort()).toEqual(['new', 't2']);
    expect(c.gone).toEqual([]);
    // Without the base's ids (its order differs), nothing can be compared: every text is kept.
    expect(kept(snapshotInput({}, reordered, id, { seq: 1, order: first.order!, digests: first.digests, ids: null })).length).toBe(5);
  });
});
