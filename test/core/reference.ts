/**
 * Deliberately plain reference implementations, written without the code under test, so
 * the tests can check the engine against something that fails differently: address
 * parsing by string splitting, sets of ranges by sort-and-sweep, and the forbidden list
 * copied from the IANA registry rather than imported.
 */

export interface Span {
  start: number;
  end: number;
}

export interface Block {
  base: number;
  length: number;
}

/** `a.b.c.d` to an integer; only for well-formed text written in the tests or the files. */
export function ip(text: string): number {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad address ${text}`);
  return ((parts[0]! * 256 + parts[1]!) * 256 + parts[2]!) * 256 + parts[3]!;
}

export function dotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** `a.b.c.d/n` (or a bare address) to its span; host bits are not checked here. */
export function span(cidr: string): Span {
  const [addr, len] = cidr.split('/');
  const length = len === undefined ? 32 : Number(len);
  const start = ip(addr!);
  return { start, end: start + 2 ** (32 - length) - 1 };
}

export function blockSpan(b: Block): Span {
  return { start: b.base, end: b.base + 2 ** (32 - b.length) - 1 };
}

/** Sort and join overlapping or touching spans. */
export function union(spans: readonly Span[]): Span[] {
  const sorted = spans.map((s) => ({ ...s })).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start <= last.end + 1) last.end = Math.max(last.end, s.end);
    else out.push(s);
  }
  return out;
}

/**
 * Addresses in `a` that are not in `b`: walk every boundary of both in address order,
 * keeping a count of how many spans of each side are open there.
 */
export function minus(a: readonly Span[], b: readonly Span[]): Span[] {
  const events: [at: number, da: number, db: number][] = [];
  for (const s of a) events.push([s.start, 1, 0], [s.end + 1, -1, 0]);
  for (const s of b) events.push([s.start, 0, 1], [s.end + 1, 0, -1]);
  events.sort((x, y) => x[0] - y[0]);
  const out: Span[] = [];
  let inA = 0;
  let inB = 0;
  let openedAt: number | undefined;
  for (let i = 0; i < events.length; ) {
    const at = events[i]![0];
    while (i < events.length && events[i]![0] === at) {
      inA += events[i]![1];
      inB += events[i]![2];
      i++;
    }
    const inside = inA > 0 && inB === 0;
    if (inside && openedAt === undefined) openedAt = at;
    if (!inside && openedAt !== undefined) {
      out.push({ start: openedAt, end: at - 1 });
      openedAt = undefined;
    }
  }
  return union(out);
}

export function intersect(a: readonly Span[], b: readonly Span[]): Span[] {
  return minus(a, minus(a, b));
}

export function size(spans: readonly Span[]): number {
  return union(spans).reduce((n, s) => n + s.end - s.start + 1, 0);
}

/** IANA special-purpose IPv4 blocks that are not globally reachable, plus multicast and 240/4. */
export const IANA_FORBIDDEN = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

export const FORBIDDEN_SPANS: readonly Span[] = union(IANA_FORBIDDEN.map(span));

/** What a published prefix list asks for: its IPv4 prefixes, joined, minus forbidden space. */
export function wantedSpans(prefixes: readonly string[]): Span[] {
  return minus(
    prefixes.filter((p) => !p.includes(':')).map(span),
    FORBIDDEN_SPANS,
  );
}

/**
 * Everything a rule list must satisfy whatever the optimiser did: sorted, disjoint,
 * canonical blocks; at most `maxRules`; every wanted address allowed; no blocked address
 * allowed. Returns the problems found (empty when the rules are sound) and the excess.
 */
export function auditRules(
  rules: readonly Block[],
  wanted: readonly Span[],
  blocked: readonly Span[],
  maxRules: number,
): { problems: string[]; allowed: number; excess: number } {
  const problems: string[] = [];
  if (rules.length > maxRules) problems.push(`${rules.length} rules exceed the budget of ${maxRules}`);
  let allowed = 0;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (!Number.isInteger(r.length) || r.length < 0 || r.length > 32) problems.push(`rule ${i} has length ${r.length}`);
    if (r.base % 2 ** (32 - r.length) !== 0) problems.push(`rule ${dotted(r.base)}/${r.length} has host bits`);
    allowed += 2 ** (32 - r.length);
    if (i > 0) {
      const prev = blockSpan(rules[i - 1]!);
      if (prev.end >= r.base) problems.push(`rule ${dotted(r.base)}/${r.length} overlaps or precedes the one before it`);
    }
  }
  const ruleSpans = rules.map(blockSpan);
  const uncovered = minus(wanted, ruleSpans);
  if (uncovered.length > 0) problems.push(`${size(uncovered)} wanted addresses not allowed, first at ${dotted(uncovered[0]!.start)}`);
  const touched = intersect(ruleSpans, blocked);
  if (touched.length > 0) problems.push(`${size(touched)} blocked addresses allowed, first at ${dotted(touched[0]!.start)}`);
  return { problems, allowed, excess: allowed - size(wanted) };
}

/** Fewest aligned blocks that tile the spans exactly, largest-first from each start. */
export function tile(spans: readonly Span[]): Block[] {
  const out: Block[] = [];
  for (const s of union(spans)) {
    let at = s.start;
    while (at <= s.end) {
      let length = 32;
      while (length > 0 && at % 2 ** (33 - length) === 0 && at + 2 ** (33 - length) - 1 <= s.end) length--;
      out.push({ base: at, length });
      at += 2 ** (32 - length);
    }
  }
  return out;
}

/**
 * The naive way to fit a budget: widen every prefix to one common length L (the longest
 * that fits), join what then overlaps or touches, and stop at the first L whose block count
 * is within the budget. Returns undefined when no L fits without reaching blocked space.
 */
export function commonLengthBaseline(
  prefixes: readonly Block[],
  maxRules: number,
  blocked: readonly Span[],
): { length: number; blocks: Block[]; excess: number } | undefined {
  const wantedSize = size(minus(prefixes.map(blockSpan), blocked));
  // Widening keeps the order of sorted bases, so every round's union sees sorted input.
  let current = [...prefixes].sort((a, b) => a.base - b.base || a.length - b.length);
  for (let length = 32; length >= 0; length--) {
    const widened: Block[] = [];
    for (const p of current) {
      const w = p.length <= length ? p : { base: p.base - (p.base % 2 ** (32 - length)), length };
      const last = widened[widened.length - 1];
      if (last === undefined || last.base !== w.base || last.length !== w.length) widened.push(w);
    }
    current = widened;
    const spans = union(widened.map(blockSpan));
    if (spans.some((s) => blocked.some((b) => b.start <= s.end && s.start <= b.end))) return undefined;
    const blocks = tile(spans);
    if (blocks.length <= maxRules) return { length, blocks, excess: size(spans) - wantedSize };
  }
  return undefined;
}
