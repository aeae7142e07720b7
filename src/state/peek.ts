import { readFile } from 'node:fs/promises';
import type { TagwallConfig } from '../config/config.js';
import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import type { AppliedRecord } from '../core/target-plan.js';
import { decodeStateFile } from './json-file-store.js';
import { etagOf, type KeyValueStore } from './store.js';
import { createStateStore, type Env } from './stores.js';
import { TargetStateRepository } from './records.js';

/**
 * One target's last record, read without taking part in a run (`tagwall plan --config --target`).
 * The file store's lock is for writers: a plan that only reads must neither wait for a running
 * sync nor keep one out, so the file is read as it is (its writes are atomic renames, so a read
 * sees one whole version). A blob store is read through its own client, which never locks.
 */
export async function peekRecord(state: TagwallConfig['state'], env: Env, resource: ResourceRef): Promise<{ record: AppliedRecord | undefined; store: string }> {
  const store = state.store === 'file' ? readOnlyFile(state.path) : createStateStore(state, env);
  const loaded = await new TargetStateRepository(store).load(resource);
  return { record: loaded?.record, store: store.description };
}

function readOnlyFile(path: string): KeyValueStore {
  const description = `file ${path}`;
  return {
    description,
    async get(key) {
      let raw: string;
      try {
        raw = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new TagwallError('STATE_UNREADABLE', `state file ${path} cannot be read (${(e as Error).message})`, { cause: e });
      }
      const text = decodeStateFile(raw, path).get(key);
      return text === undefined ? undefined : { text, etag: etagOf(text) };
    },
    put() {
      return Promise.reject(new TagwallError('INTERNAL', `${description} was opened to read only`));
    },
  };
}
