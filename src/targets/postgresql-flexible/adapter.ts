import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import { flexibleServerRules } from '../flexible-server.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls } from '../named-range-firewall.js';
import { POSTGRESQL_FLEXIBLE } from './facts.js';

/** @azure/arm-postgresql-flexible 9.0.0 sends 2025-08-01 unless told otherwise; tagwall keeps the SDK's. */
export type PostgresFlexibleFirewallOptions = FirewallOptions;

export const POSTGRESQL_FLEXIBLE_RULES = flexibleServerRules({
  facts: POSTGRESQL_FLEXIBLE,
  where: 'a PostgreSQL flexible server',
  permissions: 'Microsoft.DBforPostgreSQL/flexibleServers/read, /flexibleServers/firewallRules/read, /write and /delete',
  client: (subscriptionId, connection, options) => new PostgreSQLManagementFlexibleServerClient(options.credential, subscriptionId, classicClientOptions(connection)),
});

/** PostgreSQL flexible servers' firewall rules through the real ARM SDK (flexible-server.ts says how). */
export function createPostgresFlexibleFirewalls(options: PostgresFlexibleFirewallOptions): FirewallTarget {
  return createNamedRangeFirewalls(options, POSTGRESQL_FLEXIBLE_RULES);
}
