import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { TagwallError } from '../core/errors.js';

/**
 * A lock file beside the state file, so that two processes never run against one state file
 * at once: each would read the other's records, then overwrite them with its own. The file
 * is created exclusively (`wx`) and names its holder (pid, host, start time, and a random id
 * that tells two takes by the same pid apart); it is removed when the last store of
 * this process lets go, or when the process exits. A lock whose holder is gone (same host,
 * the pid no longer runs) is taken over; one held on another host cannot be checked and is
 * left to a person.
 */

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601: when the holder took the lock. */
  readonly startedAt: string;
}

/** Locks this process holds, by lock path, shared by every store on the same file. */
interface Held {
  refs: number;
  readonly ready: Promise<{ text: string; warnings: readonly string[] }>;
  /** What was written, once the lock is taken; the exit hook can only read it synchronously. */
  text?: string;
}

const held = new Map<string, Held>();
/** Releases under way, so that taking the same lock again waits for the file to go first. */
const releasing = new Map<string, Promise<void>>();

/** How long a takeover may take before its guard file counts as abandoned. */
const TAKEOVER_GUARD_MS = 10_000;
const ATTEMPTS = 20;
const RETRY_MS = 25;

/**
 * Takes (or shares, within this process) the lock at `lockPath`. `statePath` is how the
 * state file is named in messages. Returns warnings worth logging, such as a takeover.
 */
export async function acquireLock(lockPath: string, statePath: string): Promise<readonly string[]> {
  let entry = held.get(lockPath);
  if (entry === undefined) {
    // A release that failed left its file behind; taking the lock finds it and judges it like any other.
    const previous = (releasing.get(lockPath) ?? Promise.resolve()).catch(() => undefined);
    const created: Held = { refs: 0, ready: previous.then(() => takeLock(lockPath, statePath)) };
    entry = created;
    held.set(lockPath, created);
    if (held.size === 1) process.on('exit', releaseAllNow);
    created.ready.then(
      ({ text }) => void (created.text = text),
      () => {
        if (held.get(lockPath) === created) forget(lockPath);
      },
    );
  }
  entry.refs++;
  try {
    return (await entry.ready).warnings;
  } catch (e) {
    entry.refs--;
    throw e;
  }
}

/** Lets go of one share; the file is removed when the last one goes, if it is still ours. */
export function releaseLock(lockPath: string): Promise<void> {
  const entry = held.get(lockPath);
  if (entry === undefined || --entry.refs > 0) return releasing.get(lockPath) ?? Promise.resolve();
  forget(lockPath);
  const done = entry.ready
    .then(async ({ text }) => {
      if ((await readFile(lockPath, 'utf8')) === text) await unlink(lockPath);
    })
    .catch((e: unknown) => {
      // Already gone (a person removed it, or its folder went), or never taken: nothing to release.
      if (e instanceof TagwallError || (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new TagwallError('STATE_UNWRITABLE', `lock file ${lockPath} cannot be removed (${(e as Error).message})`, { cause: e });
    })
    .finally(() => {
      if (releasing.get(lockPath) === done) releasing.delete(lockPath);
    });
  releasing.set(lockPath, done);
  return done;
}

function forget(lockPath: string): void {
  held.delete(lockPath);
  if (held.size === 0) process.off('exit', releaseAllNow);
}

/** On exit only synchronous work runs; a lock still being taken is left to the next run's stale check. */
function releaseAllNow(): void {
  for (const [lockPath, entry] of held) {
    if (entry.text === undefined) continue;
    try {
      if (readFileSync(lockPath, 'utf8') === entry.text) unlinkSync(lockPath);
    } catch {
      // Gone already, or unreadable: nothing more can be done while exiting.
    }
  }
  held.clear();
}

async function takeLock(lockPath: string, statePath: string): Promise<{ text: string; warnings: readonly string[] }> {
  const me: LockHolder & { readonly id: string } = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), id: randomUUID() };
  const text = `${JSON.stringify(me)}\n`;
  const warnings: string[] = [];
  try {
    await mkdir(dirname(lockPath), { recursive: true });
  } catch (e) {
    throw unwritable(lockPath, e);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
      return { text, warnings };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(lockPath, e);
    }
    const found = await readLock(lockPath);
    if (found === 'gone') continue;
    if (found === 'unreadable') {
      // A holder that has created the file but not yet written it looks like this for a moment.
      if (attempt < ATTEMPTS) {
        await sleep(RETRY_MS);
        continue;
      }
      throw new TagwallError('STATE_LOCKED', `state file ${statePath} is locked by ${lockPath}, which does not say who holds it`, {
        transient: true,
        details: [`if no tagwall run is using ${statePath}, delete ${lockPath}`],
      });
    }
    const { holder, raw } = found;
    if (!isStale(holder) || attempt >= ATTEMPTS) throw locked(holder, lockPath, statePath);
    if (await removeStale(lockPath, raw)) {
      warnings.push(
        `state file ${statePath}: took over the lock left by pid ${holder.pid} on ${holder.host} (taken ${holder.startedAt}), which is no longer running; that run may have stopped part-way`,
      );
    } else {
      await sleep(RETRY_MS);
    }
  }
}

type Found = 'gone' | 'unreadable' | { holder: LockHolder; raw: string };

async function readLock(lockPath: string): Promise<Found> {
  let raw: string;
  try {
    raw = await readFile(lockPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw new TagwallError('STATE_UNREADABLE', `lock file ${lockPath} cannot be read (${(e as Error).message})`, { cause: e });
  }
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    if (Number.isSafeInteger(v.pid) && typeof v.host === 'string' && typeof v.startedAt === 'string') {
      return { holder: { pid: v.pid as number, host: v.host, startedAt: v.startedAt }, raw };
    }
  } catch {
    // Partly written, or not a lock file: see the caller.
  }
  return 'unreadable';
}

/**
 * Only on this host can a pid be checked. This process's own pid in a lock it does not hold
 * (every lock it holds is shared, never taken twice) was left by an earlier process that had
 * the same pid: containers reuse small pids.
 */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  return holder.pid === process.pid || !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Two processes may find the same stale lock: a guard file lets one of them remove it, and
 * only if it is still the lock both read, so that neither removes a fresh lock the other made.
 */
async function removeStale(lockPath: string, staleText: string): Promise<boolean> {
  const guard = `${lockPath}.takeover`;
  let handle;
  try {
    handle = await open(guard, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(guard, e);
    await clearAbandonedGuard(guard);
    return false;
  }
  try {
    const now = await readFile(lockPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (now !== staleText) return false;
    await unlink(lockPath);
    return true;
  } finally {
    await handle.close();
    await unlink(guard).catch(() => undefined);
  }
}

/** A takeover lasts milliseconds; a guard much older than that was left by a process that died in it. */
async function clearAbandonedGuard(guard: string): Promise<void> {
  try {
    const s = await stat(guard);
    if (Date.now() - s.mtimeMs > TAKEOVER_GUARD_MS) await unlink(guard);
  } catch {
    // Gone already: the next attempt goes ahead.
  }
}

function locked(holder: LockHolder, lockPath: string, statePath: string): TagwallError {
  const where = holder.host === hostname() ? 'on this host' : `on host ${holder.host}`;
  return new TagwallError(
    'STATE_LOCKED',
    `state file ${statePath} is in use by another tagwall run: pid ${holder.pid} ${where}, since ${holder.startedAt}`,
    {
      transient: true,
      details: [
        'wait for that run to finish, then run again',
        holder.host === hostname()
          ? `a lock whose process has ended is taken over by the next run; ${lockPath} holds the lock`
          : `tagwall cannot tell from here whether that run still goes on; if it does not, delete ${lockPath}`,
      ],
    },
  );
}

function unwritable(path: string, e: unknown): TagwallError {
  return new TagwallError('STATE_UNWRITABLE', `lock file ${path} cannot be created (${(e as Error).message})`, { cause: e });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
