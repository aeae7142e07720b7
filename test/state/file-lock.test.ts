import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import type { KeyValueStore } from '../../src/state/store.js';
import { failure } from '../helpers/failure.js';

// The lock that keeps a second process off one state file. The other processes here are real
// node processes running the built store, so the pids, the exclusive create and the exit hook
// are the real ones.

const moduleOf = (file: string): string => fileURLToPath(new URL(`../../dist/src/state/${file}`, import.meta.url));

/** Both file stores take the same lock: the records store (the default) and the one-file store it migrates from. */
const STORES: [string, new (path: string) => Required<Pick<KeyValueStore, 'open' | 'close' | 'get' | 'put'>>, string, string][] = [
  ['RecordFileStore', RecordFileStore, moduleOf('record-file-store.js'), 'state'],
  ['JsonFileStore', JsonFileStore, moduleOf('json-file-store.js'), 'state.json'],
];

const root = await mkdtemp(join(tmpdir(), 'tagwall-lock-'));
afterAll(() => rm(root, { recursive: true, force: true }));

let n = 0;
const freshPath = async (): Promise<string> => {
  const dir = join(root, `case-${++n}`);
  await mkdir(dir, { recursive: true });
  return join(dir, 'state.json');
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * A node process that opens a JsonFileStore on `path`, prints one line (`held [warnings]` or
 * `refused <code>`), then either exits at once without closing the store, or waits: SIGTERM
 * makes it exit normally (so its exit hook runs), SIGKILL leaves its lock behind. With `go`,
 * it says `ready` and waits for that file to appear before it opens, so racers start together.
 */
function holderOf(store: [string, string], path: string, then: 'wait' | 'exit', go?: string): { child: ChildProcess; ready: Promise<string>; line: Promise<string> } {
  const after = then === 'exit' ? 'process.exit(0);' : "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000);";
  const barrier =
    go === undefined
      ? ''
      : `const { existsSync } = await import('node:fs');
         console.log('ready');
         while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));`;
  const script = `
    const { ${store[0]}: Store } = await import(${JSON.stringify(store[1])});
    const store = new Store(${JSON.stringify(path)});
    ${barrier}
    try {
      const warnings = await store.open();
      console.log('held ' + JSON.stringify(warnings));
    } catch (e) {
      console.log('refused ' + e.code);
      process.exit(0);
    }
    ${after}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: { index: number; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let out = '';
  const settle = (): void => {
    for (const w of waiters.splice(0)) {
      if (lines[w.index] !== undefined) w.resolve(lines[w.index]!);
      else waiters.push(w);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop()!;
    lines.push(...parts);
    settle();
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`holder exited (${code}) after saying: ${lines.join(' | ')}`));
  });
  const nth = (index: number): Promise<string> => new Promise((resolve, reject) => {
    waiters.push({ index, resolve, reject });
    settle();
  });
  return go === undefined ? { child, ready: Promise.resolve('ready'), line: nth(0) } : { child, ready: nth(0), line: nth(1) };
}

function exited(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
}

/** The pid of a process that has run and ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

const lockOf = (path: string): string => `${path}.lock`;
const readLock = async (path: string) => JSON.parse(await readFile(lockOf(path), 'utf8')) as { pid: number; host: string; startedAt: string };
const exists = (p: string) => stat(p).then(() => true, () => false);

describe.each(STORES)('the state file lock of %s', (name, Store, module, left) => {
  const holder = (path: string, then: 'wait' | 'exit', go?: string) => holderOf([name, module], path, then, go);

  it('is a file beside the state file naming this pid, host and start time, taken on first use and removed on close', async () => {
    const path = await freshPath();
    const store = new Store(path);
    expect(await exists(lockOf(path))).toBe(false);
    const before = Date.now();
    await store.put('k.json', '{"k":1}');
    const lock = await readLock(path);
    expect(lock).toMatchObject({ pid: process.pid, host: hostname() });
    expect(Date.parse(lock.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    await store.close();
    expect(await readdir(join(path, '..'))).toEqual([left]);
    // Closed is not broken: the next use takes the lock again.
    expect((await store.get('k.json'))?.text).toBe('{"k":1}');
    expect((await readLock(path)).pid).toBe(process.pid);
    await store.close();
    expect(await exists(lockOf(path))).toBe(false);
  });

  it('is shared by the stores of one process and goes with the last close', async () => {
    const path = await freshPath();
    const a = new Store(path);
    const b = new Store(path);
    await Promise.all([a.open(), b.open()]);
    await a.close();
    expect(await exists(lockOf(path))).toBe(true);
    await b.put('k.json', '{}');
    await b.close();
    expect(await exists(lockOf(path))).toBe(false);
  });

  it('keeps a second process out with STATE_LOCKED naming the holder, and lets it in once the holder is gone', async () => {
    const path = await freshPath();
    const first = holder(path, 'wait');
    expect(await first.line).toBe('held []');
    const store = new Store(path);
    for (const attempt of [() => store.get('k.json'), () => store.put('k.json', '{}'), () => store.open()]) {
      const e = await failure(attempt());
      expect(e.code).toBe('STATE_LOCKED');
      expect(e.transient).toBe(true);
      expect(e.message).toMatch(new RegExp(`^state file .*state\\.json is in use by another tagwall run: pid ${first.child.pid} on this host, since \\d{4}-`));
    }
    // Nothing was written while locked out.
    expect(await exists(join(path, '..', left))).toBe(false);
    expect((await readLock(path)).pid).toBe(first.child.pid);

    // Killed outright, it leaves its lock behind; its pid no longer runs, so the lock is stale.
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect((await readLock(path)).pid).toBe(first.child.pid);
    const warnings = await store.open();
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`took over the lock left by pid ${first.child.pid} on ${hostname()} .*no longer running`))]);
    expect((await readLock(path)).pid).toBe(process.pid);
    await store.close();
    expect(await exists(lockOf(path))).toBe(false);
  });

  it('is removed when the holding process exits without closing the store', async () => {
    const path = await freshPath();
    const p = holder(path, 'exit');
    expect(await p.line).toBe('held []');
    await exited(p.child);
    expect(p.child.exitCode).toBe(0);
    expect(await exists(lockOf(path))).toBe(false);
  });

  it('takes over a lock left by a pid that no longer runs on this host', async () => {
    const path = await freshPath();
    const pid = await deadPid();
    await writeFile(lockOf(path), JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const store = new Store(path);
    expect(await store.open()).toEqual([expect.stringContaining(`took over the lock left by pid ${pid} on ${hostname()} (taken 2026-01-01T00:00:00.000Z)`)]);
    await store.put('k.json', '{}');
    await store.close();
    expect(await readdir(join(path, '..'))).toEqual([left]);
  });

  it('takes over a lock with this process\'s own pid that it does not hold: an earlier process had the same pid', async () => {
    const path = await freshPath();
    await writeFile(lockOf(path), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const store = new Store(path);
    expect(await store.open()).toHaveLength(1);
    await store.close();
  });

  it('never takes over a lock held on another host: it cannot tell whether that run still goes on', async () => {
    const path = await freshPath();
    const pid = await deadPid();
    const lock = JSON.stringify({ pid, host: 'build-agent-7', startedAt: '2026-01-01T00:00:00.000Z' });
    await writeFile(lockOf(path), lock);
    const e = await failure(new Store(path).get('k.json'));
    expect(e.code).toBe('STATE_LOCKED');
    expect(e.message).toContain(`pid ${pid} on host build-agent-7, since 2026-01-01T00:00:00.000Z`);
    expect(e.details.join('\n')).toContain(`delete ${lockOf(path)}`);
    expect(await readFile(lockOf(path), 'utf8')).toBe(lock);
  });

  it('reports a lock file that does not say who holds it, after giving a slow holder time to write it', async () => {
    const path = await freshPath();
    await writeFile(lockOf(path), '');
    const e = await failure(new Store(path).open());
    expect(e.code).toBe('STATE_LOCKED');
    expect(e.message).toMatch(/does not say who holds it/);
    expect(await readFile(lockOf(path), 'utf8')).toBe('');
  });

  it('lets exactly one of several processes take over the same stale lock', async () => {
    const path = await freshPath();
    const pid = await deadPid();
    await writeFile(lockOf(path), JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const go = join(path, '..', 'go');
    const racers = Array.from({ length: 4 }, () => holder(path, 'wait', go));
    expect(await Promise.all(racers.map((r) => r.ready))).toEqual(['ready', 'ready', 'ready', 'ready']);
    await writeFile(go, '');
    const lines = await Promise.all(racers.map((r) => r.line));
    expect(lines.filter((l) => l.startsWith('held ')), lines.join('\n')).toHaveLength(1);
    expect(lines.filter((l) => l === 'refused STATE_LOCKED')).toHaveLength(3);
    const winner = racers[lines.findIndex((l) => l.startsWith('held '))]!;
    expect((await readLock(path)).pid).toBe(winner.child.pid);
    winner.child.kill('SIGTERM');
    await Promise.all(racers.map((r) => exited(r.child)));
    expect(await readdir(join(path, '..'))).toEqual(['go']);
  });
});
