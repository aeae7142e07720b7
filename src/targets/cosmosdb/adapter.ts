import { CosmosDBManagementClient, type DatabaseAccountGetResults } from '@azure/arm-cosmosdb';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions, classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from '../firewall.js';
import { checkImplicitSwitch } from '../implicit-firewall.js';
import { runOperation, watchOperation } from '../long-running.js';
import { cosmosError } from './errors.js';

/** `apiVersion` defaults to the SDK's own (2025-10-15 for @azure/arm-cosmosdb 16.4.0). */
export type CosmosDbFirewallOptions = ArmClientOptions;

/** What the write must know of the account as read; the PATCH itself carries only ipRules. */
interface CosmosOpaque {
  readonly virtualNetworkFilter: boolean;
}

function findingsOf(account: DatabaseAccountGetResults, rules: readonly string[]): KindFinding[] {
  const findings: KindFinding[] = [];
  if (rules.some((r) => r.trim() === '0.0.0.0' || r.trim() === '0.0.0.0/32')) {
    findings.push({
      severity: 'warning',
      code: 'COSMOS_AZURE_DATACENTERS',
      message: "0.0.0.0 (accept connections from within Azure datacenters) lets every Azure subscription's traffic in, other customers' too; tagwall keeps it, as it is the account's own setting",
    });
  }
  const vnetRules = account.virtualNetworkRules?.length ?? 0;
  if (account.isVirtualNetworkFilterEnabled !== true && vnetRules > 0) {
    findings.push({
      severity: 'info',
      code: 'COSMOS_VNET_FILTER_OFF',
      message: `${vnetRules} virtual-network rule${vnetRules === 1 ? ' has' : 's have'} no effect while isVirtualNetworkFilterEnabled is false`,
      count: vnetRules,
    });
  }
  if (account.provisioningState !== undefined && account.provisioningState.toLowerCase() !== 'succeeded') {
    findings.push({
      severity: 'info',
      code: 'COSMOS_UPDATE_RUNNING',
      message: `the account is ${account.provisioningState}: another update is running, and Azure refuses a second one until it ends`,
      provisioningState: account.provisioningState,
    });
  }
  return findings;
}

/**
 * Cosmos DB has no defaultAction: its firewall is on whenever the IP list is not empty or the
 * virtual-network filter is on. That is read as Deny (on) or Allow (off), so the plan's posture
 * checks (FIREWALL_DISABLED, enforceDeny) mean for an account what they mean for a vault.
 */
function toFirewall(resource: ResourceRef, account: DatabaseAccountGetResults): FirewallState {
  const ipRules = (account.ipRules ?? []).map((r) => r.ipAddressOrRange ?? '').filter((r) => r !== '');
  const virtualNetworkFilter = account.isVirtualNetworkFilterEnabled === true;
  const findings = findingsOf(account, ipRules);
  return {
    resource,
    ipRules,
    virtualNetworkRuleCount: account.virtualNetworkRules?.length ?? 0,
    posture: {
      defaultAction: ipRules.length > 0 || virtualNetworkFilter ? 'Deny' : 'Allow',
      ...(account.networkAclBypass === undefined ? {} : { bypass: account.networkAclBypass }),
      ...(account.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: account.publicNetworkAccess }),
    },
    ...(findings.length === 0 ? {} : { findings }),
    opaque: { virtualNetworkFilter } satisfies CosmosOpaque,
  };
}

/**
 * Cosmos DB accounts through the real ARM SDK: one GET to read; to write, one PATCH of
 * `properties.ipRules` alone (the service changes only the properties a PATCH names, and
 * replaces the array whole), then the operation's status polled to its end.
 */
export function createCosmosDbFirewalls(options: CosmosDbFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  // One client per subscription: resources in the same one share it (and its connections).
  const clientFor = perSubscription((subscriptionId): CosmosDBManagementClient =>
    new CosmosDBManagementClient(options.credential, subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(account: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(account, await clientFor(account.subscriptionId).databaseAccounts.get(account.resourceGroup, account.name, requestOptions));
      } catch (e) {
        throw cosmosError(e, account, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const account = current.resource;
      checkImplicitSwitch(current, change, (current.opaque as CosmosOpaque).virtualNetworkFilter, 'Cosmos DB account');
      const watch = watchOperation();
      const update = { ipRules: change.ipRules.map((ipAddressOrRange) => ({ ipAddressOrRange })) };
      const begin = () =>
        clientFor(account.subscriptionId).databaseAccounts.beginUpdate(account.resourceGroup, account.name, update, {
          ...requestOptions,
          onResponse: watch.onResponse,
          ...(options.operations?.pollIntervalMs === undefined ? {} : { updateIntervalInMs: options.operations.pollIntervalMs }),
        });
      try {
        return toFirewall(account, await runOperation(begin, account, 'Cosmos DB account', watch, options.operations));
      } catch (e) {
        throw cosmosError(e, account, 'write');
      }
    },
  };
}
