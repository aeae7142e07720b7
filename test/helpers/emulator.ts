import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { parseVaultId, type VaultRef } from '../../src/core/vault-id.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';
import type { EmulatorSeed, SeedNetworkAcls, SeedVault } from '../../src/emulator/model.js';
import { createKeyVaultFirewalls, type KeyVaultFirewallOptions } from '../../src/targets/keyvault/adapter.js';
import type { FirewallTarget, PerimeterLookup } from '../../src/targets/firewall.js';
import { createPerimeterLookup, type PerimeterLookupOptions } from '../../src/targets/perimeter.js';

/**
 * The Key Vault emulator on a free loopback port, plus a FirewallTarget that reaches it
 * through the real SDK: real HTTPS (the emulator's CA trusted through the pipeline's TLS
 * options), the real bearer-token policy, and retries shortened so tests stay quick.
 */

export const TEST_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
export const TEST_GROUP = 'rg-tagwall-test';
export const FAST_RETRY = { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 40 } as const;

export function vaultId(name: string, subscriptionId = TEST_SUBSCRIPTION, resourceGroup = TEST_GROUP): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
}

export function vaultRef(name: string, subscriptionId = TEST_SUBSCRIPTION, resourceGroup = TEST_GROUP): VaultRef {
  return parseVaultId(vaultId(name, subscriptionId, resourceGroup));
}

export function perimeterId(name: string, subscriptionId = TEST_SUBSCRIPTION, resourceGroup = TEST_GROUP): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/networkSecurityPerimeters/${name}`;
}

export function subnetId(vnet: string, subnet: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Network/virtualNetworks/${vnet}/subnets/${subnet}`;
}

export function seedVault(name: string, networkAcls?: SeedNetworkAcls, extra: Omit<SeedVault, 'id' | 'networkAcls'> = {}): SeedVault {
  return { id: vaultId(name), ...(networkAcls === undefined ? {} : { networkAcls }), ...extra };
}

/** A credential that hands out one fixed token and remembers every scope it was asked for. */
export interface StaticTokenCredential extends TokenCredential {
  readonly token: string;
  readonly requests: string[][];
}

export function staticTokenCredential(token = 'test-token-1'): StaticTokenCredential {
  const requests: string[][] = [];
  return {
    token,
    requests,
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      requests.push(Array.isArray(scopes) ? [...scopes] : [scopes]);
      return { token, expiresOnTimestamp: Date.now() + 3600_000, tokenType: 'Bearer' };
    },
  };
}

export interface TestEmulator {
  readonly emulator: Emulator;
  readonly credential: StaticTokenCredential;
  /** A FirewallTarget for the emulator with fast retries; `overrides` change its options. */
  firewalls(overrides?: Partial<KeyVaultFirewallOptions>): FirewallTarget;
  /** A PerimeterLookup for the emulator with fast retries; each call is a fresh lookup, as each run makes one. */
  perimeters(overrides?: Partial<PerimeterLookupOptions>): PerimeterLookup;
  /** The raw SDK client, for writes the FirewallTarget never makes (PUT, VNet rules). */
  sdk(subscriptionId?: string): KeyVaultManagementClient;
  /** A raw HTTPS request to the emulator, trusting its CA. */
  fetch(method: string, path: string, init?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Record<string, unknown>; json: any }>;
  reset(seed?: EmulatorSeed): Promise<void>;
  close(): Promise<void>;
}

export async function startTestEmulator(options: EmulatorOptions = {}): Promise<TestEmulator> {
  const emulator = await startEmulator({ port: 0, ...options });
  const credential = staticTokenCredential();
  const dispatcher = new Agent({ connect: { ca: emulator.caCert } });
  return {
    emulator,
    credential,
    firewalls: (overrides = {}) =>
      createKeyVaultFirewalls({ endpoint: emulator.url, credential, tls: { ca: emulator.caCert }, retry: FAST_RETRY, ...overrides }),
    perimeters: (overrides = {}) =>
      createPerimeterLookup({ endpoint: emulator.url, credential, tls: { ca: emulator.caCert }, retry: FAST_RETRY, ...overrides }),
    sdk: (subscriptionId = TEST_SUBSCRIPTION) =>
      new KeyVaultManagementClient(credential, subscriptionId, {
        endpoint: emulator.url,
        credentials: { scopes: [`${emulator.url}/.default`] },
        tlsOptions: { ca: emulator.caCert },
        retryOptions: { maxRetries: 0 },
      }),
    fetch: async (method, path, init = {}) => {
      const token = init.token === undefined ? credential.token : init.token;
      const res = await request(`${emulator.url}${path}`, {
        method: method as 'GET',
        dispatcher,
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) };
    },
    reset: (seed) => emulator.control.reset(seed),
    close: async () => {
      await dispatcher.close();
      await emulator.close();
    },
  };
}

/**
 * One emulator for a whole test file, reset to `seed()` before every test. `set` receives it once it
 * has started, so the file can keep a plain `let t: TestEmulator`.
 */
export function useTestEmulator(set: (t: TestEmulator) => void, seed: () => EmulatorSeed, options: EmulatorOptions = {}): void {
  let current: TestEmulator | undefined;
  beforeAll(async () => {
    current = await startTestEmulator(options);
    set(current);
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(async () => {
    await current!.reset(seed());
  });
}
