/**
 * `task(0..n-1)` with at most `limit` in flight; results in index order. For store requests that
 * do not depend on each other: one at a time, each waits out the store's latency in turn.
 */
export async function inPool<T>(n: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), n) }, worker));
  return results;
}
