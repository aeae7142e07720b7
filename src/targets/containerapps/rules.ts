import { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { normaliseRule } from '../../core/rules.js';
import { ownerRule, ruleName } from '../perimeter-profile/rules.js';

/**
 * Which of a container app's IP restrictions are tagwall's, and the list a write sends. A rule
 * is tagwall's when it is named tagwall-<owner>-<n> with this installation's owner ID (the same
 * names a perimeter profile's access rules carry) and allows; every other rule is a person's (or
 * another installation's) and goes back exactly as read, name, description and spelling alike.
 */

/** One rule as the API has it (`IpSecurityRestrictionRule`). */
export interface Restriction {
  readonly name: string;
  readonly description?: string;
  readonly ipAddressRange: string;
  readonly action: string;
}

/** What the description of a rule tagwall adds says, for a person reading the portal. */
export const TAGWALL_DESCRIPTION = 'managed by tagwall';

const allows = (r: Restriction): boolean => r.action.toLowerCase() === 'allow';

/**
 * The addresses of this owner's rules, less any that someone else's rule holds too (that one is
 * theirs: tagwall must never remove it).
 */
export function ownedAddresses(rules: readonly Restriction[], ownerId: string): string[] {
  const mine = ownerRule(ownerId);
  const isMine = (r: Restriction) => mine.test(r.name) && allows(r);
  const foreign = new Set(rules.filter((r) => !isMine(r)).map((r) => normaliseRule(r.ipAddressRange).key));
  return rules.filter((r) => isMine(r) && !foreign.has(normaliseRule(r.ipAddressRange).key)).map((r) => r.ipAddressRange);
}

/**
 * The whole new list for a change to `ipRules`: every rule read whose address stays, as it was
 * and where it was; a new rule for each address no rule holds, named with the lowest free
 * tagwall-<owner>-<n>. A rule whose address the change drops goes (the plan drops only what it
 * may). Names compare case-insensitively, so a new name never collides with one kept.
 */
export function restrictionsAfter(resource: ResourceRef, rules: readonly Restriction[], ipRules: readonly string[], ownerId: string): Restriction[] {
  ownerRule(ownerId);
  const denying = rules.filter((r) => !allows(r));
  if (denying.length > 0) {
    // Azure takes one action for the whole list: an Allow rule beside Deny rules is refused, and
    // turning the person's Deny rules into Allow would turn their meaning around.
    throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: the app's IP restrictions deny listed ranges (${denying.map((r) => r.name).join(', ')}); tagwall writes Allow rules only, and Azure takes one action for the whole list, so it leaves this app alone`, {
      values: { denyRules: denying.length, notSent: true },
    });
  }
  const wanted = new Map<string, string>();
  for (const value of ipRules) {
    const key = normaliseRule(value).key;
    if (!wanted.has(key)) wanted.set(key, value);
  }
  const kept = rules.filter((r) => wanted.has(normaliseRule(r.ipAddressRange).key));
  const held = new Set(kept.map((r) => normaliseRule(r.ipAddressRange).key));
  const taken = new Set(kept.map((r) => r.name.toLowerCase()));
  const added: Restriction[] = [];
  let n = 1;
  for (const [key, value] of wanted) {
    if (held.has(key)) continue;
    while (taken.has(ruleName(ownerId, n))) n++;
    const name = ruleName(ownerId, n);
    taken.add(name);
    added.push({ name, description: TAGWALL_DESCRIPTION, ipAddressRange: value, action: 'Allow' });
  }
  return [...kept.map((r) => ({ ...r })), ...added];
}
