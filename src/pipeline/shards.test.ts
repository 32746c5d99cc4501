import { describe, expect, it } from 'vitest';
import { hash32, latestRound, parseShardLease, roundDecisions, runCovers, shardLease, shardOf, ShardScope } from './shards.js';

describe('shards', () => {
  it('hashes target ids the same way forever (FNV-1a, 32 bits, over UTF-8): changing it would move targets between runners', () => {
    expect(hash32('')).toBe(0x811c9dc5);
    expect(hash32('a')).toBe(0xe40c292c);
    expect(hash32('foobar')).toBe(0xbf9cf968);
    expect(hash32('web-2')).toBe(hash32('web-2'));
    expect(hash32('é')).not.toBe(hash32('e'));
  });

  it('places a target by its id, or by a label value shared by every target that has it (the id when it has not)', () => {
    const layout = { count: 8 };
    expect(shardOf({ id: 'web-2', labels: {} }, layout)).toBe(hash32('web-2') % 8);
    const byRegion = { count: 8, by: 'region' };
    expect(shardOf({ id: 'a', labels: { region: 'eu' } }, byRegion)).toBe(shardOf({ id: 'b', labels: { region: 'eu' } }, byRegion));
    expect(shardOf({ id: 'a', labels: {} }, byRegion)).toBe(hash32('a') % 8);
    expect(shardOf({ id: 'a', labels: {} }, { count: 1 })).toBe(0);
  });

  it('names leases with their layout, and reads them back', () => {
    expect(shardLease(3, 16)).toBe('shard:3/16');
    expect(parseShardLease('shard:3/16')).toEqual({ index: 3, count: 16 });
    expect(parseShardLease('shard:16/16')).toBeNull();
    expect(parseShardLease('run')).toBeNull();
  });

  it('a scope recovers the executions journaled under its shards, and those of its targets journaled without one or under another layout', () => {
    const mine = shardOf({ id: 't1', labels: {} }, { count: 4 });
    const other = (mine + 1) % 4;
    const scope = new ShardScope({ count: 4 }, [{ name: shardLease(mine, 4), token: 7 }]);
    expect(scope.holdsExecution({ target: 'anything', shard: shardLease(mine, 4) })).toBe(true);
    expect(scope.holdsExecution({ target: 't1', shard: shardLease(other, 4) })).toBe(false);
    expect(scope.holdsExecution({ target: 't1', shard: null })).toBe(true);
    expect(scope.holdsExecution({ target: 't1', shard: 'shard:0/8' })).toBe(true);
    expect(scope.fenceFor({ id: 't1', labels: {} })).toEqual({ name: shardLease(mine, 4), token: 7 });
    expect(() => new ShardScope({ count: 4 }, [{ name: 'shard:1/8', token: 1 }])).toThrow(/not a lease of this shard layout/);
  });

  it('a recorded run covers the targets of its shards (every target when it was not sharded)', () => {
    const s = shardOf({ id: 'x', labels: {} }, { count: 4 });
    expect(runCovers({ shard: null }, { id: 'x', labels: {} })).toBe(true);
    expect(runCovers({ shard: shardLease(s, 4) }, { id: 'x', labels: {} })).toBe(true);
    expect(runCovers({ shard: shardLease((s + 1) % 4, 4) }, { id: 'x', labels: {} })).toBe(false);
  });

  it('the latest round is the newest run of each shard, and each target is explained by the newest run of its shard', () => {
    const runs = [
      { id: 4, shard: 'shard:1/2' },
      { id: 3, shard: 'shard:1/2' },
      { id: 2, shard: 'shard:0/2,shard:1/2' },
      { id: 1, shard: 'shard:0/2' },
    ];
    const round = latestRound(runs, 2);
    expect(round.map((x) => [x.run.id, [...(x.owns ?? [])]])).toEqual([
      [4, ['shard:1/2']],
      [2, ['shard:0/2']],
    ]);
    expect(latestRound(runs, 1).map((x) => x.run.id)).toEqual([4]);
    const in0 = ['a', 'b', 'c', 'd', 'e'].find((id) => shardOf({ id, labels: {} }, { count: 2 }) === 0)!;
    const in1 = ['a', 'b', 'c', 'd', 'e'].find((id) => shardOf({ id, labels: {} }, { count: 2 }) === 1)!;
    const decided = roundDecisions(
      [
        { owns: round[0]!.owns, decisions: [{ rule: 'r', target: in1, run: 4 }] },
        // run 2 also decided about a target of shard 1; run 4 is newer for it (even if it decided nothing)
        {
          owns: round[1]!.owns,
          decisions: [
            { rule: 'r', target: in0, run: 2 },
            { rule: 'r2', target: in1, run: 2 },
          ],
        },
      ],
      { count: 2 },
    );
    expect(decided).toEqual([
      { rule: 'r', target: in1, run: 4 },
      { rule: 'r', target: in0, run: 2 },
    ]);
  });
});
