import { isCidrProblem, readCidr } from './ip-text.js';
import { formatCidr, formatRule, type Cidr } from './ipv4.js';

/**
 * A firewall rule as found in a vault, with its comparison key. Azure stores `1.2.3.4` as
 * `1.2.3.4/32`, so rules are only ever compared by key (`a.b.c.d/n`); skipping that step is
 * what gave other tools perpetual diffs and duplicate rules. A /31 stays a /31.
 */
export interface FirewallRule {
  /** As written in the vault. */
  readonly value: string;
  /** `a.b.c.d/n`, or the trimmed text itself for a value that is not an IPv4 rule. */
  readonly key: string;
  readonly cidr: Cidr | undefined;
}

/**
 * Vaults that share a selection hold the same rule texts, and a run normalises each several
 * times (plan, drift, record, verify): remember them. Bounded, so a long-lived host that sees
 * many different rules over time does not grow without limit.
 */
const normalised = new Map<string, FirewallRule>();
const NORMALISED_LIMIT = 200_000;

export function normaliseRule(value: string): FirewallRule {
  let rule = normalised.get(value);
  if (rule === undefined) {
    const c = readCidr(value, { hostBits: 'mask' });
    rule = isCidrProblem(c) ? { value, key: value.trim(), cidr: undefined } : { value, key: formatCidr(c), cidr: c };
    if (normalised.size >= NORMALISED_LIMIT) normalised.clear();
    normalised.set(value, rule);
  }
  return rule;
}

export function ruleKey(c: Cidr): string {
  return formatCidr(c);
}

/**
 * What tagwall writes: a /32 as the bare address (which Key Vault takes, and Storage insists on),
 * or as `a.b.c.d/32` for a firewall that wants every rule as a CIDR.
 */
export function ruleToWrite(c: Cidr, single: 'bare' | 'cidr' = 'bare'): string {
  return single === 'bare' ? formatRule(c) : formatCidr(c);
}

/** Unique by key, first occurrence wins. */
export function uniqueRules(rules: readonly FirewallRule[]): FirewallRule[] {
  const seen = new Set<string>();
  return rules.filter((r) => (seen.has(r.key) ? false : (seen.add(r.key), true)));
}

export function compareRules(a: FirewallRule, b: FirewallRule): number {
  if (a.cidr !== undefined && b.cidr !== undefined) return a.cidr.base - b.cidr.base || a.cidr.length - b.cidr.length;
  if (a.cidr !== undefined) return -1;
  if (b.cidr !== undefined) return 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
