import { describe, expect, it } from 'vitest';
import { concurrentChangeError, concurrentDifferences, writtenShape } from '../../../src/core/plan/verify.js';

const read = { posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' }, virtualNetworkRuleCount: 1 };

describe('the read after a write against what was written', () => {
  it.each([
    ['the same, in another case', { ...read, posture: { defaultAction: 'deny', bypass: 'azureservices', publicNetworkAccess: 'ENABLED' } }, []],
    ['public access turned off', { ...read, posture: { ...read.posture, publicNetworkAccess: 'Disabled' } }, ['publicNetworkAccess']],
    ['bypass dropped', { ...read, posture: { defaultAction: 'Deny', publicNetworkAccess: 'Enabled' } }, ['bypass']],
    ['a VNet rule added and the firewall opened', { posture: { ...read.posture, defaultAction: 'Allow' }, virtualNetworkRuleCount: 2 }, ['defaultAction', 'virtualNetworkRuleCount']],
  ] as const)('%s', (_name, after, fields) => {
    expect(concurrentDifferences(read, after).map((d) => d.field)).toEqual(fields);
  });

  it("takes Azure's defaults for fields the firewall did not have as no one's change", () => {
    // A vault created without networkAcls: nothing but the rules was sent, and Azure filled in the rest.
    const bare = { posture: {}, virtualNetworkRuleCount: 0 };
    expect(concurrentDifferences(bare, { posture: { defaultAction: 'Allow', bypass: 'AzureServices' }, virtualNetworkRuleCount: 0 })).toEqual([]);
  });

  it('counts the Deny tagwall asked for as written', () => {
    const before = { ...read, posture: { ...read.posture, defaultAction: 'Allow' } };
    expect(concurrentChangeError(writtenShape(before, true), read)).toBeUndefined();
    expect(concurrentChangeError(writtenShape(before, false), read)).toMatchObject({ code: 'CONCURRENT_CHANGE', fields: 'defaultAction' });
  });

  it('names each field, written and read, in the error', () => {
    const e = concurrentChangeError(read, { ...read, virtualNetworkRuleCount: 3 });
    expect(e?.message).toContain('virtualNetworkRuleCount written 1, read 3');
  });
});
