import { isCidrProblem, readCidr } from './ip-text.js';
import { cidrRange, formatAddress, formatCidr, formatRule, type AddressRange, type Cidr } from './ipv4.js';

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
  /**
   * Set for a start/end rule's text (`a.b.c.d-e.f.g.h`): the range it admits. Such a rule has a
   * `cidr` too when it is exactly one block. rangeOfRule gives any IPv4 rule's range.
   */
  readonly range?: AddressRange;
}

/** The addresses an IPv4 rule admits, CIDR or start/end; undefined for text that is no IPv4 rule. */
export function rangeOfRule(r: FirewallRule): AddressRange | undefined {
  return r.range ?? (r.cidr === undefined ? undefined : cidrRange(r.cidr));
}

/** The shape of a firewall's rules (a kind fact): CIDR blocks, or start/end ranges (Azure SQL and its kin). */
export type RuleShape = 'cidr' | 'range';

/**
 * The one canonical key of a range of addresses, so equal rules compare equal whatever their
 * spelling: a range that is exactly one CIDR block is that block (`a.b.c.d/n`, a single address
 * `a.b.c.d/32`, as CIDR kinds key it), any other range `a.b.c.d-e.f.g.h`. So `1.2.3.0-1.2.3.255`,
 * `1.2.3.0/24` and a start/end rule 1.2.3.0–1.2.3.255 are one rule, and records of range kinds
 * read the same as those of CIDR kinds wherever a rule is a block.
 */
export function rangeKey(r: AddressRange): string {
  const block = blockOf(r);
  return block !== undefined ? formatCidr(block) : `${formatAddress(r.start)}-${formatAddress(r.end)}`;
}

/** The CIDR block a range is exactly, if it is one. */
export function blockOf(r: AddressRange): Cidr | undefined {
  const size = r.end - r.start + 1;
  // A power of two, aligned at its start.
  const length = 32 - Math.log2(size);
  return Number.isInteger(length) && r.start % size === 0 ? { base: r.start, length } : undefined;
}

/**
 * How a start/end rule is spelled in a firewall's `ipRules` (FirewallState) and in what tagwall
 * writes for range kinds: `a.b.c.d-e.f.g.h`, a single address as `a.b.c.d`. Adapters turn it
 * into the wire's start/end pair (range-wire.ts).
 */
export function rangeToWrite(r: AddressRange): string {
  return r.start === r.end ? formatAddress(r.start) : `${formatAddress(r.start)}-${formatAddress(r.end)}`;
}

const RANGE_TEXT = /^\s*([^\s/-]+)\s*-\s*([^\s/-]+)\s*$/;

/** `a.b.c.d-e.f.g.h` as a range; undefined for anything else (a CIDR, a bad address, start after end). */
function readRangeText(value: string): AddressRange | undefined {
  const m = RANGE_TEXT.exec(value);
  if (m === null) return undefined;
  const start = readCidr(m[1]!);
  const end = readCidr(m[2]!);
  if (isCidrProblem(start) || isCidrProblem(end) || start.length !== 32 || end.length !== 32 || start.base > end.base) return undefined;
  return { start: start.base, end: end.base };
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
    if (!isCidrProblem(c)) rule = { value, key: formatCidr(c), cidr: c };
    else {
      const range = readRangeText(value);
      rule = range === undefined ? { value, key: value.trim(), cidr: undefined } : { value, key: rangeKey(range), cidr: blockOf(range), range };
    }
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
  // Ranges by start, the wider first, as blocks are (a shorter prefix first).
  const ra = rangeOfRule(a);
  const rb = rangeOfRule(b);
  if (ra !== undefined && rb !== undefined) return ra.start - rb.start || rb.end - ra.end;
  if (ra !== undefined) return -1;
  if (rb !== undefined) return 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
