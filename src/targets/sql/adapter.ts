import { SqlManagementClient, type FirewallRule } from '@azure/arm-sql';
import { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, classicClientOptions, perSubscription } from '../../arm/client-options.js';
import { firewallError } from '../../arm/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget } from '../firewall.js';
import type { FirewallOptions } from '../kind.js';
import { replacementSet, sameSet, sqlState, type SqlOpaque, type SqlRuleView } from './rules.js';

/** @azure/arm-sql 10.0.0 fixes its api-versions (2020-11-01-preview for firewallRules), so `apiVersion` has no effect. */
export type SqlFirewallOptions = FirewallOptions;

/** How long, at most, a write waits for a replace Azure answered 202 to show in the list. */
const DEFAULT_SETTLE_MS = 60_000;

function sqlError(error: unknown, server: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, server, action, {
    title: 'Azure SQL server',
    permissions: 'Microsoft.Sql/servers/read, Microsoft.Sql/servers/firewallRules/read and /write',
    codes: 'TARGET',
  });
}

function viewOf(r: FirewallRule): SqlRuleView {
  return { name: r.name ?? '', startIpAddress: r.startIpAddress ?? '', endIpAddress: r.endIpAddress ?? '' };
}

/**
 * Azure SQL servers' firewall rules through the real ARM SDK: the server's GET (for
 * publicNetworkAccess) and the rule list to read; one FirewallRules_Replace to write, which sets
 * the whole collection atomically, so the firewall never holds a half-written set and every rule
 * that is not tagwall's is sent back exactly as read. IPv6 rules are another child
 * (ipv6FirewallRules) the replace does not touch.
 *
 * The rules are read from the control plane. SQL caches them per database for up to five
 * minutes, so a client may be let in or out a little after the write; the read after the write
 * sees the new set at once, so there is no false drift to wait for.
 */
export function createSqlFirewalls(options: SqlFirewallOptions): FirewallTarget {
  const ownerId = options.ownerId;
  // Rules carry their owner in their names: without one, two installations would take each other's.
  if (ownerId === undefined) throw new RangeError('an Azure SQL server needs the installation\'s owner ID (ownerId)');
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const clientFor = perSubscription((subscriptionId) => new SqlManagementClient(options.credential, subscriptionId, classicClientOptions(connection)));
  const settleMs = Math.min(options.operations?.timeoutMs ?? DEFAULT_SETTLE_MS, DEFAULT_SETTLE_MS);
  const pollMs = options.operations?.pollIntervalMs ?? 2_000;

  async function list(server: ResourceRef): Promise<SqlRuleView[]> {
    const rules: SqlRuleView[] = [];
    for await (const r of clientFor(server.subscriptionId).firewallRules.listByServer(server.resourceGroup, server.name, requestOptions)) rules.push(viewOf(r));
    return rules;
  }

  return {
    async read(server: ResourceRef): Promise<FirewallState> {
      try {
        const got = await clientFor(server.subscriptionId).servers.get(server.resourceGroup, server.name, requestOptions);
        return sqlState(server, await list(server), ownerId, got.publicNetworkAccess);
      } catch (e) {
        throw sqlError(e, server, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const server = current.resource;
      // The whole set before any request, so a refusal (TARGET_FOREIGN_RULES) sends nothing.
      const values = replacementSet(server, (current.opaque as SqlOpaque).rules, change.ipRules, ownerId);
      let status = 0;
      try {
        await clientFor(server.subscriptionId).firewallRules.replace(
          server.resourceGroup,
          server.name,
          { values: values.map((r) => ({ name: r.name, startIpAddress: r.startIpAddress, endIpAddress: r.endIpAddress })) },
          { ...requestOptions, onResponse: (raw) => void (status = raw.status) },
        );
        let after = await list(server);
        // 202: Azure is still applying the set. The list shows it once it has; wait for that,
        // within a bound, so the state returned (and recorded) is the set that was written.
        // (test/targets/sql.test.ts drives both ends with the emulator's emulatorReplace.)
        const until = Date.now() + settleMs;
        let lists = 1;
        while (status === 202 && !sameSet(values, after) && Date.now() < until) {
          await new Promise((r) => setTimeout(r, pollMs));
          after = await list(server);
          lists++;
        }
        if (status === 202 && !sameSet(values, after)) {
          // Accepted and not yet showing: Azure may still apply it, so this is not a write that
          // failed to land (the pass keeps its intent) nor one that landed (no verify against the old set).
          throw new TagwallError('TARGET_OPERATION_TIMEOUT', `the replace of ${server.name}'s firewall rules, accepted (202), did not show in the rule list within ${settleMs} ms; Azure may still apply it`, {
            transient: true,
            values: { timeoutMs: settleMs, polls: lists },
          });
        }
        return sqlState(server, after, ownerId, current.posture.publicNetworkAccess);
      } catch (e) {
        throw sqlError(e, server, 'write');
      }
    },
  };
}
