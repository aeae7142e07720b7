import { validateCidrList } from '../core/allowlist.js';
import { isCidrProblem, readCidr } from '../core/ip-text.js';
import { formatCidr } from '../core/ipv4.js';
import { parseUntil, type TemporaryEntry } from '../core/temporary.js';

/**
 * `extra` entries of the object form, `{"cidr", "until", "note"}`: checked as the plain CIDRs are
 * (no private or reserved space, no host bits), with `until` a real date. A past `until` is no
 * problem: the entry is simply not allowed, and the run reports it expired.
 */

type RawEntry = { readonly cidr?: unknown; readonly until?: unknown };

function isEntry(x: unknown): x is RawEntry {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Problems of the object entries of a raw `extra` list, each under its path (`targets[0].extra[2].until`). */
export function temporaryProblems(list: unknown, path: string): string[] {
  if (!Array.isArray(list)) return [];
  const problems: string[] = [];
  list.forEach((x: unknown, j) => {
    if (!isEntry(x)) return;
    if (typeof x.cidr === 'string') for (const p of validateCidrList('extra', [x.cidr])) problems.push(`${path}[${j}].cidr: ${p}`);
    if (typeof x.until === 'string') {
      const until = parseUntil(x.until);
      if ('problem' in until) problems.push(`${path}[${j}].until: ${until.problem}`);
    }
  });
  return problems;
}

/** A checked `extra` list as the target keeps it: the plain CIDRs, and the dated ones beside them. */
export function splitExtra(list: readonly (string | { readonly cidr: string; readonly until: string; readonly note?: string | undefined })[]): { extra: string[]; temporary?: TemporaryEntry[] } {
  const extra: string[] = [];
  const temporary: TemporaryEntry[] = [];
  for (const x of list) {
    if (typeof x === 'string') {
      extra.push(x);
      continue;
    }
    const until = parseUntil(x.until);
    const cidr = readCidr(x.cidr);
    // Reported by temporaryProblems, and the configuration refused: a bad entry never reaches a run.
    if ('problem' in until || isCidrProblem(cidr)) continue;
    temporary.push({ cidr: formatCidr(cidr), until: x.until, expiresAt: until.expiresAt, ...(x.note === undefined ? {} : { note: x.note }), source: 'config' });
  }
  return temporary.length === 0 ? { extra } : { extra, temporary };
}
