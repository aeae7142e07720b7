import { TagwallError } from '../core/errors.js';
import { formatAddress } from '../core/ipv4.js';
import { normaliseRule, rangeOfRule } from '../core/rules.js';
import type { FirewallFacts, NamedRuleFacts, RuleObjectFields } from '../targets/kind.js';

/**
 * Rules as named objects, for the kinds whose every rule has a name (`iac.named`: start/end rules,
 * a container app's restrictions). Pure data from the kind's facts: the exporters in iac.ts write
 * these in each tool's syntax.
 */

/** One rule: its name, its text as the plan writes it, and its first and last address. */
export interface NamedRule {
  readonly name: string;
  readonly rule: string;
  readonly start: string;
  readonly end: string;
}

/**
 * What an exported rule's name starts with. Never `tagwall_` or `tagwall-`: tagwall sync takes
 * rules named tagwall-<owner>-<n> (tagwall_<owner>_<n> on Redis) as its own, and an owner ID may be
 * digits and dashes only (its default, 8 hex digits, is all digits about one time in 24), so
 * `tagwall_52_1_2_0_24` was owner 52-1-2-0's rule 24 on a cache. After `tagwall` comes a letter,
 * which no owner form has there; `starts_with(name, 'tagwall')` still finds both writers' rules.
 */
export const EXPORT_NAME_PREFIX = 'tagwalliac_';

/**
 * A rule's name: a special entry's own (AllowAllWindowsAzureIps), else EXPORT_NAME_PREFIX and the
 * rule's numbers (`tagwalliac_52_1_2_0_24`, `tagwalliac_52_1_2_0_52_1_2_255`). From the addresses,
 * not a counter, so a template's for_each keeps a rule under one name while its range stays;
 * letters, digits and `_` only, which every start/end kind's names take (Redis takes nothing else).
 */
export function ruleNameOf(named: NamedRuleFacts, rule: string): string {
  const key = normaliseRule(rule).key;
  return named.names?.[key] ?? `${EXPORT_NAME_PREFIX}${rule.trim().replace(/[^0-9]+/g, '_')}`;
}

export function namedRules(kind: FirewallFacts, rules: readonly string[]): NamedRule[] {
  return rules.map((rule) => {
    const range = rangeOfRule(normaliseRule(rule));
    if (range === undefined) throw new TagwallError('CIDR_INVALID', `${JSON.stringify(rule)} is not an IPv4 rule a ${kind.title} takes`);
    return { name: ruleNameOf(kind.iac.named!, rule), rule, start: formatAddress(range.start), end: formatAddress(range.end) };
  });
}

/** One rule as an object with the given spelling of its fields: name first, then the address (or start and end), then the fixed fields. */
export function ruleObject(fields: RuleObjectFields, r: NamedRule): Record<string, string> {
  const out: Record<string, string> = { name: r.name };
  if (fields.address !== undefined) out[fields.address] = r.rule;
  if (fields.start !== undefined) out[fields.start] = r.start;
  if (fields.end !== undefined) out[fields.end] = r.end;
  return { ...out, ...(fields.fixed ?? {}) };
}
