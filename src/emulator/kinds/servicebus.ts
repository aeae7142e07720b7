import { namespaceModel } from './namespaces.js';

/**
 * Service Bus namespaces at the api-version @azure/arm-servicebus 6.1.0 sends. The IP-filtering
 * page: IP rules in Standard and Premium, virtual-network rules in Premium only; the quotas page:
 * 128 "virtual network and IP filter rules", read here as one limit for both.
 */
export const SERVICE_BUS_MODEL = namespaceModel({
  resourceType: 'Microsoft.ServiceBus/namespaces',
  armType: 'Microsoft.ServiceBus/Namespaces',
  apiVersions: ['2021-11-01', '2024-01-01'],
  title: 'Service Bus',
  ipRuleTiers: ['standard', 'premium'],
  vnetRuleTiers: ['premium'],
  maxIpRules: 128,
  maxVnetRules: 128,
  sharedLimit: true,
  namespaceDefaults: (name) => ({
    serviceBusEndpoint: `https://${name}.servicebus.windows.net:443/`,
    zoneRedundant: false,
    disableLocalAuth: false,
    minimumTlsVersion: '1.2',
  }),
});
