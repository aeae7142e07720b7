import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeError, isTagwallError } from '../core/errors.js';
import { normaliseIpRule } from './acls.js';
import { ArmFailure, readJsonBody, sendArmError, sendJson } from './http.js';
import {
  associationRequestSchema,
  CONTROL_PREFIX,
  dissociationRequestSchema,
  faultSpecSchema,
  parseEmulatorSeed,
  perimeterReadsRequestSchema,
  ruleRequestSchema,
  settingsPatchSchema,
} from './model.js';
import { fleetRoute, resetFleetState } from './control-fleet.js';
import { applySeed, type EmulatorState } from './state.js';
import { addressOf } from './vaults.js';
import { zodProblems } from '../core/problems.js';

/**
 * The control API under /_emulator/: plain JSON, no authentication, for tests and demos
 * only. It speaks ARM's error envelope so one client helper reads both.
 */

function invalid(message: string): ArmFailure {
  return new ArmFailure(400, 'InvalidControlRequest', message);
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalid(`${what}: ${zodProblems(r.error).join('; ')}`);
  return r.data;
}

function seedFrom(body: unknown, state: EmulatorState, replace: boolean): { seeded: number; perimeters?: number } {
  const seed = body === undefined ? { vaults: [] } : parseEmulatorSeed(body, 'the seed');
  applySeed(state, seed, { replace, oldApi: replace ? state.initialSettings.oldApi : state.settings.oldApi });
  // `perimeters` only when the seed has them, so the answer to an older seed is unchanged.
  return {
    seeded: seed.vaults.length,
    ...(seed.perimeters === undefined ? {} : { perimeters: seed.perimeters.length }),
    ...(seed.resources === undefined ? {} : { resources: seed.resources.length }),
  };
}

async function route(method: string, path: string, req: IncomingMessage, state: EmulatorState): Promise<[number, unknown]> {
  const fleet = await fleetRoute(method, path, req, state);
  if (fleet !== undefined) return fleet;
  if (path === 'vaults' && method === 'GET') return [200, { vaults: state.vaults.list() }];
  // One rule added or removed "in the portal", checked like any write.
  const ruleCall = /^vaults\/([^/]+)\/rules$/.exec(path);
  if (ruleCall !== null && (method === 'POST' || method === 'DELETE')) {
    const selector = decodeURIComponent(ruleCall[1]!);
    const vault = state.vaults.find(selector);
    if (vault === undefined) throw new ArmFailure(404, 'ResourceNotFound', `no emulated vault ${selector}`);
    const { value } = parseWith(ruleRequestSchema, await readJsonBody(req), 'rule');
    const key = normaliseIpRule(value, 0, false);
    const rules = (vault.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
    const present = rules.some((r) => normaliseIpRule(r, 0, false) === key);
    if (method === 'POST' && present) throw invalid(`rule: ${value} is already in ${vault.name}`);
    if (method === 'DELETE' && !present) throw new ArmFailure(404, 'ResourceNotFound', `rule ${value} is not in ${vault.name}`);
    const next = method === 'POST' ? [...rules, value] : rules.filter((r) => normaliseIpRule(r, 0, false) !== key);
    state.vaults.replaceIpRules(addressOf(vault), next, state.settings.oldApi);
    return [200, state.vaults.find(selector)];
  }
  if (path.startsWith('vaults/') && method === 'GET') {
    const selector = decodeURIComponent(path.slice('vaults/'.length));
    const vault = state.vaults.find(selector);
    if (vault === undefined) throw new ArmFailure(404, 'ResourceNotFound', `no emulated vault ${selector}`);
    return [200, vault];
  }
  if (path === 'seed' && method === 'POST') return [200, seedFrom(await readJsonBody(req), state, false)];
  if (path === 'reset' && method === 'POST') {
    const seeded = seedFrom(await readJsonBody(req), state, true);
    state.faults.clear();
    state.log.clear();
    resetFleetState(state);
    state.settings = state.initialSettings;
    return [200, seeded];
  }
  if (path === 'perimeters' && method === 'GET') {
    return [200, { perimeters: state.perimeters.snapshot(), forbiddenSubscriptions: state.perimeters.forbiddenSubscriptions() }];
  }
  if (path === 'perimeters/associations' && method === 'PUT') {
    const { created, association } = state.perimeters.associate(parseWith(associationRequestSchema, await readJsonBody(req), 'association'));
    return [created ? 201 : 200, association];
  }
  if (path === 'perimeters/associations' && method === 'DELETE') {
    return [200, { removed: state.perimeters.dissociate(parseWith(dissociationRequestSchema, await readJsonBody(req), 'dissociation')) }];
  }
  if (path === 'perimeters/reads' && method === 'PUT') {
    const { subscriptionId, forbidden } = parseWith(perimeterReadsRequestSchema, await readJsonBody(req), 'perimeter reads');
    return [200, { forbiddenSubscriptions: state.perimeters.setReadsForbidden(subscriptionId, forbidden) }];
  }
  if (path === 'resources' && method === 'GET') return [200, { resources: state.resources.list().map((r) => r.json) }];
  if (path.startsWith('resources/') && method === 'GET') {
    const id = decodeURIComponent(path.slice('resources/'.length));
    const found = state.resources.get(id.startsWith('/') ? id : `/${id}`);
    if (found === undefined) throw new ArmFailure(404, 'ResourceNotFound', `no emulated resource ${id}`);
    return [200, found.json];
  }
  if (path === 'faults' && method === 'GET') return [200, { faults: state.faults.list() }];
  if (path === 'faults' && method === 'DELETE') {
    state.faults.clear();
    return [200, { faults: [] }];
  }
  if (path === 'faults' && method === 'POST') {
    const spec = parseWith(faultSpecSchema, await readJsonBody(req), 'fault');
    if (spec.kind === 'edit') spec.ipRules.forEach((r, i) => normaliseIpRule(r, i, false));
    // A resource edit's rule set is checked by the kind's model when it runs, like any PUT.
    else if (spec.kind === 'resourceEdit') void 0;
    else if (spec.on === 'perimeters' && spec.vault !== undefined) throw invalid('fault: a fault on perimeters names no vault (name a perimeter, or none)');
    else if (spec.on !== 'perimeters' && spec.perimeter !== undefined) throw invalid('fault: a fault that names a perimeter needs on: "perimeters"');
    return [201, { id: state.faults.add(spec) }];
  }
  if (path === 'settings' && method === 'GET') return [200, state.settings];
  if (path === 'settings' && method === 'PATCH') {
    const patch = parseWith(settingsPatchSchema, (await readJsonBody(req)) ?? {}, 'settings');
    state.settings = { ...state.settings, ...patch };
    return [200, state.settings];
  }
  if (path === 'requests' && method === 'GET') return [200, { requests: state.log.list() }];
  if (path === 'requests' && method === 'DELETE') {
    state.log.clear();
    return [200, { requests: [] }];
  }
  throw new ArmFailure(404, 'NotFound', `no control operation ${method} ${CONTROL_PREFIX}${path}`);
}

export async function handleControlRequest(req: IncomingMessage, res: ServerResponse, url: URL, state: EmulatorState): Promise<void> {
  const path = url.pathname.slice(CONTROL_PREFIX.length).replace(/\/$/, '');
  const method = (req.method ?? 'GET').toUpperCase();
  // Counted before it runs, so a reset of the counters leaves them at zero.
  state.stats.count(method, 'control');
  try {
    const [status, body] = await route(method, path, req, state);
    sendJson(res, status, body);
  } catch (e) {
    sendArmError(res, e instanceof ArmFailure ? e : isTagwallError(e) ? invalid(describeError(e)) : new ArmFailure(500, 'InternalServerError', describeError(e)));
  }
}
