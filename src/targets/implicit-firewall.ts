import { TagwallError } from '../core/errors.js';
import type { FirewallChange, FirewallState } from './firewall.js';

/**
 * For kinds without a defaultAction (Cosmos DB, AI Search) the IP list is the switch: an
 * account with no rules (and no other filter) takes every network, and its first rule shuts
 * out everyone else. Their adapters report that as posture (`Deny` when a filter is on,
 * `Allow` when none is), so the plan judges them like any other firewall. But a write must
 * change only the rules unless asked, and here the rules *are* the switch: writing the first
 * rule is turning the firewall on, and removing the last is turning it off. Both are refused
 * unless the plan asked for Deny (`enforceDeny`), which is the only way tagwall may change
 * who gets in beyond the rules themselves.
 */
export function checkImplicitSwitch(current: FirewallState, change: FirewallChange, otherFilter: boolean, title: string): void {
  const on = current.ipRules.length > 0 || otherFilter;
  const after = change.ipRules.length > 0 || otherFilter;
  if (!on && after && change.defaultAction !== 'Deny') {
    throw new TagwallError(
      'TARGET_WOULD_ENABLE_FIREWALL',
      `${title} ${current.resource.name} has no IP rules, so every network can reach it; writing the first rule would shut out every other network. Set enforceDeny on the target to let tagwall do that`,
      { details: [`resource: ${current.resource.id}`], values: { rules: change.ipRules.length, notSent: true } },
    );
  }
  if (on && !after && change.allowOpen !== true) {
    throw new TagwallError(
      'TARGET_WOULD_DISABLE_FIREWALL',
      `${title} ${current.resource.name}: removing its last IP rule would open it to every network; tagwall never does that`,
      { details: [`resource: ${current.resource.id}`], values: { rules: current.ipRules.length, notSent: true } },
    );
  }
}
