import { collapse } from './collapse.js';
import { TagwallError } from './errors.js';
import { FORBIDDEN_RANGES, forbiddenOverlap } from './forbidden.js';
import { parseCidr } from './ip-text.js';
import {
  countAddresses,
  formatCidr,
  formatRule,
  mergeRanges,
  rangesOf,
  rangesToCidrs,
  subtractRanges,
  type AddressRange,
  type Cidr,
} from './ipv4.js';
import { selectTags, TagIndex } from './selection.js';
import type { ServiceTagDocument } from './service-tags.js';

/** What one vault should allow: selected tags → IPv4 → minus forbidden/excluded → optimal ≤K rules. */
export interface AllowlistRequest {
  readonly select: readonly string[];
  readonly extra?: readonly string[];
  readonly exclude?: readonly string[];
  readonly maxRules: number;
  readonly split31?: boolean;
}

export interface AllowlistStats {
  /** Prefixes listed by the selected tags, IPv4 and IPv6, counting a prefix once per tag. */
  readonly selectedPrefixes: number;
  readonly ipv6Dropped: number;
  readonly forbiddenAddressesRemoved: number;
  readonly excludedAddressesRemoved: number;
  /** Blocks after the lossless merge: what an unlimited budget would need. */
  readonly mergedPrefixes: number;
  readonly rules: number;
  readonly sourceAddresses: number;
  readonly allowedAddresses: number;
  readonly excessAddresses: number;
}

export interface Allowlist {
  readonly selected: readonly string[];
  /** Sorted by address. */
  readonly rules: readonly Cidr[];
  /** The exact addresses the selection asks for (minus forbidden and excluded space). */
  readonly source: readonly AddressRange[];
  readonly stats: AllowlistStats;
  readonly warnings: readonly string[];
}

/** Parses user-given CIDRs, collecting every problem rather than stopping at the first. */
function parseUserCidrs(kind: 'extra' | 'exclude', values: readonly string[], problems: string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const v of values) {
    try {
      const c = parseCidr(v);
      const bad = kind === 'extra' ? forbiddenOverlap(c) : undefined;
      if (bad !== undefined) {
        problems.push(`${kind} ${formatRule(c)} overlaps ${bad.cidr}, which is ${bad.why} and can never be allowed`);
        continue;
      }
      out.push(c);
    } catch (e) {
      problems.push(`${kind} ${(e as Error).message}`);
    }
  }
  return out;
}

export function validateCidrList(kind: 'extra' | 'exclude', values: readonly string[]): string[] {
  const problems: string[] = [];
  parseUserCidrs(kind, values, problems);
  return problems;
}

export function buildAllowlist(doc: ServiceTagDocument, request: AllowlistRequest, index: TagIndex = new TagIndex(doc)): Allowlist {
  const problems: string[] = [];
  const extras = parseUserCidrs('extra', request.extra ?? [], problems);
  const excludes = parseUserCidrs('exclude', request.exclude ?? [], problems);
  if (problems.length > 0) {
    throw new TagwallError('CIDR_INVALID', problems.length === 1 ? problems[0]! : `${problems.length} bad CIDRs`, {
      details: problems.length === 1 ? [] : problems,
    });
  }
  const selection = selectTags(index, request.select);
  const warnings = [...selection.warnings];

  let selectedPrefixes = 0;
  let ipv6Dropped = 0;
  const blocks: Cidr[] = [...extras];
  for (const tag of selection.tags) {
    selectedPrefixes += tag.addressPrefixes.length;
    ipv6Dropped += tag.ipv6Count;
    for (const c of tag.ipv4) blocks.push(c);
  }
  const excludeRanges = rangesOf(excludes);
  const extraRanges = rangesOf(extras);
  const clashing = subtractRanges(extraRanges, subtractRanges(extraRanges, excludeRanges));
  if (clashing.length > 0) {
    warnings.push(`extra ${rangesToCidrs(clashing).map(formatCidr).join(', ')} is also excluded; the exclusion wins`);
  }

  const wanted = rangesOf(blocks);
  const withoutForbidden = subtractRanges(wanted, FORBIDDEN_RANGES);
  const source = subtractRanges(withoutForbidden, excludeRanges);
  const wantedCount = countAddresses(wanted);
  const afterForbidden = countAddresses(withoutForbidden);
  const merged = rangesToCidrs(source);
  if (merged.length === 0) warnings.push('the selection leaves no IPv4 address to allow');

  const blocked = mergeRanges([...FORBIDDEN_RANGES, ...excludeRanges]);
  const result = collapse(merged, { maxRules: request.maxRules, split31: request.split31 ?? false, blocked });
  return {
    selected: selection.tags.map((t) => t.name),
    rules: result.rules,
    source,
    warnings,
    stats: {
      selectedPrefixes,
      ipv6Dropped,
      forbiddenAddressesRemoved: wantedCount - afterForbidden,
      excludedAddressesRemoved: afterForbidden - result.sourceAddresses,
      mergedPrefixes: merged.length,
      rules: result.rules.length,
      sourceAddresses: result.sourceAddresses,
      allowedAddresses: result.allowedAddresses,
      excessAddresses: result.excessAddresses,
    },
  };
}
