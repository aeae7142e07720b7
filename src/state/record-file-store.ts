import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import { TagwallError } from '../core/errors.js';
import { acquireLock, releaseLock } from './file-lock.js';
import { decodeStateFile } from './json-file-store.js';
import { inPool } from '../core/pool.js';
import { conflict, etagOf, type DeleteCondition, type KeyValueStore, type StoredText, type WriteCondition } from './store.js';

/**
 * The CLI's state: one file per record under a folder, laid out like the blob container
 * (`vaults/<sub>/<group>/<name>.json` is the file of that name), so that a run reads and writes
 * only the records it touches. The choice against SQLite and an embedded key-value store is in
 * docs/STATE.md.
 *
 * `state: { store: "file", path: ".tagwall/state.json" }` keeps its records in `.tagwall/state/`
 * (a path ending in `.json` names the old one-file store; its folder is the path without `.json`,
 * and the file itself, if present, is migrated on first use: see migrate()). Any other path is the
 * folder itself.
 *
 * - Writes go to a temporary file in `<folder>/.tmp/`, flushed, then renamed over the record: a
 *   reader sees the old record or the new one, never half of either.
 * - The ETag is a hash of the record's text (as the one-file store's was), so a change made by hand
 *   is a new ETag. A conditional write compares it with the record as it is on disk, under the lock
 *   between processes (the same `state.json.lock` the one-file store took, so old and new versions
 *   of tagwall exclude each other) and one write at a time per record within the process: the
 *   comparison and the rename cannot be separated by another tagwall writer.
 * - Each record's ETag is kept in memory with the file's identity (inode, size, mtime), by folder
 *   for every store of the process, so a conditional write costs a stat, not a read and a hash. The
 *   texts are not kept here: a run's reads are served by its RunCache (run-cache.ts), which a
 *   commit updates in place, and holding every record of a 10,000-firewall fleet for the life of
 *   the process would double what a run holds at its peak. A file whose identity changed (an edit
 *   by hand) is read again.
 * - A record that cannot be read or decoded fails only the firewall it belongs to (records.ts
 *   reports STATE_CORRUPT for it); the other records are separate files.
 */
export class RecordFileStore implements KeyValueStore {
  readonly description: string;
  /** `file:<absolute configured path>`, as the one-file store's: the default owner ID is derived from it, so it never changes. */
  readonly location: string;
  /** The folder of records. */
  readonly dir: string;
  private readonly configured: string;
  private readonly legacyFile: string | undefined;
  private opened: Promise<readonly string[]> | undefined;

  constructor(readonly path: string) {
    this.configured = resolve(path);
    this.location = `file:${this.configured}`;
    this.legacyFile = /\.json$/i.test(this.configured) ? this.configured : undefined;
    this.dir = this.legacyFile === undefined ? this.configured : this.configured.replace(/\.json$/i, '');
    this.description = `state folder ${this.legacyFile === undefined ? path : path.replace(/\.json$/i, '')}`;
  }

  private get kept(): Map<string, Kept> {
    let m = keptByDir.get(this.dir);
    if (m === undefined) keptByDir.set(this.dir, (m = new Map()));
    return m;
  }

  /**
   * Takes the lock (shared by every store of this process on the same state), then migrates the
   * one-file state if it is still there. Returns warnings worth logging: a takeover, a migration.
   */
  open(): Promise<readonly string[]> {
    const opening = (this.opened ??= (async () => {
      const warnings = await acquireLock(`${this.configured}.lock`, this.path);
      try {
        const migrated = await migrations(this.dir, () => this.migrate());
        return migrated === undefined ? warnings : [...warnings, migrated];
      } catch (e) {
        await releaseLock(`${this.configured}.lock`).catch(() => undefined);
        throw e;
      }
    })());
    opening.catch(() => {
      if (this.opened === opening) this.opened = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    const opening = this.opened;
    if (opening === undefined) return;
    this.opened = undefined;
    try {
      await opening;
    } catch {
      return;
    }
    await releaseLock(`${this.configured}.lock`);
  }

  async get(key: string): Promise<StoredText | undefined> {
    await this.open();
    const file = this.fileOf(key);
    return serialised(file, () => this.current(key, file));
  }

  async put(key: string, text: string, condition: WriteCondition = {}): Promise<string> {
    await this.open();
    const file = this.fileOf(key);
    // Compare and swap as one step per record: the lock keeps other processes out, this queue other callers in this one.
    return serialised(file, async () => {
      const now = await this.currentEtag(key, file);
      if (condition.ifNoneExists && now !== undefined) throw conflict(this.description, key);
      if (condition.ifMatch !== undefined && now !== condition.ifMatch) throw conflict(this.description, key);
      const etag = etagOf(text);
      await this.write(file, text);
      this.kept.set(file, { etag, identity: await identityOf(file, this.path) });
      return etag;
    });
  }

  async delete(key: string, condition: DeleteCondition = {}): Promise<void> {
    await this.open();
    const file = this.fileOf(key);
    // Compare and unlink as one step, as put compares and renames.
    await serialised(file, async () => {
      if (condition.ifMatch !== undefined) {
        const now = await this.currentEtag(key, file);
        if (now !== undefined && now !== condition.ifMatch) throw conflict(this.description, key, 'deleted');
      }
      this.kept.delete(file);
      try {
        await unlink(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw unwritable(this.path, key, e);
      }
    });
  }

  /**
   * A record as it is on disk, without the lock or a migration, for a reader that takes no part in
   * a run (`tagwall plan --config --target`): records are written by atomic rename, so a read sees
   * one whole version. Before the migration has run, the one-file state is where the record is.
   */
  async peek(key: string): Promise<StoredText | undefined> {
    const read = async (file: string): Promise<string | undefined> => {
      try {
        return await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new TagwallError('STATE_UNREADABLE', `state record ${key} in ${this.description} cannot be read (${(e as Error).message})`, { cause: e });
      }
    };
    let text = await read(this.fileOf(key));
    if (text === undefined && this.legacyFile !== undefined) {
      const raw = await read(this.legacyFile);
      text = raw === undefined ? undefined : decodeStateFile(raw, this.path).get(key);
    }
    return text === undefined ? undefined : { text, etag: etagOf(text) };
  }

  /** Walks the folder under the prefix; each record's ETag as get() gives it (read once, then kept). */
  async list(prefix: string): Promise<ReadonlyMap<string, string>> {
    await this.open();
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const start = base === '' ? this.dir : this.fileOf(base);
    const keys: string[] = [];
    const walk = async (dir: string, keyDir: string): Promise<void> => {
      let names;
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw new TagwallError('STATE_UNREADABLE', `state folder ${this.dir} cannot be listed (${(e as Error).message})`, { cause: e });
      }
      for (const entry of names) {
        // Names starting with a dot are never records (see segmentName): the temporary files' folder.
        if (entry.name.startsWith('.')) continue;
        const key = `${keyDir}${keyDir === '' ? '' : '/'}${keyOfSegment(entry.name)}`;
        if (entry.isDirectory()) await walk(join(dir, entry.name), key);
        else if (entry.isFile() && key.startsWith(prefix)) keys.push(key);
      }
    };
    await walk(start, base);
    const found = new Map<string, string>();
    const read = await inPool(keys.length, LIST_READS_IN_FLIGHT, (i) => this.get(keys[i]!));
    keys.forEach((key, i) => {
      const got = read[i];
      if (got !== undefined) found.set(key, got.etag);
    });
    return found;
  }

  /** The record as it is on disk now: the kept text when the file is the one it was read from. */
  private async current(key: string, file: string): Promise<StoredText | undefined> {
    const identity = await identityOf(file, this.path);
    if (identity === undefined) {
      this.kept.delete(file);
      return undefined;
    }
    return this.read(key, file, identity);
  }

  /** The record's ETag as it is on disk now, reading the file only when it is not the one last seen. */
  private async currentEtag(key: string, file: string): Promise<string | undefined> {
    const identity = await identityOf(file, this.path);
    if (identity === undefined) {
      this.kept.delete(file);
      return undefined;
    }
    const kept = this.kept.get(file);
    if (kept !== undefined && kept.identity === identity) return kept.etag;
    return (await this.read(key, file, identity))?.etag;
  }

  private async read(key: string, file: string, identity: string): Promise<StoredText | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TagwallError('STATE_UNREADABLE', `${this.description}: cannot read ${key} (${(e as Error).message})`, { cause: e });
    }
    const etag = etagOf(text);
    // Kept only when nothing changed the file while it was read; otherwise the next read reads it again.
    if ((await identityOf(file, this.path)) === identity) this.kept.set(file, { etag, identity });
    return { text, etag };
  }

  private async write(file: string, text: string): Promise<void> {
    const tmpDir = join(this.dir, TMP_DIR);
    const tmp = join(tmpDir, `${process.pid}.${randomUUID()}.tmp`);
    for (let attempt = 1; ; attempt++) {
      try {
        await madeDir(tmpDir);
        await madeDir(dirname(file));
        const handle = await open(tmp, 'w');
        try {
          await handle.writeFile(text);
          // Flushed before the rename, or a power cut could leave the new name on empty data.
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, file);
        return;
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        // A folder made earlier in the process and removed since (by hand): made again, once.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 1) {
          madeDirs.delete(tmpDir);
          madeDirs.delete(dirname(file));
          continue;
        }
        throw unwritable(this.path, file, e);
      }
    }
  }

  /** The record's file: each key segment one path segment, encoded so that no two keys share a file. */
  private fileOf(key: string): string {
    const segments = key.split('/');
    if (key.length === 0 || segments.some((s) => s === '')) {
      throw new TagwallError('STATE_KEY_INVALID', `${JSON.stringify(key)} cannot be used as a state record name`);
    }
    return join(this.dir, ...segments.map(segmentName));
  }

  /**
   * Moves the one-file state into records, once: every entry is written as its record (replacing
   * one left by a migration that stopped part-way), then the old file is renamed to
   * `<file>.migrated` so it is never migrated again and is kept for a person to look at.
   */
  private async migrate(): Promise<string | undefined> {
    const legacy = this.legacyFile;
    if (legacy === undefined) return undefined;
    let raw: string;
    try {
      raw = await readFile(legacy, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new TagwallError('STATE_UNREADABLE', `state file ${this.path} cannot be read for its migration (${(e as Error).message})`, { cause: e });
    }
    // A corrupt file stops the run here, as it always did: nothing is migrated and it is left as it is.
    const entries = [...decodeStateFile(raw, this.path)];
    await inPool(entries.length, MIGRATION_WRITES_IN_FLIGHT, async (i) => {
      const [key, text] = entries[i]!;
      const file = this.fileOf(key);
      await serialised(file, async () => {
        await this.write(file, text);
        this.kept.set(file, { etag: etagOf(text), identity: await identityOf(file, this.path) });
      });
    });
    const moved = `${legacy}.migrated`;
    try {
      await rename(legacy, moved);
    } catch (e) {
      throw new TagwallError('STATE_UNWRITABLE', `state file ${this.path} was migrated but cannot be renamed to ${moved} (${(e as Error).message})`, { cause: e });
    }
    return `state file ${this.path}: migrated ${entries.length} record${entries.length === 1 ? '' : 's'} to one file each under ${this.dir}${sep}; the old file is kept as ${moved}`;
  }
}

interface Kept {
  readonly etag: string;
  /** inode:size:mtime (ns) of the file the text was read from or written to. */
  readonly identity: string | undefined;
}

/** Names starting with a dot are never a record's, so this folder cannot hold one. */
const TMP_DIR = '.tmp';
const LIST_READS_IN_FLIGHT = 16;
const MIGRATION_WRITES_IN_FLIGHT = 16;

/**
 * Letters, digits, `-`, `_` and `.` stay as they are (resource names, GUIDs, `.json`); anything
 * else, `%` itself and a leading dot become `%XX` of their UTF-8 bytes, so the mapping is one to
 * one and no record is named `.`, `..` or like the temporary files' folder.
 */
function segmentName(segment: string): string {
  let out = '';
  for (const ch of segment) {
    if (/[A-Za-z0-9_-]/.test(ch) || (ch === '.' && out !== '')) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function keyOfSegment(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    // Not a name this store wrote (a file put there by hand): listed under its own name.
    return name;
  }
}

async function identityOf(file: string, statePath: string): Promise<string | undefined> {
  try {
    const s = await stat(file, { bigint: true });
    if (!s.isFile()) return undefined;
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TagwallError('STATE_UNREADABLE', `state ${statePath} cannot be read (${(e as Error).message})`, { cause: e });
  }
}

function unwritable(statePath: string, what: string, e: unknown): TagwallError {
  return new TagwallError('STATE_UNWRITABLE', `state ${statePath}: ${what} cannot be written (${(e as Error).message})`, { cause: e });
}

/** Folders already made in this process: a run writing 1,000 records asks for each folder once. */
const madeDirs = new Set<string>();

async function madeDir(dir: string): Promise<void> {
  if (madeDirs.has(dir)) return;
  await mkdir(dir, { recursive: true });
  madeDirs.add(dir);
}

/** What each folder's records were last read or written as, shared by every store of the process on it. */
const keptByDir = new Map<string, Map<string, Kept>>();

/** A migration under way, by folder: every store opening on the folder meanwhile waits for the same one. */
const migrationsByDir = new Map<string, Promise<string | undefined>>();

function migrations(dir: string, migrate: () => Promise<string | undefined>): Promise<string | undefined> {
  let m = migrationsByDir.get(dir);
  if (m === undefined) {
    m = migrate();
    migrationsByDir.set(dir, m);
    // Only stores opening while it runs share it; the next open looks for the old file again (a stat).
    const running = m;
    void running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      if (migrationsByDir.get(dir) === running) migrationsByDir.delete(dir);
    });
  }
  return m;
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier read or write of the same record file in this process has settled. */
function serialised<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(file);
  const next = previous === undefined ? work() : previous.then(work, work);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}
