import { metrics } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import { formatCidr } from '../../src/core/ipv4.js';
import type { TargetReport } from '../../src/core/report.js';
import type { RunReport } from '../../src/run/report.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { targetEvents } from '../../src/telemetry/events.js';
import { recordRun, stateOf } from '../../src/telemetry/metrics.js';
import { observeRun } from '../../src/telemetry/observe.js';
import { shutdownTelemetry } from '../../src/telemetry/setup.js';
import { BUNDLED } from '../helpers/cli.js';
import { seedVault, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';
import { targetRuns } from '../helpers/run-target.js';
import { intersect, minus, size, span, union, wantedSpans } from '../core/reference.js';
import { dimensionProblems, histogramOf, inMemoryMeter, series, type Point } from './support.js';

// A run's metrics through the @opentelemetry/api meter, read back with the SDK's in-memory
// exporter: first from real runs against the emulator (the expected figures from the emulator's
// own rules and request log, and the reference set algebra), then a table of report shapes.

const SMALL = 'AzureMonitorForSAP';
const BIG = 'AzureCognitiveSearch';
const OFFICE = '145.14.56.23';
const storageId = (name: string) => `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Storage/storageAccounts/${name}`;

let t: TestEmulator;
useTestEmulator((started) => (t = started), () => ({
  vaults: [seedVault('kv-tele', { defaultAction: 'Deny' })],
  resources: [
    { id: storageId('sttele'), location: 'westeurope', properties: { publicNetworkAccess: 'Enabled', networkAcls: { bypass: 'AzureServices', ipRules: [{ value: OFFICE, action: 'Allow' }], defaultAction: 'Deny' } } },
    { id: storageId('stprivate'), location: 'westeurope', properties: { publicNetworkAccess: 'Disabled', networkAcls: { defaultAction: 'Deny' } } },
  ],
}));

afterEach(() => {
  metrics.disable();
});

async function tagSpans(tag: string) {
  const doc = await loadServiceTagFile(BUNDLED);
  return wantedSpans(doc.tags.find((x) => x.name === tag)!.ipv4.map(formatCidr));
}

async function azureSpans() {
  const doc = await loadServiceTagFile(BUNDLED);
  return union(doc.tags.flatMap((x) => x.ipv4.map(formatCidr)).map(span));
}

const at = (iso: string) => new Date(iso);
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

describe('a run recorded from real runs against the emulator', () => {
  it('counts targets by kind and state, writes, rules, budget, excess and ARM requests; the timestamps follow success', async () => {
    const m = inMemoryMeter();
    const runs = await targetRuns(t);
    const targets = [
      { vault: vaultId('kv-tele'), select: [BIG], maxRules: 12, guards: { maxExcessAddresses: 4294967296, maxWidenedPrefix: 0 } },
      { resource: storageId('sttele'), select: [SMALL] },
      { resource: storageId('stprivate'), select: [SMALL] },
      { vault: vaultId('kv-gone'), select: [SMALL] },
    ];
    const config = runs.config(targets);

    // Round 1: an apply with one 429 on the vault's first read, and a vault that does not exist.
    await t.emulator.control.clearRequests();
    await t.emulator.control.addFault({ kind: 'respond', method: 'GET', vault: 'kv-tele', status: 429, code: 'TooManyRequests', retryAfterMs: 20, times: 1 });
    const first = await runs.sync(config);
    recordRun(first, { meter: m.meter, endedAt: at('2026-12-01T06:00:00Z') });
    const p1 = await m.collect();
    expect(dimensionProblems(p1)).toEqual([]);

    const kvRules = (await t.emulator.control.vault('kv-tele'))!.properties.networkAcls!.ipRules!.map((r) => r.value);
    const stRules = ((await t.emulator.control.resource(storageId('sttele'))) as { properties: { networkAcls: { ipRules: { value: string }[] } } }).properties.networkAcls.ipRules.map((r) => r.value);
    expect(kvRules.length).toBeGreaterThan(0);
    expect(kvRules.length).toBeLessThanOrEqual(12);
    expect(stRules).toContain(OFFICE);
    const goneCode = first.vaults.find((v) => v.vault === vaultId('kv-gone'))!.error!.code;
    expect(goneCode).toBe('VAULT_NOT_FOUND');

    expect(series(p1, 'tagwall.targets')).toEqual({
      'kind=keyvault,operation=sync,outcome=in-sync': 1,
      'code=VAULT_NOT_FOUND,kind=keyvault,operation=sync,outcome=failed': 1,
      'kind=storage,operation=sync,outcome=in-sync': 1,
      'code=PUBLIC_ACCESS_DISABLED,kind=storage,operation=sync,outcome=skipped': 1,
    });
    expect(series(p1, 'tagwall.writes')).toEqual({ 'kind=keyvault,outcome=applied': 1, 'kind=storage,outcome=applied': 1 });
    // Everything in the firewalls after the run was added by it, but the office's rule.
    expect(series(p1, 'tagwall.rules.changed')).toEqual({ 'kind=keyvault,operation=add': kvRules.length, 'kind=storage,operation=add': stRules.length - 1 });

    // Budget: the rules in the firewall over the limit (12 configured; Storage's own 400).
    expect(histogramOf(p1, 'tagwall.rule_budget.use', { kind: 'keyvault' })).toMatchObject({ count: 1, sum: kvRules.length / 12 });
    expect(histogramOf(p1, 'tagwall.rule_budget.use', { kind: 'storage' })).toMatchObject({ count: 1, sum: stRules.length / 400 });

    // Excess: the vault's rules beyond the tag, split by Azure's space (every tag of the file), by set algebra.
    const beyond = minus(union(kvRules.map(span)), await tagSpans(BIG));
    const inAzure = size(intersect(beyond, await azureSpans()));
    expect(size(beyond)).toBeGreaterThan(0);
    expect(histogramOf(p1, 'tagwall.excess_addresses', { kind: 'keyvault', space: 'azure' })).toMatchObject({ count: 1, sum: inAzure });
    expect(histogramOf(p1, 'tagwall.excess_addresses', { kind: 'keyvault', space: 'outside' })).toMatchObject({ count: 1, sum: size(beyond) - inAzure });

    // ARM: every request the emulator saw went through the pacer, the 429 among them.
    const arm = await t.emulator.control.requests({ kind: 'arm' });
    expect(arm.filter((r) => r.status === 429)).toHaveLength(1);
    expect(series(p1, 'tagwall.arm.requests')).toEqual({ 'operation=sync': arm.length });
    expect(series(p1, 'tagwall.arm.throttled')).toEqual({ 'operation=sync': 1 });
    // A vault failed: attempted, not successful.
    expect(series(p1, 'tagwall.run.last_attempt_time')).toEqual({ 'operation=sync': seconds('2026-12-01T06:00:00Z') });
    expect(series(p1, 'tagwall.run.last_success_time')).toEqual({});

    // Round 2: someone removes one of tagwall's rules; the drift check (a dry run) sees it and writes nothing.
    const config2 = runs.config(targets.slice(0, 3));
    await t.emulator.control.removeRule('kv-tele', kvRules[0]!);
    const drift = await runs.sync(config2, { dryRun: true });
    recordRun(drift, { meter: m.meter, endedAt: at('2026-12-01T06:15:00Z') });
    const p2 = await m.collect();
    expect(dimensionProblems(p2)).toEqual([]);
    expect(series(p2, 'tagwall.targets')).toEqual({
      'code=RULE_MISSING,kind=keyvault,operation=dry-run,outcome=drifted': 1,
      'kind=storage,operation=dry-run,outcome=in-sync': 1,
      'code=PUBLIC_ACCESS_DISABLED,kind=storage,operation=dry-run,outcome=skipped': 1,
    });
    expect(series(p2, 'tagwall.writes')).toEqual({});
    expect(series(p2, 'tagwall.rules.changed')).toEqual({});
    expect(series(p2, 'tagwall.run.last_attempt_time')).toEqual({ 'operation=sync': seconds('2026-12-01T06:00:00Z'), 'operation=dry-run': seconds('2026-12-01T06:15:00Z') });
    expect(series(p2, 'tagwall.run.last_success_time')).toEqual({ 'operation=dry-run': seconds('2026-12-01T06:15:00Z') });

    // Round 3: the sync puts the rule back: one write, one rule added, and now a successful sync.
    const repair = await runs.sync(config2);
    recordRun(repair, { meter: m.meter, endedAt: at('2026-12-01T12:00:00Z'), durationSeconds: 2.5 });
    const p3 = await m.collect();
    expect(dimensionProblems(p3)).toEqual([]);
    expect(series(p3, 'tagwall.writes')).toEqual({ 'kind=keyvault,outcome=applied': 1 });
    expect(series(p3, 'tagwall.rules.changed')).toEqual({ 'kind=keyvault,operation=add': 1 });
    expect(series(p3, 'tagwall.run.last_success_time')).toEqual({ 'operation=dry-run': seconds('2026-12-01T06:15:00Z'), 'operation=sync': seconds('2026-12-01T12:00:00Z') });
    expect(histogramOf(p3, 'tagwall.run.duration', { operation: 'sync', outcome: 'success' })).toMatchObject({ count: 1, sum: 2.5 });

    // The per-target detail is in the log events, resource IDs and all.
    const events = targetEvents(repair);
    expect(events.map((e) => [e.resourceId, e.kind, e.state, e.code])).toEqual([
      [vaultId('kv-tele'), 'keyvault', 'in-sync', undefined],
      [storageId('sttele'), 'storage', 'in-sync', undefined],
      [storageId('stprivate'), 'storage', 'skipped', 'PUBLIC_ACCESS_DISABLED'],
    ]);
    expect(events[0]).toMatchObject({ operation: 'sync', outcome: 'applied', add: 1, remove: 0, rules: { limit: 12 }, budgetUse: Math.round((kvRules.length / 12) * 10_000) / 10_000 });
    await m.shutdown();
  });
});

// ---------------------------------------------------------------------------------------------
// Report shapes the emulator makes hard to reach: each outcome's state, alerts, Resource Graph.

const ID = vaultId('kv-table');

function target(over: Partial<TargetReport>): TargetReport {
  return { vault: ID, kind: 'keyvault', outcome: 'in-sync', add: [], remove: [], unmanaged: [], shared: [], adopted: [], rules: { managed: 3, unmanaged: 1, shared: 0, limit: 8 }, excessAddresses: 0, drift: [], findings: [], reasons: [], mode: 'merge', ...over };
}

function run(vaults: TargetReport[], over: Partial<RunReport> = {}): RunReport {
  return { dryRun: false, serviceTags: { cloud: 'Public', changeNumber: 1, warnings: [] }, vaults, ...over };
}

const missing = { kind: 'missing', code: 'RULE_MISSING', rule: '20.0.0.0/24', detail: 'gone' } as const;

describe('a target state per report outcome', () => {
  it.each<[string, Partial<TargetReport>, string]>([
    ['in-sync', {}, 'in-sync'],
    ['applied (written and verified)', { outcome: 'applied', add: ['20.0.0.0/24'] }, 'in-sync'],
    ['pending in a dry run', { outcome: 'pending', add: ['20.0.0.0/24'] }, 'drifted'],
    ['in-sync but drifted (monitor mode)', { drift: [missing] }, 'drifted'],
    ['refused', { outcome: 'refused', reasons: [{ code: 'EXCESS_GUARD', message: 'too wide' }] }, 'refused'],
    ['skipped', { outcome: 'skipped', reasons: [{ code: 'DEADLINE', message: 'late' }] }, 'skipped'],
    ['failed', { outcome: 'failed', error: { code: 'VAULT_FORBIDDEN', message: 'no' } }, 'failed'],
  ])('%s', (_name, over, state) => {
    expect(stateOf(target(over))).toBe(state);
  });
});

describe('recordRun on report shapes', () => {
  it('counts a failed write with its code, and no budget or excess for a target that was never read', async () => {
    const m = inMemoryMeter();
    recordRun(
      run([
        target({ outcome: 'failed', error: { code: 'VAULT_BAD_REQUEST', message: 'no', during: 'write' }, rules: { managed: 4, unmanaged: 0, shared: 0, limit: 8 } }),
        target({ kind: 'storage', outcome: 'failed', error: { code: 'TARGET_FORBIDDEN', message: 'no', during: 'read' } }),
        target({ kind: 'storage', outcome: 'skipped', reasons: [{ code: 'DEADLINE', message: 'late' }] }),
      ]),
      { meter: m.meter },
    );
    const p = await m.collect();
    expect(series(p, 'tagwall.writes')).toEqual({ 'code=VAULT_BAD_REQUEST,kind=keyvault,outcome=failed': 1 });
    expect(histogramOf(p, 'tagwall.rule_budget.use', { kind: 'keyvault' })).toMatchObject({ count: 1, sum: 0.5 });
    expect(p.filter((x) => x.name === 'tagwall.rule_budget.use' && x.attributes.kind === 'storage')).toEqual([]);
    expect(p.filter((x) => x.name === 'tagwall.excess_addresses' && x.attributes.kind === 'storage')).toEqual([]);
    expect(series(p, 'tagwall.run.last_success_time')).toEqual({});
    expect(dimensionProblems(p)).toEqual([]);
  });

  it('counts Resource Graph requests and 429s, alerts sent and webhook posts; previews are not alerts sent', async () => {
    const m = inMemoryMeter();
    const fleet = { explicit: 0, discovered: 1, findings: [], graph: { requests: 7, throttled: 2, bytes: 100, quotaWaits: 0 } } as unknown as RunReport['fleet'];
    recordRun(run([target({})], { fleet: fleet!, alerts: { notifications: 3, webhookSent: 2, webhookFailed: 1 } }), { meter: m.meter });
    let p = await m.collect();
    expect(series(p, 'tagwall.graph.requests')).toEqual({ 'operation=sync': 7 });
    expect(series(p, 'tagwall.graph.throttled')).toEqual({ 'operation=sync': 2 });
    expect(series(p, 'tagwall.alerts.sent')).toEqual({ 'operation=sync': 3 });
    expect(series(p, 'tagwall.alerts.webhook')).toEqual({ 'operation=sync,outcome=sent': 2, 'operation=sync,outcome=failed': 1 });
    recordRun(run([target({})], { dryRun: true, alerts: { notifications: 3, webhookSent: 0, webhookFailed: 0 } }), { meter: m.meter, alerts: 'preview' });
    p = await m.collect();
    expect(series(p, 'tagwall.alerts.sent')).toEqual({});
  });

  it('a run-level error is an attempt, not a success; a shard records its targets but not the run', async () => {
    const m = inMemoryMeter();
    recordRun(run([target({})], { errors: [{ code: 'CREDENTIAL_UNAVAILABLE', message: 'no token' }] }), { meter: m.meter, endedAt: at('2026-12-02T00:00:00Z') });
    let p = await m.collect();
    expect(series(p, 'tagwall.run.last_attempt_time')).toEqual({ 'operation=sync': seconds('2026-12-02T00:00:00Z') });
    expect(series(p, 'tagwall.run.last_success_time')).toEqual({});
    const shardMeter = inMemoryMeter();
    recordRun(run([target({})]), { meter: shardMeter.meter, shard: true, durationSeconds: 1 });
    p = await shardMeter.collect();
    expect(series(p, 'tagwall.targets')).toEqual({ 'kind=keyvault,operation=sync,outcome=in-sync': 1 });
    expect(p.filter((x) => x.name.startsWith('tagwall.run.'))).toEqual([]);
  });

  it('observeRun records a run that threw as a failed attempt with its code, through the global meter', async () => {
    await shutdownTelemetry();
    const m = inMemoryMeter();
    metrics.setGlobalMeterProvider(m.provider);
    const logged: string[] = [];
    const logger = { info: (s: string) => void logged.push(s), warn: (s: string) => void logged.push(s), error: (s: string) => void logged.push(s) };
    await expect(observeRun({ env: {}, logger, dryRun: false }, async (): Promise<{ report: RunReport }> => {
      throw new TagwallError('CONFIG_INVALID', 'bad');
    })).rejects.toThrow('bad');
    let p: Point[] = await m.collect();
    expect(histogramOf(p, 'tagwall.run.duration', { operation: 'sync', outcome: 'failure', code: 'CONFIG_INVALID' })?.count).toBe(1);
    expect(Object.keys(series(p, 'tagwall.run.last_attempt_time'))).toEqual(['operation=sync']);
    expect(series(p, 'tagwall.run.last_success_time')).toEqual({});

    // A run that finishes: its metrics and one log event per target, as JSON after the event's name.
    await observeRun({ env: {}, logger, dryRun: true }, async () => ({ report: run([target({}), target({ vault: `${ID}2`, outcome: 'refused', reasons: [{ code: 'EXCESS_GUARD', message: 'wide' }] })], { dryRun: true }) }));
    p = await m.collect();
    expect(series(p, 'tagwall.targets')).toEqual({ 'kind=keyvault,operation=dry-run,outcome=in-sync': 1, 'code=EXCESS_GUARD,kind=keyvault,operation=dry-run,outcome=refused': 1 });
    const events = logged.filter((l) => l.startsWith('tagwall.target ')).map((l) => JSON.parse(l.slice('tagwall.target '.length)) as Record<string, unknown>);
    expect(events.map((e) => [e.resourceId, e.state, e.code])).toEqual([
      [ID, 'in-sync', undefined],
      [`${ID}2`, 'refused', 'EXCESS_GUARD'],
    ]);
    expect(events[0]).toMatchObject({ operation: 'dry-run', kind: 'keyvault', rules: { managed: 3, unmanaged: 1, shared: 0, limit: 8 }, budgetUse: 0.5, add: 0, remove: 0 });
  });
});
