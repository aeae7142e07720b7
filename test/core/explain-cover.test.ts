import { describe, expect, it } from 'vitest';
import type { RangeAllowlist } from '../../src/core/allowlist.js';
import { explainCover, wideRules } from '../../src/core/explain-cover.js';
import { tinyDocument } from './documents.js';
import { ip } from './reference.js';

// --explain and WIDE_RULE for a range cover, with figures worked out by hand: the source is
// 52.0.0.0-52.0.0.9 and 52.0.1.0-52.0.1.9 (20 addresses), the cover one range 52.0.0.0-52.0.1.9
// (266 addresses), so 246 excess addresses, all in the gap 52.0.0.10-52.0.0.255.

const source = [
  { start: ip('52.0.0.0'), end: ip('52.0.0.9') },
  { start: ip('52.0.1.0'), end: ip('52.0.1.9') },
];
const cover: RangeAllowlist = {
  shape: 'range',
  selected: ['T'],
  rules: [{ start: ip('52.0.0.0'), end: ip('52.0.1.9') }],
  newRules: 1,
  source,
  warnings: [],
  stats: { selectedPrefixes: 2, ipv6Dropped: 0, forbiddenAddressesRemoved: 0, excludedAddressesRemoved: 0, mergedPrefixes: 2, rules: 1, sourceAddresses: 20, allowedAddresses: 266, excessAddresses: 246 },
};

describe('explainCover and wideRules on a range cover', () => {
  it('explains the widened range with its own figures, and the gap outside Azure when no tag lists it', () => {
    // The tag lists only the source: the gap is the open internet.
    const doc = tinyDocument([{ name: 'T', prefixes: ['52.0.0.0/29', '52.0.0.8/31', '52.0.1.0/29', '52.0.1.8/31'] }]);
    const report = explainCover(cover, doc);
    expect(report.totals).toEqual({ widenedRules: 1, excessAddresses: 246, excessInAzure: 0, excessOutsideAzure: 246 });
    expect(report.rules).toEqual([{ rule: '52.0.0.0-52.0.1.9', sourceAddresses: 20, excessAddresses: 246, excessInAzure: 0, excessOutsideAzure: 246, tags: ['T'] }]);
  });

  it('calls a range wide when it admits 2^(32-N) or more excess addresses: 246 is wide for /25 (128) and not for /24 (256)', () => {
    expect(wideRules(cover, 24)).toEqual([]);
    expect(wideRules(cover, 25)).toEqual([{ key: '52.0.0.0-52.0.1.9', excess: 246 }]);
  });
});
