import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, type ArmClientOptions, type ArmConnection, perSubscription } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from '../firewall.js';
import { checkImplicitSwitch } from '../implicit-firewall.js';
import { runOperation, watchOperation, type OperationWatch } from '../long-running.js';
import { aksError } from './errors.js';
import { AKS_EGRESS_ONLY_RANGE } from './facts.js';

/** `apiVersion` defaults to the SDK's own (2026-04-01 for @azure/arm-containerservice 25.3.0). */
export type AksFirewallOptions = ArmClientOptions;

/** The cluster as read: the write sends it back whole, with only the authorized ranges changed. */
interface AksOpaque {
  readonly cluster: ManagedCluster;
}

const TITLE = 'AKS cluster';

function unsupportedOf(cluster: ManagedCluster, ranges: readonly string[]): { unsupported: NonNullable<FirewallState['unsupported']>; finding: KindFinding } | undefined {
  if (cluster.apiServerAccessProfile?.enablePrivateCluster === true) {
    const message = 'the cluster is private: its API server has no public endpoint and takes no authorized IP ranges, so tagwall writes none';
    return { unsupported: { code: 'AKS_PRIVATE_CLUSTER', message }, finding: { severity: 'info', code: 'AKS_PRIVATE_CLUSTER', message } };
  }
  if (ranges.some((r) => r.trim() === AKS_EGRESS_ONLY_RANGE)) {
    const message = `the cluster's list is ${AKS_EGRESS_ONLY_RANGE}: only its own outbound IP reaches the API server, and Azure takes no other range beside it, so tagwall writes none`;
    return { unsupported: { code: 'AKS_EGRESS_ONLY', message }, finding: { severity: 'info', code: 'AKS_EGRESS_ONLY', message } };
  }
  return undefined;
}

/**
 * No defaultAction in the API: the API server takes every network while the list is empty, so
 * an empty list reads as Allow and a list as Deny, and the plan judges the cluster like the other
 * kinds whose IP list is the switch (Cosmos DB, AI Search).
 */
function toFirewall(resource: ResourceRef, cluster: ManagedCluster): FirewallState {
  const ipRules = [...(cluster.apiServerAccessProfile?.authorizedIPRanges ?? [])];
  const verdict = unsupportedOf(cluster, ipRules);
  const findings: KindFinding[] = verdict === undefined ? [] : [verdict.finding];
  const state = cluster.provisioningState;
  if (state !== undefined && state.toLowerCase() !== 'succeeded') {
    findings.push({
      severity: 'info',
      code: 'AKS_UPDATE_RUNNING',
      message: `the cluster is ${state}: another operation is running, and Azure refuses an update until it ends`,
      provisioningState: state,
    });
  }
  return {
    resource,
    ipRules,
    virtualNetworkRuleCount: 0,
    posture: {
      defaultAction: ipRules.length > 0 ? 'Deny' : 'Allow',
      ...(cluster.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: cluster.publicNetworkAccess }),
    },
    ...(findings.length === 0 ? {} : { findings }),
    ...(verdict === undefined ? {} : { unsupported: verdict.unsupported }),
    opaque: { cluster: structuredClone(cluster) } satisfies AksOpaque,
  };
}

/** The cluster to PUT: exactly as read, with the new authorized ranges. */
export function clusterWithRanges(read: ManagedCluster, ranges: readonly string[]): ManagedCluster {
  return { ...read, apiServerAccessProfile: { ...read.apiServerAccessProfile, authorizedIPRanges: [...ranges] } };
}

/**
 * Every response of one write, seen by a policy on a client of its own: the modular SDK sends
 * its status polls without the operation's `onResponse`, so that option would see the PUT alone.
 */
function watchPolicy(watch: OperationWatch): PipelinePolicy {
  return {
    name: 'tagwallOperationWatch',
    async sendRequest(request, next) {
      const response = await next(request);
      let parsedBody: unknown;
      try {
        parsedBody = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
      } catch {
        parsedBody = undefined;
      }
      watch.onResponse({ status: response.status, parsedBody });
      return response;
    },
  };
}

function client(options: AksFirewallOptions, connection: ArmConnection, subscriptionId: string, watch?: OperationWatch): ContainerServiceClient {
  const policies = [...(connection.pipeline.additionalPolicies ?? []), ...(watch === undefined ? [] : [{ policy: watchPolicy(watch), position: 'perCall' as const }])];
  return new ContainerServiceClient(options.credential, subscriptionId, {
    endpoint: connection.endpoint,
    credentials: { scopes: [connection.scope] },
    ...(options.apiVersion === undefined ? {} : { apiVersion: options.apiVersion }),
    ...connection.pipeline,
    ...(policies.length === 0 ? {} : { additionalPolicies: policies }),
  });
}

/**
 * AKS clusters through the real ARM SDK: one GET to read. The API has no PATCH of the access
 * profile (managedClusters' only PATCH is updateTags), so the write is what `az aks update` does:
 * the cluster PUT back exactly as read (through the SDK's model, which leaves out what the
 * service owns), with only `apiServerAccessProfile.authorizedIPRanges` changed and If-Match on
 * the eTag read, so a change made since is never overwritten. Azure runs it as a long-running
 * update, polled to its end within the operation bound (long-running.ts).
 */
export function createAksFirewalls(options: AksFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const reader = perSubscription((subscriptionId) => client(options, connection, subscriptionId));

  return {
    async read(cluster: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(cluster, await reader(cluster.subscriptionId).managedClusters.get(cluster.resourceGroup, cluster.name, requestOptions));
      } catch (e) {
        throw aksError(e, cluster, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const cluster = current.resource;
      checkImplicitSwitch(current, change, false, TITLE);
      const read = (current.opaque as AksOpaque).cluster;
      const watch = watchOperation();
      // A client per write: its watch sees this operation's responses and no other's.
      const writer = client(options, connection, cluster.subscriptionId, watch);
      const begin = () =>
        writer.managedClusters.beginCreateOrUpdate(cluster.resourceGroup, cluster.name, clusterWithRanges(read, change.ipRules), {
          ...requestOptions,
          ...(read.eTag === undefined ? {} : { ifMatch: read.eTag }),
          ...(options.operations?.pollIntervalMs === undefined ? {} : { updateIntervalInMs: options.operations.pollIntervalMs }),
        });
      try {
        return toFirewall(cluster, await runOperation(begin, cluster, TITLE, watch, options.operations));
      } catch (e) {
        throw aksError(e, cluster, 'write');
      }
    },
  };
}
