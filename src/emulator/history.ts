/**
 * What Resource Graph has seen of each resource, and when. Resource Graph is an index that ARM
 * feeds after each write, so a query can miss a write made a moment ago; the emulator keeps each
 * resource's recent versions with the time they were written and answers a query with the newest
 * version older than the configured lag. The stores hand over a version on every successful write
 * (and `undefined` for a delete); a version is never changed after it is recorded, since the
 * stores build a new object on each write.
 */

interface Version {
  readonly at: number;
  /** Undefined: the resource was deleted at `at`. */
  readonly json: Readonly<Record<string, unknown>> | undefined;
}

/** Versions kept per resource beyond the newest; enough for lags of a few writes, small for 10,000 resources. */
const MAX_VERSIONS = 8;

export class GraphHistory {
  readonly #byId = new Map<string, Version[]>();
  #generation = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Bumped on every write, so a cached answer can tell it is stale. */
  get generation(): number {
    return this.#generation;
  }

  record(id: string, json: Readonly<Record<string, unknown>> | undefined): void {
    this.#generation += 1;
    const key = id.toLowerCase();
    const versions = this.#byId.get(key);
    const version = { at: this.now(), json };
    if (versions === undefined) this.#byId.set(key, [version]);
    else {
      versions.push(version);
      if (versions.length > MAX_VERSIONS) versions.splice(0, versions.length - MAX_VERSIONS);
    }
  }

  /** Every resource as it stood `lagMs` ago: those not yet created then, or deleted by then, are absent. */
  visible(lagMs: number): Readonly<Record<string, unknown>>[] {
    const cutoff = this.now() - lagMs;
    const out: Readonly<Record<string, unknown>>[] = [];
    for (const versions of this.#byId.values()) {
      let pick: Version | undefined;
      if (lagMs <= 0) pick = versions[versions.length - 1];
      else for (let i = versions.length - 1; i >= 0 && pick === undefined; i -= 1) if (versions[i]!.at <= cutoff) pick = versions[i];
      if (pick?.json !== undefined) out.push(pick.json);
    }
    return out;
  }

  clear(): void {
    this.#byId.clear();
    this.#generation += 1;
  }
}
