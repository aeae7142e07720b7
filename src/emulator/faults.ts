import { randomUUID } from 'node:crypto';
import type { ActiveFault, DelayFault, EditFault, FaultSpec, ResourceEditFault, RespondFault } from './model.js';

/**
 * Faults waiting for matching requests. Each fault is used up one request at a time, in
 * the order the faults were added, so a test can script "two 429s, then a 500".
 */

interface Held {
  readonly id: string;
  readonly spec: FaultSpec;
  remaining: number | 'always';
  /** Matching requests still to let through before the fault hits (a respond fault's `skip`). */
  skip: number;
}

export type RequestTarget =
  | {
      readonly on: 'vaults';
      readonly method: string;
      /** Vault name and full resource ID, as the request addressed them. */
      readonly vaultName: string;
      readonly vaultId: string;
    }
  | {
      readonly on: 'perimeters';
      readonly method: string;
      /** Set when the request is about one perimeter, as the path addressed it. */
      readonly perimeterName?: string;
      readonly perimeterId?: string;
    }
  | {
      /** A firewall of another kind (resources.ts); a fault's `resource` names its ID. */
      readonly on: 'resources';
      readonly method: string;
      readonly resourceId: string;
    };

function matches(selector: string, name: string | undefined, id: string | undefined): boolean {
  const s = selector.toLowerCase().replace(/\/$/, '');
  return s === name?.toLowerCase() || s === id?.toLowerCase();
}

function selects(spec: FaultSpec, target: RequestTarget): boolean {
  if (spec.kind === 'resourceEdit') return target.on === 'resources' && matches(spec.resource, undefined, target.resourceId);
  if (target.on === 'vaults') return spec.vault === undefined || matches(spec.vault, target.vaultName, target.vaultId);
  if (target.on === 'resources') return spec.kind !== 'edit' && (spec.resource === undefined || matches(spec.resource, undefined, target.resourceId));
  return spec.kind === 'edit' || spec.perimeter === undefined || matches(spec.perimeter, target.perimeterName, target.perimeterId);
}

export class FaultBook {
  #held: Held[] = [];

  add(spec: FaultSpec): string {
    const id = randomUUID();
    this.#held.push({ id, spec, remaining: spec.times ?? 1, skip: spec.kind === 'respond' ? (spec.skip ?? 0) : 0 });
    return id;
  }

  list(): ActiveFault[] {
    return this.#held.map((h) => ({ ...h.spec, id: h.id, remaining: h.remaining }));
  }

  clear(): void {
    this.#held = [];
  }

  /** The first fault of `kind` that applies to this request, used up by one. */
  take(kind: 'respond', target: RequestTarget): RespondFault | undefined;
  take(kind: 'delay', target: RequestTarget): DelayFault | undefined;
  take(kind: 'edit', target: RequestTarget): EditFault | undefined;
  take(kind: 'resourceEdit', target: RequestTarget): ResourceEditFault | undefined;
  take(kind: FaultSpec['kind'], target: RequestTarget): FaultSpec | undefined {
    const held = this.#held.find((h) => h.spec.kind === kind && this.#applies(h.spec, target));
    if (held === undefined) return undefined;
    if (held.skip > 0) {
      held.skip -= 1;
      return undefined;
    }
    if (held.remaining !== 'always') {
      held.remaining -= 1;
      if (held.remaining <= 0) this.#held = this.#held.filter((h) => h !== held);
    }
    return held.spec;
  }

  #applies(spec: FaultSpec, target: RequestTarget): boolean {
    const method = spec.kind === 'edit' || spec.kind === 'resourceEdit' ? spec.after : spec.method;
    const on = spec.kind === 'edit' ? 'vaults' : spec.kind === 'resourceEdit' ? 'resources' : (spec.on ?? 'vaults');
    return on === target.on && (method === undefined || method === target.method) && selects(spec, target);
  }
}
