import type { ResourceRef } from '../core/resource-id.js';
import { inPool } from '../core/pool.js';
import { vaultStateKey } from './records.js';
import type { DeleteCondition, KeyValueStore, StoredText, WriteCondition } from './store.js';

/**
 * A run's view of the records of its targets: `prefetch` reads them all before the first pass,
 * `inFlight` at a time, so that a run over 10,000 firewalls in blob storage does not wait out
 * 10,000 round trips one after another (each pass used to load its record itself, in turn with
 * its ARM work). Every other call goes to the store.
 *
 * Why this keeps the one-writer protocol (reconcile.ts) sound:
 * - a prefetched record is handed out once, to the pass's first load; a second load of the same
 *   key in the run (the retry after a lost race, the dry run's check that the record did not move
 *   on) reads the store, so a check made to see a newer record does see it;
 * - a record that another run changed after the prefetch is older than the store's, but every
 *   write is conditional on the ETag it was loaded with: the intent's save meets STATE_CONFLICT,
 *   and the pass loads again (from the store) and plans again, exactly as when the other run's
 *   write lands between a load and the intent today. What the longer window costs is at most one
 *   firewall GET spent on a plan that is then made again; no write is ever based on it.
 * - a record this run wrote is kept as written (the write succeeded on the ETag the run held, so
 *   it is the newest there is), and one whose write lost a race is dropped, so that the next load
 *   reads what the winner wrote.
 */
export class RunCache implements KeyValueStore {
  readonly description: string;
  readonly location?: string;
  readonly list?: (prefix: string) => Promise<ReadonlyMap<string, string>>;
  readonly delete?: (key: string, condition?: DeleteCondition) => Promise<void>;
  private readonly held = new Map<string, StoredText | undefined>();

  constructor(private readonly store: KeyValueStore) {
    this.description = store.description;
    if (store.location !== undefined) this.location = store.location;
    if (store.list !== undefined) this.list = (prefix) => store.list!(prefix);
    if (store.delete !== undefined) {
      this.delete = async (key, condition) => {
        this.held.delete(key);
        await store.delete!(key, condition);
      };
    }
  }

  /**
   * Reads each key, `inFlight` at a time, and holds what it finds (or that nothing is there). A
   * key that cannot be read is not held: the pass's own load then meets the error and reports it
   * for that firewall alone.
   */
  async prefetch(keys: readonly string[], inFlight = PREFETCH_IN_FLIGHT): Promise<void> {
    const wanted = [...new Set(keys)].filter((k) => !this.held.has(k));
    await inPool(wanted.length, inFlight, async (i) => {
      const key = wanted[i]!;
      try {
        const got = await this.store.get(key);
        if (!this.held.has(key)) this.held.set(key, got);
      } catch {
        // Reported by the pass's own load.
      }
    });
  }

  async get(key: string): Promise<StoredText | undefined> {
    if (this.held.has(key)) {
      const got = this.held.get(key);
      this.held.delete(key);
      return got;
    }
    return this.store.get(key);
  }

  async put(key: string, text: string, condition?: WriteCondition): Promise<string> {
    try {
      const etag = await this.store.put(key, text, condition);
      this.held.set(key, { text, etag });
      return etag;
    } catch (e) {
      // Lost a race (STATE_CONFLICT), or failed: whatever the store holds now is read from the store.
      this.held.delete(key);
      throw e;
    }
  }

  open(): Promise<readonly string[]> {
    return Promise.resolve(this.store.open?.() ?? []);
  }
}

/**
 * Records read at once: blob reads are round trips (about 11 ms in Azure), so 32 in flight take a
 * run of 10,000 from about 110 s to a few; a file store's reads go through libuv's thread pool.
 */
export const PREFETCH_IN_FLIGHT = 32;

/** The store as a run over `targets` sees it, their records read ahead (see RunCache). */
export async function prefetchedRecords(store: KeyValueStore, targets: readonly { readonly resource: ResourceRef }[]): Promise<RunCache> {
  const cache = new RunCache(store);
  const keys: string[] = [];
  for (const t of targets) {
    try {
      keys.push(vaultStateKey(t.resource));
    } catch {
      // A target with no key: its own load reports why.
    }
  }
  await cache.prefetch(keys);
  return cache;
}
