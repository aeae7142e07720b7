import { OWNER_ID } from '../perimeter-profile/rules.js';

/**
 * Names of tagwall's Redis firewall rules. Other kinds name theirs tagwall-<owner>-<n>, but a
 * Redis rule name with a dash is not known to be taken: the 2024-11-01 spec gives the name no
 * pattern, and the one validation on record (the azurerm provider's, `^\w+$`, widened to
 * underscores in 2019 after Azure took them, hashicorp/terraform-provider-azurerm #2903/#2906)
 * allows letters, digits and underscores only. So the name here is tagwall_<owner>_<n>, the owner
 * ID's dashes written as underscores.
 *
 * That stays one owner's and only one's: an owner ID holds only [a-z0-9-] (OWNER_ID), so writing
 * its dashes as underscores is one-to-one, and since <n> holds digits only, the last underscore of
 * a name is the one before <n>: tagwall_a_1_2 is owner a-1's rule 2, never owner a's.
 */

/** The owner ID as a Redis rule name holds it. */
function ownerPart(owner: string): string {
  if (!OWNER_ID.test(owner)) throw new RangeError(`${JSON.stringify(owner)} is not an owner ID (1-63 lowercase letters, digits and inner dashes)`);
  return owner.replace(/-/g, '_');
}

/** This owner's rule number n. */
export const redisRuleName = (owner: string, n: number): string => `tagwall_${ownerPart(owner)}_${n}`;

/** Names of this owner's rules (ARM names compare case-insensitively); group 1 is n. */
export function redisOwnerRule(owner: string): RegExp {
  return new RegExp(`^tagwall_${ownerPart(owner)}_([1-9][0-9]*)$`, 'i');
}

/** Letters, digits and underscores: what a Redis rule name is known to take. */
export const REDIS_RULE_NAME = /^\w+$/;
