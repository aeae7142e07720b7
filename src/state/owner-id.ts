import { createHash } from 'node:crypto';
import type { KeyValueStore } from './store.js';

/**
 * The owner ID of an installation that sets none: 8 hex digits of a hash of where its state
 * lives. Two installations with their own state (the point of being two) then never share an
 * owner, and one installation keeps its owner for as long as it keeps its state. Moving the state
 * changes it: set `ownerId` (TAGWALL_OWNER_ID) to the old value first (README, upgrade notes).
 */
export function defaultOwnerId(store: Pick<KeyValueStore, 'location' | 'description'>): string {
  return createHash('sha256').update(store.location ?? store.description).digest('hex').slice(0, 8);
}
