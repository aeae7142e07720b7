/**
 * IPv4 math on trusted integers. Text becomes a Cidr only in ip-text.ts; from then on an
 * address is an unsigned 32-bit integer held in a JS number, so sizes up to 2^32 stay
 * exact (doubles are exact to 2^53).
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

