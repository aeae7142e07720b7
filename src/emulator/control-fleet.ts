import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { seedFleet } from './fleet-seed.js';
import { fleetSeedRequestSchema, graphThrottleRequestSchema, managementGroupRequestSchema, stormRequestSchema, subscriptionAccessRequestSchema } from './fleet-model.js';
import { ArmFailure, readJsonBody } from './http.js';
import type { EmulatorState } from './state.js';
import { zodProblems } from '../core/problems.js';

/**
 * The control calls for fleets: seeding one, the directory the identity sees (readable
 * subscriptions, management groups), 429 storms and injected Resource Graph throttling, and the
 * counters. Like the rest of the control API: plain JSON, loopback only, no authentication.
 */

function parseWith<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ArmFailure(400, 'InvalidControlRequest', `${what}: ${zodProblems(r.error).join('; ')}`);
  return r.data;
}

/** What `reset` clears of the fleet's state (the stores themselves are cleared by the seed). */
export function resetFleetState(state: EmulatorState): void {
  state.directory.clear();
  state.throttle.clear();
  state.graphQuota.clear();
  state.stats.reset();
}

/** The answer to a fleet control call, or undefined when the path is not one. */
export async function fleetRoute(method: string, path: string, req: IncomingMessage, state: EmulatorState): Promise<[number, unknown] | undefined> {
  const body = async (): Promise<unknown> => readJsonBody(req);
  if (path === 'fleet' && method === 'POST') return [201, seedFleet(state, parseWith(fleetSeedRequestSchema, await body(), 'fleet'))];
  if (path === 'stats' && method === 'GET') return [200, state.stats.snapshot()];
  if (path === 'stats' && method === 'DELETE') {
    state.stats.reset();
    return [200, state.stats.snapshot()];
  }
  if (path === 'subscriptions/access' && method === 'PUT') {
    const { subscriptionId, readable } = parseWith(subscriptionAccessRequestSchema, await body(), 'subscription access');
    return [200, { unreadableSubscriptions: state.directory.setReadable(subscriptionId, readable) }];
  }
  if (path === 'subscriptions' && method === 'GET') {
    return [200, { subscriptions: state.directory.subscriptions(), unreadableSubscriptions: state.directory.unreadable() }];
  }
  if (path === 'management-groups' && method === 'PUT') {
    const group = parseWith(managementGroupRequestSchema, await body(), 'management group');
    state.directory.setGroup({ name: group.name, subscriptions: group.subscriptions, readable: group.readable ?? true });
    return [200, { managementGroups: state.directory.groups() }];
  }
  if (path === 'management-groups' && method === 'GET') return [200, { managementGroups: state.directory.groups() }];
  if (path === 'throttle/storms' && method === 'POST') {
    const storm = parseWith(stormRequestSchema, await body(), 'storm');
    return [201, state.throttle.storm(storm.subscriptionId, storm.retryAfterSeconds, storm.durationMs)];
  }
  if (path === 'throttle/storms' && method === 'GET') return [200, { storms: state.throttle.storms() }];
  if (path === 'graph/throttle' && method === 'POST') {
    const { count, retryAfterSeconds } = parseWith(graphThrottleRequestSchema, await body(), 'graph throttle');
    state.graphQuota.inject(count, retryAfterSeconds ?? 1);
    return [201, { count, retryAfterSeconds: retryAfterSeconds ?? 1 }];
  }
  return undefined;
}
