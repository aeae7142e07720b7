import { ContainerAppsAPIClient, type ContainerApp, type Ingress } from '@azure/arm-appcontainers';
import { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, classicClientOptions, perSubscription } from '../../arm/client-options.js';
import { firewallError } from '../../arm/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from '../firewall.js';
import { checkImplicitSwitch } from '../implicit-firewall.js';
import type { FirewallOptions } from '../kind.js';
import { runOperation, watchOperation } from '../long-running.js';
import { ownerRule } from '../perimeter-profile/rules.js';
import { ownedAddresses, restrictionsAfter, type Restriction } from './rules.js';

/** `apiVersion` defaults to the SDK's own (2025-07-01 for @azure/arm-appcontainers 3.0.0). */
export type ContainerAppFirewallOptions = FirewallOptions;

/** What the write sends back: the app's location (the SDK requires it) and its ingress as read. */
interface AppOpaque {
  readonly location: string;
  readonly ingress: Ingress | undefined;
}

function appError(error: unknown, app: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, app, action, { title: 'Container app', permissions: 'Microsoft.App/containerApps/read and /write', codes: 'TARGET' });
}

function restrictionsOf(ingress: Ingress | undefined): Restriction[] {
  return (ingress?.ipSecurityRestrictions ?? []).map((r) => ({
    name: r.name,
    ...(r.description === undefined ? {} : { description: r.description }),
    ipAddressRange: r.ipAddressRange,
    action: r.action,
  }));
}

/** Why an app cannot take tagwall's rules as it is, if it cannot: a finding and no write. */
function verdictOf(ingress: Ingress | undefined, rules: readonly Restriction[]): { unsupported: NonNullable<FirewallState['unsupported']>; finding: KindFinding } | undefined {
  if (ingress === undefined) {
    const message = 'the app has no ingress, so no client outside its environment reaches it and there are no IP restrictions to keep; enable ingress to restrict it';
    return { unsupported: { code: 'CONTAINERAPP_NO_INGRESS', message }, finding: { severity: 'info', code: 'CONTAINERAPP_NO_INGRESS', message } };
  }
  const deny = rules.filter((r) => r.action.toLowerCase() !== 'allow');
  if (deny.length === 0) return undefined;
  const message = `the app's ${deny.length === 1 ? 'rule denies' : `${deny.length} rules deny`} listed ranges (action Deny) and lets every other client in; Azure takes one action for the whole list and tagwall writes Allow rules, so it leaves the app alone. Replace the Deny rules with Allow rules to let tagwall keep it`;
  return {
    unsupported: { code: 'CONTAINERAPP_DENY_RULES', message },
    finding: { severity: 'warning', code: 'CONTAINERAPP_DENY_RULES', message, rules: deny.map((r) => r.name) },
  };
}

/**
 * The IP list is the switch: no rules lets every client in (read as Allow), Allow rules let in
 * only what they list (read as Deny), so the plan judges an app as it judges a vault.
 */
function toFirewall(resource: ResourceRef, app: ContainerApp, ownerId: string): FirewallState {
  const ingress = app.configuration?.ingress ?? undefined;
  const rules = restrictionsOf(ingress);
  const verdict = verdictOf(ingress, rules);
  return {
    resource,
    ipRules: rules.map((r) => r.ipAddressRange),
    virtualNetworkRuleCount: 0,
    posture: { defaultAction: rules.length > 0 && verdict === undefined ? 'Deny' : 'Allow' },
    ...(verdict === undefined ? {} : { findings: [verdict.finding], unsupported: verdict.unsupported }),
    ownedByName: ownedAddresses(rules, ownerId),
    opaque: { location: app.location, ingress: ingress === undefined ? undefined : structuredClone(ingress) } satisfies AppOpaque,
  };
}

/**
 * Container apps through the real ARM SDK: one GET to read; to write, one long-running PATCH
 * (JSON merge patch, per the spec) naming `properties.configuration.ingress` alone, as read with
 * only `ipSecurityRestrictions` changed, polled to its end within the operation bound. Nothing
 * else of the configuration is sent: GET never returns secret values, and a configuration sent
 * back with its secrets as read is refused (`ContainerAppSecretInvalid`) or would drop them, so
 * secrets, registries, dapr and the rest stay exactly as Azure holds them (docs/TARGETS.md).
 */
export function createContainerAppFirewalls(options: ContainerAppFirewallOptions): FirewallTarget {
  const ownerId = options.ownerId;
  // Without an owner, two installations would take each other's rules: there is no safe default here.
  if (ownerId === undefined) throw new RangeError("a container app needs the installation's owner ID (ownerId)");
  ownerRule(ownerId);
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const clientFor = perSubscription((subscriptionId): ContainerAppsAPIClient =>
    new ContainerAppsAPIClient(options.credential, subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(app: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(app, await clientFor(app.subscriptionId).containerApps.get(app.resourceGroup, app.name, requestOptions), ownerId);
      } catch (e) {
        throw appError(e, app, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const app = current.resource;
      const opaque = current.opaque as AppOpaque;
      checkImplicitSwitch(current, change, false, 'Container app');
      // Refusals come before any request: an app without ingress, or one holding Deny rules.
      const ipSecurityRestrictions = restrictionsAfter(app, restrictionsOf(opaque.ingress), change.ipRules, ownerId);
      // Restrictions on an app without ingress would create one: never (the plan skips such an app).
      if (opaque.ingress === undefined) {
        throw new TagwallError('TARGET_BAD_REQUEST', `${app.id}: the app has no ingress, so there are no IP restrictions to write`, { values: { notSent: true } });
      }
      const envelope: ContainerApp = { location: opaque.location, configuration: { ingress: { ...opaque.ingress, ipSecurityRestrictions } } };
      const watch = watchOperation();
      const begin = () =>
        clientFor(app.subscriptionId).containerApps.beginUpdate(app.resourceGroup, app.name, envelope, {
          ...requestOptions,
          onResponse: watch.onResponse,
          ...(options.operations?.pollIntervalMs === undefined ? {} : { updateIntervalInMs: options.operations.pollIntervalMs }),
        });
      try {
        return toFirewall(app, await runOperation(begin, app, 'container app', watch, options.operations), ownerId);
      } catch (e) {
        throw appError(e, app, 'write');
      }
    },
  };
}
