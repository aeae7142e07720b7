import { parseDuration } from './duration.js';
import type { Finding } from './plan/model.js';

/**
 * Temporary entries: an extra address allowed until a moment, from the configuration
 * (`extra: [{"cidr", "until", "note"}]`) or granted by `tagwall allow` (kept in the state store).
 * Before `expiresAt` the entry is one of the target's extras; from then on it is not wanted, and
 * since tagwall only ever added it, the ordinary plan removes what it owns of it.
 */
export interface TemporaryEntry {
  /** Normalised (`a.b.c.d/n`). */
  readonly cidr: string;
  /** As the configuration wrote it, or the grant's instant (ISO 8601). */
  readonly until: string;
  /** Milliseconds since the epoch: the entry is allowed while the run's clock is before it. */
  readonly expiresAt: number;
  readonly note?: string;
  readonly source: 'config' | 'grant';
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function realDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * When an entry given `until` stops being allowed. A date alone (`2026-12-31`) means the end of
 * that day in UTC, so the entry holds through the whole day named; a date and time must carry its
 * offset (`Z` or `+01:00`), since the run's host may be in any zone.
 */
export function parseUntil(text: string): { readonly expiresAt: number } | { readonly problem: string } {
  const date = DATE.exec(text);
  if (date !== null) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (!realDate(y, m, d)) return { problem: `${JSON.stringify(text)} is not a real date` };
    return { expiresAt: Date.UTC(y, m - 1, d + 1) };
  }
  const dt = DATE_TIME.exec(text);
  if (dt === null) {
    return { problem: `${JSON.stringify(text)} is not a date (2026-12-31, the end of that day in UTC) or a date and time with its offset (2026-12-31T18:00:00Z)` };
  }
  const [y, m, d, h, min, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(dt[i] ?? 0)) as [number, number, number, number, number, number];
  if (!realDate(y, m, d) || h > 23 || min > 59 || s > 59) return { problem: `${JSON.stringify(text)} is not a real date and time` };
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return { problem: `${JSON.stringify(text)} is not a real date and time` };
  return { expiresAt: at };
}

/** Identity of one expiry, for remembering that it was reported. */
export function expiryKey(e: Pick<TemporaryEntry, 'cidr' | 'expiresAt'>): string {
  return `${e.cidr}@${new Date(e.expiresAt).toISOString()}`;
}

export function isActive(e: TemporaryEntry, now: Date): boolean {
  return now.getTime() < e.expiresAt;
}

function entryValues(e: TemporaryEntry): Record<string, string> {
  return { cidr: e.cidr, until: e.until, expiresAt: new Date(e.expiresAt).toISOString(), source: e.source, ...(e.note === undefined ? {} : { note: e.note }) };
}

function named(e: TemporaryEntry): string {
  return `${e.source === 'grant' ? 'granted' : 'temporary'} entry ${e.cidr}${e.note === undefined ? '' : ` (${e.note})`}`;
}

/** Info, never paging: an expiry is what the entry asked for. */
export function expiredFinding(e: TemporaryEntry): Finding {
  return {
    severity: 'info',
    code: 'TEMPORARY_ENTRY_EXPIRED',
    message: `${named(e)} expired at ${new Date(e.expiresAt).toISOString()}; it is no longer allowed, and what tagwall added for it is removed`,
    ...entryValues(e),
  };
}

/** How long before its expiry a configured entry is reported as expiring (TEMPORARY_ENTRY_EXPIRING). */
export const EXPIRING_WITHIN_MS = 7 * 86_400_000;

/**
 * Whether a dated entry of the configuration expires within EXPIRING_WITHIN_MS of `now` (and has
 * not yet). Grants are left out: `tagwall allow` grants at most MAX_GRANT_MS, so every grant would be
 * "expiring" for its whole life, and the one who asked for it chose its end.
 */
export function isExpiringSoon(e: TemporaryEntry, now: Date): boolean {
  const left = e.expiresAt - now.getTime();
  return e.source === 'config' && left > 0 && left <= EXPIRING_WITHIN_MS;
}

/** Info, never paging: reported on every run (and plan) within the week, until the entry expires or its `until` moves. */
export function expiringFinding(e: TemporaryEntry): Finding {
  return {
    severity: 'info',
    code: 'TEMPORARY_ENTRY_EXPIRING',
    message: `${named(e)} expires at ${new Date(e.expiresAt).toISOString()}, within ${EXPIRING_WITHIN_MS / 86_400_000} days; then it is no longer allowed and what tagwall added for it is removed (move its until to keep it)`,
    ...entryValues(e),
  };
}

/** A temporary entry never widens the target's other rules: one that needs a wider cover is left out. */
export function noRoomFinding(e: TemporaryEntry): Finding {
  return {
    severity: 'warning',
    code: 'TEMPORARY_ENTRY_NO_ROOM',
    message: `${named(e)} is not allowed: it fits the rule budget only by widening other rules; free a rule (maxRules, reserveRules) or let it expire`,
    ...entryValues(e),
  };
}

/** The longest `tagwall allow --for` takes: a grant is for the length of a job, not a standing rule. */
export const MAX_GRANT_MS = 7 * 86_400_000;

/** `30m`, `2h`, `1d` (or `90s`) to milliseconds, the unit required; undefined when it is not such a duration. */
export function parseGrantDuration(text: string): number | undefined {
  return parseDuration(text, { unitRequired: true });
}
