import { describe, expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import { fromStartEnd, toStartEnd, type StartEndRule } from '../../src/core/range-wire.js';
import { ip } from './reference.js';

function codeOf(rule: StartEndRule): string | undefined {
  try {
    fromStartEnd(rule);
  } catch (e) {
    if (isTagwallError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('start/end rules on the wire', () => {
  it.each<[string, string]>([
    ['0.0.0.0', '0.0.0.0'],
    ['0.0.0.0', '255.255.255.255'],
    ['20.1.2.3', '20.1.2.3'],
    ['52.0.0.0', '52.255.255.255'],
    ['255.255.255.255', '255.255.255.255'],
  ])('%s - %s reads to its integers and writes back the same text', (start, end) => {
    const range = fromStartEnd({ startIpAddress: start, endIpAddress: end });
    expect(range).toEqual({ start: ip(start), end: ip(end) });
    expect(toStartEnd(range)).toEqual({ startIpAddress: start, endIpAddress: end });
  });

  it.each<[StartEndRule, string]>([
    [{ startIpAddress: '20.1.2.0/24', endIpAddress: '20.1.2.255' }, 'CIDR_INVALID'],
    [{ startIpAddress: '20.1.2.0', endIpAddress: '20.1.2.255/32' }, 'CIDR_INVALID'],
    [{ startIpAddress: '020.1.2.3', endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
    [{ startIpAddress: '20.1.2.256', endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
    [{ startIpAddress: '20.1', endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
    [{ startIpAddress: '', endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
    [{ startIpAddress: '2001:db8::1', endIpAddress: '2001:db8::2' }, 'CIDR_IPV6'],
    [{ startIpAddress: '20.1.2.4', endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
    [{ startIpAddress: 7 as unknown as string, endIpAddress: '20.1.2.3' }, 'CIDR_INVALID'],
  ])('refuses %j with %s', (rule, code) => {
    expect(codeOf(rule)).toBe(code);
  });
});
