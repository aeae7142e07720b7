import { parseCidr } from './ip-text.js';
import { rangesOf, type AddressRange, type Cidr } from './ipv4.js';

/**
 * IANA's IPv4 special-purpose blocks that are not globally reachable, plus multicast
 * and the reserved 240/4. Key Vault refuses RFC 1918 outright; the rest can never be a
 * real Azure service address, so allowing them is at best noise and at worst a hole.
 * Source: IANA IPv4 Special-Purpose Address Registry (RFC 6890 and successors).
 */
export const FORBIDDEN_BLOCKS: readonly { cidr: string; why: string }[] = [
  { cidr: '0.0.0.0/8', why: '"this network"' },
  { cidr: '10.0.0.0/8', why: 'private (RFC 1918)' },
  { cidr: '100.64.0.0/10', why: 'shared address space (carrier-grade NAT)' },
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '169.254.0.0/16', why: 'link-local' },
  { cidr: '172.16.0.0/12', why: 'private (RFC 1918)' },
  { cidr: '192.0.0.0/24', why: 'IETF protocol assignments' },
  { cidr: '192.0.2.0/24', why: 'documentation (TEST-NET-1)' },
  { cidr: '192.88.99.0/24', why: 'deprecated 6to4 relay anycast' },
  { cidr: '192.168.0.0/16', why: 'private (RFC 1918)' },
  { cidr: '198.18.0.0/15', why: 'benchmarking' },
  { cidr: '198.51.100.0/24', why: 'documentation (TEST-NET-2)' },
  { cidr: '203.0.113.0/24', why: 'documentation (TEST-NET-3)' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
  { cidr: '240.0.0.0/4', why: 'reserved (incl. broadcast)' },
];

export const FORBIDDEN_CIDRS: readonly Cidr[] = FORBIDDEN_BLOCKS.map((b) => parseCidr(b.cidr));
export const FORBIDDEN_RANGES: readonly AddressRange[] = rangesOf(FORBIDDEN_CIDRS);

/** The first forbidden block that `c` overlaps, with why it is forbidden. */
export function forbiddenOverlap(c: Cidr): { cidr: string; why: string } | undefined {
  const end = c.base + 2 ** (32 - c.length) - 1;
  return FORBIDDEN_BLOCKS.find((_, i) => {
    const f = FORBIDDEN_CIDRS[i]!;
    const fEnd = f.base + 2 ** (32 - f.length) - 1;
    return c.base <= fEnd && f.base <= end;
  });
}
