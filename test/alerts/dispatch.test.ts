import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatchAlerts, type DispatchInput } from '../../src/alerts/dispatch.js';
import { scopeOf } from '../../src/alerts/fingerprint.js';
import type { AlertState, AlertStateAccess } from '../../src/alerts/types.js';
import { TagwallError } from '../../src/core/errors.js';
import { AlertStateRepository } from '../../src/state/records.js';
import { FolderStore } from '../../src/state/store.js';
import { VAULT_A, VAULT_B, driftAlert, folderAlertState, memoryLogger, simpleAlert, startReceiver } from './support.js';

const HOUR = 3_600_000;
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-alerts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const drift = driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.1.0/24']);
const disabled = simpleAlert(VAULT_B, 'firewall-disabled', 'critical');

function base(state: AlertStateAccess, overrides: Partial<DispatchInput> = {}): DispatchInput {
  return { alerts: [drift, disabled], evaluatedScopes: [VAULT_A, VAULT_B], now: T0, repeatAfterHours: 24, state, logger: memoryLogger(), ...overrides };
}

describe('persistence across runs', () => {
  it('remembers sent alerts in a FolderStore between two dispatches, then resolves them', async () => {
    const first = await dispatchAlerts(base(folderAlertState(dir)));
    expect(first.notifications.map((n) => n.state)).toEqual(['firing', 'firing']);
    expect(first.state).toEqual({ saved: [scopeOf(VAULT_A), scopeOf(VAULT_B)], errors: [] });
    expect((await readdir(dir)).length).toBe(2);

    // A fresh adapter over the same folder, as the next run would have.
    const second = await dispatchAlerts(base(folderAlertState(dir), { now: at(1) }));
    expect(second.notifications).toEqual([]);
    expect(second.state.saved).toEqual([]);

    const third = await dispatchAlerts(base(folderAlertState(dir), { alerts: [disabled], now: at(2) }));
    expect(third.notifications.map((n) => [n.state, n.alert.fingerprint])).toEqual([['resolved', drift.fingerprint]]);

    const fourth = await dispatchAlerts(base(folderAlertState(dir), { alerts: [disabled], now: at(3) }));
    expect(fourth.notifications).toEqual([]);
    const stored = await folderAlertState(dir).load(scopeOf(VAULT_A));
    expect(stored?.state).toEqual({ version: 1, alerts: [] });

    const fifth = await dispatchAlerts(base(folderAlertState(dir), { alerts: [disabled], now: at(26) }));
    expect(fifth.notifications.map((n) => [n.state, n.alert.kind])).toEqual([['repeat', 'firewall-disabled']]);
  });

  it('plugs into the AlertStateRepository over a FolderStore', async () => {
    const repo = new AlertStateRepository(new FolderStore(dir));
    const run = (hours: number, alerts = [drift, disabled, simpleAlert('', 'service-tags-stale', 'warning')]) =>
      dispatchAlerts(base(repo, { alerts, evaluatedScopes: [VAULT_A, VAULT_B, '_run'], now: at(hours) }));
    expect((await run(0)).notifications).toHaveLength(3);
    expect((await run(1)).notifications).toHaveLength(0);
    const loaded = await repo.load(VAULT_A);
    expect(loaded?.state.alerts.map((a) => a.fingerprint)).toEqual([drift.fingerprint]);
    expect((await repo.load('_run'))?.state.alerts.map((a) => a.kind)).toEqual(['service-tags-stale']);
    const cleared = await run(2, []);
    expect(cleared.notifications.map((n) => n.state)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(cleared.state.errors).toEqual([]);
  });

  it('keeps the alerts of a vault that could not be read until it is read again', async () => {
    const state = folderAlertState(dir);
    await dispatchAlerts(base(state));
    const failed = simpleAlert(VAULT_A, 'vault-failed', 'warning');
    const r = await dispatchAlerts(base(state, { alerts: [failed, disabled], evaluatedScopes: [VAULT_B], now: at(1) }));
    expect(r.notifications.map((n) => [n.state, n.alert.kind])).toEqual([['firing', 'vault-failed']]);
    const kinds = (await state.load(scopeOf(VAULT_A)))?.state.alerts.map((a) => a.kind);
    expect(kinds).toEqual(['vault-failed', 'drift']);
  });

  it('still alerts when state cannot be read, and does not overwrite it', async () => {
    const inner = folderAlertState(dir);
    await dispatchAlerts(base(inner));
    const broken: AlertStateAccess = {
      load: async (scope) => {
        if (scope === scopeOf(VAULT_A)) throw new TagwallError('STATE_CORRUPT', 'state for kv-prod is corrupt');
        return inner.load(scope);
      },
      save: (scope, s, etag) => inner.save(scope, s, etag),
    };
    const logger = memoryLogger();
    const r = await dispatchAlerts(base(broken, { alerts: [disabled], now: at(1), logger }));
    // VAULT_A's drift is not resolved (nothing known), VAULT_B is silent as before.
    expect(r.notifications).toEqual([]);
    expect(r.state.errors).toEqual([`alert state for ${scopeOf(VAULT_A)} could not be read: state for kv-prod is corrupt`]);
    expect(logger.entries.some((e) => e.level === 'error' && e.message.includes('is corrupt'))).toBe(true);
    // With VAULT_A's drift still present, it alerts again rather than staying silent.
    const again = await dispatchAlerts(base(broken, { now: at(2) }));
    expect(again.notifications.map((n) => [n.state, n.alert.fingerprint])).toEqual([['firing', drift.fingerprint]]);
    expect((await inner.load(scopeOf(VAULT_A)))?.state.alerts[0]?.lastSent).toBe(T0.toISOString());
  });

  it('reports a save that loses a race instead of throwing', async () => {
    const state = folderAlertState(dir);
    const racing: AlertStateAccess = {
      load: (scope) => state.load(scope),
      save: async (scope, s, etag) => {
        // Another run writes first.
        await state.store.put(`alerts-${scope}`, JSON.stringify({ version: 1, alerts: [] } satisfies AlertState));
        return state.save(scope, s, etag);
      },
    };
    const r = await dispatchAlerts(base(racing));
    expect(r.notifications).toHaveLength(2);
    expect(r.state.saved).toEqual([]);
    expect(r.state.errors).toHaveLength(2);
    expect(r.state.errors[0]).toMatch(/could not be saved: .*was changed by another run/);
  });
});

describe('log sink', () => {
  it('logs one tagwall.alert event per notification, as a queryable line and as properties', async () => {
    const logger = memoryLogger();
    await dispatchAlerts(base(folderAlertState(dir), { logger }));
    const events = logger.entries.filter((e) => e.message.startsWith('tagwall.alert '));
    expect(events).toHaveLength(2);
    for (const e of events) {
      const payload = JSON.parse(e.message.slice('tagwall.alert '.length)) as Record<string, unknown>;
      expect(payload).toEqual(e.props);
      expect(payload).toMatchObject({ event: 'tagwall.alert', state: 'firing', at: T0.toISOString() });
      expect(Object.keys(payload)).toEqual(expect.arrayContaining(['vault', 'kind', 'severity', 'fingerprint', 'state', 'title', 'details', 'action']));
    }
    expect(events[0]).toMatchObject({ level: 'warn', props: { vault: VAULT_A, vaultName: 'kv-prod', kind: 'drift', severity: 'warning', fingerprint: drift.fingerprint, rules: ['10.0.0.0/24', '10.0.1.0/24'], ruleCount: 2 } });
    expect(events[1]).toMatchObject({ level: 'error', props: { vault: VAULT_B, kind: 'firewall-disabled', severity: 'critical' } });

    const resolvedLogger = memoryLogger();
    await dispatchAlerts(base(folderAlertState(dir), { alerts: [], now: at(1), logger: resolvedLogger }));
    expect(resolvedLogger.entries.map((e) => [e.level, e.props?.state, e.props?.kind])).toEqual([
      ['info', 'resolved', 'drift'],
      ['info', 'resolved', 'firewall-disabled'],
    ]);
  });

  it('caps the rules and details in the log event', async () => {
    const logger = memoryLogger();
    const many = driftAlert(VAULT_A, Array.from({ length: 30 }, (_, i) => `10.0.${i}.0/24`));
    await dispatchAlerts(base(folderAlertState(dir), { alerts: [many], evaluatedScopes: [VAULT_A], logger }));
    const props = logger.entries[0]!.props as { rules: string[]; details: string[]; ruleCount: number };
    expect(props.rules).toHaveLength(21);
    expect(props.rules[20]).toBe('and 10 more');
    expect(props.details[20]).toBe('and 10 more');
    expect(props.ruleCount).toBe(30);
  });
});

describe('dry run', () => {
  it('logs what would be sent, under a name no alert rule matches, and neither POSTs nor saves', async () => {
    const receiver = await startReceiver();
    try {
      const logger = memoryLogger();
      const state = folderAlertState(join(dir, 'state'));
      const r = await dispatchAlerts(base(state, { logger, dryRun: true, webhook: { url: receiver.url, format: 'slack' } }));
      expect(r.notifications.map((n) => n.state)).toEqual(['firing', 'firing']);
      expect(r.webhook).toEqual({ sent: 0, failed: 0, errors: [] });
      expect(r.state.saved).toEqual([]);
      expect(receiver.requests).toHaveLength(0);
      expect(await state.load(scopeOf(VAULT_A))).toBeUndefined();
      expect(logger.entries).toHaveLength(2);
      for (const e of logger.entries) {
        expect(e.message).toMatch(/^tagwall\.would-alert \{/);
        expect(e.message).not.toContain('tagwall.alert');
        expect(e.level).toBe('info');
      }
      // The real run afterwards still sends both.
      const real = await dispatchAlerts(base(state, { webhook: { url: receiver.url, format: 'slack' } }));
      expect(real.webhook.sent).toBe(2);
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await receiver.close();
    }
  });
});

describe('state file contents', () => {
  it('are the documented AlertState shape', async () => {
    await dispatchAlerts(base(folderAlertState(dir)));
    const files = await readdir(dir);
    const parsed = JSON.parse(await readFile(join(dir, files.sort()[0]!), 'utf8')) as AlertState;
    expect(parsed.version).toBe(1);
    expect(Object.keys(parsed.alerts[0]!).sort()).toEqual(['fingerprint', 'firstSeen', 'kind', 'lastSent', 'severity', 'summary', 'vault']);
  });
});
