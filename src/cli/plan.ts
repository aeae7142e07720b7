import { buildAllowlist, type Allowlist } from '../core/allowlist.js';
import { formatRule } from '../core/ipv4.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { count, plural, writeLine, type CliIO } from './io.js';

export interface PlanOptions {
  select: string[];
  maxRules: number;
  split31: boolean;
  extra: string[];
  exclude: string[];
  json: boolean;
}

/** Where the document came from, as `plan --json` reports it. */
export interface ServiceTagsOrigin {
  readonly path?: string;
  readonly url?: string;
  readonly cacheUsed?: boolean;
}

export function planReport(doc: ServiceTagDocument, origin: ServiceTagsOrigin, allowlist: Allowlist, extraWarnings: readonly string[] = []) {
  return {
    serviceTags: { cloud: doc.cloud, changeNumber: doc.changeNumber, ...origin },
    selected: allowlist.selected,
    rules: allowlist.rules.map(formatRule),
    stats: allowlist.stats,
    warnings: [...extraWarnings, ...allowlist.warnings],
  };
}

export function runPlan(doc: ServiceTagDocument, origin: ServiceTagsOrigin, options: PlanOptions, io: CliIO, sourceWarnings: readonly string[] = []): void {
  const allowlist = buildAllowlist(doc, options);
  const report = planReport(doc, origin, allowlist, sourceWarnings);
  if (options.json) {
    writeLine(io.stdout, JSON.stringify(report));
    return;
  }
  for (const w of report.warnings) writeLine(io.stderr, `warning: ${w}`);
  const s = allowlist.stats;
  const where = origin.url ?? origin.path ?? doc.source;
  const lines = [
    `Service tags   ${doc.cloud}, change ${doc.changeNumber}${origin.cacheUsed ? ' (from the last-known-good cache)' : ''}: ${where}`,
    `Selected       ${plural(allowlist.selected.length, 'tag')}: ${summariseNames(allowlist.selected)}`,
    `Prefixes       ${count(s.selectedPrefixes)} listed, ${count(s.ipv6Dropped)} IPv6 dropped, ${plural(s.forbiddenAddressesRemoved, 'forbidden address', 'forbidden addresses')} removed${s.excludedAddressesRemoved > 0 ? `, ${plural(s.excludedAddressesRemoved, 'excluded address', 'excluded addresses')} removed` : ''}`,
    `Merged         ${plural(s.mergedPrefixes, 'block')} covering ${plural(s.sourceAddresses, 'address', 'addresses')}`,
    `Rules          ${count(s.rules)} of ${count(options.maxRules)}${options.split31 ? ' (no /31)' : ''}`,
    `Allowed        ${plural(s.allowedAddresses, 'address', 'addresses')}: ${count(s.excessAddresses)} beyond the source${s.sourceAddresses > 0 ? ` (+${((100 * s.excessAddresses) / s.sourceAddresses).toFixed(1)}%)` : ''}`,
    '',
    ...report.rules,
  ];
  for (const l of lines) writeLine(io.stdout, l);
}

function summariseNames(names: readonly string[]): string {
  if (names.length <= 6) return names.join(', ');
  return `${names.slice(0, 5).join(', ')} and ${count(names.length - 5)} more`;
}
