import { actionFor } from '../alerts/actions.js';
import type { TargetReport } from '../core/report.js';
import { count, table } from '../core/text.js';
import type { RunReport } from './report.js';

/** The run's report as text, for people: the CLI's `sync` and the HTTP triggers' `format=text` print the same. */

function vaultName(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function findingSummary(v: TargetReport): string {
  const by = new Map<string, number>();
  for (const f of v.findings) by.set(f.severity, (by.get(f.severity) ?? 0) + 1);
  const parts = ['critical', 'warning', 'info'].filter((s) => by.has(s)).map((s) => `${by.get(s)} ${s}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

const LIST_CAP = 20;

function capped(items: readonly string[]): string {
  const shown = items.slice(0, LIST_CAP).join(', ');
  return items.length > LIST_CAP ? `${shown} and ${count(items.length - LIST_CAP)} more` : shown;
}

export function renderRunText(report: RunReport): string {
  const st = report.serviceTags;
  const lines: string[] = [];
  lines.push(`Service tags: ${st.cloud}, change ${st.changeNumber}${st.cacheUsed ? ' (last-known-good cache)' : ''} from ${st.url ?? st.path ?? 'unknown'}`);
  for (const w of st.warnings) lines.push(`warning: ${w}`);
  for (const e of report.errors ?? []) lines.push(`error ${e.code}: ${e.message}`);
  if (report.dryRun) lines.push('Dry run: nothing was written.');
  const fleet = report.fleet;
  if (fleet !== undefined) {
    lines.push(
      `Fleet: ${count(fleet.discovered)} discovered by tag, ${count(fleet.explicit)} explicit (${count(fleet.overridden)} also tagged), ${count(fleet.optedOut)} opted out, ${count(fleet.unprotected)} tagged with no usable profile` +
        (fleet.graph === undefined ? '' : `; Resource Graph: ${count(fleet.graph.requests)} request${fleet.graph.requests === 1 ? '' : 's'}, ${count(fleet.graph.bytes)} bytes${fleet.graph.throttled > 0 ? `, ${count(fleet.graph.throttled)} throttled` : ''}`),
    );
    for (const f of fleet.findings) lines.push(`${f.severity} ${f.code}: ${f.message}`);
  }
  const rows = report.vaults.map((v) => [
    vaultName(v.vault),
    v.checkedBy === 'resource-graph' ? `${v.outcome} (graph)` : v.outcome,
    `+${v.add.length}`,
    `-${v.remove.length}`,
    String(v.rules.unmanaged),
    String(v.rules.shared),
    `${v.rules.managed + v.rules.unmanaged + v.rules.shared}/${v.rules.limit}`,
    count(v.excessAddresses),
    findingSummary(v),
    v.drift.length === 0 ? '-' : String(v.drift.length),
  ]);
  lines.push(table([['TARGET', 'OUTCOME', 'ADD', 'REMOVE', 'UNMANAGED', 'SHARED', 'RULES', 'EXCESS', 'FINDINGS', 'DRIFT'], ...rows], new Set([2, 3, 4, 5, 6, 7])));
  for (const v of report.vaults) {
    const details: string[] = [];
    if (v.error !== undefined) details.push(`  error ${v.error.code}: ${v.error.message}`, `  do: ${actionFor(v.error.code).action}`);
    for (const r of v.reasons) details.push(`  ${v.outcome === 'refused' ? 'refused' : 'note'} ${r.code}: ${r.message}`);
    // The alerts' action for a refusal comes from the same table.
    if (v.outcome === 'refused') for (const code of new Set(v.reasons.map((r) => r.code))) details.push(`  do: ${actionFor(code).action}`);
    for (const f of v.forced ?? []) details.push(`  forced past guard ${f.code}: ${f.message}`);
    // A finding that repeats a reason (a skip's UNKNOWN_PROFILE, PUBLIC_ACCESS_DISABLED) is printed once, as the reason.
    const said = new Set<string>(v.reasons.map((r) => r.code));
    for (const f of v.findings) if (!said.has(f.code)) details.push(`  ${f.severity} ${f.code}: ${f.message}`);
    for (const d of v.drift) details.push(`  drift: ${d.detail}`);
    const w = v.widening;
    if (w !== undefined && w.totals.widenedRules > 0) {
      details.push(
        `  widened: ${count(w.totals.widenedRules)} rule${w.totals.widenedRules === 1 ? '' : 's'} admit ${count(w.totals.excessAddresses)} addresses beyond the source (${count(w.totals.excessInAzure)} in Azure, ${count(w.totals.excessOutsideAzure)} outside); widest: ${w.rules.slice(0, 3).map((r) => r.rule).join(', ')}`,
      );
    }
    if (v.add.length > 0) details.push(`  ${v.outcome === 'applied' ? 'added' : 'add'}: ${capped(v.add)}`);
    if (v.remove.length > 0) details.push(`  ${v.outcome === 'applied' ? 'removed' : 'remove'}: ${capped(v.remove)}`);
    if (v.unmanaged.length > 0) details.push(`  unmanaged (kept): ${capped(v.unmanaged)}`);
    if (v.shared.length > 0) details.push(`  shared (a person's, also wanted; kept): ${capped(v.shared)}`);
    if (v.adopted.length > 0) details.push(`  adopted on first contact: ${capped(v.adopted)}`);
    if (details.length > 0) lines.push('', `${v.vault}`, ...details);
  }
  const by = new Map<string, number>();
  for (const v of report.vaults) by.set(v.outcome, (by.get(v.outcome) ?? 0) + 1);
  lines.push('', `${report.vaults.length} target${report.vaults.length === 1 ? '' : 's'}: ${[...by].map(([o, n]) => `${n} ${o}`).join(', ')}`);
  return lines.join('\n');
}
