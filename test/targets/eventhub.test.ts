import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { createEventHubFirewalls } from '../../src/targets/eventhub/adapter.js';
import { FAST_RETRY } from '../helpers/emulator.js';
import { namespaceId, namespaceSuite, SUBNET } from './namespace-suite.js';

const PROVIDER = 'Microsoft.EventHub';

const suite = namespaceSuite({
  label: 'Event Hubs',
  provider: PROVIDER,
  // What @azure/arm-eventhub 5.2.0 sends.
  apiVersion: '2024-01-01',
  create: createEventHubFirewalls,
  lockedFindings: [],
  limitSharedWithVnetRules: false,
});

describe('Event Hubs: what only Event Hubs does', () => {
  it('lets trusted services through in the Standard tier too: no finding for trustedServiceAccessEnabled there', async () => {
    const t = suite.emulator();
    const id = namespaceId(PROVIDER, 'ns-std-trusted');
    await t.emulator.control.seed({ vaults: [], resources: [{ id, sku: { name: 'Standard' }, networkRuleSet: { defaultAction: 'Deny', trustedServiceAccessEnabled: true, ipRules: [{ ipMask: '81.2.69.142' }] } }] });
    const fw = await createEventHubFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY }).read(parseResourceId(id));
    expect(fw.posture.bypass).toBe('AzureServices');
    expect(fw.findings).toBeUndefined();
  });

  it('counts IP and VNet rules apart: 128 IP rules beside a VNet rule are taken', async () => {
    const t = suite.emulator();
    const id = namespaceId(PROVIDER, 'ns-locked');
    const rules = Array.from({ length: 128 }, (_, i) => ({ ipMask: `52.6.0.${i}`, action: 'Allow' }));
    const res = await t.fetch('PUT', `${id}/networkRuleSets/default?api-version=2024-01-01`, {
      body: { properties: { defaultAction: 'Deny', ipRules: rules, virtualNetworkRules: [{ subnet: { id: SUBNET } }] } },
    });
    expect(res.status).toBe(200);
    expect(res.json.properties.ipRules).toHaveLength(128);
  });
});
