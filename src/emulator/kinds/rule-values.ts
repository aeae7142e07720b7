import { forbiddenOverlap } from '../../core/forbidden.js';
import { isCidrProblem, parseCidr, readCidr } from '../../core/ip-text.js';
import { formatCidr, type Cidr } from '../../core/ipv4.js';
import { ArmFailure, isRecord } from '../http.js';

/**
 * The checks the firewall kinds' resource providers make on IP rule values, each kind with its
 * own policy: which ranges it refuses, whether it takes /31 and /32, host bits, how many rules.
 * Values are stored as written (these providers echo them back unchanged).
 */

export interface RulePolicy {
  /** `properties.ipRules[3].ipAddressOrRange`, for error texts. */
  readonly path: (index: number) => string;
  /** Ranges the provider refuses; `all` is every forbidden block in src/core/forbidden.ts. */
  readonly refused: readonly string[] | 'all';
  readonly allowHostBits: boolean;
  /** Whether `a.b.c.d/31` and `a.b.c.d/32` are refused (single addresses must be bare). */
  readonly refuse3132: boolean;
  readonly maxRules?: number;
  /** Builds the provider's error; its code and wording differ by kind. */
  readonly failure: (message: string) => ArmFailure;
}

function refusedBlock(c: Cidr, refused: RulePolicy['refused']): string | undefined {
  if (refused === 'all') return forbiddenOverlap(c)?.cidr;
  for (const r of refused) {
    const block = parseCidr(r);
    const end = (x: Cidr) => x.base + 2 ** (32 - x.length) - 1;
    if (c.base <= end(block) && block.base <= end(c)) return r;
  }
  return undefined;
}

/** Checks one value; returns its normalised key, for duplicate checks. */
export function checkRuleValue(raw: unknown, index: number, policy: RulePolicy): string {
  const path = policy.path(index);
  if (typeof raw !== 'string' || raw.trim() === '') throw policy.failure(`${path}: a non-empty IPv4 address or range is required`);
  const parsed = readCidr(raw, { hostBits: policy.allowHostBits ? 'mask' : 'strict' });
  if (isCidrProblem(parsed)) {
    const why = parsed.code === 'CIDR_IPV6' ? 'only IPv4 addresses and ranges are supported' : parsed.code === 'CIDR_HOST_BITS' ? 'the range has host bits set' : 'it is not a valid IPv4 address or CIDR range';
    throw policy.failure(`${path}: '${raw}' is invalid: ${why}`);
  }
  if (policy.refuse3132 && raw.includes('/') && parsed.length >= 31) {
    throw policy.failure(`${path}: '${raw}' is invalid: /31 and /32 ranges are not supported; use individual IP addresses instead`);
  }
  const block = refusedBlock(parsed, policy.refused);
  if (block !== undefined) throw policy.failure(`${path}: '${raw}' is not a public IP address or range (it overlaps ${block})`);
  return formatCidr(parsed);
}

/** Checks a whole list of `{ [field]: value }` rules: the count, each value, duplicates. */
export function checkRuleList(raw: unknown, field: string, listPath: string, policy: RulePolicy): Record<string, string>[] {
  if (!Array.isArray(raw)) throw policy.failure(`${listPath} must be an array`);
  if (policy.maxRules !== undefined && raw.length > policy.maxRules) {
    throw policy.failure(`${listPath} has ${raw.length} rules; at most ${policy.maxRules} are allowed`);
  }
  const seen = new Map<string, number>();
  return raw.map((rule: unknown, i) => {
    const value = isRecord(rule) ? rule[field] : undefined;
    const key = checkRuleValue(value, i, policy);
    const first = seen.get(key);
    if (first !== undefined) throw policy.failure(`${policy.path(i)}: '${String(value)}' duplicates rule ${first}`);
    seen.set(key, i);
    return { [field]: value as string };
  });
}

/** RFC 7396 JSON merge patch: objects merge, `null` deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** ARM enums compare case-insensitively; returns the canonical spelling. */
export function enumOf<T extends string>(raw: unknown, allowed: readonly T[], path: string, failure: (m: string) => ArmFailure): T {
  const found = typeof raw === 'string' ? allowed.find((a) => a.toLowerCase() === raw.toLowerCase()) : undefined;
  if (found === undefined) throw failure(`${path}: ${JSON.stringify(raw)} is not one of ${allowed.join(', ')}`);
  return found;
}

/** The last segment of a resource ID. */
export function nameOf(id: string): string {
  return id.split('/').filter((s) => s !== '').at(-1) ?? id;
}
