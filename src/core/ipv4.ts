import { isIPv4, isIPv6 } from 'node:net';
import { TagwallError } from './errors.js';

/**
 * IPv4 math on trusted integers. Text is validated once, at the edge, with Node's rules for
 * an address (strict dotted decimal: no `0x7f.1`, no leading zeros, which Azure refuses):
 * canonical text is read directly, anything else goes through Node's own parser. From then
 * on an address is an unsigned 32-bit integer held in a JS number, so sizes up to 2^32
 * stay exact (doubles are exact to 2^53).
 */

/** A CIDR block: `base` has no host bits set. */
export interface Cidr {
  readonly base: number;
  readonly length: number;
}

/** An inclusive range of addresses. */
export interface AddressRange {
  readonly start: number;
  readonly end: number;
}

export const IPV4_SPACE = 2 ** 32;

export function blockSize(length: number): number {
  return 2 ** (32 - length);
}

export function cidrEnd(c: Cidr): number {
  return c.base + blockSize(c.length) - 1;
}

export function cidrRange(c: Cidr): AddressRange {
  return { start: c.base, end: cidrEnd(c) };
}

export function formatAddress(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** `a.b.c.d/n` for every length. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.base)}/${c.length}`;
}

/** How Key Vault rules are written: a /32 is the bare address, anything else `a.b.c.d/n`. */
export function formatRule(c: Cidr): string {
  return c.length === 32 ? formatAddress(c.base) : formatCidr(c);
}

export function compareCidr(a: Cidr, b: Cidr): number {
  return a.base - b.base || a.length - b.length;
}

/** Only for text that isIPv4 accepted. */
function addressToNumber(text: string): number {
  let n = 0;
  for (const part of text.split('.')) n = n * 256 + Number(part);
  return n;
}

export type CidrFamily = 'ipv4' | 'ipv6' | 'invalid';

/** Tells IPv4 from IPv6 from junk, for text like `1.2.3.0/24`, `2001:db8::/32` or `1.2.3.4`. */
export function cidrFamily(text: string): CidrFamily {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const len = slash === -1 ? undefined : text.slice(slash + 1);
  // A second slash fails the length test too.
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return 'invalid';
  // Only IPv6 has colons; a quarter of the weekly file is IPv6, so decide that first.
  if (addr.includes(':')) return isIPv6(addr) && !addr.includes('%') && (len === undefined || Number(len) <= 128) ? 'ipv6' : 'invalid';
  if (isIPv4(addr)) return len === undefined || Number(len) <= 32 ? 'ipv4' : 'invalid';
  return 'invalid';
}

export interface ParseCidrOptions {
  /**
   * `strict` (the default) refuses host bits, the way a typo like 20.1.2.3/24 should be
   * caught; `mask` clears them, for rules read back from Azure, which we must never refuse.
   */
  hostBits?: 'strict' | 'mask';
}

export interface CidrProblem {
  readonly code: 'CIDR_IPV6' | 'CIDR_INVALID' | 'CIDR_HOST_BITS';
  readonly message: string;
}

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const SLASH = 47;

/**
 * The common case in one pass over the characters: canonical `a.b.c.d` or `a.b.c.d/n`,
 * exactly as Node's isIPv4 accepts it (decimal octets up to 255, no leading zeros) with a
 * one- or two-digit length up to 32. Returns the address and length packed as
 * address * 64 + length, or -1 for anything else, which then takes the careful path.
 * Splitting strings and calling Number on the parts cost more than the rest of reading
 * the weekly file put together.
 */
function readCanonical(text: string): number {
  const n = text.length;
  let i = 0;
  let value = 0;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= n || text.charCodeAt(i) !== DOT) return -1;
      i++;
    }
    const first = i;
    let part = 0;
    while (i < n && i - first < 3) {
      const c = text.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      part = part * 10 + (c - ZERO);
      i++;
    }
    const digits = i - first;
    if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(first) === ZERO)) return -1;
    value = value * 256 + part;
  }
  if (i === n) return value * 64 + 32;
  if (text.charCodeAt(i) !== SLASH) return -1;
  i++;
  const first = i;
  let length = 0;
  while (i < n && i - first < 2) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return -1;
    length = length * 10 + (c - ZERO);
    i++;
  }
  if (i !== n || i === first || length > 32) return -1;
  return value * 64 + length;
}

/**
 * Parses `a.b.c.d/n` or a bare `a.b.c.d` (= /32), returning the problem instead of
 * throwing: the weekly file has ~90k prefixes, a quarter of them IPv6, and building an
 * exception for each would cost more than the parse.
 */
export function readCidr(text: string, options: ParseCidrOptions = {}): Cidr | CidrProblem {
  const packed = readCanonical(text);
  if (packed !== -1) {
    const length = packed % 64;
    return withLength((packed - length) / 64, length, text, options);
  }
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addr = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const len = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (!isIPv4(addr) || (len !== undefined && !/^\d{1,2}$/.test(len)) || Number(len ?? 32) > 32) {
    return cidrFamily(trimmed) === 'ipv6'
      ? { code: 'CIDR_IPV6', message: `${JSON.stringify(text)} is IPv6; Key Vault firewalls take IPv4 only` }
      : { code: 'CIDR_INVALID', message: `${JSON.stringify(text)} is not an IPv4 address or CIDR range` };
  }
  return withLength(addressToNumber(addr), len === undefined ? 32 : Number(len), text, options);
}

function withLength(value: number, length: number, text: string, options: ParseCidrOptions): Cidr | CidrProblem {
  const size = blockSize(length);
  const base = value - (value % size);
  if (base !== value && (options.hostBits ?? 'strict') === 'strict') {
    return { code: 'CIDR_HOST_BITS', message: `${JSON.stringify(text)} has host bits set; did you mean ${formatCidr({ base, length })}?` };
  }
  return { base, length };
}

export function isCidrProblem(v: Cidr | CidrProblem): v is CidrProblem {
  return 'code' in v;
}

/** Like readCidr, but throws a TagwallError with the problem's code. */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Cidr {
  const r = readCidr(text, options);
  if (isCidrProblem(r)) throw new TagwallError(r.code, r.message);
  return r;
}

/** Sorts and merges overlapping or touching ranges. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end + 1) {
      if (r.end > last.end) out[out.length - 1] = { start: last.start, end: r.end };
    } else {
      out.push(r);
    }
  }
  return out;
}

/**
 * The merged ranges of any CIDR list. A block packs into one exact double (base * 64 +
 * length < 2^38), and sorting a Float64Array natively is several times faster than sorting
 * ~70k range objects with a comparator, which was most of the cost of planning `*`.
 */
export function rangesOf(cidrs: readonly Cidr[]): AddressRange[] {
  const keys = new Float64Array(cidrs.length);
  for (let i = 0; i < cidrs.length; i++) keys[i] = cidrs[i]!.base * 64 + cidrs[i]!.length;
  keys.sort();
  const out: AddressRange[] = [];
  let start = 0;
  let end = -2;
  for (let i = 0; i < keys.length; i++) {
    const length = keys[i]! % 64;
    const base = (keys[i]! - length) / 64;
    const last = base + blockSize(length) - 1;
    if (i > 0 && base <= end + 1) {
      if (last > end) end = last;
    } else {
      if (i > 0) out.push({ start, end });
      start = base;
      end = last;
    }
  }
  if (keys.length > 0) out.push({ start, end });
  return out;
}

/** `a` minus `b`; both must be merged (sorted, disjoint). */
export function subtractRanges(a: readonly AddressRange[], b: readonly AddressRange[]): AddressRange[] {
  const out: AddressRange[] = [];
  let j = 0;
  for (const r of a) {
    let start = r.start;
    while (j < b.length && b[j]!.end < start) j++;
    let k = j;
    while (start <= r.end) {
      const cut = b[k];
      if (cut === undefined || cut.start > r.end) {
        out.push({ start, end: r.end });
        break;
      }
      if (cut.start > start) out.push({ start, end: cut.start - 1 });
      start = cut.end + 1;
      k++;
    }
  }
  return out;
}

export function countAddresses(ranges: readonly AddressRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start + 1;
  return n;
}

/** The fewest CIDR blocks that exactly cover one range. */
export function rangeToCidrs(r: AddressRange): Cidr[] {
  const out: Cidr[] = [];
  let start = r.start;
  while (start <= r.end) {
    let length = 32;
    // Grow the block while it stays aligned at `start` and inside the range.
    while (length > 0) {
      const size = blockSize(length - 1);
      if (start % size !== 0 || start + size - 1 > r.end) break;
      length--;
    }
    out.push({ base: start, length });
    start += blockSize(length);
  }
  return out;
}

/** Lossless merge: the fewest CIDR blocks covering exactly the given (merged) ranges. */
export function rangesToCidrs(ranges: readonly AddressRange[]): Cidr[] {
  return ranges.flatMap(rangeToCidrs);
}

/** Lossless merge of any CIDR list: sort, drop nested blocks, join neighbours. */
export function mergeCidrs(cidrs: readonly Cidr[]): Cidr[] {
  return rangesToCidrs(rangesOf(cidrs));
}

/** Whether [start, end] shares any address with the merged `ranges` (binary search). */
export function touchesRanges(ranges: readonly AddressRange[], start: number, end: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (r.end < start) lo = mid + 1;
    else if (r.start > end) hi = mid - 1;
    else return true;
  }
  return false;
}

/** Counts addresses of a sorted, merged range list inside any span, by prefix sums. */
export class RangeCounter {
  private readonly starts: number[];
  private readonly ends: number[];
  /** cum[i]: addresses in ranges[0..i). */
  private readonly cum: number[];

  constructor(ranges: readonly AddressRange[]) {
    this.starts = ranges.map((r) => r.start);
    this.ends = ranges.map((r) => r.end);
    this.cum = [0];
    for (const r of ranges) this.cum.push(this.cum[this.cum.length - 1]! + (r.end - r.start + 1));
  }

  /** Addresses in ranges up to and including `x`. */
  private upTo(x: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return 0;
    const i = lo - 1;
    return this.cum[i]! + (Math.min(x, this.ends[i]!) - this.starts[i]! + 1);
  }

  count(start: number, end: number): number {
    return this.upTo(end) - (start === 0 ? 0 : this.upTo(start - 1));
  }
}

