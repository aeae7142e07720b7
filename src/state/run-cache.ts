import type { ResourceRef } from '../core/resource-id.js';
import { vaultStateKey } from './records.js';
import type { DeleteCondition, KeyValueStore, StoredText, WriteCondition } from './store.js';

/**
 * A run's view of the records of its targets: it reads them ahead of the passes, `inFlight` at a
 * time, so that a run over 10,000 firewalls in blob storage does not wait out 10,000 round trips
 * one after another (each pass used to load its record itself, in turn with its ARM work). Every
 * other call goes to the store.
 *
 * The read-ahead is a window, not the fleet: it follows the order the passes will ask in (the
 * schedule's, given by the run) and keeps at most `records` records (and `chars` characters
 * of their text) read and not yet handed out; each record handed to its pass leaves the window
 * and lets the next one be read. Holding every text of a 10,000-firewall run before its first
 * pass was 117 MB of a 620 MB peak. A pass that asks for a key the window has not reached (the
 * schedule passed over a throttled subscription, say) reads it from the store itself, once: the
 * read-ahead then skips that key. Nothing a run has read is read again unless asked for twice.
 *
 * Why this keeps the one-writer protocol (reconcile.ts) sound:
 * - a record read ahead is handed out once, to the pass's first load; a second load of the same
 *   key in the run (the retry after a lost race, the dry run's check that the record did not move
 *   on) reads the store, so a check made to see a newer record does see it;
 * - a record that another run changed after the read-ahead is older than the store's, but every
 *   write is conditional on the ETag it was loaded with: the intent's save meets STATE_CONFLICT,
 *   and the pass loads again (from the store) and plans again, exactly as when the other run's
 *   write lands between a load and the intent today. What the longer window costs is at most one
 *   firewall GET spent on a plan that is then made again; no write is ever based on it.
 * - a record this run wrote is kept as written (the write succeeded on the ETag the run held, so
 *   it is the newest there is) for the next load of it, and one whose write lost a race is
 *   dropped, so that the next load reads what the winner wrote. Written texts are bounded too
 *   (`chars`, oldest first out): a pass reads its record again only within its own attempt, long
 *   before thousands of other writes, and a text let go is read from the store, which has it.
 */
export class RunCache implements KeyValueStore {
  readonly description: string;
  readonly location?: string;
  readonly list?: (prefix: string) => Promise<ReadonlyMap<string, string>>;
  readonly delete?: (key: string, condition?: DeleteCondition) => Promise<void>;
  /** Read ahead (or being read) and not yet handed out, in the order they were started. */
  private readonly ahead = new Map<string, Ahead>();
  /** Texts this run wrote, for the next load of them; oldest first. */
  private readonly written = new Map<string, StoredText>();
  private writtenChars = 0;
  /** Keys a pass has loaded or written: the read-ahead does not read them again. */
  private readonly passed = new Set<string>();
  /** The keys to read ahead, in the order the passes are expected to ask; `next` is the first not yet started. */
  private readonly order: string[] = [];
  private readonly ordered = new Set<string>();
  private next = 0;
  private reading = 0;
  private aheadChars = 0;
  /** First loads of planned keys the read-ahead had not started: the passes went another way than planned. */
  private missed = 0;
  private limits: Required<ReadAheadOptions> = DEFAULT_READ_AHEAD;

  constructor(private readonly store: KeyValueStore) {
    this.description = store.description;
    if (store.location !== undefined) this.location = store.location;
    if (store.list !== undefined) this.list = (prefix) => store.list!(prefix);
    if (store.delete !== undefined) {
      this.delete = async (key, condition) => {
        this.drop(key);
        this.passed.add(key);
        await store.delete!(key, condition);
      };
    }
  }

  /**
   * Reads `keys` ahead, in this order, `inFlight` at a time and at most a window of them held; later
   * calls add keys after those already planned. Resolves once the first window is read. A key that
   * cannot be read is not held: the pass's own load then reads it and meets the error for that
   * firewall alone.
   */
  async prefetch(keys: readonly string[], options: ReadAheadOptions | number = {}): Promise<void> {
    const given = typeof options === 'number' ? { inFlight: options } : options;
    this.limits = { ...this.limits, ...given };
    for (const k of keys) {
      if (this.ordered.has(k)) continue;
      this.ordered.add(k);
      this.order.push(k);
    }
    this.pump();
    // Each read that ends starts the next; wait until the window is full or the keys are all read.
    for (let open = [...this.ahead.values()].filter((a) => !a.done); open.length > 0; open = [...this.ahead.values()].filter((a) => !a.done)) {
      await Promise.all(open.map((a) => a.ready));
    }
  }

  /** Records held by the read-ahead (read or in flight) and not yet handed out: for tests and benches. */
  get window(): { readonly records: number; readonly chars: number; readonly written: number; readonly missed: number } {
    return { records: this.ahead.size, chars: this.aheadChars, written: this.written.size, missed: this.missed };
  }

  async get(key: string): Promise<StoredText | undefined> {
    const mine = this.written.get(key);
    if (mine !== undefined) {
      this.passed.add(key);
      this.forgetWritten(key, mine);
      return mine;
    }
    const entry = this.ahead.get(key);
    if (entry !== undefined) {
      this.passed.add(key);
      this.release(key, entry);
      this.pump();
      await entry.ready;
      if (entry.got !== undefined) return entry.got.text;
      // Could not be read ahead: this read meets (and reports) the error, or finds the store back.
    } else if (this.ordered.has(key) && !this.passed.has(key)) {
      this.missed++;
    }
    this.passed.add(key);
    return this.store.get(key);
  }

  async put(key: string, text: string, condition?: WriteCondition): Promise<string> {
    this.passed.add(key);
    // What was read ahead for it, if anything, is older than whatever this write leaves.
    this.drop(key);
    try {
      const etag = await this.store.put(key, text, condition);
      this.remember(key, { text, etag });
      return etag;
    } catch (e) {
      // Lost a race (STATE_CONFLICT), or failed: whatever the store holds now is read from the store.
      this.drop(key);
      throw e;
    }
  }

  open(): Promise<readonly string[]> {
    return Promise.resolve(this.store.open?.() ?? []);
  }

  /** Starts reads of the next planned keys while the window and the reads in flight allow. */
  private pump(): void {
    const { inFlight, records, chars } = this.limits;
    while (this.next < this.order.length && this.reading < Math.max(1, inFlight) && this.ahead.size < Math.max(1, records) && this.aheadChars < chars) {
      const key = this.order[this.next++]!;
      if (this.passed.has(key) || this.ahead.has(key)) continue;
      this.start(key);
    }
  }

  private start(key: string): void {
    const entry: Ahead = { counted: 0, done: false, ready: Promise.resolve() };
    this.reading++;
    entry.ready = this.store.get(key).then(
      (got) => {
        entry.got = { text: got };
      },
      () => {
        // Reported by the pass's own load.
      },
    ).finally(() => {
      entry.done = true;
      this.reading--;
      // Counted against the window only while it waits there to be handed out.
      if (this.ahead.get(key) === entry) {
        entry.counted = entry.got?.text?.text.length ?? 0;
        this.aheadChars += entry.counted;
      }
      this.pump();
    });
    this.ahead.set(key, entry);
  }

  private release(key: string, entry: Ahead): void {
    this.ahead.delete(key);
    this.aheadChars -= entry.counted;
    entry.counted = 0;
  }

  private drop(key: string): void {
    const entry = this.ahead.get(key);
    if (entry !== undefined) this.release(key, entry);
    const mine = this.written.get(key);
    if (mine !== undefined) this.forgetWritten(key, mine);
  }

  private remember(key: string, text: StoredText): void {
    this.written.set(key, text);
    this.writtenChars += text.text.length;
    for (const [k, t] of this.written) {
      if (this.writtenChars <= this.limits.chars || this.written.size <= 1) break;
      this.forgetWritten(k, t);
    }
  }

  private forgetWritten(key: string, text: StoredText): void {
    this.written.delete(key);
    this.writtenChars -= text.text.length;
  }
}

interface Ahead {
  /** Set when the read succeeded (`text` undefined: nothing stored under the key). */
  got?: { readonly text: StoredText | undefined };
  /** Settles when the read has; never rejects. */
  ready: Promise<void>;
  /** Characters counted against the window for it. */
  counted: number;
  done: boolean;
}

export interface ReadAheadOptions {
  /** Reads in flight at once. */
  readonly inFlight?: number;
  /** Records read ahead (in flight included) and not yet handed out. */
  readonly records?: number;
  /** Characters of record text read ahead and not yet handed out; also the bound on the texts of records written. */
  readonly chars?: number;
}

/**
 * Records read at once: blob reads are round trips (about 11 ms in Azure), so 32 in flight take a
 * run of 10,000 from about 110 s to a few; a file store's reads go through libuv's thread pool.
 */
export const PREFETCH_IN_FLIGHT = 32;

/**
 * The window: 256 records is eight rounds of reads ahead of the passes (a pass takes far longer
 * than a read, so the passes never wait on it), about 3 MB of texts at 12 KB a record; 32 million
 * characters stops a fleet of unusually large records from holding more than that, whatever their count.
 */
export const READ_AHEAD_RECORDS = 256;
export const READ_AHEAD_CHARS = 32 * 1024 * 1024;

const DEFAULT_READ_AHEAD: Required<ReadAheadOptions> = { inFlight: PREFETCH_IN_FLIGHT, records: READ_AHEAD_RECORDS, chars: READ_AHEAD_CHARS };

/**
 * The store as a run over `targets` sees it, their records read ahead (see RunCache) in the order
 * given: the order the run's passes will load them in (run/reconcile.ts's `scheduledOrder`).
 */
export async function prefetchedRecords(store: KeyValueStore, targets: readonly { readonly resource: ResourceRef }[], options: ReadAheadOptions = {}): Promise<RunCache> {
  const cache = new RunCache(store);
  const keys: string[] = [];
  for (const t of targets) {
    try {
      keys.push(vaultStateKey(t.resource));
    } catch {
      // A target with no key: its own load reports why.
    }
  }
  await cache.prefetch(keys, options);
  return cache;
}
