import { TagwallError } from './errors.js';
import { blockSize, cidrEnd, formatCidr, RangeCounter, touchesRanges, type AddressRange, type Cidr } from './ipv4.js';

/** What the collapse is asked (collapse.ts); here, below the DP that reads it, so the two modules import one way. */
export interface CollapseOptions {
  /** The rule budget, K: how many rules the cover may add beyond `kept`. */
  readonly maxRules: number;
  /** Never emit a /31 (old Key Vault API, Storage accounts). */
  readonly split31: boolean;
  /** Merged ranges that no rule may touch. */
  readonly blocked: readonly AddressRange[];
  /** Rules the firewall keeps whatever the plan; a cover block equal to one costs no rule. */
  readonly kept?: readonly Cidr[];
  /** No new rule that admits excess may be wider than this prefix length; 0 or absent: no bound. */
  readonly maxWidenedPrefix?: number;
  /** Minimise weighted excess instead: outside `inside` (merged, sorted), an excess address costs `outsideWeight`. */
  readonly weights?: { readonly inside: readonly AddressRange[]; readonly outsideWeight: number };
  /**
   * The firewall's current rules that tagwall would remove if the cover left them out (its own):
   * among the covers of least excess, the one with the fewest changes against them (rules added
   * plus these dropped) wins. See collapse-churn.ts. Absent: the plain deterministic tie-break.
   */
  readonly prefer?: readonly Cidr[];
  /**
   * With `prefer`: (weighted) excess beyond the least that may be traded for fewer changes. The
   * cover is then the one with the fewest changes among those within the least excess plus this,
   * and of those the least excess (collapse-tolerance.ts). 0 or absent: the excess is never traded.
   */
  readonly churnTolerance?: number;
}

/**
 * The trie the collapse solves over: the source blocks at its leaves, and for each branching
 * node the blocks that could cover it (the lowest allowed one, the lowest kept one, kept blocks
 * that tile a leaf) and what each costs. See collapse.ts for the recurrence.
 */

export interface TrieNode {
  readonly base: number;
  readonly length: number;
  readonly covered: number;
  /** Source addresses inside the weighted ranges (0 without weights). */
  readonly coveredInside: number;
  readonly left: TrieNode | null;
  readonly right: TrieNode | null;
  /** Most rules this subtree could use: one per source block, two for a split /31. */
  readonly maxRules: number;
  /** Lowest allowed block holding every source of this node, if any. */
  readonly single: Cidr | null;
  readonly singleExcess: number;
  /** Lowest allowed kept block holding every source of this node, if any. */
  readonly kept: Cidr | null;
  readonly keptExcess: number;
  /** A leaf only: new rules a split /31 needs as two addresses (Infinity when it may not split). */
  readonly pairCost: number;
  /** A leaf only: maximal kept blocks inside it that cover it completely, or null. */
  readonly tiles: readonly Cidr[] | null;
  /** Filled by the DP: f[k] for k = 0..size, and how f[k] was reached. */
  f?: Float64Array;
  choiceLeft?: Int32Array;
  choiceRight?: Int32Array;
  /** Filled by the least-churn DP: the changes beside f[k], and a leaf's partitions (collapse-churn.ts). */
  g?: Float64Array;
  part?: Partition | null;
}

/** A block's least-change partitions into smaller blocks, "at most k" new rules: cost[k] and how it was reached. */
export interface Partition {
  readonly block: Cidr;
  readonly cost: readonly number[];
  /** -1: the block itself; otherwise the low half's budget, and `right[k]` the high half's. */
  readonly choice: readonly number[];
  readonly right: readonly number[];
  readonly halves: readonly [Partition, Partition] | null;
}

/** How the DP reached f[k] at a node, when not by a split (whose left budget is then the choice). */
export const SINGLE = -1;
export const PAIR = -2;
export const KEPT = -3;
export const TILED = -4;
export const PART = -5;

/** Kept rules, indexed for the two questions the trie asks of them. */
export class KeptIndex {
  private readonly keys = new Set<number>();
  /** Sorted by base, then by length (wider first). */
  private readonly sorted: Cidr[];

  constructor(kept: readonly Cidr[]) {
    for (const c of kept) this.keys.add(keyOf(c));
    this.sorted = [...kept].sort((a, b) => a.base - b.base || a.length - b.length);
  }

  get size(): number {
    return this.sorted.length;
  }

  has(base: number, length: number): boolean {
    return this.keys.has(base * 64 + length);
  }

  /** The maximal kept blocks strictly inside `c`, when together they cover all of it. */
  tilesOf(c: Cidr): Cidr[] | null {
    const end = cidrEnd(c);
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]!.base < c.base) lo = mid + 1;
      else hi = mid;
    }
    const out: Cidr[] = [];
    let next = c.base;
    for (let i = lo; i < this.sorted.length; i++) {
      const k = this.sorted[i]!;
      if (k.base > end) break;
      if (k.length <= c.length) continue;
      // CIDR blocks nest or are disjoint: one that starts before `next` lies inside one already taken.
      if (k.base < next) continue;
      if (k.base > next) return null;
      out.push(k);
      next = cidrEnd(k) + 1;
    }
    return next === end + 1 ? out : null;
  }
}

/** What a block costs when it covers a node's sources: plain or weighted excess. */
export interface Costing {
  readonly inside: RangeCounter | null;
  readonly outsideWeight: number;
  readonly bound: number;
}

export function costOf(start: number, size: number, covered: number, coveredInside: number, c: Costing): number {
  const excess = size - covered;
  if (c.inside === null || excess === 0) return excess;
  const excessInside = c.inside.count(start, start + size - 1) - coveredInside;
  return excessInside + (excess - excessInside) * c.outsideWeight;
}

function keyOf(c: Cidr): number {
  return c.base * 64 + c.length;
}

interface Chain {
  readonly single: Cidr | null;
  readonly singleCost: number;
  readonly kept: Cidr | null;
  readonly keptCost: number;
}

/**
 * The lowest allowed block, and the lowest allowed kept block, between a node and its parent
 * branch. The widening bound applies to new rules only: a kept rule is there already, so using
 * it widens nothing.
 */
export function chainOf(base: number, length: number, parentLength: number, covered: number, coveredInside: number, options: CollapseOptions, kept: KeptIndex, c: Costing): Chain {
  let single: Cidr | null = null;
  let singleCost = Infinity;
  let bounded = false;
  for (let len = length; len > parentLength; len--) {
    const size = blockSize(len);
    const start = base - (base % size);
    // Every block above one that touches blocked space touches it too.
    if (touchesRanges(options.blocked, start, start + size - 1)) break;
    // And every block above one too wide for the bound is too wide as well (its excess only grows).
    if (len < c.bound && size > covered) bounded = true;
    if (options.split31 && len === 31) continue;
    if (single === null && !bounded) {
      single = { base: start, length: len };
      singleCost = costOf(start, size, covered, coveredInside, c);
    }
    if (kept.size === 0) {
      if (single !== null || bounded) break;
      continue;
    }
    if (kept.has(start, len)) return { single, singleCost, kept: { base: start, length: len }, keptCost: costOf(start, size, covered, coveredInside, c) };
  }
  return { single, singleCost, kept: null, keptCost: Infinity };
}

export function buildTrie(source: readonly Cidr[], from: number, to: number, parentLength: number, options: CollapseOptions, kept: KeptIndex, costing: Costing): TrieNode {
  if (to - from === 1) {
    const c = source[from]!;
    const covered = blockSize(c.length);
    const coveredInside = costing.inside === null ? 0 : costing.inside.count(c.base, cidrEnd(c));
    const chain = chainOf(c.base, c.length, parentLength, covered, coveredInside, options, kept, costing);
    // Two /32s stand for a /31 only if the /31 itself is clear; otherwise the source
    // breaks the contract and must be refused like any other block in blocked space.
    const pair = options.split31 && c.length === 31 && !touchesRanges(options.blocked, c.base, c.base + 1);
    if (chain.single === null && !pair) {
      throw new TagwallError('COLLAPSE_INPUT', `source block ${formatCidr(c)} touches blocked space`);
    }
    const tiles = kept.size === 0 || c.length === 32 ? null : kept.tilesOf(c);
    return {
      base: c.base,
      length: c.length,
      covered,
      coveredInside,
      left: null,
      right: null,
      maxRules: pair ? 2 : 1,
      single: chain.single,
      singleExcess: chain.singleCost,
      kept: chain.kept,
      keptExcess: chain.keptCost,
      pairCost: pair ? 2 - (kept.has(c.base, 32) ? 1 : 0) - (kept.has(c.base + 1, 32) ? 1 : 0) : Infinity,
      tiles,
    };
  }
  const first = source[from]!.base;
  const last = cidrEnd(source[to - 1]!);
  const length = Math.clz32((first ^ last) >>> 0);
  const size = blockSize(length);
  const base = first - (first % size);
  const middle = base + size / 2;
  let lo = from + 1;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (source[mid]!.base >= middle) hi = mid;
    else lo = mid + 1;
  }
  const left = buildTrie(source, from, lo, length, options, kept, costing);
  const right = buildTrie(source, lo, to, length, options, kept, costing);
  const covered = left.covered + right.covered;
  const coveredInside = left.coveredInside + right.coveredInside;
  const chain = chainOf(base, length, parentLength, covered, coveredInside, options, kept, costing);
  return {
    base,
    length,
    covered,
    coveredInside,
    left,
    right,
    maxRules: left.maxRules + right.maxRules,
    single: chain.single,
    singleExcess: chain.singleCost,
    kept: chain.kept,
    keptExcess: chain.keptCost,
    pairCost: Infinity,
    tiles: null,
  };
}

/** Fewest new rules that can cover the node at all, whatever the excess. */
export function minimumRulesOf(node: TrieNode): number {
  if (node.kept !== null || node.tiles !== null) return 0;
  const split = node.left === null || node.right === null ? node.pairCost : minimumRulesOf(node.left) + minimumRulesOf(node.right);
  return Math.min(node.single === null ? Infinity : 1, split);
}

/** Source addresses inside a rule, and how many of them lie in the weighted ranges. */
export function sourcesIn(source: readonly Cidr[], rule: Cidr, inside: RangeCounter): { covered: number; coveredInside: number } {
  const end = cidrEnd(rule);
  let lo = 0;
  let hi = source.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cidrEnd(source[mid]!) < rule.base) lo = mid + 1;
    else hi = mid;
  }
  let covered = 0;
  let coveredInside = 0;
  for (let i = lo; i < source.length && source[i]!.base <= end; i++) {
    const c = source[i]!;
    // Source blocks and rules are CIDRs: a block is inside the rule, or holds it whole.
    const from = Math.max(c.base, rule.base);
    const to = Math.min(cidrEnd(c), end);
    covered += to - from + 1;
    coveredInside += inside.count(from, to);
  }
  return { covered, coveredInside };
}

/** Checks the input contract: sorted, disjoint, canonical blocks. */
export function checkSource(source: readonly Cidr[]): void {
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c.base % blockSize(c.length) !== 0) throw new TagwallError('COLLAPSE_INPUT', 'source block has host bits set');
    if (i > 0 && cidrEnd(source[i - 1]!) >= c.base) throw new TagwallError('COLLAPSE_INPUT', 'source blocks must be sorted and disjoint');
  }
}

export function costingOf(options: Omit<CollapseOptions, 'maxRules'>): Costing {
  const bound = options.maxWidenedPrefix ?? 0;
  if (!Number.isInteger(bound) || bound < 0 || bound > 32) throw new TagwallError('COLLAPSE_INPUT', `the widening bound must be a prefix length 0-32, not ${bound}`);
  const w = options.weights;
  if (w !== undefined && !(Number.isFinite(w.outsideWeight) && w.outsideWeight >= 1)) {
    throw new TagwallError('COLLAPSE_INPUT', `the outside weight must be a number of at least 1, not ${w.outsideWeight}`);
  }
  return { inside: w === undefined ? null : new RangeCounter(w.inside), outsideWeight: w?.outsideWeight ?? 1, bound };
}
