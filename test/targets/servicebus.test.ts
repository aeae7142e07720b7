import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { createServiceBusFirewalls } from '../../src/targets/servicebus/adapter.js';
import { failure } from '../helpers/failure.js';
import { FAST_RETRY } from '../helpers/emulator.js';
import { LOCKED_RULE_SET, namespaceId, namespaceSuite } from './namespace-suite.js';

const PROVIDER = 'Microsoft.ServiceBus';

const suite = namespaceSuite({
  label: 'Service Bus',
  provider: PROVIDER,
  // What @azure/arm-servicebus 6.1.0 sends.
  apiVersion: '2021-11-01',
  create: createServiceBusFirewalls,
  // The quotas page counts "virtual network and IP filter rules" against one 128.
  lockedFindings: ['RULE_LIMIT_SHARED'],
  limitSharedWithVnetRules: true,
});

function target() {
  const t = suite.emulator();
  return createServiceBusFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
}

describe('Service Bus: what only Service Bus does', () => {
  it('takes IP rules in the Standard tier, as the IP-filtering page now says', async () => {
    const fw = await target().read(parseResourceId(namespaceId(PROVIDER, 'ns-open')));
    expect(fw.unsupported).toBeUndefined();
    const written = await target().write(fw, { ipRules: ['81.2.69.142'] });
    expect(written.ipRules).toEqual(['81.2.69.142']);
  });

  it('warns that a Standard namespace has no trusted-services option (TRUSTED_SERVICES_UNAVAILABLE)', async () => {
    const t = suite.emulator();
    const id = namespaceId(PROVIDER, 'ns-std-trusted');
    await t.emulator.control.seed({ vaults: [], resources: [{ id, sku: { name: 'Standard' }, networkRuleSet: { defaultAction: 'Deny', trustedServiceAccessEnabled: true, ipRules: [{ ipMask: '81.2.69.142' }] } }] });
    const fw = await target().read(parseResourceId(id));
    expect(fw.posture.bypass).toBe('AzureServices');
    expect(fw.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'TRUSTED_SERVICES_UNAVAILABLE', sku: 'Standard' })]);
  });

  it('refuses 128 IP rules beside a VNet rule (one limit for both), and says so in a finding first', async () => {
    const id = parseResourceId(namespaceId(PROVIDER, 'ns-locked'));
    const fw = await target().read(id);
    expect(fw.findings).toEqual([expect.objectContaining({ code: 'RULE_LIMIT_SHARED', virtualNetworkRules: 1, limit: 128 })]);
    // Counted against the limit by the plan, as a perimeter profile's other elements are.
    expect(fw.otherEntries).toBe(1);
    const rules = Array.from({ length: 128 }, (_, i) => `52.6.0.${i}`);
    const e = await failure(target().write(fw, { ipRules: rules }));
    expect(e.code).toBe('TARGET_BAD_REQUEST');
    expect(e.values).toMatchObject({ azureCode: 'BadRequest', status: 400 });
    await target().write(fw, { ipRules: rules.slice(0, 127) });
    expect((await target().read(id)).ipRules).toHaveLength(127);
  });

  it('refuses a VNet rule below Premium', async () => {
    const t = suite.emulator();
    const res = await t.fetch('PUT', `${namespaceId(PROVIDER, 'ns-open')}/networkRuleSets/default?api-version=2021-11-01`, {
      body: { properties: { ...LOCKED_RULE_SET, ipRules: [] } },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('BadRequest');
  });
});
