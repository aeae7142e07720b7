import type { TagwallConfig } from '../config/config.js';
import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import type { AppliedRecord } from '../core/target-plan.js';
import { RecordFileStore } from './record-file-store.js';
import type { KeyValueStore } from './store.js';
import { createStateStore, type Env } from './stores.js';
import { TargetStateRepository } from './records.js';
import { GrantRepository, type GrantRecord } from './grants.js';

/**
 * One target's last record, read without taking part in a run (`tagwall plan --config --target`).
 * The file store's lock is for writers: a plan that only reads must neither wait for a running
 * sync nor keep one out, so the file is read as it is (its writes are atomic renames, so a read
 * sees one whole version). A blob store is read through its own client, which never locks.
 */
export async function peekRecord(state: TagwallConfig['state'], env: Env, resource: ResourceRef): Promise<{ record: AppliedRecord | undefined; grants: GrantRecord; store: string }> {
  const store = state.store === 'file' ? readOnlyFile(state.path) : createStateStore(state, env);
  // The grants of `tagwall allow` and the expiries already reported live beside the record (grants.ts).
  const [loaded, grants] = await Promise.all([new TargetStateRepository(store).load(resource), new GrantRepository(store).load(resource)]);
  return { record: loaded?.record, grants: grants.record, store: store.description };
}

function readOnlyFile(path: string): KeyValueStore {
  const records = new RecordFileStore(path);
  const description = records.description;
  return {
    description,
    get: (key) => records.peek(key),
    put() {
      return Promise.reject(new TagwallError('INTERNAL', `${description} was opened to read only`));
    },
  };
}
