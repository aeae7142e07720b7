import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import { readEmulatorSeedFile } from '../../src/emulator/model.js';
import { sampleSeed } from '../../src/emulator/sample.js';
import { startEmulator } from '../../src/emulator/server.js';
import { seedVault, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

const API = '?api-version=2026-02-01';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({ vaults: [seedVault('kv-a', { ipRules: [{ value: '20.1.0.0/16' }] }), seedVault('kv-b')] }));

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

describe('seeding and state', () => {
  it('takes back, as a seed, the very shape it lists vaults in', async () => {
    const listed = await t.emulator.control.vaults();
    await t.emulator.control.reset({ vaults: listed as never });
    expect(await t.emulator.control.vaults()).toEqual(listed);
  });

  it('adds and removes single rules as a person in the portal would, checked like any write', async () => {
    const added = await t.emulator.control.addRule('kv-a', '52.1.2.3');
    expect(added.properties.networkAcls?.ipRules).toEqual([{ value: '20.1.0.0/16' }, { value: '52.1.2.3/32' }]);
    const removed = await t.emulator.control.removeRule('kv-a', '52.1.2.3/32');
    expect(removed.properties.networkAcls?.ipRules).toEqual([{ value: '20.1.0.0/16' }]);
    expect((await rejection(t.emulator.control.addRule('kv-a', '10.0.0.0/8'))).message).toMatch(/forbidden range/);
    expect((await rejection(t.emulator.control.removeRule('kv-a', '52.9.9.9'))).message).toMatch(/404/);
  });

  it('lists vaults and reads one by name or resource ID', async () => {
    expect((await t.emulator.control.vaults()).map((v) => v.name).sort()).toEqual(['kv-a', 'kv-b']);
    expect((await t.emulator.control.vault('KV-A'))?.properties.networkAcls?.ipRules).toEqual([{ value: '20.1.0.0/16' }]);
    expect((await t.emulator.control.vault(vaultId('kv-b')))?.properties.networkAcls).toBeUndefined();
    expect(await t.emulator.control.vault('kv-none')).toBeUndefined();
  });

  it('seed adds and replaces vaults; reset replaces them all and clears faults and the log', async () => {
    await t.emulator.control.seed({ vaults: [seedVault('kv-a', { defaultAction: 'Deny' }), seedVault('kv-c')] });
    expect((await t.emulator.control.vaults()).map((v) => v.name).sort()).toEqual(['kv-a', 'kv-b', 'kv-c']);
    expect((await t.emulator.control.vault('kv-a'))?.properties.networkAcls).toMatchObject({ defaultAction: 'Deny', ipRules: [] });

    await t.emulator.control.addFault({ kind: 'respond', status: 500, times: 'always' });
    await t.fetch('GET', `${vaultId('kv-a')}${API}`);
    await t.emulator.control.setLatency(50);
    await t.emulator.control.reset({ vaults: [seedVault('kv-z')] });
    expect((await t.emulator.control.vaults()).map((v) => v.name)).toEqual(['kv-z']);
    expect(await t.emulator.control.faults()).toEqual([]);
    expect(await t.emulator.control.requests()).toEqual([]);
    expect(await t.emulator.control.settings()).toMatchObject({ latencyMs: 0, oldApi: false, graphLagMs: 0, graphQuota: { queries: 15, windowMs: 5000 }, throttle: { reads: { burst: 250, perSecond: 25 } } });
  });

  it('refuses a seed with a bad vault ID or a private rule, listing every problem, and keeps the old vaults', async () => {
    const e = await rejection(
      t.emulator.control.reset({
        vaults: [{ id: '/subscriptions/x/resourceGroups/y/vaults/z' }, seedVault('kv-private', { ipRules: [{ value: '192.168.0.0/16' }] })],
      }),
    );
    expect(isTagwallError(e, 'EMULATOR_CONTROL_FAILED')).toBe(true);
    expect(e.message).toContain('vaults[0]');
    expect(e.message).toContain('vaults[1] (');
    expect(e.message).toContain('192.168.0.0/16 belongs to forbidden range 192.168.0.0\u2013192.168.255.255 (private IP addresses)');
    expect((await t.emulator.control.vaults()).map((v) => v.name).sort()).toEqual(['kv-a', 'kv-b']);
  });

  it('reads a seed file, and names the file and field when it is wrong', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-seed-'));
    try {
      const good = join(dir, 'good.json');
      await writeFile(good, JSON.stringify({ vaults: [seedVault('kv-file', { defaultAction: 'Deny' })] }));
      expect((await readEmulatorSeedFile(good)).vaults[0]?.id).toBe(vaultId('kv-file'));
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ vaults: [{ id: vaultId('kv-x'), networkAcls: { ipRules: ['20.1.0.0/16'] } }] }));
      const e = await rejection(readEmulatorSeedFile(bad));
      if (!isTagwallError(e, 'EMULATOR_SEED_INVALID')) throw e;
      expect(e.details.join('\n')).toContain('vaults[0].networkAcls.ipRules[0]');
      expect(e.message).toContain(bad);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the sample seed has the two demo vaults', async () => {
    await t.emulator.control.reset(sampleSeed());
    const office = await t.emulator.control.vault('kv-tagwall-office');
    expect(office?.id).toBe('/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tagwall-demo/providers/Microsoft.KeyVault/vaults/kv-tagwall-office');
    expect(office?.properties.networkAcls).toMatchObject({ defaultAction: 'Deny', ipRules: [{ value: '145.14.56.23/32' }] });
    expect(office?.properties.networkAcls?.virtualNetworkRules).toHaveLength(1);
    expect((await t.emulator.control.vault('kv-tagwall-open'))?.properties.networkAcls).toMatchObject({ defaultAction: 'Allow', ipRules: [] });
  });
});

describe('faults', () => {
  it('hit only the method and vault they name, the number of times asked, in order', async () => {
    await t.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-a', status: 503, times: 2 });
    await t.emulator.control.addFault({ kind: 'respond', vault: 'kv-a', status: 409, code: 'ConflictError', message: 'busy' });
    expect((await t.emulator.control.faults()).map((f) => f.remaining)).toEqual([2, 1]);

    expect((await t.fetch('GET', `${vaultId('kv-b')}${API}`)).status).toBe(200);
    const patch = () => t.fetch('PATCH', `${vaultId('kv-a')}${API}`, { body: { properties: {} } });
    expect((await patch()).status).toBe(503);
    expect((await patch()).status).toBe(503);
    const conflict = await t.fetch('GET', `${vaultId('kv-a')}${API}`);
    expect(conflict.status).toBe(409);
    expect(conflict.json).toEqual({ error: { code: 'ConflictError', message: 'busy' } });
    expect((await t.fetch('GET', `${vaultId('kv-a')}${API}`)).status).toBe(200);
    expect(await t.emulator.control.faults()).toEqual([]);
  });

  it('send Retry-After and retry-after-ms as asked', async () => {
    await t.emulator.control.addFault({ kind: 'respond', status: 429, retryAfter: 7, retryAfterMs: 7000 });
    const res = await t.fetch('GET', `${vaultId('kv-a')}${API}`);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['retry-after-ms']).toBe('7000');
    expect(res.json.error.code).toBe('TooManyRequests');
  });

  it('delay a response by the time asked', async () => {
    await t.emulator.control.addFault({ kind: 'delay', method: 'GET', delayMs: 300 });
    const started = Date.now();
    expect((await t.fetch('GET', `${vaultId('kv-a')}${API}`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('are checked when added', async () => {
    const e = await rejection(t.emulator.control.addFault({ kind: 'respond', status: 200 } as never));
    expect(e.message).toContain('400');
    const edit = await rejection(t.emulator.control.addFault({ kind: 'edit', after: 'GET', vault: 'kv-a', ipRules: ['10.1.0.0/16'] }));
    expect(edit.message).toContain('forbidden range');
    expect(await t.emulator.control.faults()).toEqual([]);
  });

  it('can be cleared', async () => {
    await t.emulator.control.addFault({ kind: 'respond', status: 500, times: 'always' });
    await t.emulator.control.clearFaults();
    expect((await t.fetch('GET', `${vaultId('kv-a')}${API}`)).status).toBe(200);
  });
});

describe('request log', () => {
  it('records method, path, vault, api-version, status and time, and can be cleared', async () => {
    const before = Date.now();
    await t.fetch('GET', `${vaultId('kv-a')}${API}`);
    await t.fetch('GET', `${vaultId('kv-none')}${API}`);
    const log = await t.emulator.control.requests();
    expect(log.map((r) => [r.method, r.path, r.vault, r.apiVersion, r.status])).toEqual([
      ['GET', vaultId('kv-a'), 'kv-a', '2026-02-01', 200],
      ['GET', vaultId('kv-none'), 'kv-none', '2026-02-01', 404],
    ]);
    expect(Date.parse(log[0]!.time)).toBeGreaterThanOrEqual(before - 5);
    expect(log[1]!.seq).toBeGreaterThan(log[0]!.seq);
    await t.emulator.control.clearRequests();
    expect(await t.emulator.control.requests()).toEqual([]);
  });

  it('does not log control requests', async () => {
    await t.emulator.control.vaults();
    await t.emulator.control.settings();
    expect(await t.emulator.control.requests()).toEqual([]);
  });
});

describe('start-up options', () => {
  it('keeps the CA in stateDir, so a restarted emulator is trusted by the same CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-emu-'));
    try {
      const first = await startEmulator({ stateDir: dir, seed: { vaults: [seedVault('kv-s')] }, latencyMs: 20, oldApi: true });
      const ca = first.caCert;
      expect(first.caPath).toBe(join(dir, 'ca.pem'));
      expect(await first.control.settings()).toMatchObject({ latencyMs: 20, oldApi: true, graphLagMs: 0 });
      expect((await first.control.vaults()).map((v) => v.name)).toEqual(['kv-s']);
      await first.close();
      const second = await startEmulator({ stateDir: dir });
      expect(second.caCert).toBe(ca);
      expect(await second.control.vaults()).toEqual([]);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a port that is taken', async () => {
    const port = Number(new URL(t.emulator.url).port);
    const e = await rejection(startEmulator({ port }));
    expect(isTagwallError(e, 'EMULATOR_LISTEN_FAILED')).toBe(true);
    expect(e.message).toContain('EADDRINUSE');
  });
});
