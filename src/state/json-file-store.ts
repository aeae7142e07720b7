import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { TagwallError } from '../core/errors.js';
import { acquireLock, releaseLock } from './file-lock.js';
import { conflict, etagOf, type DeleteCondition, type KeyValueStore, type StoredText, type WriteCondition } from './store.js';

/**
 * Every key in one JSON file (`state: { store: "file", path: ".tagwall/state.json" }`), for
 * running from a laptop or a pipeline without a storage account.
 *
 * The file reads as `{ "version": 1, "entries": { "<key>": <entry> } }`. An entry that is an
 * object or array is the stored text parsed (so records stay readable when someone opens the
 * file); a string entry is stored text that is not canonical JSON, kept verbatim. ETags are
 * content hashes, like FolderStore's, so an edit by hand is still noticed as a change.
 *
 * Puts are serialised within the process (per resolved path, across instances). Another
 * process is kept out by a lock file beside the state file (`state.json.lock`, see
 * file-lock.ts), taken on open() or the first read or write and held until close() or exit:
 * a second run on the same file fails with STATE_LOCKED instead of losing updates.
 */
export class JsonFileStore implements KeyValueStore {
  readonly description: string;
  readonly location: string;
  private readonly absolutePath: string;
  /**
   * The file as last read or written, with the stat that identifies that version. A run over
   * hundreds of vaults reads the file once per vault; re-parsing it each time dominated the run.
   * A change by anyone else (another process, an edit by hand) changes the stat and is re-read.
   */
  private get cache(): { version: string; entries: ReadonlyMap<string, string> } | undefined {
    return caches.get(this.absolutePath);
  }

  private set cache(value: { version: string; entries: ReadonlyMap<string, string> } | undefined) {
    if (value === undefined) caches.delete(this.absolutePath);
    else caches.set(this.absolutePath, value);
  }
  /** Each entry's encoded line, by its text, so a write re-encodes only what changed. */
  private get readable(): Map<string, { text: string; line: string }> {
    // Shared by path, like the cache: each shard's store would otherwise re-encode every line.
    let memo = encodedLines.get(this.absolutePath);
    if (memo === undefined) encodedLines.set(this.absolutePath, (memo = new Map()));
    return memo;
  }

  /** This store's share of the lock, while it has one. */
  private opened: Promise<readonly string[]> | undefined;

  constructor(readonly path: string) {
    this.description = `file ${path}`;
    this.absolutePath = resolve(path);
    this.location = `file:${this.absolutePath}`;
  }

  /** Takes the lock (shared by every store of this process on the same file); returns warnings such as a takeover. */
  open(): Promise<readonly string[]> {
    const opening = (this.opened ??= acquireLock(`${this.absolutePath}.lock`, this.path));
    opening.catch(() => {
      if (this.opened === opening) this.opened = undefined;
    });
    return opening;
  }

  /** Gives back this store's share of the lock; the file goes with the last share. */
  async close(): Promise<void> {
    const opening = this.opened;
    if (opening === undefined) return;
    this.opened = undefined;
    try {
      await opening;
    } catch {
      return;
    }
    await releaseLock(`${this.absolutePath}.lock`);
  }

  async get(key: string): Promise<StoredText | undefined> {
    await this.open();
    // A read looks at the cached file as it is; only a commit needs its own copy to change.
    const entries = await this.readEntries(false);
    const text = entries.get(key);
    return text === undefined ? undefined : { text, etag: etagOf(text) };
  }

  async list(prefix: string): Promise<ReadonlyMap<string, string>> {
    await this.open();
    const found = new Map<string, string>();
    for (const [key, text] of await this.readEntries(false)) if (key.startsWith(prefix)) found.set(key, etagOf(text));
    return found;
  }

  async put(key: string, text: string, condition: WriteCondition = {}): Promise<string> {
    await this.open();
    return this.enqueue((entries) => {
      const current = entries.get(key);
      if (condition.ifNoneExists && current !== undefined) throw conflict(this.description, key);
      if (condition.ifMatch !== undefined && (current === undefined || etagOf(current) !== condition.ifMatch)) {
        throw conflict(this.description, key);
      }
      entries.set(key, text);
      return etagOf(text);
    });
  }

  async delete(key: string, condition: DeleteCondition = {}): Promise<void> {
    await this.open();
    return this.enqueue((entries) => {
      const current = entries.get(key);
      // Checked against the file as this commit reads it, like a conditional put.
      if (condition.ifMatch !== undefined && current !== undefined && etagOf(current) !== condition.ifMatch) throw conflict(this.description, key, 'deleted');
      entries.delete(key);
    });
  }

  /**
   * Group commit: changes that arrive while a write is under way are applied together and
   * written once, each checked against the file as it is at that moment. A run over many
   * vaults otherwise rewrote (and flushed to disk) the whole file once per vault, in turn.
   */
  private enqueue<T>(change: (entries: Map<string, string>) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let batch = batches.get(this.absolutePath);
      if (batch === undefined) {
        batch = [];
        batches.set(this.absolutePath, batch);
        void serialised(this.absolutePath, () => this.commit());
      }
      batch.push({ change, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private async commit(): Promise<void> {
    const batch = batches.get(this.absolutePath) ?? [];
    batches.delete(this.absolutePath);
    let entries: Map<string, string>;
    try {
      entries = await this.readEntries();
    } catch (e) {
      for (const item of batch) item.reject(e);
      return;
    }
    const before = new Map(entries);
    const done: { item: PendingChange; value: unknown }[] = [];
    for (const item of batch) {
      try {
        done.push({ item, value: item.change(entries) });
      } catch (e) {
        item.reject(e);
      }
    }
    if (done.length === 0) return;
    const changed = entries.size !== before.size || [...entries].some(([k, v]) => before.get(k) !== v);
    try {
      if (changed) await this.writeEntries(entries);
    } catch (e) {
      for (const { item } of done) item.reject(e);
      return;
    }
    for (const { item, value } of done) item.resolve(value);
  }

  private async fileVersion(): Promise<string | undefined> {
    try {
      const s = await stat(this.absolutePath, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TagwallError('STATE_UNREADABLE', `state file ${this.path} cannot be read (${(e as Error).message})`, { cause: e });
    }
  }

  private async readEntries(copy: false): Promise<ReadonlyMap<string, string>>;
  private async readEntries(copy?: true): Promise<Map<string, string>>;
  private async readEntries(copy = true): Promise<ReadonlyMap<string, string>> {
    const version = await this.fileVersion();
    if (version === undefined) return new Map();
    const cached = this.cache;
    if (cached?.version === version) return copy ? new Map(cached.entries) : cached.entries;
    let raw: string;
    try {
      raw = await readFile(this.absolutePath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new TagwallError('STATE_UNREADABLE', `state file ${this.path} cannot be read (${(e as Error).message})`, { cause: e });
    }
    const entries = decodeStateFile(raw, this.path);
    // Only cache what was read under an unchanged stat; a write in between means read again next time.
    if ((await this.fileVersion()) === version) this.cache = { version, entries: new Map(entries) };
    return entries;
  }

  private async writeEntries(entries: Map<string, string>): Promise<void> {
    // The temp file sits beside the target so the rename stays on one file system and is
    // atomic: a reader sees the old file or the new one, never half of either.
    const tmp = `${this.absolutePath}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await mkdir(dirname(this.absolutePath), { recursive: true });
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(encodeStateFile(entries, this.readable));
        // Flushed before the rename, or a power cut could leave the new name on empty data.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.absolutePath);
      const version = await this.fileVersion();
      this.cache = version === undefined ? undefined : { version, entries: new Map(entries) };
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new TagwallError('STATE_UNWRITABLE', `state file ${this.path} cannot be written (${(e as Error).message})`, { cause: e });
    }
  }
}

const FILE_VERSION = 1;

function corrupt(path: string, why: string, cause?: unknown): TagwallError {
  return new TagwallError('STATE_CORRUPT', `state file ${path} is corrupt: ${why}; fix or delete it (tagwall then treats existing rules as unmanaged)`, {
    cause,
  });
}

const HEAD = `{\n  "version": ${FILE_VERSION},\n  "entries": {`;
const ENTRY_LINE = /^ {4}("(?:[^"\\]|\\.)*"): (.*?),?$/;

/**
 * The file as encodeStateFile wrote it, read a line at a time: each object entry's line holds its
 * stored text exactly, so the whole file never becomes one tree of objects at once (a 10,000-vault
 * file of 100 MB parsed whole took over a gigabyte). Anything else (an edit by hand) is undefined,
 * and read the ordinary way.
 */
function decodeLines(raw: string): Map<string, string> | undefined {
  if (!raw.startsWith(HEAD)) return undefined;
  if (raw === `${HEAD}}\n}\n`) return new Map();
  const lines = raw.split('\n');
  const tail = lines.slice(-3).join('\n');
  if (tail !== '  }\n}\n') return undefined;
  const body = lines.slice(3, -3);
  const entries = new Map<string, string>();
  for (const line of body) {
    const m = ENTRY_LINE.exec(line);
    if (m === null) return undefined;
    try {
      const key = JSON.parse(m[1]!) as string;
      const value: unknown = JSON.parse(m[2]!);
      if (typeof value === 'string') entries.set(key, value);
      else if (value !== null && typeof value === 'object') entries.set(key, m[2]!);
      else return undefined;
    } catch {
      return undefined;
    }
  }
  return entries;
}

export function decodeStateFile(raw: string, path: string): Map<string, string> {
  const fast = decodeLines(raw);
  if (fast !== undefined) return fast;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw corrupt(path, `not valid JSON (${(e as Error).message})`, e);
  }
  if (!isPlainObject(doc)) throw corrupt(path, 'expected a JSON object at the top level');
  if (doc.version !== FILE_VERSION) throw corrupt(path, `unknown version ${JSON.stringify(doc.version)} (expected ${FILE_VERSION})`);
  if (!isPlainObject(doc.entries)) throw corrupt(path, '"entries" must be an object');
  const entries = new Map<string, string>();
  for (const [key, entry] of Object.entries(doc.entries)) {
    if (typeof entry === 'string') entries.set(key, entry);
    else if (entry !== null && typeof entry === 'object') entries.set(key, JSON.stringify(entry));
    else throw corrupt(path, `entry ${JSON.stringify(key)} must be an object, an array or a string`);
  }
  return entries;
}

/**
 * One entry per line, each line kept from the last write unless its text changed: a run over
 * hundreds of vaults rewrites the file many times, and re-encoding every record each time cost
 * more than everything else the run did.
 */
export function encodeStateFile(entries: ReadonlyMap<string, string>, memo: Map<string, { text: string; line: string }> = new Map()): string {
  const lines: string[] = [];
  for (const key of [...entries.keys()].sort()) {
    const text = entries.get(key) as string;
    let cached = memo.get(key);
    if (cached?.text !== text) {
      // JSON.stringify of a string key is safe for "__proto__" and anything else.
      cached = { text, line: `    ${JSON.stringify(key)}: ${JSON.stringify(asReadableJson(text))}` };
      memo.set(key, cached);
    }
    lines.push(cached.line);
  }
  for (const key of memo.keys()) if (!entries.has(key)) memo.delete(key);
  return `{\n  "version": ${FILE_VERSION},\n  "entries": {${lines.length === 0 ? '' : `\n${lines.join(',\n')}\n  `}}\n}\n`;
}

/** The parsed value when it serialises back to exactly `text`, so reading returns the same bytes. */
function asReadableJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && JSON.stringify(value) === text) return value;
  } catch {
    // Not JSON: kept as a string.
  }
  return text;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier write to the same file has settled. */
interface PendingChange {
  readonly change: (entries: Map<string, string>) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Changes waiting for the next write, per resolved path (shared by every instance on that path). */
const batches = new Map<string, PendingChange[]>();

/**
 * The file as last read or written, by resolved path, shared by every store of this process on
 * that file: the shards of a fleet run each open their own store, and one's writes must not make
 * the others parse the whole file again.
 */
const caches = new Map<string, { version: string; entries: ReadonlyMap<string, string> }>();

/** Each entry's encoded line by its text, by resolved path (see encodeStateFile). */
const encodedLines = new Map<string, Map<string, { text: string; line: string }>>();

function serialised<T>(path: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(path, settled);
  // Forget the path once idle, so a long-lived process does not keep one entry per file forever.
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return next;
}
