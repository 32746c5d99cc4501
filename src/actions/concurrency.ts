// Runs tasks with at most `limit` at once, started in the order given.

/**
 * Run `tasks` with at most `limit` running at once. Tasks start in the order
 * given (task i never starts before task i-1), and the results come back in
 * the same order. A task that throws does not stop the others: every result
 * is settled, like Promise.allSettled.
 */
export async function runBounded<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<PromiseSettledResult<T>[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  const results = new Array<PromiseSettledResult<T>>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]!() };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
