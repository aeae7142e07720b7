import { randomUUID } from 'node:crypto';
import { isCidrProblem, readCidr } from '../../core/ip-text.js';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { enumOf, mergePatch, nameOf } from './rule-values.js';
import { operationBehaviourOf, operationStatus, type OperationBehaviour as Behaviour, type OperationOutcome as Outcome } from './operations.js';

/**
 * Container apps (`Microsoft.App/containerApps`) at the api-version @azure/arm-appcontainers 3.0.0
 * sends, shaped as azure-rest-api-specs `specification/app/resource-manager/Microsoft.App/
 * ContainerApps/stable/2025-07-01` (ContainerApps.json, CommonDefinitions.json; the examples
 * ContainerApps_Get.json and ContainerApps_Patch.json).
 *
 * - The update is a JSON merge patch (the spec's "Patches a Container App using JSON Merge
 *   Patch"): objects merge, arrays replace whole, members left out stay. It is long-running:
 *   202 with an Azure-AsyncOperation header, as ContainerApps_Patch.json shows; the status reads
 *   InProgress for a while (the app reads provisioningState InProgress), then Succeeded, and only
 *   then does GET show what was written. Azure's status URL is a subscription-level
 *   `.../providers/Microsoft.App/locations/{region}/containerappOperationResults/{id}`; the
 *   emulator serves it under the app, which the SDK follows all the same.
 * - GET never returns a secret's value (ContainerApps_Get.json lists names only); `listSecrets`
 *   does. A configuration whose secrets have neither a value nor a Key Vault reference is refused
 *   with `ContainerAppSecretInvalid` and the text quoted in Azure/azure-sdk-for-net #41244 and
 *   pulumi/pulumi-azure-native #3243: what a client gets for sending the secrets back as GET
 *   returned them.
 * - IP restrictions ("Set up IP ingress restrictions", Microsoft Learn): each needs a name, an
 *   IPv4 range in CIDR notation and an action, Allow or Deny, one action for the whole list
 *   ("You can't combine allow rules and deny rules"). The spec's own example holds 192.168.1.1/8,
 *   so host bits and private ranges are taken, and echoed as written. Names are unique (the
 *   spec's x-ms-identifiers); compared case-insensitively here, the cautious reading. No limit on
 *   the number of rules is documented, so none is enforced. Azure's codes and wording for these
 *   refusals were not found: they are ARM's generic `BadRequest` with the emulator's text.
 * - A second update while one runs is refused with 409 `Conflict` (the emulator's assumption).
 *
 * A seed may carry secret values (as a create would), and `emulatorOperation: { durationMs,
 * fail: { code, message } }` to make the app's updates slow, never-ending or failing.
 */

const TYPE = 'Microsoft.App/containerApps';
export const CONTAINER_APP_API_VERSIONS = ['2025-07-01'] as const;
export const DEFAULT_APP_OPERATION_MS = 100;

const WRITABLE = new Set(['configuration', 'template', 'workloadProfileName']);

interface AppRecord extends StoredResource {
  /** The app with its secrets' values: what GET shows, and what GET hides. */
  readonly full: Record<string, unknown>;
  readonly behaviour: Behaviour;
  readonly pending?: { readonly id: string; readonly startedAt: number; readonly full: Record<string, unknown> };
  readonly finished: Readonly<Record<string, Outcome>>;
}

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', `Invalid Request: ${message}`);
}

const props = (json: Record<string, unknown>): Record<string, unknown> => (isRecord(json['properties']) ? json['properties'] : {});
const configurationOf = (json: Record<string, unknown>): Record<string, unknown> => (isRecord(props(json)['configuration']) ? (props(json)['configuration'] as Record<string, unknown>) : {});

function checkSecrets(raw: unknown): void {
  if (raw === undefined || raw === null) return;
  if (!Array.isArray(raw)) throw badRequest('properties.configuration.secrets must be an array');
  const invalid = raw.filter((s) => !isRecord(s) || !(typeof s['value'] === 'string' || (typeof s['keyVaultUrl'] === 'string' && typeof s['identity'] === 'string')));
  if (invalid.length > 0) {
    const names = invalid.map((s) => (isRecord(s) ? String(s['name']) : String(s))).join(', ');
    throw new ArmFailure(400, 'ContainerAppSecretInvalid', `Invalid Request: Container app secret(s) with name(s) '${names}' are invalid: value or keyVaultUrl and identity should be provided.`);
  }
}

function checkRestrictions(raw: unknown): Record<string, unknown>[] | undefined {
  const path = 'properties.configuration.ingress.ipSecurityRestrictions';
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw badRequest(`${path} must be an array`);
  const names = new Map<string, number>();
  const rules = raw.map((rule: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(rule)) throw badRequest(`${at} must be an object`);
    const name = rule['name'];
    if (typeof name !== 'string' || name.trim() === '') throw badRequest(`${at}.name is required`);
    const first = names.get(name.toLowerCase());
    if (first !== undefined) throw badRequest(`${at}.name '${name}' is already the name of rule ${first}; IP security restriction names must be unique`);
    names.set(name.toLowerCase(), i);
    const range = rule['ipAddressRange'];
    if (typeof range !== 'string' || !range.includes('/')) throw badRequest(`${at}.ipAddressRange '${String(range)}' is not an IPv4 range in CIDR notation (a single address is a.b.c.d/32)`);
    const parsed = readCidr(range, { hostBits: 'mask' });
    if (isCidrProblem(parsed)) throw badRequest(`${at}.ipAddressRange '${range}' is invalid: ${parsed.code === 'CIDR_IPV6' ? 'only IPv4 ranges are supported' : parsed.message}`);
    const action = enumOf(rule['action'], ['Allow', 'Deny'] as const, `${at}.action`, badRequest);
    const description = rule['description'];
    if (description !== undefined && description !== null && typeof description !== 'string') throw badRequest(`${at}.description must be a string`);
    return { name, ...(typeof description === 'string' ? { description } : {}), ipAddressRange: range, action };
  });
  if (new Set(rules.map((r) => r.action)).size > 1) throw badRequest(`${path}: all rules must be the same type; allow rules and deny rules cannot be combined`);
  return rules;
}

/** The app as stored (secret values and all), checked, with the service's own fields filled in. */
function build(id: string, raw: Record<string, unknown>): Record<string, unknown> {
  const name = nameOf(id);
  const p = props(raw);
  const configuration = isRecord(p['configuration']) ? structuredClone(p['configuration']) : {};
  checkSecrets(configuration['secrets']);
  const ingress = configuration['ingress'];
  if (ingress !== undefined && ingress !== null) {
    if (!isRecord(ingress)) throw badRequest('properties.configuration.ingress must be an object');
    const rules = checkRestrictions(ingress['ipSecurityRestrictions']);
    const { fqdn: _readOnly, ipSecurityRestrictions: _checked, ...rest } = ingress;
    configuration['ingress'] = { fqdn: `${name}.emulated.westeurope.azurecontainerapps.io`, external: false, transport: 'auto', allowInsecure: false, ...rest, ...(rules === undefined ? {} : { ipSecurityRestrictions: rules }) };
  } else {
    delete configuration['ingress'];
  }
  configuration['activeRevisionsMode'] ??= 'Single';
  const environment = typeof p['managedEnvironmentId'] === 'string' ? p['managedEnvironmentId'] : `${id.split('/providers/')[0]}/providers/Microsoft.App/managedEnvironments/env-emulated`;
  return {
    id,
    name,
    type: TYPE,
    location: typeof raw['location'] === 'string' ? raw['location'] : 'West Europe',
    tags: isRecord(raw['tags']) ? raw['tags'] : {},
    properties: {
      provisioningState: 'Succeeded',
      runningStatus: 'Running',
      managedEnvironmentId: environment,
      environmentId: environment,
      ...(typeof p['workloadProfileName'] === 'string' ? { workloadProfileName: p['workloadProfileName'] } : {}),
      latestRevisionName: `${name}-emu0001`,
      latestReadyRevisionName: `${name}-emu0001`,
      configuration,
      template: isRecord(p['template']) ? structuredClone(p['template']) : { containers: [{ name, image: 'mcr.microsoft.com/k8se/quickstart:latest' }] },
    },
  };
}

/** What GET answers: secrets by name (and Key Vault reference), never their values. */
function publicView(full: Record<string, unknown>, provisioningState?: string): Record<string, unknown> {
  const configuration = { ...configurationOf(full) };
  if (Array.isArray(configuration['secrets'])) {
    configuration['secrets'] = (configuration['secrets'] as Record<string, unknown>[]).map(({ value: _hidden, ...rest }) => rest);
  }
  return structuredClone({ ...full, properties: { ...props(full), configuration, ...(provisioningState === undefined ? {} : { provisioningState }) } });
}

function record(id: string, full: Record<string, unknown>, behaviour: Behaviour, finished: Readonly<Record<string, Outcome>>, pending?: AppRecord['pending']): AppRecord {
  return { id, json: publicView(full, pending === undefined ? undefined : 'InProgress'), full, behaviour, finished, ...(pending === undefined ? {} : { pending }) };
}

/** Ends the pending update once its time is up; returns the app as it now stands. */
function settle(request: ResourceRequest): AppRecord | undefined {
  const stored = request.store.get(request.id) as AppRecord | undefined;
  const op = stored?.pending;
  if (stored === undefined || op === undefined || Date.now() - op.startedAt < stored.behaviour.durationMs) return stored;
  const fail = stored.behaviour.fail;
  const settled = record(stored.id, fail === undefined ? op.full : stored.full, stored.behaviour, { ...stored.finished, [op.id]: fail === undefined ? { status: 'Succeeded' } : { status: 'Failed', error: { ...fail } } });
  request.store.set(settled);
  return settled;
}

function patch(request: ResourceRequest, app: AppRecord): ArmReply {
  if (app.pending !== undefined) throw new ArmFailure(409, 'Conflict', `Cannot update container app '${nameOf(app.id)}': another operation on it is in progress. Retry once it has finished.`);
  const body = request.body;
  if (!isRecord(body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: the body must be a JSON object.');
  if (body['properties'] !== undefined && body['properties'] !== null && !isRecord(body['properties'])) throw badRequest('properties must be an object');
  const writable = (p: unknown) => (isRecord(p) ? Object.fromEntries(Object.entries(p).filter(([k]) => WRITABLE.has(k))) : {});
  const merged = mergePatch({ tags: app.full['tags'], properties: writable(app.full['properties']) }, { ...(body['tags'] === undefined ? {} : { tags: body['tags'] }), properties: writable(body['properties']) }) as Record<string, unknown>;
  const full = build(app.id, { location: app.full['location'], tags: merged['tags'], properties: { ...props(merged), managedEnvironmentId: props(app.full)['managedEnvironmentId'] } });
  const op = { id: randomUUID(), startedAt: Date.now(), full };
  request.store.set(record(app.id, app.full, app.behaviour, app.finished, op));
  const status = `${request.origin}${app.id}/containerappOperationResults/${op.id}?api-version=${request.apiVersion}`;
  return { status: 202, body: undefined, headers: { 'azure-asyncoperation': status } };
}

function operation(request: ResourceRequest, app: AppRecord, opId: string): ArmReply {
  const outcome = app.finished[opId];
  const running = app.pending?.id === opId;
  const base = { id: `${app.id}/containerappOperationResults/${opId}`, name: opId };
  return operationStatus(base, running, outcome, opId);
}

export const CONTAINER_APP_MODEL: ResourceModel = {
  resourceType: TYPE,
  apiVersions: CONTAINER_APP_API_VERSIONS,

  handle(request: ResourceRequest): ArmReply {
    const app = settle(request);
    if (app === undefined) throw resourceNotFound(request.id);
    const op = /^\/containerappOperationResults\/([^/]+)$/i.exec(request.subPath);
    if (op !== null && request.method === 'GET') return operation(request, app, op[1]!);
    if (/^\/listSecrets$/i.test(request.subPath) && request.method === 'POST') {
      const secrets = configurationOf(app.full)['secrets'];
      return { status: 200, body: { value: Array.isArray(secrets) ? structuredClone(secrets) : [] } };
    }
    if (request.subPath !== '') throw resourceNotFound(`${request.id}${request.subPath}`);
    if (request.method === 'GET') return { status: 200, body: app.json };
    if (request.method === 'PATCH') return patch(request, app);
    throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves GET and PATCH of container apps; ${request.method} is not modelled.`);
  },

  seed(resource): AppRecord {
    const { id, emulatorOperation, ...rest } = resource as { id: string; emulatorOperation?: unknown } & Record<string, unknown>;
    const canonical = id.replace(/\/+$/, '');
    try {
      return record(canonical, build(canonical, rest), operationBehaviourOf(emulatorOperation, DEFAULT_APP_OPERATION_MS), {});
    } catch (e) {
      throw seedError(`${canonical}: ${e instanceof Error ? e.message : String(e)}`);
    }
  },
};
