import type { ResourceRef } from '../core/resource-id.js';
import { armConnection, classicClientOptions, perSubscription, type ArmClientOptions, type ArmConnection, type ClassicClientOptions } from '../arm/client-options.js';
import { firewallError } from '../arm/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from './firewall.js';
import type { FirewallFacts } from './kind.js';

/**
 * Event Hubs and Service Bus namespaces keep their firewall the same way: a child resource
 * `networkRuleSets/default` written by one PUT of the whole rule set. This module is that
 * shared adapter; each kind gives its facts and binds its own SDK's three calls. It imports no
 * SDK itself, so a kind's facts may name its types without loading anything.
 */

/** What a namespace's SKU means for its firewall, beside the facts every kind has. */
export interface NamespaceFacts extends FirewallFacts {
  /** SKU names (any case) whose namespaces take IP rules; any other named SKU is unsupported. */
  readonly ipRuleTiers: readonly string[];
  /** SKU names where `trustedServiceAccessEnabled` actually lets trusted services through. */
  readonly trustedServiceTiers: readonly string[];
  /** True when the documented limit counts IP and virtual-network rules together. */
  readonly limitCountsVirtualNetworkRules: boolean;
  /** The permissions a 403 means are missing. */
  readonly permissions: string;
}

/** `NWRuleSetIpRules` (both SDKs spell it the same). */
export interface IpRuleModel {
  ipMask?: string;
  action?: string;
}

export interface VirtualNetworkRuleModel {
  subnet?: { id?: string };
  ignoreMissingVnetServiceEndpoint?: boolean;
}

/** The writable part of `NetworkRuleSet`, as read; the SDK models are structurally this. */
export interface RuleSetModel {
  trustedServiceAccessEnabled?: boolean;
  defaultAction?: string;
  virtualNetworkRules?: VirtualNetworkRuleModel[];
  ipRules?: IpRuleModel[];
  publicNetworkAccess?: string;
}

/** What a PUT sends; Service Bus's SDK insists on a subnet's ID. */
export interface RuleSetBody extends Omit<RuleSetModel, 'virtualNetworkRules'> {
  virtualNetworkRules?: { subnet?: { id: string }; ignoreMissingVnetServiceEndpoint?: boolean }[];
}

export interface NamespaceModel {
  sku?: { name?: string; tier?: string };
  publicNetworkAccess?: string;
}

type OperationOptions = ArmConnection['operationOptions'];

/** The three operations of one subscription's SDK client that the adapter needs. */
export interface NamespaceApi {
  getNamespace(resourceGroup: string, name: string, options: OperationOptions): Promise<NamespaceModel>;
  getRuleSet(resourceGroup: string, name: string, options: OperationOptions): Promise<RuleSetModel>;
  putRuleSet(resourceGroup: string, name: string, ruleSet: RuleSetBody, options: OperationOptions): Promise<RuleSetModel>;
}


/** Everything but the IP rules, as read, for the PUT to send back. */
interface NamespaceOpaque {
  readonly ruleSet: Omit<RuleSetBody, 'ipRules'>;
  /** The SKU name, so that the state a write returns keeps the findings the SKU implies. */
  readonly sku: string | undefined;
}

/**
 * Copies what was read, field by field, leaving out what was absent rather than sending it as
 * null. A subnet without an ID (never seen; nothing could be written back for it) is left out.
 */
function keptFields(rs: RuleSetModel | Omit<RuleSetBody, 'ipRules'>): Omit<RuleSetBody, 'ipRules'> {
  const kept: Omit<RuleSetBody, 'ipRules'> = {};
  if (rs.trustedServiceAccessEnabled !== undefined) kept.trustedServiceAccessEnabled = rs.trustedServiceAccessEnabled;
  if (rs.defaultAction !== undefined) kept.defaultAction = rs.defaultAction;
  if (rs.publicNetworkAccess !== undefined) kept.publicNetworkAccess = rs.publicNetworkAccess;
  if (rs.virtualNetworkRules !== undefined) {
    kept.virtualNetworkRules = rs.virtualNetworkRules.map((r) => ({
      ...(r.subnet?.id === undefined ? {} : { subnet: { id: r.subnet.id } }),
      ...(r.ignoreMissingVnetServiceEndpoint === undefined ? {} : { ignoreMissingVnetServiceEndpoint: r.ignoreMissingVnetServiceEndpoint }),
    }));
  }
  return kept;
}

function inTiers(sku: string | undefined, tiers: readonly string[]): boolean {
  return sku === undefined || tiers.some((t) => t.toLowerCase() === sku.toLowerCase());
}

function kindFindings(facts: NamespaceFacts, sku: string | undefined, rs: RuleSetModel, ipRules: number, vnetRules: number): { findings: KindFinding[]; unsupported?: FirewallState['unsupported'] } {
  const findings: KindFinding[] = [];
  if (!inTiers(sku, facts.ipRuleTiers)) {
    const message = `a ${sku} ${facts.title} takes no IP rules (IP firewall rules need ${facts.ipRuleTiers.join(' or ')}); no write`;
    findings.push({ severity: 'warning', code: 'SKU_UNSUPPORTED', message, sku: sku ?? '', tiers: facts.ipRuleTiers });
    return { findings, unsupported: { code: 'SKU_UNSUPPORTED', message } };
  }
  // Both services' firewall pages: with no IP and no virtual-network rule, Deny is not enforced.
  if ((rs.defaultAction ?? '').toLowerCase() === 'deny' && ipRules === 0 && vnetRules === 0 && (rs.publicNetworkAccess ?? '').toLowerCase() !== 'disabled') {
    findings.push({
      severity: 'warning',
      code: 'DENY_WITHOUT_RULES',
      message: `defaultAction is Deny but the ${facts.title} has no IP or virtual-network rule, so the service does not enforce it: every network can reach it until a rule exists`,
    });
  }
  if (rs.trustedServiceAccessEnabled === true && !inTiers(sku, facts.trustedServiceTiers)) {
    findings.push({
      severity: 'warning',
      code: 'TRUSTED_SERVICES_UNAVAILABLE',
      message: `trustedServiceAccessEnabled is true, but a ${sku} ${facts.title} has no trusted-services option (${facts.trustedServiceTiers.join(' or ')} only): trusted Microsoft services are not let through`,
      sku: sku ?? '',
    });
  }
  if (facts.limitCountsVirtualNetworkRules && vnetRules > 0) {
    findings.push({
      severity: 'info',
      code: 'RULE_LIMIT_SHARED',
      message: `the documented limit of ${facts.maxRules} counts virtual-network and IP rules together: with ${vnetRules} virtual-network rule${vnetRules === 1 ? '' : 's'}, at most ${Math.max(facts.maxRules - vnetRules, 0)} IP rules fit, and the plan leaves room for them`,
      virtualNetworkRules: vnetRules,
      limit: facts.maxRules,
    });
  }
  return { findings };
}

function toFirewall(facts: NamespaceFacts, resource: ResourceRef, sku: string | undefined, namespacePublicAccess: string | undefined, rs: RuleSetModel): FirewallState {
  const ipRules = (rs.ipRules ?? []).flatMap((r) => (r.ipMask === undefined ? [] : [r.ipMask]));
  const vnetRules = rs.virtualNetworkRules?.length ?? 0;
  // The rule set's own publicNetworkAccess is what the PUT writes; the namespace carries a copy.
  const publicNetworkAccess = rs.publicNetworkAccess ?? namespacePublicAccess;
  const { findings, unsupported } = kindFindings(facts, sku, rs, ipRules.length, vnetRules);
  return {
    resource,
    ipRules,
    virtualNetworkRuleCount: vnetRules,
    posture: {
      ...(rs.defaultAction === undefined ? {} : { defaultAction: rs.defaultAction }),
      // Trusted service access is off unless the rule set says otherwise.
      bypass: rs.trustedServiceAccessEnabled === true ? 'AzureServices' : 'None',
      ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }),
    },
    ...(findings.length === 0 ? {} : { findings }),
    ...(unsupported === undefined ? {} : { unsupported }),
    // Under a shared limit the VNet rules take places the plan must not give to IP rules (Azure answers 400).
    ...(facts.limitCountsVirtualNetworkRules && vnetRules > 0 ? { otherEntries: vnetRules } : {}),
    opaque: { ruleSet: keptFields(rs), sku } satisfies NamespaceOpaque,
  };
}

/** The PUT body: the rule set as read, with the new IP rules (and Deny when asked). */
export function ruleSetToWrite(read: Omit<RuleSetBody, 'ipRules'>, change: FirewallChange): RuleSetBody {
  return {
    ...keptFields(read),
    ...(change.defaultAction === undefined ? {} : { defaultAction: change.defaultAction }),
    ipRules: change.ipRules.map((ipMask) => ({ ipMask, action: 'Allow' })),
  };
}

/**
 * A namespace firewall through the kind's SDK: a read is one GET of the namespace (for its
 * SKU) and one GET of the rule set, side by side; a write is one PUT of the rule set.
 */
export function createNamespaceFirewalls(
  options: ArmClientOptions,
  facts: NamespaceFacts,
  connect: (subscriptionId: string, clientOptions: ClassicClientOptions) => NamespaceApi,
): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const context = { title: facts.title, permissions: facts.permissions, codes: 'TARGET' } as const;
  // One client per subscription: resources in the same one share it (and its connections).
  const clientFor = perSubscription((subscriptionId): NamespaceApi =>
    connect(subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(resource: ResourceRef): Promise<FirewallState> {
      const api = clientFor(resource.subscriptionId);
      try {
        const [namespace, ruleSet] = await Promise.all([
          api.getNamespace(resource.resourceGroup, resource.name, requestOptions),
          api.getRuleSet(resource.resourceGroup, resource.name, requestOptions),
        ]);
        return toFirewall(facts, resource, namespace.sku?.name ?? namespace.sku?.tier, namespace.publicNetworkAccess, ruleSet);
      } catch (e) {
        throw firewallError(e, resource, 'read', context);
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const resource = current.resource;
      const opaque = current.opaque as NamespaceOpaque;
      try {
        const answer = await clientFor(resource.subscriptionId).putRuleSet(resource.resourceGroup, resource.name, ruleSetToWrite(opaque.ruleSet, change), requestOptions);
        return toFirewall(facts, resource, opaque.sku, current.posture.publicNetworkAccess, answer);
      } catch (e) {
        throw firewallError(e, resource, 'write', context);
      }
    },
  };
}
