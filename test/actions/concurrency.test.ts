// runBounded: at most `limit` tasks at once, started in order, results in order, failures kept.
import { describe, expect, it } from 'vitest';
import { runBounded } from '../../src/actions/concurrency.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runBounded', () => {
  it('never runs more than the limit at once and returns results in input order', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const tasks = Array.from({ length: 10 }, (_, i) => async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await sleep(10 + ((i * 7) % 5) * 5);
      running--;
      return i * 2;
    });
    const results = await runBounded(tasks, 3);
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : null))).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('keeps going when a task throws, and reports it', async () => {
    const results = await runBounded([async () => 1, async () => Promise.reject(new Error('boom')), async () => 3], 1);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(results[1]!.status).toBe('rejected');
    expect(results[2]).toEqual({ status: 'fulfilled', value: 3 });
  });

  it('handles no tasks and refuses a limit below 1', async () => {
    expect(await runBounded([], 4)).toEqual([]);
    await expect(runBounded([async () => 1], 0)).rejects.toThrow(RangeError);
  });
});
