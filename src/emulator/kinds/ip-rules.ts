import { forbiddenOverlap } from '../../core/forbidden.js';
import { isCidrProblem, readCidr } from '../../core/ip-text.js';
import { formatCidr, type Cidr } from '../../core/ipv4.js';

/**
 * What every modelled firewall checks of one IP rule before its own quirks: an IPv4 address
 * or CIDR range with no host bits set, outside private and reserved space. Each model turns
 * a problem into its own service's error.
 */

export type IpRuleCheck =
  | { readonly ok: true; readonly cidr: Cidr; readonly key: string; readonly explicitPrefix: boolean; readonly text: string }
  | { readonly ok: false; readonly why: 'invalid' | 'ipv6' | 'host-bits' | 'forbidden'; readonly detail: string };

export function checkIpRule(raw: string): IpRuleCheck {
  const text = raw.trim();
  const parsed = readCidr(text);
  if (isCidrProblem(parsed)) {
    const why = parsed.code === 'CIDR_IPV6' ? 'ipv6' : parsed.code === 'CIDR_HOST_BITS' ? 'host-bits' : 'invalid';
    return { ok: false, why, detail: why === 'ipv6' ? `${text} is IPv6; only IPv4 addresses and ranges are allowed` : parsed.message };
  }
  const hit = forbiddenOverlap(parsed);
  if (hit !== undefined) return { ok: false, why: 'forbidden', detail: `${text} overlaps ${hit.cidr} (${hit.why})` };
  return { ok: true, cidr: parsed, key: formatCidr(parsed), explicitPrefix: text.includes('/'), text };
}
