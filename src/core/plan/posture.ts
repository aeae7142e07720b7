import type { Finding, ObservedFirewall, Reason, TargetSettings } from './model.js';

/**
 * What the firewall's own settings mean for its IP rules: whether they take effect at all,
 * whether tagwall may turn the firewall on, and what a person should know. Perimeter modes
 * follow Microsoft's Key Vault network-security page: under an Enforced association (or
 * `publicNetworkAccess: SecuredByPerimeter`) the perimeter's access rules decide and the
 * vault's IP rules do nothing; under Learning the vault's own settings still apply.
 */

const DEFAULT_VNET_LIMIT = 200;

export interface PostureVerdict {
  readonly findings: Finding[];
  readonly setDeny: boolean;
  readonly skip?: Reason;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function perimeterFindings(firewall: ObservedFirewall, settings: TargetSettings): { findings: Finding[]; skip?: Reason } {
  const p = firewall.posture;
  const view = firewall.perimeter;
  const securedByPerimeter = p.publicNetworkAccess?.toLowerCase() === 'securedbyperimeter';
  const enforcedAssociation = view?.state === 'associated' && view.accessMode.toLowerCase() === 'enforced';
  if (securedByPerimeter || enforcedAssociation) {
    const by = enforcedAssociation ? `an Enforced association with perimeter ${view.perimeter}` : 'publicNetworkAccess SecuredByPerimeter';
    const effect = settings.skipWhenPerimeterEnforced ? 'tagwall skips the write (skipWhenPerimeterEnforced)' : 'tagwall still writes them, so they hold again if the target leaves the perimeter';
    const finding: Finding = {
      severity: 'warning',
      code: 'PERIMETER_ENFORCED',
      message: `the target is under ${by}: the perimeter's access rules decide who gets in and the target's IP rules have no effect; ${effect}`,
      ...(enforcedAssociation ? { perimeter: view.perimeter, accessMode: view.accessMode, ...(view.profile === undefined ? {} : { profile: view.profile }) } : { publicNetworkAccess: p.publicNetworkAccess ?? '' }),
    };
    return {
      findings: [finding],
      ...(settings.skipWhenPerimeterEnforced ? { skip: { code: 'PERIMETER_ENFORCED', message: 'the perimeter decides access, so IP rules have no effect (skipWhenPerimeterEnforced)' } } : {}),
    };
  }
  if (view?.state === 'associated') {
    return {
      findings: [
        {
          severity: 'info',
          code: 'PERIMETER_LEARNING',
          message: `the target is associated with perimeter ${view.perimeter} in ${view.accessMode} mode: its own publicNetworkAccess and IP rules still apply`,
          perimeter: view.perimeter,
          accessMode: view.accessMode,
          ...(view.profile === undefined ? {} : { profile: view.profile }),
        },
      ],
    };
  }
  if (view?.state === 'unknown') {
    return { findings: [{ severity: 'info', code: 'PERIMETER_UNKNOWN', message: `the target's perimeter association could not be read (${view.reason}); the IP rules are written as usual`, reason: view.reason, ...(view.code === undefined ? {} : { cause: view.code }) }] };
  }
  return { findings: [] };
}

export function postureFindings(firewall: ObservedFirewall, settings: TargetSettings): PostureVerdict {
  const findings: Finding[] = [];
  let setDeny = false;
  let skip: Reason | undefined;
  const p = firewall.posture;
  const perimeter = perimeterFindings(firewall, settings);
  if (p.publicNetworkAccess?.toLowerCase() === 'disabled') {
    const why = 'public network access is disabled, so IP rules are not honoured; only private endpoints get in';
    skip = { code: 'PUBLIC_ACCESS_DISABLED', message: why };
    findings.push({ severity: 'info', code: 'PUBLIC_ACCESS_DISABLED', message: `${why}; no write` });
  } else if (firewall.unsupported === undefined && (p.defaultAction ?? 'Allow').toLowerCase() !== 'deny') {
    // A firewall that cannot take IP rules as it is (a registry below Premium) has nothing to
    // turn on: its kind's own finding says why, and enforceDeny could not help.
    setDeny = settings.enforceDeny;
    findings.push({
      severity: 'critical',
      code: 'FIREWALL_DISABLED',
      message: settings.enforceDeny
        ? 'the firewall is off (defaultAction Allow): every network can reach the target; tagwall sets defaultAction to Deny (enforceDeny)'
        : 'the firewall is off (defaultAction Allow): every network can reach the target and IP rules do nothing; set enforceDeny on the target to let tagwall turn it on',
      defaultAction: p.defaultAction ?? 'Allow',
      enforceDeny: settings.enforceDeny,
    });
  }
  findings.push(...perimeter.findings);
  skip ??= perimeter.skip;
  findings.push(...(firewall.kindFindings ?? []));
  if (firewall.unsupported !== undefined) {
    skip ??= { code: 'TARGET_UNSUPPORTED', message: firewall.unsupported.message, cause: firewall.unsupported.code };
  }
  if (settings.expectBypass !== undefined && (p.bypass ?? '').toLowerCase() !== settings.expectBypass.toLowerCase()) {
    findings.push({
      severity: 'warning',
      code: 'BYPASS_MISMATCH',
      message: `bypass is ${JSON.stringify(p.bypass ?? 'unset')}, expected ${JSON.stringify(settings.expectBypass)}`,
      bypass: p.bypass ?? '',
      expected: settings.expectBypass,
    });
  }
  const vnet = firewall.virtualNetworkRuleCount;
  const vnetLimit = settings.maxVirtualNetworkRules ?? DEFAULT_VNET_LIMIT;
  if (vnet > 0) {
    findings.push({
      severity: vnet > vnetLimit ? 'warning' : 'info',
      code: 'VNET_RULES',
      message: `${plural(vnet, 'virtual-network rule')} preserved (limit ${vnetLimit})`,
      count: vnet,
      limit: vnetLimit,
    });
  }
  return { findings, setDeny, ...(skip === undefined ? {} : { skip }) };
}
