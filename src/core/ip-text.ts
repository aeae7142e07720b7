import { createRequire } from 'node:module';
import type IpAddr from 'ipaddr.js';
import { TagwallError } from './errors.js';
import { blockSize, formatCidr, type Cidr } from './ipv4.js';

/**
 * The one place where IP text from outside (a service-tags file, `extra`/`exclude` in the
 * config or on the command line, a rule read back from a vault) becomes a `Cidr`, so that
 * what counts as an address is decided once. Addresses are parsed by ipaddr.js, a
 * maintained parser, not by code of our own; the rest of the engine works on trusted
 * uint32 blocks and never sees text.
 *
 * ipaddr.js accepts forms that Azure refuses and that may not mean what they seem: it
 * reads `010.1.2.3` as octal (8.1.2.3), `0x7f.1` and `127.1` as shorthand for 127.0.0.1,
 * `1.2.3.4/08` as /8, and octal or hex in the IPv4 tail of an IPv6 address. Only the
 * four-part decimal shape is handed to it, and prefix lengths are checked here.
 */

// ipaddr.js is CommonJS. An ESM import of it makes Node start its CommonJS export scanner,
// which added ~50 ms to every `tagwall` start; require() does not.
const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof IpAddr;

export type CidrFamily = 'ipv4' | 'ipv6' | 'invalid';

export interface ParseCidrOptions {
  /**
   * `strict` (the default) refuses host bits, the way a typo like 20.1.2.3/24 should be
   * caught; `mask` clears them, for rules read back from Azure, which we must never refuse.
   */
  hostBits?: 'strict' | 'mask';
}

export interface CidrProblem {
  readonly code: 'CIDR_IPV6' | 'CIDR_INVALID' | 'CIDR_HOST_BITS';
  readonly message: string;
}

/** What the text says, before the caller's host-bits rule is applied. */
type Reading = Cidr | HostBits | Ipv6 | CidrProblem;

/** A valid IPv4 CIDR whose address has host bits set; `block` has them cleared. */
interface HostBits {
  readonly block: Cidr;
}

/**
 * A valid IPv6 address or CIDR. Its problem is only worded when asked for: a service-tags
 * file lists ~14k distinct IPv6 prefixes that are only counted, never reported.
 */
interface Ipv6 {
  /** The IPv4 address an IPv4-mapped address (`::ffff:1.2.3.4`) stands for; ipaddr.js reads the old `::1.2.3.4` form so too. */
  readonly mapped: string | undefined;
}

const IPV6: Ipv6 = { mapped: undefined };

/** The shape ipaddr.js's own isValidFourPartDecimal checks: four decimal parts, no leading zeros. */
const FOUR_PART_DECIMAL = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*)){3}$/;
/** Four decimal parts, so a refusal is a leading zero (octal to some parsers) or a part over 255. */
const DOTTED_DIGITS = /^(?:\d+\.){3}\d+$/;
const DECIMAL = /^\d+$/;

function quote(text: string): string {
  return JSON.stringify(text);
}

/** Worded only once a text is refused: quoting costs more than the parse itself. */
function refuse(text: string, family: 'IPv4' | 'IPv6', lengthText: string | undefined, reason: string): CidrProblem {
  return { code: 'CIDR_INVALID', message: `${quote(text)} is not an ${family} ${lengthText === undefined ? 'address' : 'CIDR'}: ${reason}` };
}

/** A prefix length as Azure writes it: plain decimal, no sign, no leading zero. Returns -1 if it is not. */
function readLength(lengthText: string, max: number): number {
  if (!DECIMAL.test(lengthText) || (lengthText.length > 1 && lengthText.charCodeAt(0) === 48)) return -1;
  const length = Number(lengthText);
  return length > max ? -1 : length;
}

function lengthProblem(text: string, family: 'IPv4' | 'IPv6', lengthText: string, max: number): CidrProblem {
  const reason =
    lengthText === ''
      ? 'the prefix length after "/" is missing'
      : !DECIMAL.test(lengthText)
        ? `prefix length ${quote(lengthText)} is not a whole number`
        : lengthText.charCodeAt(0) === 48
          ? `prefix length ${quote(lengthText)} has a leading zero`
          : `prefix length ${lengthText} is over ${max}`;
  return refuse(text, family, lengthText, reason);
}

function ipv4Problem(text: string, address: string, lengthText: string | undefined): CidrProblem {
  if (DOTTED_DIGITS.test(address)) {
    const parts = address.split('.');
    const zero = parts.find((p) => p.length > 1 && p.startsWith('0'));
    if (zero !== undefined) return refuse(text, 'IPv4', lengthText, `${quote(zero)} has a leading zero, which some software reads as octal`);
    return refuse(text, 'IPv4', lengthText, `${parts.find((p) => Number(p) > 255) ?? address} is over 255`);
  }
  if (ipaddr.IPv4.isValid(address)) return refuse(text, 'IPv4', lengthText, 'write the address as four decimal numbers, a.b.c.d');
  return { code: 'CIDR_INVALID', message: `${quote(text)} is not an IPv4 address or CIDR range` };
}

function readIpv4(text: string, address: string, lengthText: string | undefined): Reading {
  if (!FOUR_PART_DECIMAL.test(address)) return ipv4Problem(text, address, lengthText);
  let octets: number[];
  try {
    octets = ipaddr.IPv4.parse(address).octets;
  } catch {
    return ipv4Problem(text, address, lengthText);
  }
  const length = lengthText === undefined ? 32 : readLength(lengthText, 32);
  if (length === -1) return lengthProblem(text, 'IPv4', lengthText!, 32);
  const value = ((octets[0]! * 256 + octets[1]!) * 256 + octets[2]!) * 256 + octets[3]!;
  const base = value - (value % blockSize(length));
  return base === value ? { base, length } : { block: { base, length } };
}

function readIpv6(text: string, address: string, lengthText: string | undefined): Reading {
  // A zone names an interface on one host; it has no place in a firewall or a published list.
  if (address.includes('%')) return refuse(text, 'IPv6', lengthText, 'it has a zone index');
  const tail = address.slice(address.lastIndexOf(':') + 1);
  if (tail.includes('.') && !FOUR_PART_DECIMAL.test(tail)) return refuse(text, 'IPv6', lengthText, 'its IPv4 part must be four decimal numbers, a.b.c.d');
  let parsed: IpAddr.IPv6;
  try {
    parsed = ipaddr.IPv6.parse(address);
  } catch {
    return { code: 'CIDR_INVALID', message: `${quote(text)} is not an IPv4 or IPv6 address or CIDR range` };
  }
  if (lengthText !== undefined && readLength(lengthText, 128) === -1) return lengthProblem(text, 'IPv6', lengthText, 128);
  return lengthText === undefined && parsed.isIPv4MappedAddress() ? { mapped: parsed.toIPv4Address().toString() } : IPV6;
}

function read(text: string): Reading {
  const trimmed = text.trim();
  if (trimmed === '') return { code: 'CIDR_INVALID', message: `${quote(text)} is not an IPv4 address or CIDR range: it is empty` };
  const slash = trimmed.indexOf('/');
  if (slash !== -1 && trimmed.indexOf('/', slash + 1) !== -1) return refuse(text, 'IPv4', '', 'it has more than one "/"');
  const address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const lengthText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (address === '') return refuse(text, 'IPv4', '', 'the address before "/" is missing');
  // Only IPv6 has colons.
  return address.includes(':') ? readIpv6(text, address, lengthText) : readIpv4(text, address, lengthText);
}

/**
 * Each distinct text is read once per process. A service-tags file lists ~93k prefixes but
 * only ~52k distinct ones (a region's prefixes appear again under the cloud-wide tags), and
 * ipaddr.js costs more than the rest of reading the file put together; a long-lived host
 * also sees next week's file repeat most of this week's prefixes. Bounded, so a host that
 * sees many different texts over time does not grow without limit.
 */
const readings = new Map<string, Reading>();
const READINGS_LIMIT = 200_000;

/** Drops every remembered reading, so the next read of each text is a first read (benchmarks measure that). */
export function forgetReadings(): void {
  readings.clear();
}

function cachedRead(text: string): Reading {
  let r = readings.get(text);
  if (r === undefined) {
    r = read(text);
    if (readings.size >= READINGS_LIMIT) readings.clear();
    readings.set(text, r);
  }
  return r;
}

/**
 * Parses `a.b.c.d/n` or a bare `a.b.c.d` (= /32), returning the problem instead of
 * throwing: the weekly file has ~90k prefixes, a quarter of them IPv6, and building an
 * exception for each would cost more than the parse. Surrounding whitespace is ignored.
 */
export function readCidr(text: string, options: ParseCidrOptions = {}): Cidr | CidrProblem {
  const r = cachedRead(text);
  if ('block' in r) {
    if (options.hostBits === 'mask') return r.block;
    return { code: 'CIDR_HOST_BITS', message: `${quote(text)} has host bits set; did you mean ${formatCidr(r.block)}?` };
  }
  if ('mapped' in r) {
    const hint = r.mapped === undefined ? '' : `; write ${r.mapped} instead`;
    return { code: 'CIDR_IPV6', message: `${quote(text)} is IPv6; Key Vault takes IPv4 only${hint}` };
  }
  return r;
}

export function isCidrProblem(v: Cidr | CidrProblem): v is CidrProblem {
  return 'code' in v;
}

/** Like readCidr, but throws a TagwallError with the problem's code. */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Cidr {
  const r = readCidr(text, options);
  if (isCidrProblem(r)) throw new TagwallError(r.code, r.message);
  return r;
}

/** Tells IPv4 from IPv6 from junk, for text like `1.2.3.0/24`, `2001:db8::/32` or `1.2.3.4`; host bits do not matter. */
export function cidrFamily(text: string): CidrFamily {
  const r = cachedRead(text);
  if ('mapped' in r) return 'ipv6';
  return 'code' in r ? 'invalid' : 'ipv4';
}
