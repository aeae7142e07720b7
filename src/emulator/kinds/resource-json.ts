import { ArmFailure, isRecord } from '../http.js';
import { seedError, type StoredResource } from '../resources.js';

/** What the kinds' models share in reading the JSON of a request or a seed. */

/** ARM enums compare case-insensitively and come back in their canonical spelling. */
export function oneOf<T extends string>(raw: unknown, allowed: readonly T[]): T | undefined {
  return typeof raw === 'string' ? allowed.find((a) => a.toLowerCase() === raw.toLowerCase()) : undefined;
}

/** A rule array of a body: absent is `fallback`; anything but an array is undefined, for the caller to refuse. */
export function arrayOr(raw: unknown, fallback: unknown[] = []): unknown[] | undefined {
  if (raw === undefined || raw === null) return fallback;
  return Array.isArray(raw) ? raw : undefined;
}

/** The properties a client may write; the service's own (endpoints, provisioningState, ...) are dropped. */
export function writableProperties(properties: unknown, writable: ReadonlySet<string>): Record<string, unknown> {
  if (properties === undefined || properties === null) return {};
  if (!isRecord(properties)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: properties must be an object.');
  return Object.fromEntries(Object.entries(properties).filter(([k]) => writable.has(k)));
}

/** A seeded resource, built as a write would build it; a refusal names the resource. */
export function seeded(resource: { readonly id: string }, build: (id: string) => Record<string, unknown>): StoredResource {
  const id = resource.id.replace(/\/+$/, '');
  try {
    return { id, json: build(id) };
  } catch (e) {
    throw seedError(`${id}: ${(e as Error).message}`);
  }
}
