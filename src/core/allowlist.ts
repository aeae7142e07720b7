import { collapse, type CollapseOptions } from './collapse.js';
import { collapseRanges } from './collapse-ranges.js';
import { TagwallError } from './errors.js';
import { FORBIDDEN_RANGES, forbiddenOverlap } from './forbidden.js';
import { parseCidr } from './ip-text.js';
import {
  cidrEnd,
  countAddresses,
  formatCidr,
  formatRule,
  mergeRanges,
  rangesOf,
  rangesToCidrs,
  subtractRanges,
  touchesRanges,
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
  readonly maxWidenedPrefix?: number;
  readonly weights?: CollapseOptions['weights'];
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
  /** What the collapse minimised: the excess, or with `weights` the weighted excess. */
  readonly weightedExcess?: number;
}

interface AllowlistBase {
  readonly selected: readonly string[];
  /** How many of `rules` are not rules the firewall keeps anyway: what they cost against its limit. */
  readonly newRules: number;
  /** The exact addresses the selection asks for (minus forbidden and excluded space). */
  readonly source: readonly AddressRange[];
  readonly stats: AllowlistStats;
  readonly warnings: readonly string[];
}

/** The cover for a firewall of CIDR rules (the DP of collapse.ts). */
export interface CidrAllowlist extends AllowlistBase {
  readonly shape?: 'cidr';
  /** Sorted by address. */
  readonly rules: readonly Cidr[];
}

/** The cover for a firewall of start/end rules (the range optimum of collapse-ranges.ts; docs/RANGES.md). */
export interface RangeAllowlist extends AllowlistBase {
  readonly shape: 'range';
  /** Sorted by start, then end; a new range may span a kept one. */
  readonly rules: readonly AddressRange[];
}

/** What one firewall should allow, in its kind's rule shape (the kind's `ruleShape` fact picks the collapse). */
export type Allowlist = CidrAllowlist | RangeAllowlist;

/** The cover's rules as ranges, whatever the shape: the plan compares and writes them by rangeKey. */
export function coverRanges(a: Allowlist): readonly AddressRange[] {
  return a.shape === 'range' ? a.rules : a.rules.map((c) => ({ start: c.base, end: cidrEnd(c) }));
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

/** A selection resolved to the exact addresses it asks for, before any rule budget applies. */
export interface AllowlistSource {
  readonly selected: readonly string[];
  /** The source as sorted, disjoint blocks: what an unlimited budget would write. */
  readonly merged: readonly Cidr[];
  readonly source: readonly AddressRange[];
  /** Forbidden and excluded space, merged: no rule may touch it. */
  readonly blocked: readonly AddressRange[];
  readonly warnings: readonly string[];
  readonly counts: Pick<AllowlistStats, 'selectedPrefixes' | 'ipv6Dropped' | 'forbiddenAddressesRemoved' | 'excludedAddressesRemoved'>;
}

export function prepareAllowlist(doc: ServiceTagDocument, request: Omit<AllowlistRequest, 'maxRules' | 'split31'>, index: TagIndex = new TagIndex(doc)): AllowlistSource {
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
  return {
    selected: selection.tags.map((t) => t.name),
    merged,
    source,
    blocked: mergeRanges([...FORBIDDEN_RANGES, ...excludeRanges]),
    warnings,
    counts: {
      selectedPrefixes,
      ipv6Dropped,
      forbiddenAddressesRemoved: wantedCount - afterForbidden,
      excludedAddressesRemoved: afterForbidden - countAddresses(source),
    },
  };
}

/**
 * The kept rules that can take part in a cover: those that share an address with the source.
 * Any other kept rule (an office IP, say) changes nothing, so leaving it out lets vaults that
 * differ only in such rules share one collapse.
 */
export function relevantKept(prepared: AllowlistSource, kept: readonly Cidr[]): Cidr[] {
  const ranges = prepared.source;
  return kept.filter((c) => {
    const end = cidrEnd(c);
    let lo = 0;
    let hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]!.end < c.base) lo = mid + 1;
      else hi = mid;
    }
    return lo < ranges.length && ranges[lo]!.start <= end;
  });
}

export interface CollapseRequest {
  /** `range` for a firewall of start/end rules: the range optimum instead of the CIDR DP. */
  readonly shape?: 'cidr' | 'range';
  readonly maxRules: number;
  readonly split31?: boolean;
  /** Rules the firewall keeps whatever the plan (see collapse). */
  readonly kept?: readonly Cidr[];
  /** For the range shape: the kept rules as ranges (a person's start/end rule need not be a block). */
  readonly keptRanges?: readonly AddressRange[];
  /** No widened rule wider than this prefix length; 0 or absent: no bound. */
  readonly maxWidenedPrefix?: number;
  readonly weights?: CollapseOptions['weights'];
  /** The firewall's own current rules: least churn among the covers of least excess (see collapse). */
  readonly prefer?: readonly Cidr[];
  /** With `prefer`: excess beyond the least that may be traded for fewer changes (see collapse). */
  readonly churnTolerance?: number;
}

/** How far least churn may trade excess for changes, and the excess guard it must stay within. */
export interface ChurnTolerance {
  /** Extra (weighted) excess allowed for fewer changes; 0 or absent: none. */
  readonly churnTolerance?: number;
  /** guards.maxExcessAddresses: a tolerance never takes a cover past it when the least excess is within it. */
  readonly maxExcessAddresses?: number;
}

/**
 * How each allowlist was collapsed, so the plan can ask for the same cover again with least
 * churn against one firewall's rules (`leastChurn`) without the callers that build allowlists
 * (and memoise them per profile across a fleet) knowing of it. Kept beside the allowlist, not
 * in it: the allowlist is data that plans print and store.
 */
const collapsedFrom = new WeakMap<Allowlist, { readonly prepared: AllowlistSource; readonly request: CollapseRequest; readonly byPrefer: Map<string, Allowlist> }>();

/** relevantKept for kept ranges: those that share an address with the source. */
export function relevantKeptRanges(prepared: AllowlistSource, kept: readonly AddressRange[]): AddressRange[] {
  return kept.filter((r) => touchesRanges(prepared.source, r.start, r.end));
}

export function collapseAllowlist(prepared: AllowlistSource, request: CollapseRequest & { readonly shape: 'range' }): RangeAllowlist;
export function collapseAllowlist(prepared: AllowlistSource, request: CollapseRequest & { readonly shape?: 'cidr' }): CidrAllowlist;
export function collapseAllowlist(prepared: AllowlistSource, request: CollapseRequest): Allowlist;
export function collapseAllowlist(prepared: AllowlistSource, request: CollapseRequest): Allowlist {
  if (request.shape === 'range') return collapseRangeAllowlist(prepared, request);
  const result = collapse(prepared.merged, {
    maxRules: request.maxRules,
    split31: request.split31 ?? false,
    blocked: prepared.blocked,
    ...(request.kept === undefined ? {} : { kept: request.kept }),
    ...(request.maxWidenedPrefix === undefined ? {} : { maxWidenedPrefix: request.maxWidenedPrefix }),
    ...(request.weights === undefined ? {} : { weights: request.weights }),
    ...(request.prefer === undefined ? {} : { prefer: request.prefer }),
    ...(request.churnTolerance === undefined ? {} : { churnTolerance: request.churnTolerance }),
  });
  const allowlist: Allowlist = {
    selected: prepared.selected,
    rules: result.rules,
    newRules: result.newRules,
    source: prepared.source,
    warnings: prepared.warnings,
    stats: {
      ...prepared.counts,
      mergedPrefixes: prepared.merged.length,
      rules: result.rules.length,
      sourceAddresses: result.sourceAddresses,
      allowedAddresses: result.allowedAddresses,
      excessAddresses: result.excessAddresses,
      ...(request.weights === undefined ? {} : { weightedExcess: result.weightedExcess }),
    },
  };
  collapsedFrom.set(allowlist, { prepared, request, byPrefer: new Map() });
  return allowlist;
}

/**
 * The same cover problem as `desired`, solved for the fewest changes against `current` (the rules
 * the firewall has that tagwall would remove if the cover left them out) at the same least excess.
 * Only the preferred rules that share an address with the source can take part, so firewalls of
 * one profile that own the same cover share one answer, as they share `desired`. Returns `desired`
 * itself when it already changes nothing, when nothing preferred is left beside the kept rules
 * (the plain collapse then already adds the fewest rules), or for an allowlist this module did not
 * collapse. With a `churnTolerance`, the fewest changes among the covers within it of the least
 * excess instead, capped so that a cover whose least excess is within the excess guard is not
 * pushed past it by the tolerance.
 */
export function leastChurn<A extends Allowlist>(desired: A, current: readonly Cidr[], within: ChurnTolerance = {}): A {
  const from = collapsedFrom.get(desired);
  // A range cover is never registered (collapseRangeAllowlist): least churn is the CIDR DP's.
  if (from === undefined || desired.shape === 'range') return desired;
  const keptKeys = new Set((from.request.kept ?? []).map(formatCidr));
  const prefer = relevantKept(from.prepared, current).filter((c) => !keptKeys.has(formatCidr(c)));
  if (prefer.length === 0) return desired;
  const preferKeys = new Set(prefer.map(formatCidr));
  const desiredKeys = new Set(desired.rules.map(formatCidr));
  const changes = desired.rules.filter((c) => !keptKeys.has(formatCidr(c)) && !preferKeys.has(formatCidr(c))).length + [...preferKeys].filter((k) => !desiredKeys.has(k)).length;
  if (changes === 0) return desired;
  const cap = within.maxExcessAddresses;
  let tolerance = within.churnTolerance ?? 0;
  // Unweighted, the tolerance is in plain addresses, so capping it keeps the guard exactly.
  if (cap !== undefined && from.request.weights === undefined) tolerance = Math.min(tolerance, Math.max(0, cap - desired.stats.excessAddresses));
  const key = `${tolerance}|${[...preferKeys].sort().join(',')}`;
  let a = from.byPrefer.get(key);
  if (a === undefined) {
    a = collapseAllowlist(from.prepared, { ...from.request, prefer, ...(tolerance > 0 ? { churnTolerance: tolerance } : {}) });
    // Weighted, a cover within the tolerance may still pass the guard: then no trade at all.
    if (tolerance > 0 && cap !== undefined && a.stats.excessAddresses > cap && desired.stats.excessAddresses <= cap) a = leastChurn(desired, current);
    from.byPrefer.set(key, a);
  }
  return a as A;
}

/**
 * The range optimum over the same prepared source: the same forbidden and excluded space (no
 * range touches it), the same widening bound and weights, the same figures. There is no /31 to
 * split: a range is any interval.
 */
function collapseRangeAllowlist(prepared: AllowlistSource, request: CollapseRequest): RangeAllowlist {
  const result = collapseRanges(prepared.source, {
    maxRules: request.maxRules,
    blocked: prepared.blocked,
    ...(request.keptRanges === undefined ? {} : { kept: request.keptRanges }),
    ...(request.maxWidenedPrefix === undefined ? {} : { maxWidenedPrefix: request.maxWidenedPrefix }),
    ...(request.weights === undefined ? {} : { weights: request.weights }),
  });
  return {
    shape: 'range',
    selected: prepared.selected,
    rules: result.rules,
    newRules: result.newRules,
    source: prepared.source,
    warnings: prepared.warnings,
    stats: {
      ...prepared.counts,
      // What an unlimited budget would need: one range per merged interval.
      mergedPrefixes: prepared.source.length,
      rules: result.rules.length,
      sourceAddresses: result.sourceAddresses,
      allowedAddresses: result.allowedAddresses,
      excessAddresses: result.excessAddresses,
      ...(request.weights === undefined ? {} : { weightedExcess: result.weightedExcess }),
    },
  };
}

export function buildAllowlist(doc: ServiceTagDocument, request: AllowlistRequest, index: TagIndex = new TagIndex(doc)): CidrAllowlist {
  return collapseAllowlist(prepareAllowlist(doc, request, index), request);
}
