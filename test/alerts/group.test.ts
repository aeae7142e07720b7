import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatchAlerts } from '../../src/alerts/dispatch.js';
import { createAlert } from '../../src/alerts/fingerprint.js';
import type { Alert } from '../../src/alerts/types.js';
import { folderAlertState, memoryLogger, startReceiver, VAULT_A, VAULT_B } from './support.js';

// One root cause, one notification: grouped when told, remembered per vault, and every member
// kept due when the grouped notification could not be delivered.

const VAULT_C = VAULT_B.replace('kv-stage', 'kv-test');
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-group-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function forbidden(vault: string): Alert {
  return createAlert({ vault, kind: 'vault-failed', subject: 'VAULT_FORBIDDEN', cause: 'VAULT_FORBIDDEN', severity: 'critical', title: 'x: VAULT_FORBIDDEN', details: ['not allowed'], action: 'Grant the role.', write: true });
}

describe('grouped notifications', () => {
  it('keeps every member due when the one notification is not delivered, and sends it whole next run', async () => {
    const vaults = [VAULT_A, VAULT_B, VAULT_C];
    let down = true;
    const receiver = await startReceiver(() => (down ? { status: 503 } : { status: 204 }));
    try {
      const state = folderAlertState(dir);
      const run = (hours: number, alerts: Alert[], writeScopes: string[] = []) =>
        dispatchAlerts({ alerts, evaluatedScopes: vaults, writeScopes, now: at(hours), repeatAfterHours: 24, state, logger: memoryLogger(), webhook: { url: receiver.url, format: 'generic', attempts: 1, timeoutMs: 2000 } });

      const first = await run(0, vaults.map(forbidden));
      expect(first.notifications.map((n) => [n.state, n.alert.title])).toEqual([['firing', 'VAULT_FORBIDDEN on 3 targets: kv-prod, kv-stage, kv-test']]);
      expect(first.webhook).toMatchObject({ sent: 0, failed: 1 });
      expect(receiver.requests).toHaveLength(1);

      down = false;
      const second = await run(1, vaults.map(forbidden));
      expect(second.notifications.map((n) => [n.state, n.alert.title])).toEqual([['firing', 'VAULT_FORBIDDEN on 3 targets: kv-prod, kv-stage, kv-test']]);
      expect(second.webhook).toMatchObject({ sent: 1, failed: 0 });
      expect(await run(2, vaults.map(forbidden))).toMatchObject({ notifications: [] });

      // Evaluated without a write (a dry run): nothing resolves. One vault written again: it alone resolves, told alone.
      expect(await run(3, [])).toMatchObject({ notifications: [] });
      const one = await run(4, [forbidden(VAULT_B), forbidden(VAULT_C)], [VAULT_A]);
      expect(one.notifications.map((n) => [n.state, n.alert.vault])).toEqual([['resolved', VAULT_A]]);
      const rest = await run(5, [], [VAULT_B, VAULT_C]);
      expect(rest.notifications.map((n) => [n.state, n.alert.title])).toEqual([['resolved', 'VAULT_FORBIDDEN on 2 targets: kv-stage, kv-test']]);
      expect(receiver.requests).toHaveLength(4);
    } finally {
      await receiver.close();
    }
  });
});
