import type { CidrAllowlist } from './allowlist.js';
import { blockSize, cidrEnd, formatCidr, rangesOf, RangeCounter, subtractRanges, type AddressRange, type Cidr } from './ipv4.js';
import type { ServiceTagDocument } from './service-tags.js';

/**
 * What a widened rule lets in, for a security reviewer: every rule that admits addresses beyond
 * the source, how many, and whose they are. An excess address inside some IPv4 prefix of the
 * same service-tags file is another Azure customer's space (`excessInAzure`); one outside every
 * prefix is the open internet (`excessOutsideAzure`). Computed only when asked for, so the plain
 * path pays nothing.
 */

export interface WidenedRule {
  readonly rule: string;
  readonly sourceAddresses: number;
  readonly excessAddresses: number;
  readonly excessInAzure: number;
  readonly excessOutsideAzure: number;
  /** The selected tags with a prefix inside the rule. */
  readonly tags: readonly string[];
}

export interface WideningReport {
  /** Widest first (shortest prefix), then by excess. */
  readonly rules: readonly WidenedRule[];
  readonly totals: {
    readonly widenedRules: number;
    readonly excessAddresses: number;
    readonly excessInAzure: number;
    readonly excessOutsideAzure: number;
  };
}

const azureSpaces = new WeakMap<ServiceTagDocument, readonly AddressRange[]>();

/** Every IPv4 address any tag of the file lists, merged: Azure's own space. Once per document. */
export function azureSpace(doc: ServiceTagDocument): readonly AddressRange[] {
  let space = azureSpaces.get(doc);
  if (space === undefined) {
    space = rangesOf(doc.tags.flatMap((t) => t.ipv4));
    azureSpaces.set(doc, space);
  }
  return space;
}

/** The cover's rules that admit excess, with how much: cheap, from the allowlist alone. */
export function widenedRules(allowlist: CidrAllowlist): { rule: Cidr; excess: number }[] {
  const source = new RangeCounter(allowlist.source);
  const out: { rule: Cidr; excess: number }[] = [];
  for (const rule of allowlist.rules) {
    const excess = blockSize(rule.length) - source.count(rule.base, cidrEnd(rule));
    if (excess > 0) out.push({ rule, excess });
  }
  return out;
}

export function explainWidening(allowlist: CidrAllowlist, doc: ServiceTagDocument): WideningReport {
  const azure = new RangeCounter(azureSpace(doc));
  const source = new RangeCounter(allowlist.source);
  const sourceInAzure = new RangeCounter(subtractRanges(allowlist.source, subtractRanges(allowlist.source, azureSpace(doc))));
  const wanted = new Set(allowlist.selected);
  // Every selected tag's prefixes in one sorted list, to find those inside a rule by binary search.
  const prefixes: { base: number; end: number; tag: number }[] = [];
  const names: string[] = [];
  for (const t of doc.tags) {
    if (!wanted.has(t.name)) continue;
    const i = names.push(t.name) - 1;
    for (const c of t.ipv4) prefixes.push({ base: c.base, end: cidrEnd(c), tag: i });
  }
  prefixes.sort((a, b) => a.base - b.base);
  const rules: WidenedRule[] = [];
  let inAzure = 0;
  let outside = 0;
  let excessTotal = 0;
  for (const { rule, excess } of widenedRules(allowlist)) {
    const end = cidrEnd(rule);
    const excessInAzure = azure.count(rule.base, end) - sourceInAzure.count(rule.base, end);
    let lo = 0;
    let hi = prefixes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prefixes[mid]!.base < rule.base) lo = mid + 1;
      else hi = mid;
    }
    const tags = new Set<string>();
    for (let i = lo; i < prefixes.length && prefixes[i]!.base <= end; i++) tags.add(names[prefixes[i]!.tag]!);
    rules.push({
      rule: formatCidr(rule),
      sourceAddresses: source.count(rule.base, end),
      excessAddresses: excess,
      excessInAzure,
      excessOutsideAzure: excess - excessInAzure,
      tags: [...tags].sort(),
    });
    inAzure += excessInAzure;
    outside += excess - excessInAzure;
    excessTotal += excess;
  }
  const lengthOf = (r: WidenedRule) => Number(r.rule.slice(r.rule.indexOf('/') + 1));
  rules.sort((a, b) => lengthOf(a) - lengthOf(b) || b.excessAddresses - a.excessAddresses || a.rule.localeCompare(b.rule));
  return { rules, totals: { widenedRules: rules.length, excessAddresses: excessTotal, excessInAzure: inAzure, excessOutsideAzure: outside } };
}

