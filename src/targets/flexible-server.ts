import type { ArmConnection } from '../arm/client-options.js';
import type { FirewallFacts, FirewallOptions } from './kind.js';
import type { OperationPoller } from './long-running.js';
import type { NamedRangeKind, OperationOptions, RequestOptions } from './named-range-firewall.js';
import { RANGE_RULE_NAME_TAKEN, type RangeRuleView } from './range-rules.js';

/** One firewall rule as both flexible-server SDKs give it. */
interface FlexibleServerRule {
  readonly name?: string;
  readonly startIpAddress?: string;
  readonly endIpAddress?: string;
}

/**
 * The part of a flexible-server SDK client tagwall uses. @azure/arm-postgresql-flexible and
 * @azure/arm-mysql-flexible shape it alike (the server's network.publicNetworkAccess, and
 * firewallRules listed, created and deleted one by one, long-running), so one set of calls serves both.
 */
export interface FlexibleServerClient {
  readonly servers: {
    get(resourceGroup: string, server: string, options?: RequestOptions): Promise<{ readonly network?: { readonly publicNetworkAccess?: string } }>;
  };
  readonly firewallRules: {
    listByServer(resourceGroup: string, server: string, options?: RequestOptions): AsyncIterable<FlexibleServerRule>;
    beginCreateOrUpdate(resourceGroup: string, server: string, rule: string, body: { startIpAddress: string; endIpAddress: string }, options?: OperationOptions): Promise<OperationPoller<FlexibleServerRule>>;
    beginDelete(resourceGroup: string, server: string, rule: string, options?: OperationOptions): Promise<OperationPoller<unknown>>;
  };
}

const viewOf = (r: FlexibleServerRule, name = r.name ?? ''): RangeRuleView => ({ name, startIpAddress: r.startIpAddress ?? '', endIpAddress: r.endIpAddress ?? '' });

/** What differs between the two flexible-server kinds: their facts, words, permissions and SDK client. */
export interface FlexibleServerKind<C extends FlexibleServerClient> {
  readonly facts: FirewallFacts;
  /** For messages: `a PostgreSQL flexible server`. */
  readonly where: string;
  readonly permissions: string;
  client(subscriptionId: string, connection: ArmConnection, options: FirewallOptions): C;
}

/**
 * A flexible server's rules as a start/end kind written one rule at a time: the server's GET (for
 * network.publicNetworkAccess) and the rule list to read; to write, one long-running PUT per new
 * rule of tagwall's, then one long-running DELETE per rule it no longer wants, each polled to its
 * end within the operation bound (named-range-firewall.ts).
 */
export function flexibleServerRules<C extends FlexibleServerClient>(kind: FlexibleServerKind<C>): NamedRangeKind<C> {
  return {
    title: kind.facts.title,
    permissions: kind.permissions,
    rules: {
      where: kind.where,
      special: kind.facts.special,
      specialName: 'the server\'s own "allow any Azure service" entry (0.0.0.0)',
      nameTakenCode: RANGE_RULE_NAME_TAKEN,
    },
    client: kind.client,
    calls: {
      async publicNetworkAccess(client, server, calls) {
        return (await client.servers.get(server.resourceGroup, server.name, calls.requestOptions)).network?.publicNetworkAccess;
      },
      async *list(client, server, calls) {
        for await (const r of client.firewallRules.listByServer(server.resourceGroup, server.name, calls.requestOptions)) yield viewOf(r);
      },
      async put(client, server, rule, calls) {
        const body = { startIpAddress: rule.startIpAddress, endIpAddress: rule.endIpAddress };
        return viewOf(await calls.operation(server, (o) => client.firewallRules.beginCreateOrUpdate(server.resourceGroup, server.name, rule.name, body, o)), rule.name);
      },
      async delete(client, server, name, calls) {
        await calls.operation(server, (o) => client.firewallRules.beginDelete(server.resourceGroup, server.name, name, o));
      },
    },
  };
}
