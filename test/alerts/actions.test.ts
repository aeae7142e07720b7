import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACTIONS, actionFor, RETRIES } from '../../src/alerts/actions.js';
import { alertsForVault } from '../../src/alerts/policy.js';
import { renderRunText } from '../../src/run/text-report.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import type { ReasonCode } from '../../src/core/target-plan.js';
import type { RunReport } from '../../src/run/run.js';
import { firewallError } from '../../src/arm/errors.js';
import { VAULT_A } from './support.js';
import type { TargetReport } from '../../src/core/report.js';

// One table of what happens next, by code, read by the alerts and the text report alike: "Retries
// on the next run" only where the failure is transient, and what a person must do everywhere else.

/** Every code of a string union, read from the source that declares it (not from the table under test). */
function unionCodes(file: string, type: string): string[] {
  const text = readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8');
  const start = text.indexOf(`export type ${type} =`);
  const body = text.slice(start, text.indexOf(';', start));
  return [...body.matchAll(/\|\s*'([A-Z0-9_]+)'/g)].map((m) => m[1]!);
}

const ERROR_CODES = unionCodes('core/errors.ts', 'ErrorCode');
const REASON_CODES = unionCodes('core/plan/model.ts', 'ReasonCode');

/** Codes a person must act on; the issue names these, and the next run would fail the same way. */
const NOT_TRANSIENT = ['VAULT_FORBIDDEN', 'TARGET_FORBIDDEN', 'VAULT_NOT_FOUND', 'TARGET_NOT_FOUND', 'RUN_NOT_FOUND', 'STATE_CORRUPT', 'TARGET_WOULD_ENABLE_FIREWALL', 'TARGET_WOULD_DISABLE_FIREWALL', 'VAULT_CREDENTIAL_UNAVAILABLE', 'VAULT_TLS', 'VAULT_BAD_REQUEST', 'STATE_CONTAINER_MISSING'];
/** Codes the next run can get past on its own. */
const TRANSIENT = ['VAULT_TIMEOUT', 'VAULT_THROTTLED', 'VAULT_SERVER_ERROR', 'VAULT_CONFLICT', 'VAULT_NETWORK', 'TARGET_OPERATION_TIMEOUT', 'STATE_UNAVAILABLE', 'VAULT_BUSY', 'DEADLINE'];

function failedReport(code: string): TargetReport {
  return {
    vault: VAULT_A,
    outcome: 'failed',
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: 1000 },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: 'merge',
    error: { code: code as ErrorCode, message: `it failed with ${code}` },
  };
}

function runText(vault: TargetReport): string {
  const report: RunReport = { dryRun: false, serviceTags: { cloud: 'Public', changeNumber: 1, cacheUsed: false, warnings: [] }, vaults: [vault] } as unknown as RunReport;
  return renderRunText(report);
}

describe('the table of actions by code', () => {
  it('has an entry for every error code and every reason code, and nothing else', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(100);
    expect(REASON_CODES).toContain('TARGET_WOULD_ENABLE_FIREWALL');
    expect(Object.keys(ACTIONS).sort()).toEqual([...new Set([...ERROR_CODES, ...REASON_CODES])].sort());
  });

  it.each([...new Set([...ERROR_CODES, ...REASON_CODES])])('%s: "Retries on the next run" exactly when it retries, and something to do otherwise', (code) => {
    const { retries, action } = actionFor(code);
    expect(action.startsWith(RETRIES)).toBe(retries);
    if (!retries) {
      expect(action).not.toMatch(/retries on the next run/i);
      expect(action.length).toBeGreaterThan(20);
    }
  });

  it.each(NOT_TRANSIENT)('%s says what a person must do', (code) => {
    expect(actionFor(code).retries).toBe(false);
  });

  it.each(TRANSIENT)('%s retries', (code) => {
    expect(actionFor(code).retries).toBe(true);
  });

  it('agrees with what the ARM error mapping calls transient, for every status and both code families', () => {
    const ref = parseResourceId(VAULT_A);
    let checked = 0;
    for (const codes of ['VAULT', 'TARGET'] as const) {
      for (const action of ['read', 'write'] as const) {
        for (const statusCode of [400, 401, 403, 404, 408, 409, 418, 429, 500, 503]) {
          const e = firewallError({ name: 'RestError', message: 'no', statusCode }, ref, action, { title: 'Key Vault', permissions: 'x', codes });
          expect([e.code, actionFor(e.code).retries]).toEqual([e.code, e.transient]);
          checked++;
        }
        for (const shape of [{ name: 'RestError', message: 'no', code: 'ECONNRESET' }, { name: 'AbortError', message: 'no' }, { name: 'CredentialUnavailableError', message: 'no' }, { message: 'no', code: 'CERT_HAS_EXPIRED' }]) {
          const e = firewallError(shape, ref, action, { title: 'Key Vault', permissions: 'x', codes });
          expect([e.code, actionFor(e.code).retries]).toEqual([e.code, e.transient]);
          checked++;
        }
      }
    }
    expect(checked).toBe(56);
  });
});

describe('alerts and the report read the same table', () => {
  it.each(ERROR_CODES)("a vault failed with %s: the alert's action and the report's `do:` line are the table's", (code) => {
    const report = failedReport(code);
    const [alert] = alertsForVault(report, false);
    expect(alert).toMatchObject({ kind: 'vault-failed', action: ACTIONS[code as ErrorCode].action });
    expect(runText(report).split('\n')).toContain(`  do: ${ACTIONS[code as ErrorCode].action}`);
  });

  it('a refused plan: the alert names what to do for its code, not "run with --force" when force cannot help', () => {
    const reasons = [{ code: 'TARGET_WOULD_ENABLE_FIREWALL' as ReasonCode, message: 'the firewall is off' }];
    const report = { ...failedReport('INTERNAL'), outcome: 'refused' as const, reasons, error: undefined };
    const [alert] = alertsForVault(report, false).filter((a) => a.kind === 'plan-refused');
    expect(alert!.action).toContain(ACTIONS.TARGET_WOULD_ENABLE_FIREWALL.action);
    expect(alert!.action).not.toMatch(/--force/);
    expect(runText(report).split('\n')).toContain(`  do: ${ACTIONS.TARGET_WOULD_ENABLE_FIREWALL.action}`);
  });
});
