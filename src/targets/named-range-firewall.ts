import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import { armConnection, perSubscription, type ArmConnection } from '../arm/client-options.js';
import { firewallError } from '../arm/errors.js';
import type { FirewallChange, FirewallState, FirewallTarget } from './firewall.js';
import type { FirewallOptions } from './kind.js';
import { runOperation, watchOperation, type OperationPoller } from './long-running.js';
import { afterSteps, OWNER_NAMING, planRangeSteps, rangeState, type RangeOpaque, type RangeRuleKind, type RangeRuleView, type RangeStep } from './range-rules.js';

/**
 * The start/end kinds whose rules are written one at a time (PostgreSQL and MySQL flexible
 * servers, Synapse workspaces, Azure Cache for Redis): read the server and its rules, then a
 * PUT for each new rule of tagwall's and a DELETE for each it no longer wants, in the order
 * planRangeSteps gives (puts first: at every moment the firewall admits at least what both the
 * old and the new rules admit). A kind gives its SDK calls (NamedRangeCalls) and its words
 * (RangeRuleKind); everything else is here.
 */

/** What a request option bag carries: the connection's timeout, and for a long-running one the watch. */
export type RequestOptions = ArmConnection['operationOptions'];

/** The options a long-running request takes: the watch's onResponse and the poll interval. */
export type OperationOptions = RequestOptions & {
  readonly onResponse: (raw: { readonly status: number; readonly parsedBody?: unknown }) => void;
  readonly updateIntervalInMs?: number;
};

/** How the kind's calls reach Azure: plain requests, and long-running ones bounded by runOperation. */
export interface Calls {
  readonly requestOptions: RequestOptions;
  /** Starts a long-running request and waits for its end within the operation bound (TARGET_OPERATION_TIMEOUT / _FAILED). */
  operation<T>(server: ResourceRef, begin: (options: OperationOptions) => Promise<OperationPoller<T>>): Promise<T>;
}

/** A kind's SDK calls, on the client of the server's subscription. */
export interface NamedRangeCalls<C> {
  /** The server's public network access as the kind spells it (`Disabled`: the pass skips it). */
  publicNetworkAccess(client: C, server: ResourceRef, calls: Calls): Promise<string | undefined>;
  list(client: C, server: ResourceRef, calls: Calls): AsyncIterable<RangeRuleView>;
  /** Creates or updates one rule; returns it as Azure's answer gives it (undefined: as sent). */
  put(client: C, server: ResourceRef, rule: RangeRuleView, calls: Calls): Promise<RangeRuleView | undefined>;
  delete(client: C, server: ResourceRef, name: string, calls: Calls): Promise<void>;
}

export interface NamedRangeKind<C> {
  /** For errors: `PostgreSQL flexible server`. */
  readonly title: string;
  /** The permissions a 403 means are missing. */
  readonly permissions: string;
  readonly rules: RangeRuleKind;
  /** The most rules the API itself holds, if it refuses more: the steps stay under it while old and new stand. */
  readonly capacity?: number;
  client(subscriptionId: string, connection: ArmConnection, options: FirewallOptions): C;
  readonly calls: NamedRangeCalls<C>;
}

/**
 * A failure after some steps were made is no refusal of the whole write: marked `partial`, so
 * the pass withdraws its intent rather than wait for it to expire (run/steps/write.ts): the rules'
 * names already say whose they are, and the next run reads what landed.
 */
function partialError(error: TagwallError, done: number, total: number): TagwallError {
  if (done === 0) return error;
  return new TagwallError(error.code, `${error.message} (after ${done} of ${total} rule writes had been made)`, {
    transient: error.transient,
    details: [...error.details, `${done} of ${total} rule writes made before the failure`],
    cause: error.cause ?? error,
    values: { ...error.values, partial: true, stepsDone: done, steps: total },
  });
}

export function createNamedRangeFirewalls<C>(options: FirewallOptions, kind: NamedRangeKind<C>): FirewallTarget {
  const ownerId = options.ownerId;
  // Rules carry their owner in their names: without one, two installations would take each other's.
  if (ownerId === undefined) throw new RangeError(`a ${kind.title} needs the installation's owner ID (ownerId)`);
  // A bad owner ID fails here, at start, not at the first write.
  (kind.rules.naming ?? OWNER_NAMING).pattern(ownerId);
  const connection = armConnection(options);
  const clientFor = perSubscription((subscriptionId) => kind.client(subscriptionId, connection, options));
  const calls: Calls = {
    requestOptions: connection.operationOptions,
    async operation<T>(server: ResourceRef, begin: (o: OperationOptions) => Promise<OperationPoller<T>>): Promise<T> {
      const watch = watchOperation();
      const interval = options.operations?.pollIntervalMs;
      return runOperation(() => begin({ ...connection.operationOptions, onResponse: watch.onResponse, ...(interval === undefined ? {} : { updateIntervalInMs: interval }) }), server, kind.title, watch, options.operations);
    },
  };
  const mapError = (e: unknown, server: ResourceRef, action: 'read' | 'write'): TagwallError =>
    e instanceof TagwallError && e.code.startsWith('TARGET_OPERATION_') ? e : firewallError(e, server, action, { title: kind.title, permissions: kind.permissions, codes: 'TARGET' });

  async function list(server: ResourceRef): Promise<RangeRuleView[]> {
    const rules: RangeRuleView[] = [];
    for await (const r of kind.calls.list(clientFor(server.subscriptionId), server, calls)) rules.push(r);
    return rules;
  }

  return {
    async read(server: ResourceRef): Promise<FirewallState> {
      try {
        const access = await kind.calls.publicNetworkAccess(clientFor(server.subscriptionId), server, calls);
        return rangeState(server, await list(server), ownerId, access, kind.rules);
      } catch (e) {
        throw mapError(e, server, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const server = current.resource;
      const rules = (current.opaque as RangeOpaque).rules;
      // Every step before any request, so a refusal (TARGET_FOREIGN_RULES) sends nothing.
      const steps = planRangeSteps(server, rules, change.ipRules, ownerId, kind.rules, kind.capacity);
      const done: RangeStep[] = [];
      const client = clientFor(server.subscriptionId);
      try {
        // In order, one at a time: see planRangeSteps for why.
        for (const step of steps) {
          if (step.op === 'put') {
            const written = await kind.calls.put(client, server, step.rule, calls);
            done.push({ op: 'put', rule: written === undefined ? step.rule : { ...written, name: step.rule.name } });
          } else {
            await kind.calls.delete(client, server, step.name, calls);
            done.push(step);
          }
        }
      } catch (e) {
        throw partialError(mapError(e, server, 'write'), done.length, steps.length);
      }
      return rangeState(server, afterSteps(rules, done), ownerId, current.posture.publicNetworkAccess, kind.rules);
    },
  };
}
