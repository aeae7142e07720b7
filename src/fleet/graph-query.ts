import { TagwallError } from '../core/errors.js';
import type { GraphPaths } from '../targets/kind.js';
import { kindOfType } from '../targets/kinds.js';

/**
 * The Resource Graph queries tagwall sends, and nothing else: one reads the tagged fleet with a
 * digest of each firewall's rules, one lists the subscriptions the identity can read. Resource
 * Graph speaks a subset of KQL (Microsoft's "Understanding the Azure Resource Graph query
 * language" page); every operator and function here is on that page's list or in the KQL
 * reference it points to: `where`, `mv-expand`, `extend`, `project`, `order by`, `in~`, `=~`,
 * `tostring`, `case`, `dynamic`, `array_length`, and `hash_sha256` (KQL's "hash_sha256()" page: the hex
 * SHA-256 of a scalar, an algorithm "guaranteed to not be modified in the future", so a digest
 * recorded this week compares with next week's).
 *
 * Tag keys are case-sensitive in KQL (`tags['tagwall']` does not match `TagWall`), so the tags
 * are expanded to [key, value] pairs and the key compared with `=~`, as Microsoft's own sample
 * for a case-insensitive tag match does.
 */

/** A KQL string literal: single-quoted, with quote and backslash escaped (the page's "Escape characters"). */
export function kqlString(value: string): string {
  if (/[\r\n]/.test(value)) throw new TagwallError('CONFIG_INVALID', `a Resource Graph query value cannot hold a line break: ${JSON.stringify(value)}`);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface FleetQueryOptions {
  /** ARM resource types, any case, e.g. `Microsoft.KeyVault/vaults`. */
  readonly types: readonly string[];
  /** The opt-in tag's name, compared case-insensitively. */
  readonly tag: string;
  /**
   * `true`: each row carries `digest`, the SHA-256 of the rules as Resource Graph holds them,
   * instead of the rules (10,000 vaults of 500 rules are about 100 MB of rules, the digests 0.6 MB).
   * `false`: each row carries `rules` (the fallback when a cloud's Resource Graph refuses hash_sha256).
   */
  readonly digest: boolean;
  /** Only these resource IDs (for a narrowed run). */
  readonly ids?: readonly string[];
}

/**
 * One KQL expression for a field that each kind keeps at its own path (its facts' graphPaths):
 * the bare path when every type asked for keeps it there, else a `case` on the type, so a kind is
 * never read at another kind's path. A type without the field gets null.
 */
function pathOf(types: readonly string[], field: keyof GraphPaths): string {
  const byPath = new Map<string, string[]>();
  for (const type of types) {
    const path = kindOfType(type)?.graphPaths?.[field];
    if (path !== undefined) byPath.set(path, [...(byPath.get(path) ?? []), type]);
  }
  const [only] = byPath.keys();
  if (byPath.size === 0) return 'dynamic(null)';
  if (byPath.size === 1 && byPath.get(only!)!.length === types.length) return only!;
  const branches = [...byPath].map(([path, of]) => `type in~ (${of.map((t) => kqlString(t.toLowerCase())).join(', ')}), ${path}`);
  return `case(${branches.join(', ')}, dynamic(null))`;
}

/**
 * One row per tagged firewall: `id, type, subscriptionId, profile, defaultAction, bypass,
 * publicNetworkAccess, ruleCount` and `digest` or `rules`. Ordered by id so pages are stable.
 */
export function fleetQuery(options: FleetQueryOptions): string {
  if (options.types.length === 0) throw new TagwallError('CONFIG_INVALID', 'discovery needs at least one resource type');
  const types = [...new Set(options.types.map((t) => t.toLowerCase()))];
  const lines = [
    'resources',
    `| where type in~ (${types.map((t) => kqlString(t)).join(', ')})`,
    ...(options.ids === undefined || options.ids.length === 0 ? [] : [`| where id in~ (${options.ids.map((id) => kqlString(id)).join(', ')})`]),
    '| mv-expand bagexpansion=array tags',
    `| where tostring(tags[0]) =~ ${kqlString(options.tag)}`,
    `| extend rules = ${pathOf(types, 'rules')}`,
    `| project id, type, subscriptionId, profile = tostring(tags[1]), defaultAction = tostring(${pathOf(types, 'defaultAction')}), bypass = tostring(${pathOf(types, 'bypass')}), publicNetworkAccess = tostring(${pathOf(types, 'publicNetworkAccess')}), ruleCount = array_length(rules), ${options.digest ? 'digest = hash_sha256(tostring(rules))' : 'rules'}`,
    '| order by id asc',
  ];
  return lines.join('\n');
}

/** The subscriptions in scope that the identity can read: one row `subscriptionId` each. */
export function subscriptionsQuery(): string {
  return ["resourcecontainers", "| where type =~ 'microsoft.resources/subscriptions'", '| project subscriptionId', '| order by subscriptionId asc'].join('\n');
}
