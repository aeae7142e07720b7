import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHash, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { TagwallError } from '../core/errors.js';

/**
 * Where tagwall keeps what it must remember between runs: which rules it owns in each
 * vault, the alerts it has sent, and the last good service-tags file. Every backend is a
 * small key → text store with ETag optimistic concurrency, so two runs that overlap
 * cannot silently overwrite each other's records.
 */
export interface StoredText {
  readonly text: string;
  readonly etag: string;
}

export interface WriteCondition {
  /** Write only if the stored ETag is still this one. */
  readonly ifMatch?: string;
  /** Write only if nothing is stored under the key yet. */
  readonly ifNoneExists?: boolean;
}

export interface DeleteCondition {
  /** Delete only if the stored ETag is still this one. */
  readonly ifMatch?: string;
}

export interface KeyValueStore {
  /** For messages: `file .tagwall/state.json`, `blob container tagwall at http://...`. */
  readonly description: string;
  /**
   * Where the state lives, the same on every run and version (an absolute path; an account URL
   * and container): the default owner ID is derived from it (owner-id.ts), so never reword it.
   */
  readonly location?: string;
  get(key: string): Promise<StoredText | undefined>;
  /** Returns the new ETag. Throws STATE_CONFLICT when the condition does not hold. */
  put(key: string, text: string, condition?: WriteCondition): Promise<string>;
  /**
   * Removes the key; nothing stored under it is not an error (there is nothing to lose). With
   * `ifMatch`, only while the stored ETag is still that one, else STATE_CONFLICT and nothing is
   * deleted: a record deleted on the strength of an old read would drop what a run wrote since
   * (its ownership of rules it just added, never removed afterwards).
   */
  delete?(key: string, condition?: DeleteCondition): Promise<void>;
  /**
   * Every key under `prefix` with its ETag, in one listing (a blob list request per 5,000 names):
   * a fleet's alert memory exists for a few of its firewalls, and asking for each key in turn
   * cost one request per firewall. What a listing shows may change before it is read; a
   * conditional write still catches that.
   */
  list?(prefix: string): Promise<ReadonlyMap<string, string>>;
  /**
   * Makes sure the store can hold state before a run touches anything (the file store takes
   * its lock, the blob store its container), so a run that could not record what it did fails
   * up front. Returns warnings worth logging. get/put do the same on first use.
   */
  open?(): Promise<readonly string[]>;
  /** Gives back what open() took; the store may be opened again afterwards. */
  close?(): Promise<void>;
}

export function conflict(store: string, key: string, spared: 'overwritten' | 'deleted' = 'overwritten'): TagwallError {
  return new TagwallError('STATE_CONFLICT', `${store}: ${key} was changed by another run since it was read; nothing was ${spared}`, { transient: true });
}

export function etagOf(text: string): string {
  return `"${createHash('sha256').update(text).digest('hex').slice(0, 32)}"`;
}

/** Keys become file names: keep them readable but safe. */
export function fileNameForKey(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** One file per key in a folder; used for the local service-tags cache (`--cache-dir`). */
export class FolderStore implements KeyValueStore {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `folder ${dir}`;
  }

  private pathOf(key: string): string {
    return join(this.dir, fileNameForKey(key));
  }

  async get(key: string): Promise<StoredText | undefined> {
    try {
      const text = await readFile(this.pathOf(key), 'utf8');
      return { text, etag: etagOf(text) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TagwallError('STATE_UNREADABLE', `${this.description}: cannot read ${key} (${(e as Error).message})`, { cause: e });
    }
  }

  async put(key: string, text: string, condition: WriteCondition = {}): Promise<string> {
    const current = await this.get(key);
    if (condition.ifNoneExists && current !== undefined) throw conflict(this.description, key);
    if (condition.ifMatch !== undefined && current?.etag !== condition.ifMatch) throw conflict(this.description, key);
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a crash never leaves half a file behind.
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
    return etagOf(text);
  }
}
