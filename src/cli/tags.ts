import type { ServiceTagDocument } from '../core/service-tags.js';
import { writeLine, type CliIO } from './io.js';
import type { ServiceTagsOrigin } from './plan.js';
import { count, table } from '../core/text.js';

/** `tagwall tags`: what can be selected, with enough detail to choose. */
export function runTags(doc: ServiceTagDocument, origin: ServiceTagsOrigin, options: { search?: string; region?: string; json: boolean }, io: CliIO, warnings: readonly string[] = []): void {
  const needle = options.search?.toLowerCase();
  const region = options.region?.trim().toLowerCase();
  // Sorted by name: the file's own order is not one a person can scan.
  const byName = (a: string, b: string) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : a < b ? -1 : a > b ? 1 : 0);
  const tags = doc.tags
    .filter((t) => needle === undefined || [t.name, t.region, t.systemService].some((f) => f.toLowerCase().includes(needle)))
    .filter((t) => region === undefined || t.region.toLowerCase() === region)
    .sort((a, b) => byName(a.name, b.name));
  const rows = tags.map((t) => ({ name: t.name, region: t.region, systemService: t.systemService, ipv4: t.ipv4.length, ipv6: t.ipv6Count }));
  if (options.json) {
    // The same serviceTags and warnings as `plan --json`, so a script reads both one way.
    writeLine(io.stdout, JSON.stringify({ serviceTags: { cloud: doc.cloud, changeNumber: doc.changeNumber, ...origin }, tags: rows, warnings }));
    return;
  }
  for (const w of warnings) writeLine(io.stderr, `warning: ${w}`);
  if (rows.length === 0) {
    writeLine(io.stderr, `no tag matches${options.search === undefined ? '' : ` ${JSON.stringify(options.search)}`}${region === undefined ? '' : ` in region ${JSON.stringify(region)}`}`);
    return;
  }
  writeLine(
    io.stdout,
    table(
      [['TAG', 'REGION', 'SYSTEM SERVICE', 'IPV4', 'IPV6'], ...rows.map((r) => [r.name, r.region || '-', r.systemService || '-', count(r.ipv4), count(r.ipv6)])],
      new Set([3, 4]),
    ),
  );
  writeLine(io.stderr, `${count(rows.length)} of ${count(doc.tags.length)} tags (${doc.cloud}, change ${doc.changeNumber})`);
}
