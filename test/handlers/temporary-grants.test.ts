import { InvocationContext, type Timer } from '@azure/functions';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { syncAllowlists } from '../../src/handlers/fleet.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { BUNDLED, runCli } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';
import { resetFleetState, stateContainer, useFunctionsHost } from '../helpers/functions-host.js';

// A grant made by the CLI (`tagwall allow`, a pipeline agent) is kept by the Functions timer's
// run: both use the same blob state (Azurite), so the timer plans with the grant in it.

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const AGENT = '81.2.69.160';

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const env = useFunctionsHost((e, a) => {
  emulator = e;
  azurite = a;
});

function settings(): string {
  return JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, state: { store: 'blob' }, targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
}

async function rules(): Promise<string[]> {
  const v = await emulator.control.vault('kv-app');
  return (v!.properties.networkAcls?.ipRules ?? []).map((r) => r.value.replace(/\/32$/, ''));
}

beforeEach(async () => {
  await resetFleetState(emulator, azurite);
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
  env.set({ TAGWALL_CONFIG: settings() });
});

describe('a grant of the CLI, seen by the Functions timer', () => {
  it('is kept by the timer\'s run, which reads it from the same blob state', async () => {
    const cli = await runCli(['allow', AGENT, '--for', '2h', '--target', 'kv-app', '--json'], {
      env: { AzureWebJobsStorage: azurite.connectionString, TAGWALL_CONFIG: settings(), IDENTITY_ENDPOINT: emulator.identityEndpoint, IDENTITY_HEADER: emulator.identityHeader, AZURE_CLIENT_ID: '', AZURE_TENANT_ID: '', AZURE_CLIENT_SECRET: '' },
    });
    expect(cli.stderr).not.toMatch(/^tagwall:/m);
    expect(cli.code).toBe(0);
    expect(await rules()).toContain(AGENT);
    const blobs: string[] = [];
    for await (const b of stateContainer(azurite).listBlobsFlat({ prefix: 'grants/' })) blobs.push(b.name);
    expect(blobs).toHaveLength(1);

    const before = (await rules()).length;
    await syncAllowlists(timer, new InvocationContext({ functionName: 'syncAllowlists', invocationId: 'test-grant' }));
    expect(await rules()).toContain(AGENT);
    expect((await rules()).length).toBe(before);
    // One PATCH in all, the CLI's: the timer found the grant and the tags in step.
    expect((await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH').length).toBe(1);
  });
});
