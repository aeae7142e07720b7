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
 * A rule's name: a special entry's own (AllowAllWindowsAzureIps), else `tagwall_` and the rule's
 * numbers (`tagwall_52_1_2_0_24`, `tagwall_52_1_2_0_52_1_2_255`). From the addresses, not a
 * counter, so a template's for_each keeps a rule under one name while its range stays; letters,
 * digits and `_` only, which every start/end kind's names take (Redis takes nothing else).
 */
export function ruleNameOf(named: NamedRuleFacts, rule: string): string {
  const key = normaliseRule(rule).key;
  return named.names?.[key] ?? `tagwall_${rule.trim().replace(/[^0-9]+/g, '_')}`;
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
