import { MySQLManagementFlexibleServerClient } from '@azure/arm-mysql-flexible';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import { flexibleServerRules } from '../flexible-server.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls } from '../named-range-firewall.js';
import { MYSQL_FLEXIBLE } from './facts.js';

/** @azure/arm-mysql-flexible 3.1.0 fixes api-version 2021-05-01, so `apiVersion` has no effect. */
export type MysqlFlexibleFirewallOptions = FirewallOptions;

export const MYSQL_FLEXIBLE_RULES = flexibleServerRules({
  facts: MYSQL_FLEXIBLE,
  where: 'a MySQL flexible server',
  permissions: 'Microsoft.DBforMySQL/flexibleServers/read, /flexibleServers/firewallRules/read, /write and /delete',
  client: (subscriptionId, connection, options) => new MySQLManagementFlexibleServerClient(options.credential, subscriptionId, classicClientOptions(connection)),
});

/** MySQL flexible servers' firewall rules through the real ARM SDK (flexible-server.ts says how). */
export function createMysqlFlexibleFirewalls(options: MysqlFlexibleFirewallOptions): FirewallTarget {
  return createNamedRangeFirewalls(options, MYSQL_FLEXIBLE_RULES);
}
