import type { ResourceRef } from '../core/resource-id.js';
import { TagwallError } from '../core/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget } from './firewall.js';
import type { FirewallFacts, FirewallOptions } from './kind.js';
import { KEY_VAULT } from './keyvault/facts.js';
import { EVENT_HUBS } from './eventhub/facts.js';
import { SERVICE_BUS } from './servicebus/facts.js';
import { PERIMETER_PROFILE } from './perimeter-profile/facts.js';
import { STORAGE_ACCOUNT } from './storage/facts.js';
import { CONTAINER_REGISTRY } from './containerregistry/facts.js';
import { COSMOS_DB } from './cosmosdb/facts.js';
import { COGNITIVE_SERVICES } from './cognitiveservices/facts.js';
import { AI_SEARCH } from './search/facts.js';
import { AKS_CLUSTER } from './aks/facts.js';
import { CONTAINER_APP } from './containerapps/facts.js';
import { SQL_SERVER } from './sql/facts.js';
import { POSTGRESQL_FLEXIBLE } from './postgresql-flexible/facts.js';
import { MYSQL_FLEXIBLE } from './mysql-flexible/facts.js';
import { SYNAPSE_WORKSPACE } from './synapse/facts.js';
import { REDIS_CACHE } from './redis/facts.js';

/** Every kind tagwall can keep in step, by resource type (ARM types compare case-insensitively). */
export const FIREWALL_KINDS: readonly FirewallFacts[] = [
  KEY_VAULT,
  EVENT_HUBS,
  SERVICE_BUS,
  PERIMETER_PROFILE,
  STORAGE_ACCOUNT,
  CONTAINER_REGISTRY,
  COSMOS_DB,
  COGNITIVE_SERVICES,
  AI_SEARCH,
  AKS_CLUSTER,
  CONTAINER_APP,
  SQL_SERVER,
  POSTGRESQL_FLEXIBLE,
  MYSQL_FLEXIBLE,
  SYNAPSE_WORKSPACE,
  REDIS_CACHE,
];

const byType = new Map(FIREWALL_KINDS.map((k) => [k.resourceType.toLowerCase(), k]));

export function kindOfType(type: string): FirewallFacts | undefined {
  return byType.get(type.toLowerCase());
}


/** The kind a resource ID names, or RESOURCE_TYPE_UNSUPPORTED listing the supported ones. */
export function kindOf(resource: ResourceRef): FirewallFacts {
  const kind = kindOfType(resource.type);
  if (kind === undefined) {
    throw new TagwallError('RESOURCE_TYPE_UNSUPPORTED', `${resource.id}: tagwall does not manage ${resource.type} firewalls; supported: ${FIREWALL_KINDS.map((k) => k.resourceType).join(', ')}`, {
      values: { type: resource.type },
    });
  }
  return kind;
}

/**
 * One FirewallTarget for every kind: each call goes to its kind's adapter, which is created (and
 * its SDK loaded) on the first call for that kind.
 */
export function createFirewalls(options: FirewallOptions): FirewallTarget {
  const adapters = new Map<string, Promise<FirewallTarget>>();
  const adapterFor = (resource: ResourceRef): Promise<FirewallTarget> => {
    const kind = kindOf(resource);
    let adapter = adapters.get(kind.kind);
    if (adapter === undefined) {
      adapter = kind.load().then((create) => create(options));
      adapters.set(kind.kind, adapter);
      // A failed load is not remembered, so the next vault may try again.
      adapter.catch(() => adapters.delete(kind.kind));
    }
    return adapter;
  };
  return {
    read: async (resource: ResourceRef) => (await adapterFor(resource)).read(resource),
    write: async (current: FirewallState, change: FirewallChange) => (await adapterFor(current.resource)).write(current, change),
  };
}

