import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchAlerts } from '../../src/alerts/dispatch.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { AlertStateRepository } from '../../src/state/records.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { startRecordingProxy } from '../helpers/recording-proxy.js';
import { driftAlert, memoryLogger } from './support.js';

/**
 * A fleet run evaluates thousands of firewalls, few of which have alert memory. Reading that
 * memory one firewall at a time cost a blob request per firewall (about 109 s per 10,000 at
 * blob latency); it is read with one listing and then only the records that exist.
 */

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(() => azurite?.stop());

const FIREWALLS = 2_000;
const REMEMBERED = 30;
const T0 = new Date('2026-03-01T08:00:00.000Z');
const vault = (i: number): string => `/subscriptions/00000000-0000-0000-0000-0000000000${String(i % 7).padStart(2, '0')}/resourceGroups/rg-${i % 11}/providers/Microsoft.KeyVault/vaults/kv-${i}`;

describe('alert memory of a fleet on blob state', () => {
  it(`dispatch over ${FIREWALLS} evaluated firewalls, ${REMEMBERED} with memory, makes a bounded number of blob requests`, async () => {
    const container = `alerts-scale-${process.pid}`;
    const seedRepo = new AlertStateRepository(BlobStore.fromConnectionString(azurite.connectionString, container));
    const remembered = Array.from({ length: REMEMBERED }, (_, i) => vault(i * 61));
    const alerts = remembered.map((v) => driftAlert(v, ['20.1.2.0/24']));
    // The remembered alerts were sent an hour ago; every other firewall has no memory at all.
    await Promise.all(
      alerts.map((a) =>
        seedRepo.save(a.vault, {
          version: 1,
          alerts: [{ fingerprint: a.fingerprint, kind: a.kind, severity: a.severity, vault: a.vault, firstSeen: '2026-03-01T07:00:00.000Z', lastSent: '2026-03-01T07:00:00.000Z', summary: a.title }],
        }),
      ),
    );

    const proxy = await startRecordingProxy(azurite.port);
    try {
      const repo = new AlertStateRepository(BlobStore.fromConnectionString(proxy.connectionString(azurite.connectionString), container));
      const evaluated = Array.from({ length: FIREWALLS }, (_, i) => vault(i));
      // Half the remembered problems persist (not due again), half have cleared (resolved, saved).
      const persisting = alerts.filter((_, i) => i % 2 === 0);
      const result = await dispatchAlerts({ alerts: persisting, evaluatedScopes: evaluated, now: T0, repeatAfterHours: 24, state: repo, logger: memoryLogger() });

      const cleared = alerts.filter((_, i) => i % 2 === 1);
      expect(result.state.errors).toEqual([]);
      expect(result.notifications.map((n) => [n.state, n.alert.vault]).sort()).toEqual(cleared.map((a) => ['resolved', a.vault]).sort());
      expect(result.state.saved.sort()).toEqual(cleared.map((a) => a.vault.toLowerCase()).sort());

      const gets = proxy.requests.filter((r) => r.method === 'GET' && !/[?&]comp=list/.test(r.path));
      const lists = proxy.requests.filter((r) => r.method === 'GET' && /[?&]comp=list/.test(r.path));
      const puts = proxy.requests.filter((r) => r.method === 'PUT' && !/[?&]restype=container/.test(r.path));
      // One listing page holds up to 5,000 names; a read for each record that exists; a write for each that changed.
      expect(lists.length).toBeLessThanOrEqual(1);
      expect(gets.length).toBeLessThanOrEqual(REMEMBERED);
      expect(puts.length).toBe(cleared.length);
      // The container check once, nothing else.
      expect(proxy.requests.length).toBeLessThanOrEqual(1 + REMEMBERED + cleared.length + 1);
    } finally {
      await proxy.close();
    }
  });
});
