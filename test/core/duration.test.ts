import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/core/duration.js';

// One reading of a duration for --deadline, apply --max-age, allow --for and TAGWALL_PLAN_MAX_AGE.
describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['8m', 480_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    [' 24h ', 86_400_000],
    ['45', 45_000],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '0', '0h', '1w', '-1h', 'h', '1.5h', '1 h', '1H', '2d3h'])('%j is no duration', (text) => expect(parseDuration(text)).toBeUndefined());

  it('a bare number is refused where a unit is required', () => {
    expect(parseDuration('45', { unitRequired: true })).toBeUndefined();
    expect(parseDuration('45m', { unitRequired: true })).toBe(2_700_000);
  });
});
