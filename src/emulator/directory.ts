import { ArmFailure } from './http.js';

/**
 * What the emulated identity may see beyond single resources: which subscriptions exist, which it
 * may read, and the management groups that gather them. A subscription it may not read is left out
 * of Resource Graph's answers (Resource Graph returns only what the caller can read) and answers
 * ARM requests with 403 AuthorizationFailed.
 */

export interface ManagementGroup {
  readonly name: string;
  readonly subscriptions: readonly string[];
  /** False: the identity has no read access on the group, and Resource Graph refuses it as scope. */
  readonly readable: boolean;
}

const SUBSCRIPTION_IN_PATH = /^\/subscriptions\/([^/]+)/i;

export function subscriptionOfPath(path: string): string | undefined {
  const m = SUBSCRIPTION_IN_PATH.exec(path);
  if (m === null) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}

export class Directory {
  readonly #unreadable = new Set<string>();
  readonly #groups = new Map<string, ManagementGroup>();
  /** Subscriptions that exist though they may hold no resource (a fleet seed names them all). */
  readonly #subscriptions = new Map<string, string>();

  addSubscriptions(ids: readonly string[]): void {
    for (const id of ids) if (!this.#subscriptions.has(id.toLowerCase())) this.#subscriptions.set(id.toLowerCase(), id);
  }

  /** Registered subscriptions, those the groups name, and `more` (the subscriptions of resources), once each. */
  subscriptions(more: readonly string[] = []): string[] {
    const all = new Map(this.#subscriptions);
    for (const g of this.#groups.values()) for (const s of g.subscriptions) if (!all.has(s.toLowerCase())) all.set(s.toLowerCase(), s);
    for (const s of more) if (!all.has(s.toLowerCase())) all.set(s.toLowerCase(), s);
    return [...all.values()];
  }

  setReadable(subscriptionId: string, readable: boolean): string[] {
    if (readable) this.#unreadable.delete(subscriptionId.toLowerCase());
    else this.#unreadable.add(subscriptionId.toLowerCase());
    return this.unreadable();
  }

  canRead(subscriptionId: string): boolean {
    return !this.#unreadable.has(subscriptionId.toLowerCase());
  }

  unreadable(): string[] {
    return [...this.#unreadable].sort();
  }

  setGroup(group: ManagementGroup): void {
    this.#groups.set(group.name.toLowerCase(), { ...group, subscriptions: [...group.subscriptions] });
  }

  groups(): ManagementGroup[] {
    return [...this.#groups.values()];
  }

  /** The group's subscriptions, or the 403 Resource Graph gives for a group the caller cannot read (or that does not exist). */
  group(name: string): readonly string[] {
    const group = this.#groups.get(name.toLowerCase());
    if (group === undefined || !group.readable) {
      throw new ArmFailure(
        403,
        'AuthorizationFailed',
        `The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/providers/Microsoft.Management/managementGroups/${name}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
    return group.subscriptions;
  }

  /** ARM's answer to a request into a subscription the identity may not read. */
  checkArm(subscriptionId: string | undefined, method: string, path: string): void {
    if (subscriptionId === undefined || this.canRead(subscriptionId)) return;
    const action = `${path.split('/providers/')[1]?.split('/').slice(0, 2).join('/') ?? 'Microsoft.Resources/subscriptions'}/${method === 'GET' ? 'read' : method === 'DELETE' ? 'delete' : 'write'}`;
    throw new ArmFailure(403, 'AuthorizationFailed', `The client does not have authorization to perform action '${action}' over scope '${path}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
  }

  clear(): void {
    this.#unreadable.clear();
    this.#groups.clear();
    this.#subscriptions.clear();
  }
}
