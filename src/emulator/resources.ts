import { TagwallError } from '../core/errors.js';
import { ArmFailure } from './http.js';
import { RESOURCE_MODELS } from './kinds/index.js';
import type { WriteObserver } from './vaults.js';

/**
 * The extension point for every firewall kind besides Key Vault: a model per resource type
 * serves that type's ARM routes at its api-versions, with Azure's validation, over one shared
 * store of resources kept as the JSON ARM returns. Each kind's model lives in
 * src/emulator/kinds/<kind>.ts, beside its adapter's name in src/targets/<kind>/.
 */

export interface StoredResource {
  /** The canonical resource ID, as ARM returns it. */
  readonly id: string;
  readonly json: Record<string, unknown>;
}

export interface ArmReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ResourceRequest {
  readonly method: string;
  /** The resource's ID (canonical casing from the store when it exists). */
  readonly id: string;
  /** The path under the resource, e.g. `/networkRuleSets/default`; `''` for the resource itself. */
  readonly subPath: string;
  readonly apiVersion: string;
  readonly body: unknown;
  readonly store: ResourceStore;
  /** `https://127.0.0.1:port`, for URLs in answers (long-running operations). */
  readonly origin: string;
  /** The request's If-Match header, for the models that honour it (AKS). */
  readonly ifMatch?: string;
}

export interface ResourceModel {
  /** `Microsoft.Storage/storageAccounts`. */
  readonly resourceType: string;
  readonly apiVersions: readonly string[];
  handle(request: ResourceRequest): ArmReply | Promise<ArmReply>;
  /** Checks a seeded resource (the shape ARM, and so the model, returns) and fills what ARM would. */
  seed(resource: { readonly id: string } & Record<string, unknown>): StoredResource;
}

/** Every resource of every modelled kind, by lowercased ID. */
export class ResourceStore {
  readonly #byId = new Map<string, StoredResource>();

  /** `observe` is told of every version stored and every delete (history.ts keeps them for Resource Graph). */
  constructor(private readonly observe: WriteObserver = () => undefined) {}

  get(id: string): StoredResource | undefined {
    return this.#byId.get(id.toLowerCase());
  }

  set(resource: StoredResource): void {
    this.#byId.set(resource.id.toLowerCase(), resource);
    this.observe(resource.id, resource.json);
  }

  delete(id: string): boolean {
    const deleted = this.#byId.delete(id.toLowerCase());
    if (deleted) this.observe(id, undefined);
    return deleted;
  }

  list(): StoredResource[] {
    return [...this.#byId.values()];
  }

  clear(): void {
    this.#byId.clear();
  }
}

let byType: Map<string, ResourceModel> | undefined;

/** The models, by lowercased resource type, built on first use from the kinds' list. */
function models(): Map<string, ResourceModel> {
  byType ??= new Map(RESOURCE_MODELS.map((m) => [m.resourceType.toLowerCase(), m]));
  return byType;
}

export function resourceModels(): ResourceModel[] {
  return [...models().values()];
}

const RESOURCE_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/([^/]+)(\/.*)?$/i;

/** The model and resource a request path names, if a model serves it. */
export function matchResourceRoute(pathname: string): { model: ResourceModel; id: string; subPath: string } | undefined {
  const m = RESOURCE_PATH.exec(pathname.replace(/\/+$/, ''));
  if (m === null) return undefined;
  // A child resource type (a perimeter profile) is served by the model of the whole type path.
  const rest = m[6] ?? '';
  for (const candidate of [`${m[3]}/${m[4]}${typePath(rest)}`, `${m[3]}/${m[4]}`]) {
    const model = models().get(candidate.toLowerCase());
    if (model === undefined) continue;
    const depth = candidate.split('/').length - 2;
    const parts = rest.split('/').filter((s) => s !== '');
    const own = parts.slice(0, depth * 2);
    return { model, id: `/subscriptions/${m[1]}/resourceGroups/${m[2]}/providers/${m[3]}/${m[4]}/${m[5]}${own.length > 0 ? `/${own.join('/')}` : ''}`, subPath: parts.length > own.length ? `/${parts.slice(own.length).join('/')}` : '' };
  }
  return undefined;
}

function typePath(rest: string): string {
  const parts = rest.split('/').filter((s) => s !== '');
  const types: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) types.push(parts[i]!);
  return types.length === 0 ? '' : `/${types.join('/')}`;
}

/** Seeds resources through their kinds' models; every problem is reported at once. */
export function seedResources(resources: readonly ({ readonly id: string } & Record<string, unknown>)[]): { built: StoredResource[]; problems: string[] } {
  const built: StoredResource[] = [];
  const problems: string[] = [];
  resources.forEach((r, i) => {
    const route = typeof r.id === 'string' ? matchResourceRoute(r.id) : undefined;
    if (route === undefined || route.subPath !== '') {
      problems.push(`resources[${i}].id: ${JSON.stringify(r.id)} is not a resource of a kind the emulator models (${resourceModels().map((m) => m.resourceType).join(', ') || 'none'})`);
      return;
    }
    try {
      built.push(route.model.seed(r));
    } catch (e) {
      problems.push(`resources[${i}]: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return { built, problems };
}

export function resourceNotFound(id: string): ArmFailure {
  return new ArmFailure(404, 'ResourceNotFound', `The Resource '${id.split('/providers/')[1] ?? id}' under resource group '${id.split('/')[4] ?? ''}' was not found.`);
}

export function seedError(message: string): TagwallError {
  return new TagwallError('EMULATOR_SEED_INVALID', message);
}
