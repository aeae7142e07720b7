import { dispatchAlerts } from '../../src/alerts/dispatch.js';
import { createAlert } from '../../src/alerts/fingerprint.js';
import type { Alert, AlertLogger, AlertStateAccess } from '../../src/alerts/types.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { inPool } from '../../src/core/pool.js';
import { AlertStateRepository } from '../../src/state/records.js';
import { startAzurite } from '../helpers/azurite.js';
import { registerSection } from './harness.js';

/**
 * `alert-memory`: a fleet run's alerting reads the alert memory of every firewall it evaluated.
 * On Azurite (blob state, loopback), 10,000 evaluated firewalls: all with a remembered alert, and
 * 100 with one. Timed: the dispatch as it is (one listing, then the records that exist, 16 at a
 * time), and the reads as dispatch made them before (one load per firewall, in turn).
 */

const FIREWALLS = 10_000;
const quiet: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const vault = (i: number): string => `/subscriptions/00000000-0000-0000-0000-0000000000${String(i % 100).padStart(2, '0')}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-${i}`;

function alertOf(id: string): Alert {
  return createAlert({ vault: id, kind: 'drift', severity: 'warning', subject: 'removed', title: '1 owned rule was removed outside tagwall', details: ['removed 20.1.2.0/24'], action: 'Restored on this run.' });
}

registerSection('alert-memory', async (ctx) => {
  const azurite = await startAzurite();
  try {
    const evaluated = Array.from({ length: FIREWALLS }, (_, i) => vault(i));
    const seeded = async (container: string, remembered: readonly string[]): Promise<{ repo: AlertStateRepository; alerts: Alert[] }> => {
      const repo = new AlertStateRepository(BlobStore.fromConnectionString(azurite.connectionString, container));
      const alerts = remembered.map(alertOf);
      const at = '2026-03-01T07:00:00.000Z';
      await inPool(alerts.length, 32, (i) => {
        const a = alerts[i]!;
        return repo.save(a.vault, { version: 1, alerts: [{ fingerprint: a.fingerprint, kind: a.kind, severity: a.severity, vault: a.vault, firstSeen: at, lastSent: at, summary: a.title }] });
      });
      return { repo, alerts };
    };
    // Not due again, so nothing is sent or saved: what is timed is reading the memory.
    const dispatch = (state: AlertStateAccess, alerts: readonly Alert[]) =>
      dispatchAlerts({ alerts, evaluatedScopes: evaluated, now: new Date('2026-03-01T08:00:00.000Z'), repeatAfterHours: 24, state, logger: quiet });
    const oneAtATime = async (repo: AlertStateRepository) => {
      for (const scope of evaluated) await repo.load(scope);
    };

    const all = await seeded('bench-all', evaluated);
    await ctx.timeAsync(`dispatch, ${FIREWALLS} firewalls all with alert memory`, () => dispatch(all.repo, all.alerts), { warmup: 1, iterations: 3, note: 'a listing, then 16 reads at a time' });
    await ctx.timeAsync(`as before: ${FIREWALLS} alert records read one at a time`, () => oneAtATime(all.repo), { warmup: 0, iterations: 1, note: 'what dispatch did before' });

    const few = await seeded('bench-few', evaluated.filter((_, i) => i % 100 === 0));
    await ctx.timeAsync(`dispatch, ${FIREWALLS} firewalls, 100 with alert memory`, () => dispatch(few.repo, few.alerts), { warmup: 1, iterations: 3, note: 'a listing, then 100 reads' });
    await ctx.timeAsync(`as before: ${FIREWALLS} firewalls, 100 with memory, read one at a time`, () => oneAtATime(few.repo), { warmup: 0, iterations: 1, note: 'what dispatch did before' });
  } finally {
    await azurite.stop();
  }
});
