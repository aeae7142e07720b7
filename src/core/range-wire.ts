import { TagwallError } from './errors.js';
import { parseCidr } from './ip-text.js';
import { formatAddress, type AddressRange } from './ipv4.js';

/**
 * A start/end rule as the start/end firewalls write it (`Microsoft.Sql/servers/firewallRules`
 * and its kin): two bare dotted addresses. The text is read by ip-text.ts, the one place that
 * decides what an address is; this only adds what a pair needs. Kinds whose fields are named
 * otherwise (Redis: `startIP`/`endIP`) rename at their adapter.
 */
export interface StartEndRule {
  readonly startIpAddress: string;
  readonly endIpAddress: string;
}

export function toStartEnd(r: AddressRange): StartEndRule {
  return { startIpAddress: formatAddress(r.start), endIpAddress: formatAddress(r.end) };
}

function readAddress(field: 'startIpAddress' | 'endIpAddress', text: string): number {
  // An address field, not a CIDR: `1.2.3.0/24` here would mean nothing the firewall agrees on.
  if (typeof text !== 'string' || text.includes('/')) {
    throw new TagwallError('CIDR_INVALID', `${field} ${JSON.stringify(text)} is not an IPv4 address: write a.b.c.d, without a prefix length`);
  }
  return parseCidr(text).base;
}

/** Reads a start/end pair; CIDR_INVALID (or CIDR_IPV6) for bad text or a start after the end. */
export function fromStartEnd(rule: StartEndRule): AddressRange {
  const start = readAddress('startIpAddress', rule.startIpAddress);
  const end = readAddress('endIpAddress', rule.endIpAddress);
  if (start > end) {
    throw new TagwallError('CIDR_INVALID', `start ${rule.startIpAddress} is after end ${rule.endIpAddress}`);
  }
  return { start, end };
}
