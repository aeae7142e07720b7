import type { z } from 'zod';

/**
 * Problems as people read them, from a zod validation: one line per issue, with its JSON path.
 * Shared by every schema at the edges (service tags, the configuration, the emulator's seed).
 */

/** `values[12].properties.addressPrefixes[3]` from a zod issue path. */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

export function zodProblems(error: z.ZodError, limit = 20): string[] {
  const lines = error.issues.slice(0, limit).map((i) => `${formatJsonPath(i.path)}: ${i.message}`);
  if (error.issues.length > limit) lines.push(`... and ${error.issues.length - limit} more`);
  return lines;
}
