import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../../src/core/retry-after.js';
import { retryAfterEnd } from '../../src/arm/pacing.js';

/**
 * One reading of "how long did the server ask us to wait", for the download, the webhook, ARM's
 * pacer and Resource Graph. RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds, and
 * delay-seconds = 1*DIGIT; §5.6.7 lists the three date forms a recipient must accept. Azure also
 * sends retry-after-ms and x-ms-retry-after-ms (milliseconds), read first, as the Azure SDK does.
 */
const NOW = Date.UTC(2025, 0, 1, 0, 0, 0); // Wed, 01 Jan 2025 00:00:00 GMT

const retryAfter: [value: string, expected: number | undefined, why: string][] = [
  ['0', 0, 'come back now'],
  ['1', 1_000, 'seconds'],
  ['120', 120_000, 'seconds'],
  [' 7 ', 7_000, 'surrounding whitespace is not part of the value'],
  ['007', 7_000, 'leading zeros are still 1*DIGIT'],
  ['1.5', undefined, 'a fraction is not delay-seconds (1*DIGIT), nor a date: ignored, not 0 and not 1,500 ms'],
  ['-1', undefined, 'a sign is not a digit'],
  ['+5', undefined, 'a sign is not a digit'],
  ['1e3', undefined, 'an exponent is not a digit'],
  ['0x10', undefined, 'hexadecimal is not delay-seconds'],
  ['', undefined, 'empty'],
  ['soon', undefined, 'garbage'],
  ['5 s', undefined, 'a unit is not allowed'],
  ['Wed, 01 Jan 2025 00:00:07 GMT', 7_000, 'IMF-fixdate'],
  ['Wednesday, 01-Jan-25 00:00:30 GMT', 30_000, 'obsolete RFC 850 date'],
  ['Wed Jan  1 00:01:00 2025', 60_000, 'obsolete asctime date, which is GMT'],
  ['Tue, 31 Dec 2024 23:59:00 GMT', 0, 'a date in the past: come back now'],
  ['Wed, 01 Jan 2025 00:00:07 +0100', undefined, 'HTTP dates are GMT only'],
  ['2025-01-01T00:00:07Z', undefined, 'ISO 8601 is not an HTTP date'],
  ['Wed, 32 Jan 2025 00:00:07 GMT', undefined, 'no such day'],
];

function headers(values: Record<string, string | string[]>): { get(name: string): string | undefined } {
  return { get: (name) => { const v = values[name]; return Array.isArray(v) ? v[0] : v; } };
}

describe('retryAfterMs', () => {
  it.each(retryAfter)('Retry-After %j is %j ms (%s)', (value, expected) => {
    expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBe(expected);
    // undici hands headers over as a plain object; the same reading applies.
    expect(retryAfterMs({ 'retry-after': value }, NOW)).toBe(expected);
  });

  it('reads the millisecond headers first, in the Azure SDK\'s order', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), NOW)).toBe(250);
    expect(retryAfterMs(headers({ 'x-ms-retry-after-ms': '40', 'retry-after': '9' }), NOW)).toBe(40);
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'x-ms-retry-after-ms': '40' }), NOW)).toBe(250);
    expect(retryAfterMs({ 'x-ms-retry-after-ms': '0' }, NOW)).toBe(0);
  });

  it('skips an unusable millisecond header for the next one', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '2.5', 'retry-after': '3' }), NOW)).toBe(3_000);
    expect(retryAfterMs(headers({ 'retry-after-ms': '-1', 'x-ms-retry-after-ms': '70' }), NOW)).toBe(70);
    expect(retryAfterMs(headers({ 'x-ms-retry-after-ms': 'later' }), NOW)).toBeUndefined();
  });

  it('is undefined without any of the headers, and takes the first of repeated values', () => {
    expect(retryAfterMs(headers({}), NOW)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': undefined }, NOW)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': ['2', '60'] }, NOW)).toBe(2_000);
  });

  it.each(retryAfter)('ARM\'s pacer reads Retry-After %j the same way', (value, expected) => {
    expect(retryAfterEnd(headers({ 'retry-after': value }), NOW)).toBe(expected === undefined ? undefined : NOW + expected);
  });
});
