import { actionFor } from './actions.js';
import { createAlert } from './fingerprint.js';
import { RUN_SCOPE, type Alert } from './types.js';
import type { TargetReport } from '../core/report.js';

/**
 * Which outcomes of a run page someone, and what each alert says. Drift of owned rules,
 * strangers in authoritative mode, posture changes, a disabled firewall, refused plans,
 * failed vaults and stale or failed service tags alert; the normal life of a vault
 * (hand-made rules in merge mode, a weekly update applied) does not.
 */

function name(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function fixes(report: TargetReport, dryRun: boolean, what: string): string {
  if (report.outcome === 'applied') return `${what} on this run.`;
  if (report.outcome === 'refused') return `Nothing: the plan was refused (${report.reasons[0]?.message ?? 'a guard fired'}); a person must look.`;
  if (report.outcome === 'skipped') {
    const code = report.reasons[0]?.code;
    if (code === 'VAULT_BUSY') return `${what} by the run that is writing the target now, or on the next sync.`;
    if (code === 'DEADLINE') return `${what} on the next sync, which takes this target first.`;
    return 'Nothing: IP rules have no effect on this target.';
  }
  return dryRun ? `${what} on the next scheduled sync.` : `${what} on the next sync.`;
}

export function alertsForVault(report: TargetReport, dryRun: boolean): Alert[] {
  const alerts: Alert[] = [];
  const vault = report.vault;
  const missing = report.drift.flatMap((d) => (d.kind === 'missing' ? [d.rule] : []));
  if (missing.length > 0) {
    // Only the missing rules the allowlist still has come back (they are in the plan's adds).
    const back = missing.filter((r) => report.add.includes(r));
    const out = missing.filter((r) => !report.add.includes(r));
    const named = (rules: string[]) => (rules.length <= 3 ? rules.join(', ') : `${rules.length} of them`);
    const stayOut = out.length === 0 ? '' : `${named(out)} ${out.length === 1 ? 'is' : 'are'} no longer in the allowlist and stay${out.length === 1 ? 's' : ''} out.`;
    // A skipped target's report lists no adds: whether a rule comes back waits for the pass that is not skipped.
    const action = report.outcome === 'skipped'
      ? `Nothing this run: the target was skipped (${report.reasons.map((r) => r.code).join(', ')}); the first sync that is not restores the rules the allowlist still has.`
      : back.length === 0 ? `Nothing: ${stayOut}` : out.length === 0 ? fixes(report, dryRun, 'tagwall restores them') : `${fixes(report, dryRun, `tagwall restores ${named(back)}`)} ${stayOut}`;
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: 'RULE_MISSING',
        severity: 'warning',
        title: `${missing.length} owned rule${missing.length === 1 ? ' was' : 's were'} removed from ${name(vault)} outside tagwall`,
        details: missing.map((r) => `removed: ${r}`),
        rules: missing,
        action,
      }),
    );
  }
  const added = report.drift.flatMap((d) => (d.kind === 'added' ? [d.rule] : []));
  if (added.length > 0 && report.mode === 'authoritative') {
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: 'RULE_ADDED',
        severity: 'warning',
        title: `${added.length} rule${added.length === 1 ? ' was' : 's were'} added to ${name(vault)} outside tagwall (authoritative mode)`,
        details: added.map((r) => `added: ${r}`),
        rules: added,
        action: fixes(report, dryRun, 'tagwall removes them'),
      }),
    );
  }
  for (const d of report.drift) {
    if (d.kind !== 'posture') continue;
    alerts.push(
      createAlert({
        vault,
        kind: 'drift',
        subject: `${d.code}:${d.field}`,
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
        action: off.enforceDeny === true ? fixes(report, dryRun, 'tagwall sets defaultAction to Deny') : 'Nothing: set enforceDeny on the target, or turn the firewall on by hand.',
      }),
    );
  }
  const wide = report.findings.find((f) => f.code === 'WIDE_RULE');
  if (wide !== undefined && Array.isArray(wide.rules)) {
    const rules = wide.rules as readonly string[];
    alerts.push(
      createAlert({
        vault,
        kind: 'wide-rule',
        subject: 'WIDE_RULE',
        severity: 'warning',
        title: `${name(vault)}: ${rules.length} widened rule${rules.length === 1 ? '' : 's'} wider than /${String(wide.warnWidenedPrefix)}`,
        details: rules.map((r) => `widened: ${r}`),
        rules,
        action: 'Nothing: the rules stay within the guards. To narrow them, raise the rule limit, select fewer tags, or raise guards.maxWidenedPrefix (a longer prefix is a tighter bound).',
      }),
    );
  }
  const perimeter = report.findings.find((f) => f.code === 'PERIMETER_ENFORCED');
  if (perimeter !== undefined) {
    alerts.push(
      createAlert({
        vault,
        kind: 'perimeter-enforced',
        // The perimeter is what identifies the problem; moving to another one is a new problem.
        subject: `PERIMETER_ENFORCED:${String(perimeter.perimeter ?? perimeter.publicNetworkAccess ?? '').toLowerCase()}`,
        severity: 'warning',
        title: `${name(vault)}: a network security perimeter decides access; the vault's IP rules have no effect`,
        details: [perimeter.message],
        action: report.reasons.some((r) => r.code === 'PERIMETER_ENFORCED')
          ? 'Nothing: the write is skipped (skipWhenPerimeterEnforced); allow the service tags in the perimeter profile instead.'
          : 'tagwall keeps writing the IP rules, which take effect again if the vault leaves the perimeter; allow the service tags in the perimeter profile too.',
      }),
    );
  }
  const profile = report.findings.find((f) => f.code === 'UNKNOWN_PROFILE' || f.code === 'PROFILE_UNSUITABLE' || f.code === 'PROFILE_OUT_OF_SCOPE');
  if (profile !== undefined) {
    alerts.push(
      createAlert({
        vault,
        kind: 'unknown-profile',
        // The tag's value is the problem; another wrong value is another problem.
        subject: `${profile.code}:${String(profile.profile ?? '').toLowerCase()}`,
        severity: 'warning',
        title: `${name(vault)} is tagged for tagwall, but its profile ${JSON.stringify(String(profile.profile ?? ''))} ${profile.code === 'UNKNOWN_PROFILE' ? 'does not exist' : profile.code === 'PROFILE_OUT_OF_SCOPE' ? 'may not be used where it is' : 'cannot apply to it'}; it is not protected`,
        details: [profile.message],
        action:
          profile.code === 'PROFILE_OUT_OF_SCOPE'
            ? "Nothing is written to it until its tag names a profile allowed in its subscription or resource group (or off), or the profile's scope is widened to include it."
            : 'Nothing is written to it until its tag names a profile in the configuration (or off).',
      }),
    );
  }
  if (report.outcome === 'refused') {
    // The codes identify the problem; figures (how many rules, how much excess) move from run
    // to run while it stays the same problem, and wording may change in any release.
    const codes = [...new Set(report.reasons.map((r) => r.code))].sort();
    alerts.push(
      createAlert({
        vault,
        kind: 'plan-refused',
        subject: codes.join('|'),
        cause: codes.join('|'),
        severity: 'critical',
        title: `${name(vault)}: tagwall refused to write the plan`,
        details: report.reasons.map((r) => r.message),
        action: `Nothing is written to it until then. ${[...new Set(codes.map((c) => actionFor(c).action))].join(' ')}`,
      }),
    );
  }
  if (report.outcome === 'failed' && report.error !== undefined) {
    alerts.push(
      createAlert({
        vault,
        kind: 'vault-failed',
        subject: report.error.code,
        cause: report.error.code,
        severity: 'critical',
        title: `${name(vault)}: ${report.error.code}`,
        details: [report.error.message],
        action: actionFor(report.error.code).action,
        ...(report.error.during === 'write' ? { write: true } : {}),
      }),
    );
  }
  return alerts;
}

export function serviceTagAlerts(input: { stale?: string[]; failure?: string; failureCode?: string }): Alert[] {
  const alerts: Alert[] = [];
  if (input.failure !== undefined) {
    alerts.push(
      createAlert({
        vault: RUN_SCOPE,
        kind: 'service-tags-failed',
        severity: 'critical',
        title: 'tagwall could not get a usable service-tags file; no target was changed',
        details: [input.failure],
        // A download outage retries; a file that is refused or a setting that is wrong does not.
        action: `${actionFor(input.failureCode ?? 'SERVICE_TAGS_UNAVAILABLE').action} Vaults keep their current rules.`,
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

/** Run-level findings of discovery that someone must act on; info findings page nobody. */
export function discoveryAlerts(findings: readonly { readonly code: string; readonly severity: string; readonly message: string; readonly [k: string]: unknown }[]): Alert[] {
  return findings
    .filter((f) => f.severity !== 'info')
    .map((f) =>
      createAlert({
        vault: RUN_SCOPE,
        kind: 'discovery',
        // What is unreadable identifies the problem; the counts in a shrink change from run to run.
        subject: `${f.code}:${String(f.subscriptionId ?? f.managementGroup ?? '').toLowerCase()}`,
        severity: f.severity === 'critical' ? 'critical' : 'warning',
        title:
          f.code === 'DISCOVERY_SHRANK'
            ? 'tagwall found far fewer firewalls than before; no rule is removed anywhere until that is explained'
            : f.code === 'SCOPE_UNREADABLE'
              ? `tagwall cannot read part of its discovery scope: ${String(f.subscriptionId ?? f.managementGroup ?? '')}`
              : `tagwall discovery: ${f.code}`,
        details: [f.message],
        action:
          f.code === 'DISCOVERY_SHRANK'
            ? 'Rules are still added; removals resume when discovery finds the fleet again, or after one sync with --force accepts the smaller fleet.'
            : 'Firewalls there keep their current rules; grant the identity Reader on the scope, or remove it from discover.scope.',
      }),
    );
}

/** Vaults that were read this run; only their alerts may resolve. */
export function evaluatedScopes(reports: readonly TargetReport[]): string[] {
  return [RUN_SCOPE, ...reports.filter((r) => r.outcome !== 'failed').map((r) => r.vault)];
}

/**
 * Vaults whose write question this run settled: it wrote them, or read them and found nothing to
 * write. Only there does a failed write's alert resolve; a dry run settles none (it never writes,
 * so a read that works says nothing of the 403 or the limit the write met).
 */
export function writeScopes(reports: readonly TargetReport[], dryRun: boolean): string[] {
  return dryRun ? [] : reports.filter((r) => r.outcome === 'applied' || r.outcome === 'in-sync').map((r) => r.vault);
}

/**
 * Alerts for a run's vaults. Without a credential every vault fails the same way: that is one
 * run-wide alert naming the cause and the count, not one per vault (it resolves on the next run
 * that gets a token). Otherwise each vault's alerts, as `alertsForVault` builds them.
 */
export function alertsForVaults(reports: readonly TargetReport[], dryRun: boolean, credentialError?: { readonly code: string; readonly message: string }): Alert[] {
  const tokenless = (r: TargetReport) => credentialError !== undefined && r.outcome === 'failed' && /_(CREDENTIAL_UNAVAILABLE|AUTHENTICATION_FAILED)$/.test(r.error?.code ?? '');
  const alerts = reports.filter((r) => !tokenless(r)).flatMap((r) => alertsForVault(r, dryRun));
  const stopped = reports.filter(tokenless);
  if (credentialError === undefined || stopped.length === 0) return alerts;
  const n = stopped.length;
  alerts.push(
    createAlert({
      vault: RUN_SCOPE,
      kind: 'vault-failed',
      // One cause, whatever the kinds of the firewalls it stopped (their own codes are VAULT_* or TARGET_*).
      subject: credentialError.code,
      severity: 'critical',
      title: `tagwall could not get a token for Azure Resource Manager (${credentialError.code}): ${n} target${n === 1 ? ' was' : 's were'} not read`,
      details: [credentialError.message, ...stopped.map((r) => `not read: ${r.vault}`)],
      action: actionFor(credentialError.code).action,
    }),
  );
  return alerts;
}

/**
 * A shard the host gave up on: its message was delivered maxDequeueCount times and never finished,
 * so none of its vaults is known to be in step. Run-wide, because it concerns many vaults at once;
 * the run and shard are its subject, so each such shard pages once.
 */
export function shardFailedAlert(input: { readonly runId: string; readonly shard: number; readonly vaults: readonly string[] }): Alert {
  const n = input.vaults.length;
  return createAlert({
    vault: RUN_SCOPE,
    kind: 'shard-failed',
    subject: `${input.runId.toLowerCase()}#${input.shard}`,
    severity: 'critical',
    title: `tagwall gave up on shard ${input.shard} of run ${input.runId}: ${n} target${n === 1 ? ' was' : 's were'} not reconciled (SHARD_FAILED)`,
    details: input.vaults.map((v) => `not reconciled: ${v}`),
    action: 'Retries on the next sync, which finds these vaults again; the logs of the shard\'s failed deliveries say why it failed.',
  });
}
