import { PostgreSQLManagementFlexibleServerClient, type FirewallRule } from '@azure/arm-postgresql-flexible';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls, type NamedRangeKind } from '../named-range-firewall.js';
import { RANGE_RULE_NAME_TAKEN, type RangeRuleView } from '../range-rules.js';
import { POSTGRESQL_FLEXIBLE } from './facts.js';

/** @azure/arm-postgresql-flexible 9.0.0 sends 2025-08-01 unless told otherwise; tagwall keeps the SDK's. */
export type PostgresFlexibleFirewallOptions = FirewallOptions;

const viewOf = (r: FirewallRule, name = r.name ?? ''): RangeRuleView => ({ name, startIpAddress: r.startIpAddress ?? '', endIpAddress: r.endIpAddress ?? '' });

export const POSTGRESQL_FLEXIBLE_RULES: NamedRangeKind<PostgreSQLManagementFlexibleServerClient> = {
  title: POSTGRESQL_FLEXIBLE.title,
  permissions: 'Microsoft.DBforPostgreSQL/flexibleServers/read, /flexibleServers/firewallRules/read, /write and /delete',
  rules: {
    where: 'a PostgreSQL flexible server',
    special: POSTGRESQL_FLEXIBLE.special,
    specialName: 'the server\'s own "allow any Azure service" entry (0.0.0.0)',
    nameTakenCode: RANGE_RULE_NAME_TAKEN,
  },
  client: (subscriptionId, connection, options) => new PostgreSQLManagementFlexibleServerClient(options.credential, subscriptionId, classicClientOptions(connection)),
  calls: {
    async publicNetworkAccess(client, server, calls) {
      return (await client.servers.get(server.resourceGroup, server.name, calls.requestOptions)).network?.publicNetworkAccess;
    },
    async *list(client, server, calls) {
      for await (const r of client.firewallRules.listByServer(server.resourceGroup, server.name, calls.requestOptions)) yield viewOf(r);
    },
    async put(client, server, rule, calls) {
      const body: FirewallRule = { startIpAddress: rule.startIpAddress, endIpAddress: rule.endIpAddress };
      return viewOf(await calls.operation(server, (o) => client.firewallRules.beginCreateOrUpdate(server.resourceGroup, server.name, rule.name, body, o)), rule.name);
    },
    async delete(client, server, name, calls) {
      await calls.operation(server, (o) => client.firewallRules.beginDelete(server.resourceGroup, server.name, name, o));
    },
  },
};

/**
 * PostgreSQL flexible servers' firewall rules through the real ARM SDK: the server's GET (for
 * network.publicNetworkAccess) and the rule list to read; to write, one long-running PUT per new
 * rule of tagwall's, then one long-running DELETE per rule it no longer wants (named-range-firewall.ts).
 */
export function createPostgresFlexibleFirewalls(options: PostgresFlexibleFirewallOptions): FirewallTarget {
  return createNamedRangeFirewalls(options, POSTGRESQL_FLEXIBLE_RULES);
}
