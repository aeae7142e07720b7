/**
 * How long a server asked us to wait before trying again: the one reading of Retry-After that
 * the download, the webhook, ARM's pacer and Resource Graph share, so one answer is never read
 * as two different waits.
 *
 * RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`, `delay-seconds = 1*DIGIT`.
 * - Anything else is not a Retry-After and is ignored (the caller's own backoff applies): "1.5",
 *   "-1", "1e3". Ignoring beats guessing: JavaScript's Date.parse reads "1.5" as 5 January 2001
 *   (a wait of 0), and Number() reads it as 1,500 ms.
 * - HTTP-date in the three forms a recipient must accept (§5.6.7): IMF-fixdate, and the obsolete
 *   RFC 850 and asctime forms, all GMT. A date already past means "now" (0).
 * - Azure's `retry-after-ms` and `x-ms-retry-after-ms` (milliseconds, digits only) come first,
 *   in the order the Azure SDK's throttling retry reads them.
 */

/** Header lookup as the Azure pipeline (`get`) or undici (a lowercase-keyed object) hands them over. */
export type RetryHeaders =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

const MS_HEADERS = ['retry-after-ms', 'x-ms-retry-after-ms'] as const;
const DIGITS = /^\d+$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTH = `(${MONTHS.join('|')})`;
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
// Sun Nov  6 08:49:37 1994
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

function lookup(headers: RetryHeaders, name: string): string | undefined {
  const raw = typeof headers.get === 'function'
    ? (headers as { get(name: string): string | null | undefined }).get(name)
    : (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return typeof value === 'string' ? value.trim() : undefined;
}

function utc(year: number, month: string, day: number, h: string, m: string, s: string): number | undefined {
  const mon = MONTHS.indexOf(month);
  const at = Date.UTC(year, mon, day, Number(h), Number(m), Number(s));
  // Date.UTC rolls 32 January over to 1 February; a date that does not exist is not a date.
  const d = new Date(at);
  return d.getUTCDate() === day && d.getUTCMonth() === mon && Number(h) < 24 && Number(m) < 60 && Number(s) < 61 ? at : undefined;
}

/** An HTTP-date (RFC 9110 §5.6.7) in epoch milliseconds, or undefined. */
export function parseHttpDate(text: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC850.exec(text);
  if (m !== null) {
    // §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[3]);
    const year = yy + 2000 > new Date(nowMs).getUTCFullYear() + 50 ? 1900 + yy : 2000 + yy;
    return utc(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(text);
  if (m !== null) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return undefined;
}

/** The Retry-After header's value alone, in milliseconds from `nowMs`; undefined when it is not one. */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const text = value.trim();
  if (DIGITS.test(text)) return Number(text) * 1000;
  const at = parseHttpDate(text, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

/** The wait an answer asks for, in milliseconds from `nowMs`; undefined when it asks for none readable. */
export function retryAfterMs(headers: RetryHeaders, nowMs: number): number | undefined {
  for (const name of MS_HEADERS) {
    const value = lookup(headers, name);
    if (value !== undefined && DIGITS.test(value)) return Number(value);
  }
  const value = lookup(headers, 'retry-after');
  return value === undefined ? undefined : parseRetryAfter(value, nowMs);
}
