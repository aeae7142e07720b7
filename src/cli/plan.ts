import { buildAllowlist, type Allowlist } from '../core/allowlist.js';
import { explainWidening, type WideningReport } from '../core/explain.js';
import { formatRule } from '../core/ipv4.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { writeLine, type CliIO } from './io.js';
import { count, plural, table } from '../core/text.js';

export interface PlanOptions {
  select: string[];
  maxRules: number;
  split31: boolean;
  extra: string[];
  exclude: string[];
  json: boolean;
  /** 0: no bound. */
  maxWidenedPrefix: number;
  explain: boolean;
}

/** How many widened rules the text output lists before it just counts the rest. */
const EXPLAIN_LIST = 20;

/** Where the document came from, as `plan --json` reports it. */
export interface ServiceTagsOrigin {
  readonly path?: string;
  readonly url?: string;
  readonly cacheUsed?: boolean;
}

export function planReport(doc: ServiceTagDocument, origin: ServiceTagsOrigin, allowlist: Allowlist, extraWarnings: readonly string[] = [], widening?: WideningReport) {
  return {
    serviceTags: { cloud: doc.cloud, changeNumber: doc.changeNumber, ...origin },
    selected: allowlist.selected,
    rules: allowlist.rules.map(formatRule),
    stats: allowlist.stats,
    ...(widening === undefined ? {} : { widening }),
    warnings: [...extraWarnings, ...allowlist.warnings],
  };
}

function explainLines(w: WideningReport): string[] {
  const t = w.totals;
  const lines = [
    '',
    `Widened        ${plural(t.widenedRules, 'rule')} admit ${count(t.excessAddresses)} addresses beyond the source: ${count(t.excessInAzure)} in Azure's own space, ${count(t.excessOutsideAzure)} outside it`,
  ];
  if (t.widenedRules === 0) return lines;
  const rows = w.rules.slice(0, EXPLAIN_LIST).map((r) => [r.rule, count(r.sourceAddresses), count(r.excessAddresses), count(r.excessInAzure), count(r.excessOutsideAzure), r.tags.join(', ')]);
  lines.push(...table([['RULE', 'SOURCE', 'EXCESS', 'IN AZURE', 'OUTSIDE', 'TAGS'], ...rows], new Set([1, 2, 3, 4])).split('\n'));
  if (w.rules.length > EXPLAIN_LIST) lines.push(`... and ${plural(w.rules.length - EXPLAIN_LIST, 'narrower widened rule')}`);
  return lines;
}

export function runPlan(doc: ServiceTagDocument, origin: ServiceTagsOrigin, options: PlanOptions, io: CliIO, sourceWarnings: readonly string[] = []): void {
  const allowlist = buildAllowlist(doc, options);
  // Explaining costs a pass over the rules and the file's tags; only when asked.
  const widening = options.explain ? explainWidening(allowlist, doc) : undefined;
  const report = planReport(doc, origin, allowlist, sourceWarnings, widening);
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
    ...(widening === undefined ? [] : explainLines(widening)),
    '',
    ...report.rules,
  ];
  for (const l of lines) writeLine(io.stdout, l);
}

function summariseNames(names: readonly string[]): string {
  if (names.length <= 6) return names.join(', ');
  return `${names.slice(0, 5).join(', ')} and ${count(names.length - 5)} more`;
}
