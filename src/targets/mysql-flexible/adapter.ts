import { MySQLManagementFlexibleServerClient, type FirewallRule } from '@azure/arm-mysql-flexible';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls, type NamedRangeKind } from '../named-range-firewall.js';
import { RANGE_RULE_NAME_TAKEN, type RangeRuleView } from '../range-rules.js';
import { MYSQL_FLEXIBLE } from './facts.js';

/** @azure/arm-mysql-flexible 3.1.0 fixes api-version 2021-05-01, so `apiVersion` has no effect. */
export type MysqlFlexibleFirewallOptions = FirewallOptions;

const viewOf = (r: FirewallRule, name = r.name ?? ''): RangeRuleView => ({ name, startIpAddress: r.startIpAddress ?? '', endIpAddress: r.endIpAddress ?? '' });

export const MYSQL_FLEXIBLE_RULES: NamedRangeKind<MySQLManagementFlexibleServerClient> = {
  title: MYSQL_FLEXIBLE.title,
  permissions: 'Microsoft.DBforMySQL/flexibleServers/read, /flexibleServers/firewallRules/read, /write and /delete',
  rules: {
    where: 'a MySQL flexible server',
    special: MYSQL_FLEXIBLE.special,
    specialName: 'the server\'s own "allow any Azure service" entry (0.0.0.0)',
    nameTakenCode: RANGE_RULE_NAME_TAKEN,
  },
  client: (subscriptionId, connection, options) => new MySQLManagementFlexibleServerClient(options.credential, subscriptionId, classicClientOptions(connection)),
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
 * MySQL flexible servers' firewall rules through the real ARM SDK: the server's GET (for
 * network.publicNetworkAccess) and the rule list to read; to write, one PUT per new rule of
 * tagwall's, then one DELETE per rule it no longer wants, each polled to its end within the
 * operation bound (named-range-firewall.ts).
 */
export function createMysqlFlexibleFirewalls(options: MysqlFlexibleFirewallOptions): FirewallTarget {
  return createNamedRangeFirewalls(options, MYSQL_FLEXIBLE_RULES);
}
