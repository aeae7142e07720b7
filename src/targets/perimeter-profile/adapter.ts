import type { NspAccessRule } from '@azure/arm-network';
import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription } from '../../arm/client-options.js';
import { firewallError } from '../../arm/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget } from '../firewall.js';
import type { FirewallOptions } from '../kind.js';
import { networkClients } from '../network-client.js';
import { PERIMETER_PROFILE } from './facts.js';
import { elementsOf, ownerRule, planMigration, planRuleWrites, profileState, type AccessRuleView, type ProfileOpaque, type RuleStep } from './rules.js';

export interface PerimeterProfileFirewallOptions extends FirewallOptions {
  /**
   * The most prefixes tagwall puts in one access rule. Neither the REST spec (no maxItems on
   * addressPrefixes) nor Microsoft's docs give a per-rule maximum, so by default one rule,
   * tagwall-<owner>-1, holds them all; set this if Azure turns out to have one.
   */
  readonly maxPrefixesPerRule?: number;
  /** The profile's element limit the rename of legacy rules stays under; the kind's 200 by default. */
  readonly maxElements?: number;
}

function targetError(error: unknown, profile: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, profile, action, {
    title: 'Network Security Perimeter profile',
    permissions: 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/read, /write and /delete',
    codes: 'TARGET',
  });
}

function viewOf(r: NspAccessRule, name: string): AccessRuleView {
  const count = (a: readonly unknown[] | undefined): number => a?.length ?? 0;
  return {
    name: r.name ?? name,
    direction: r.direction,
    addressPrefixes: [...(r.addressPrefixes ?? [])],
    otherElements: count(r.subscriptions) + count(r.serviceTags) + count(r.fullyQualifiedDomainNames) + count(r.emailAddresses) + count(r.phoneNumbers),
  };
}

/** The perimeter and profile a target names (its ID was checked against the resource type). */
function addressOf(profile: ResourceRef): { resourceGroup: string; perimeter: string; profile: string } {
  return { resourceGroup: profile.resourceGroup, perimeter: profile.parents[0]!, profile: profile.name };
}

/**
 * A perimeter profile's inbound access rules through the real ARM SDK: one listing to read;
 * to write, a PUT for each of this installation's rules whose prefixes change and a DELETE for
 * each it no longer needs (after renaming its legacy rules, see planMigration). Every other
 * access rule, another installation's included, is left exactly as it is.
 */
export function createPerimeterProfileFirewalls(options: PerimeterProfileFirewallOptions): FirewallTarget {
  const ownerId = options.ownerId;
  // Without an owner, two installations would take each other's rules: there is no safe default here.
  if (ownerId === undefined) throw new RangeError('a perimeter profile needs the installation\'s owner ID (ownerId)');
  ownerRule(ownerId);
  const maxElements = options.maxElements ?? PERIMETER_PROFILE.maxRules;
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const perRule = options.maxPrefixesPerRule ?? Number.POSITIVE_INFINITY;
  if (!(perRule >= 1)) throw new RangeError(`maxPrefixesPerRule must be at least 1, not ${perRule}`);
  const clientFor = perSubscription(networkClients(options, connection));

  async function list(ref: ResourceRef): Promise<AccessRuleView[]> {
    const a = addressOf(ref);
    const client = await clientFor(ref.subscriptionId);
    const rules: AccessRuleView[] = [];
    for await (const r of client.networkSecurityPerimeterAccessRules.list(a.resourceGroup, a.perimeter, a.profile, requestOptions)) rules.push(viewOf(r, r.name ?? ''));
    return rules;
  }

  return {
    async read(profile: ResourceRef): Promise<FirewallState> {
      try {
        return profileState(profile, await list(profile), ownerId, maxElements);
      } catch (e) {
        throw targetError(e, profile, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const profile = current.resource;
      const rules = (current.opaque as ProfileOpaque).rules;
      // Both plans before any request, so a refusal (TARGET_FOREIGN_RULES) sends nothing.
      const migration = planMigration(rules, ownerId, maxElements - elementsOf(rules));
      // The plan never sets a default action here: a profile reads as Deny already.
      const writes = planRuleWrites(profile, migration.after, change.ipRules, perRule, ownerId);
      const steps: RuleStep[] = [
        ...migration.steps,
        ...writes.puts.map((p): RuleStep => ({ op: 'put', name: p.name, addressPrefixes: p.addressPrefixes })),
        ...writes.deletes.map((name): RuleStep => ({ op: 'delete', name })),
      ];
      const a = addressOf(profile);
      const after = new Map(rules.map((r) => [r.name.toLowerCase(), r]));
      try {
        const client = await clientFor(profile.subscriptionId);
        // In order, one at a time: see planMigration and planRuleWrites for why.
        for (const step of steps) {
          if (step.op === 'put') {
            const body: NspAccessRule = { direction: 'Inbound', addressPrefixes: [...(step.addressPrefixes ?? [])] };
            const written = await client.networkSecurityPerimeterAccessRules.createOrUpdate(a.resourceGroup, a.perimeter, a.profile, step.name, body, requestOptions);
            after.set(step.name.toLowerCase(), viewOf(written, step.name));
          } else {
            await client.networkSecurityPerimeterAccessRules.delete(a.resourceGroup, a.perimeter, a.profile, step.name, requestOptions);
            after.delete(step.name.toLowerCase());
          }
        }
      } catch (e) {
        throw targetError(e, profile, 'write');
      }
      return profileState(profile, [...after.values()], ownerId, maxElements);
    },
  };
}
