import type { z } from 'zod';
import { formatJsonPath } from '../core/problems.js';

/**
 * Friendlier configuration problems: an unknown key names the known key nearest to it (a typo
 * is the usual cause), and a JSON syntax error names its line and column, not a byte offset.
 */

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly valueType?: z.ZodType;
  readonly left?: z.ZodType;
  readonly right?: z.ZodType;
  readonly getter?: () => z.ZodType;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object at `path` of the schema may have (every option's, for a union). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  const walk = (s: z.ZodType, rest: readonly PropertyKey[], depth: number): void => {
    if (depth > 64) return;
    const d = defOf(s);
    const inner = d.innerType ?? d.in ?? (d.type === 'lazy' ? d.getter?.() : undefined);
    if (inner !== undefined) return walk(inner, rest, depth + 1);
    if (d.type === 'union' || d.type === 'intersection') {
      for (const o of d.options ?? [d.left, d.right].filter((x): x is z.ZodType => x !== undefined)) walk(o, rest, depth + 1);
      return;
    }
    if (rest.length === 0) {
      if (d.type === 'object') for (const k of Object.keys(d.shape ?? {})) keys.add(k);
      return;
    }
    const [head, ...tail] = rest;
    if (d.type === 'object' && typeof head === 'string' && d.shape?.[head] !== undefined) walk(d.shape[head], tail, depth + 1);
    else if (d.type === 'array' && typeof head === 'number' && d.element !== undefined) walk(d.element, tail, depth + 1);
    else if (d.type === 'record' && d.valueType !== undefined) walk(d.valueType, tail, depth + 1);
  };
  walk(schema, path, 0);
  return [...keys];
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known key nearest to `key`, when it is near enough to be the one meant. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (best === undefined || d < best.d) best = { key: k, d };
  }
  return best !== undefined && best.d <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

/** One line per zod issue, unknown keys one line each with the nearest known key. */
export function configIssueLines(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((i) => {
    if (i.code !== 'unrecognized_keys') return [`${formatJsonPath(i.path)}: ${i.message}`];
    const known = knownKeysAt(schema, i.path);
    return i.keys.map((k) => {
      const near = nearestKey(k, known);
      return `${formatJsonPath(i.path)}: unknown key ${JSON.stringify(k)}${near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`}`;
    });
  });
}

/** `3:21` for a JSON.parse error that names a position in `text`. */
export function jsonErrorPlace(text: string, message: string): string | undefined {
  const at = /at position (\d+)/.exec(message);
  const offset = at === null ? (/end of JSON input/i.test(message) ? text.length : undefined) : Number(at[1]);
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}
