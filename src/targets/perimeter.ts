import type { NspAssociation } from '@azure/arm-network';
import { vaultKey, type VaultRef } from '../core/vault-id.js';
import { armConnection, type ArmClientOptions } from '../arm/client-options.js';
import type { PerimeterAssociation, PerimeterLookup, PerimeterView } from './firewall.js';
import { networkClients } from './network-client.js';

/**
 * `apiVersion` defaults to the SDK's own: 2025-05-01 for @azure/arm-network 36.0.0, which has
 * no option for it, so another version is set on each request by a pipeline policy.
 */
export interface PerimeterLookupOptions extends ArmClientOptions {
  /** How many perimeters of one subscription have their associations listed at once. Default 4. */
  readonly concurrency?: number;
}

/** An association as listed; ARM may leave out the mode, which then cannot be reported as one. */
type Listed = Omit<PerimeterAssociation, 'accessMode'> & { readonly accessMode: string | undefined };

/** What one subscription's listing found: each associated resource's associations, by lower-cased ID. */
type Listing = { readonly ok: true; readonly byResource: ReadonlyMap<string, readonly Listed[]> } | { readonly ok: false; readonly code: string; readonly reason: string };

const DEFAULT_CONCURRENCY = 4;
const PERIMETER_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)\/?$/i;

function resourceKey(id: string): string {
  return id.trim().replace(/\/+$/, '').toLowerCase();
}

interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly statusCode?: number;
  readonly code?: string;
}

/** Why a subscription's perimeters could not be read, as a stable code and a sentence. */
function unreadable(error: unknown, subscriptionId: string): { code: string; reason: string } {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const azure = e.message ?? String(error);
  const where = `the Network Security Perimeters of subscription ${subscriptionId}`;
  const status = typeof e.statusCode === 'number' && e.statusCode > 0 ? e.statusCode : undefined;
  const http = status === undefined ? '' : `HTTP ${status}${e.code === undefined ? '' : ` ${e.code}`}: `;
  if (status === 403) {
    return { code: 'PERIMETER_FORBIDDEN', reason: `not allowed to read ${where} (needs Microsoft.Network/networkSecurityPerimeters/read and .../resourceAssociations/read): ${http}${azure}` };
  }
  if (status === 401) return { code: 'PERIMETER_UNAUTHORIZED', reason: `Azure did not accept the token to read ${where}: ${http}${azure}` };
  // The SDK's policy retries these (408, 429, and 5xx but 501 and 505), so they outlasted it.
  const retried = status === 408 || status === 429 || (status !== undefined && status >= 500 && status !== 501 && status !== 505);
  if (status !== undefined) return { code: 'PERIMETER_READ_FAILED', reason: `could not read ${where}${retried ? ', even after retries' : ''}: ${http}${azure}` };
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError' || e.name === 'AuthenticationError' || e.name === 'AuthenticationRequiredError') {
    return { code: 'PERIMETER_CREDENTIAL', reason: `no token to read ${where}: ${azure}` };
  }
  if (e.name === 'RestError') return { code: 'PERIMETER_READ_FAILED', reason: `could not reach Azure to read ${where}${e.code === undefined ? '' : ` (${e.code})`}: ${azure}` };
  return { code: 'PERIMETER_READ_FAILED', reason: `could not read ${where}: ${azure}` };
}

/**
 * The association that decides: an Enforced one overrides the vault's own firewall, so it
 * wins over any Learning or Audit one; among equals, the lowest perimeter ID, so every run
 * reports the same one. Without an Enforced one, an association with no mode could be
 * enforcing, so the view is unknown rather than a guess.
 */
function decide(associations: readonly Listed[]): PerimeterView {
  const byId = (a: Listed, b: Listed): number => (a.perimeter.toLowerCase() < b.perimeter.toLowerCase() ? -1 : 1);
  const enforced = associations.filter((a) => a.accessMode?.toLowerCase() === 'enforced').sort(byId);
  const unmoded = associations.filter((a) => a.accessMode === undefined).sort(byId);
  const chosen = enforced[0] ?? (unmoded.length > 0 ? undefined : [...associations].sort(byId)[0]);
  if (chosen === undefined || chosen.accessMode === undefined) {
    return { state: 'unknown', code: 'PERIMETER_MODE_MISSING', reason: `the association with perimeter ${unmoded[0]!.perimeter} has no accessMode` };
  }
  return { state: 'associated', association: { ...chosen, accessMode: chosen.accessMode } };
}

/** At most `width` at a time; after a failure no new item starts, since the listing is lost anyway. */
async function inBatches<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      try {
        await each(items[next++]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Vaults' perimeter associations through the real ARM SDK. Each subscription is listed once
 * per lookup (one lookup per run): its perimeters, then each perimeter's associations, into
 * a map every vault of that subscription is answered from. A perimeter in another
 * subscription that holds the vault is not seen.
 *
 * Nothing here throws for a vault: a listing that fails (403 for an identity that may not
 * read perimeters, an outage after the SDK's retries) makes the subscription's vaults
 * `unknown`, since a partial listing cannot show that a vault has no association.
 * Throws ARM_ENDPOINT_INVALID at construction for an endpoint that is not https.
 */
export function createPerimeterLookup(options: PerimeterLookupOptions): PerimeterLookup {
  const connection = armConnection(options);
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  // The SDK is loaded on first use: a command or cold start that never asks about perimeters should not pay for it.
  const clientFor = networkClients(options, connection);
  const listings = new Map<string, Promise<Listing>>();

  async function list(subscriptionId: string): Promise<Listing> {
    try {
      const client = await clientFor(subscriptionId);
      const perimeters: { id: string; resourceGroup: string; name: string }[] = [];
      for await (const p of client.networkSecurityPerimeters.listBySubscription(connection.operationOptions)) {
        const m = PERIMETER_ID.exec(p.id ?? '');
        // Without a usable ID its associations cannot be listed, and the map would be incomplete.
        if (m === null) return { ok: false, code: 'PERIMETER_READ_FAILED', reason: `ARM listed a perimeter with an unusable ID ${JSON.stringify(p.id)} in subscription ${subscriptionId}` };
        perimeters.push({ id: p.id!.replace(/\/+$/, ''), resourceGroup: m[1]!, name: m[2]! });
      }
      const byResource = new Map<string, Listed[]>();
      const add = (perimeter: string, a: NspAssociation): void => {
        const resource = a.privateLinkResource?.id;
        if (resource === undefined || resource === '') return;
        const association: Listed = {
          perimeter,
          ...(a.profile?.id === undefined || a.profile.id === '' ? {} : { profile: a.profile.id }),
          accessMode: a.accessMode === undefined || a.accessMode === '' ? undefined : a.accessMode,
        };
        const key = resourceKey(resource);
        byResource.set(key, [...(byResource.get(key) ?? []), association]);
      };
      await inBatches(perimeters, concurrency, async (p) => {
        for await (const a of client.networkSecurityPerimeterAssociations.list(p.resourceGroup, p.name, connection.operationOptions)) add(p.id, a);
      });
      return { ok: true, byResource };
    } catch (e) {
      return { ok: false, ...unreadable(e, subscriptionId) };
    }
  }

  return {
    async perimeterOf(vault: VaultRef): Promise<PerimeterView> {
      const key = vault.subscriptionId.toLowerCase();
      let listing = listings.get(key);
      if (listing === undefined) {
        listing = list(vault.subscriptionId);
        listings.set(key, listing);
      }
      const found = await listing;
      if (!found.ok) return { state: 'unknown', code: found.code, reason: found.reason };
      const associations = found.byResource.get(vaultKey(vault));
      return associations === undefined ? { state: 'none' } : decide(associations);
    },
  };
}
