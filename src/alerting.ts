import { createAlert } from './alerts/fingerprint.js';
import { RUN_SCOPE, type Alert } from './alerts/types.js';
import type { VaultReport } from './reconcile.js';

/**
 * Which outcomes of a run page someone, and what each alert says. Drift of owned rules,
 * strangers in authoritative mode, posture changes, a disabled firewall, refused plans,
 * failed vaults and stale or failed service tags alert; the normal life of a vault
 * (hand-made rules in merge mode, a weekly update applied) does not.
 */

function name(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function fixes(report: VaultReport, dryRun: boolean, what: string): string {
  if (report.outcome === 'applied') return `${what} on this run.`;
  if (report.outcome === 'refused') return `Nothing: the plan was refused (${report.reasons[0] ?? 'a guard fired'}); a person must look.`;
  if (report.outcome === 'skipped') return 'Nothing: IP rules have no effect on this vault.';
  return dryRun ? `${what} on the next scheduled sync.` : `${what} on the next sync.`;
}

export function alertsForVault(report: VaultReport, dryRun: boolean): Alert[] {
  const alerts: Alert[] = [];
  const vault = report.vault;
  const missing = report.drift.filter((d) => d.kind === 'missing').map((d) => d.rule!);
  if (missing.length > 0) {
    // Only the missing rules the allowlist still has come back (they are in the plan's adds).
    const back = missing.filter((r) => report.add.includes(r));
    const out = missing.filter((r) => !report.add.includes(r));
    const named = (rules: string[]) => (rules.length <= 3 ? rules.join(', ') : `${rules.length} of them`);
    const stayOut = out.length === 0 ? '' : `${named(out)} ${out.length === 1 ? 'is' : 'are'} no longer in the allowlist and stay${out.length === 1 ? 's' : ''} out.`;
    const action =
      back.length === 0 ? `Nothing: ${stayOut}` : out.length === 0 ? fixes(report, dryRun, 'tagwall restores them') : `${fixes(report, dryRun, `tagwall restores ${named(back)}`)} ${stayOut}`;
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: 'missing',
        severity: 'warning',
        title: `${missing.length} owned rule${missing.length === 1 ? ' was' : 's were'} removed from ${name(vault)} outside tagwall`,
        details: missing.map((r) => `removed: ${r}`),
        rules: missing,
        action,
      }),
    );
  }
  const added = report.drift.filter((d) => d.kind === 'added').map((d) => d.rule!);
  if (added.length > 0 && report.mode === 'authoritative') {
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: 'added',
        severity: 'warning',
        title: `${added.length} rule${added.length === 1 ? ' was' : 's were'} added to ${name(vault)} outside tagwall (authoritative mode)`,
        details: added.map((r) => `added: ${r}`),
        rules: added,
        action: fixes(report, dryRun, 'tagwall removes them'),
      }),
    );
  }
  for (const d of report.drift.filter((x) => x.kind === 'posture')) {
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: `posture:${d.detail.split(' ')[0]}`,
        severity: 'warning',
        title: `${name(vault)}: ${d.detail}`,
        details: [d.detail],
        action: 'Nothing: tagwall reports posture changes but does not revert them (except defaultAction with enforceDeny).',
      }),
    );
  }
  const off = report.findings.find((f) => f.code === 'FIREWALL_DISABLED');
  if (off !== undefined) {
    alerts.push(
      createAlert({
        vault,
        kind: 'firewall-disabled',
        severity: 'critical',
        title: `${name(vault)}: the firewall is off (defaultAction Allow)`,
        details: [off.message],
        action: off.message.includes('tagwall sets defaultAction to Deny') ? fixes(report, dryRun, 'tagwall sets defaultAction to Deny') : 'Nothing: set enforceDeny on the target, or turn the firewall on by hand.',
      }),
    );
  }
  if (report.outcome === 'refused') {
    alerts.push(
      createAlert({
        vault,
        kind: 'plan-refused',
        // Numbers change from run to run while the problem stays the same; so does 'rule' after a count of one.
        subject: report.reasons.map((r) => r.replace(/[\d.,%]+/g, '#').replace(/\brules\b/g, 'rule')).join('|'),
        severity: 'critical',
        title: `${name(vault)}: tagwall refused to write the plan`,
        details: [...report.reasons],
        action: 'Nothing: the vault is left as it is until the cause is fixed or a person runs sync with --force.',
      }),
    );
  }
  if (report.outcome === 'failed' && report.error !== undefined) {
    alerts.push(
      createAlert({
        vault,
        kind: 'vault-failed',
        subject: report.error.code,
        severity: 'critical',
        title: `${name(vault)}: ${report.error.code}`,
        details: [report.error.message],
        action: 'Retries on the next run; other vaults are not affected.',
      }),
    );
  }
  return alerts;
}

export function serviceTagAlerts(input: { stale?: string[]; failure?: string }): Alert[] {
  const alerts: Alert[] = [];
  if (input.failure !== undefined) {
    alerts.push(
      createAlert({
        vault: RUN_SCOPE,
        kind: 'service-tags-failed',
        severity: 'critical',
        title: 'tagwall could not get a usable service-tags file; no vault was changed',
        details: [input.failure],
        action: 'Retries on the next run; vaults keep their current rules.',
      }),
    );
  }
  if (input.stale !== undefined && input.stale.length > 0) {
    alerts.push(
      createAlert({
        vault: RUN_SCOPE,
        kind: 'service-tags-stale',
        severity: 'warning',
        title: 'tagwall is working from a stale service-tags file',
        details: input.stale,
        action: 'Keeps using the last-known-good file until a fresh one can be fetched, within maxStaleDays.',
      }),
    );
  }
  return alerts;
}

/** Vaults that were read this run; only their alerts may resolve. */
export function evaluatedScopes(reports: readonly VaultReport[]): string[] {
  return [RUN_SCOPE, ...reports.filter((r) => r.outcome !== 'failed').map((r) => r.vault)];
}
