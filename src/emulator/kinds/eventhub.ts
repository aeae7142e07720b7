import { namespaceModel } from './namespaces.js';

/**
 * Event Hubs namespaces at the api-version @azure/arm-eventhub 5.2.0 sends. The quotas page gives
 * 128 IP rules and 128 virtual networks; the IP-filtering page: no firewall in the Basic tier.
 * Private ranges are taken as any other range: Microsoft's own templates allow 10.1.1.1.
 */
export const EVENT_HUBS_MODEL = namespaceModel({
  resourceType: 'Microsoft.EventHub/namespaces',
  armType: 'Microsoft.EventHub/Namespaces',
  apiVersions: ['2024-01-01', '2021-11-01'],
  title: 'Event Hubs',
  ipRuleTiers: ['standard', 'premium'],
  vnetRuleTiers: ['standard', 'premium'],
  maxIpRules: 128,
  maxVnetRules: 128,
  sharedLimit: false,
  namespaceDefaults: (name) => ({
    serviceBusEndpoint: `https://${name}.servicebus.windows.net:443/`,
    kafkaEnabled: true,
    isAutoInflateEnabled: false,
    maximumThroughputUnits: 0,
    zoneRedundant: true,
    disableLocalAuth: false,
    minimumTlsVersion: '1.2',
  }),
});
