import { z } from 'zod';
import { TagwallError, isTagwallError } from '../core/errors.js';
import { parseResourceId, resourceKey, type ResourceRef } from '../core/resource-id.js';
import { grantsStateKey, loadRecord, saveRecord } from './records.js';
import type { KeyValueStore } from './store.js';

/**
 * One small record per target beside its ownership record: the temporary grants `tagwall allow`
 * made (so a pipeline agent's address is allowed without editing the configuration, and every
 * later run, CLI or Functions timer, keeps it until it expires), and which expiries of the
 * configuration's dated extras were already reported, so each is reported once. Versioned like
 * the other records; every write is conditioned on the ETag read, so a grant is never lost to a
 * concurrent writer: the loser reads again.
 */

const isoTime = z.iso.datetime({ offset: true });

export const grantSchema = z.object({
  /** Normalised (`a.b.c.d/n`). */
  cidr: z.string().min(1),
  /** When the grant stops (an instant). */
  until: isoTime,
  note: z.string().max(200).optional(),
  grantedAt: isoTime,
});
export type Grant = z.infer<typeof grantSchema>;

export const grantRecordSchema = z.object({
  version: z.literal(1),
  /** The target's resource ID. */
  target: z.string().min(1),
  grants: z.array(grantSchema),
  /** `cidr@expiresAt` (core/temporary.ts expiryKey) of configured entries whose expiry was reported. */
  reported: z.array(z.string()).default([]),
});
export type GrantRecord = z.infer<typeof grantRecordSchema>;

export interface LoadedGrants {
  readonly record: GrantRecord;
  /** Absent: no record yet (its first save must create it). */
  readonly etag?: string;
}

/** How many times a read-modify-write is tried when other writers keep moving the record. */
const ATTEMPTS = 5;

export class GrantRepository {
  constructor(readonly store: KeyValueStore) {}

  async load(target: ResourceRef): Promise<LoadedGrants> {
    const loaded = await loadRecord(this.store, grantsStateKey(target), `grants of ${target.id}`, grantRecordSchema);
    if (loaded === undefined) return { record: { version: 1, target: target.id, grants: [], reported: [] } };
    if (!sameTarget(loaded.value.target, target)) {
      throw new TagwallError('STATE_CORRUPT', `grants of ${target.id} (${grantsStateKey(target)} in ${this.store.description}) are corrupt: they describe ${JSON.stringify(loaded.value.target)}`);
    }
    return { record: loaded.value, etag: loaded.etag };
  }

  /** Saves on the ETag loaded; throws STATE_CONFLICT when another writer moved the record on. */
  save(target: ResourceRef, record: GrantRecord, etag: string | undefined): Promise<string> {
    return saveRecord(this.store, grantsStateKey(target), `grants of ${target.id}`, grantRecordSchema, record, etag);
  }

  /**
   * Reads, changes and saves, reading again after each lost race: what another writer added meanwhile
   * is in the record `change` sees. Returns the record saved (or as it stands, when `change` changes nothing).
   */
  async update(target: ResourceRef, change: (record: GrantRecord) => GrantRecord | undefined): Promise<GrantRecord> {
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(target);
      const next = change(loaded.record);
      if (next === undefined) return loaded.record;
      try {
        await this.save(target, next, loaded.etag);
        return next;
      } catch (e) {
        if (!isTagwallError(e, 'STATE_CONFLICT') || attempt >= ATTEMPTS) throw e;
      }
    }
  }
}

function sameTarget(id: string, target: ResourceRef): boolean {
  try {
    return resourceKey(parseResourceId(id)) === resourceKey(target);
  } catch {
    return false;
  }
}
