/**
 * Which target a free worker starts next. Targets are grouped by subscription because ARM
 * throttles per subscription: taking them strictly in config order lets every slot of a run
 * fill up with one throttled subscription's vaults while the others wait for nothing. So
 * subscriptions take turns, each has a cap on targets in flight, and a subscription ARM has
 * told to back off is passed over while another has a target that can start.
 *
 * Pure: whether a subscription is blocked is asked of a callback (the pacer, in a run).
 */

export interface ScheduleEntry {
  /** Compared without case, as ARM compares subscription IDs. */
  readonly subscription: string;
  /** Cut off by a deadline last run: goes ahead of every other target that can start. */
  readonly first?: boolean;
}

export interface ScheduleOptions {
  /** At most this many targets of one subscription in flight. */
  readonly perSubscription: number;
  /** Whether ARM has told this subscription to wait; without it, none is. */
  readonly blocked?: (subscription: string) => boolean;
}

interface Group {
  readonly subscription: string;
  /** Its place in the turn order: the order subscriptions first appear in. */
  readonly turn: number;
  /** Positions into the entries, in their order; `head` is the next one to start. */
  readonly queue: number[];
  head: number;
  inFlight: number;
}

export class SubscriptionSchedule {
  private readonly groups: Group[] = [];
  private readonly groupOf: Group[] = [];
  private readonly running: boolean[];
  private readonly cap: number;
  private cursor = 0;
  private left: number;
  /** Entries marked `first` not yet started. */
  private urgentLeft: number;

  constructor(
    private readonly entries: readonly ScheduleEntry[],
    private readonly options: ScheduleOptions,
  ) {
    if (!(options.perSubscription >= 1)) throw new RangeError(`perSubscription must be at least 1, not ${options.perSubscription}`);
    this.cap = Math.floor(options.perSubscription);
    const byKey = new Map<string, Group>();
    entries.forEach((e, i) => {
      const key = e.subscription.toLowerCase();
      let g = byKey.get(key);
      if (g === undefined) {
        g = { subscription: e.subscription, turn: this.groups.length, queue: [], head: 0, inFlight: 0 };
        byKey.set(key, g);
        this.groups.push(g);
      }
      g.queue.push(i);
      this.groupOf[i] = g;
    });
    this.running = entries.map(() => false);
    this.left = entries.length;
    this.urgentLeft = entries.filter((e) => e.first === true).length;
  }

  /** Targets not yet started. */
  get pending(): number {
    return this.left;
  }

  /**
   * The position of the entry to start now, or undefined when none can: all are started, or
   * every subscription with targets left is at its cap (a `release` changes that).
   */
  take(): number | undefined {
    // A target cut off last run is rare (the backlog); only then does a take weigh every subscription.
    if (this.urgentLeft > 0) return this.takeWeighingAll();
    // Otherwise the first open subscription at or after the cursor that is not blocked, or, when
    // every open one is, the first open one: what takeWeighingAll chooses without urgent targets,
    // asking `blocked` of the subscriptions it passes on the way (usually one) rather than of all
    // of them on every take (a 10,000-target run spent 0.7 s asking 100 subscriptions each time).
    const blocked = this.options.blocked;
    const n = this.groups.length;
    let fallback: Group | undefined;
    for (let step = 0; step < n; step++) {
      const g = this.groups[(this.cursor + step) % n]!;
      if (g.head >= g.queue.length || g.inFlight >= this.cap) continue;
      if (blocked === undefined || !blocked(g.subscription)) return this.start(g);
      fallback ??= g;
    }
    return fallback === undefined ? undefined : this.start(fallback);
  }

  private takeWeighingAll(): number | undefined {
    const open = this.groups.filter((g) => g.head < g.queue.length && g.inFlight < this.cap);
    if (open.length === 0) return undefined;
    // A blocked subscription's target would only sit in the pacer, holding a slot another could use;
    // when every open one is blocked, one goes anyway, to be first in line when the block ends.
    const blocked = this.options.blocked;
    const free = blocked === undefined ? open : open.filter((g) => !blocked(g.subscription));
    const candidates = free.length > 0 ? free : open;
    const urgent = candidates.filter((g) => this.entries[g.queue[g.head]!]!.first === true);
    const chosen = urgent.length > 0 ? urgent.reduce((a, b) => (a.queue[a.head]! <= b.queue[b.head]! ? a : b)) : this.nextInTurn(candidates);
    return this.start(chosen);
  }

  private start(chosen: Group): number {
    const position = chosen.queue[chosen.head++]!;
    if (this.entries[position]!.first === true) this.urgentLeft--;
    chosen.inFlight++;
    this.running[position] = true;
    this.left--;
    this.cursor = (chosen.turn + 1) % this.groups.length;
    return position;
  }

  /** The entry `take` gave out is no longer talking to ARM. */
  release(position: number): void {
    const g = this.groupOf[position];
    if (g === undefined || this.running[position] !== true) throw new RangeError(`entry ${position} is not in flight, so it cannot be released`);
    this.running[position] = false;
    g.inFlight--;
  }

  /** In flight per subscription, for reports and tests. */
  inFlight(subscription: string): number {
    return this.groups.find((g) => g.subscription.toLowerCase() === subscription.toLowerCase())?.inFlight ?? 0;
  }

  /** The first candidate at or after the cursor, in the order subscriptions first appeared. */
  private nextInTurn(candidates: readonly Group[]): Group {
    let best: Group = candidates[0]!;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const g of candidates) {
      const distance = (g.turn - this.cursor + this.groups.length) % this.groups.length;
      if (distance < bestDistance) {
        best = g;
        bestDistance = distance;
      }
    }
    return best;
  }
}

/**
 * The order `take` gives the entries when no subscription is blocked and none is at its cap: the
 * order a run's passes start in, as long as ARM lets them (the run's read-ahead follows it).
 */
export function takeOrder(entries: readonly ScheduleEntry[]): number[] {
  const schedule = new SubscriptionSchedule(entries, { perSubscription: Number.POSITIVE_INFINITY });
  const order: number[] = [];
  for (let k = schedule.take(); k !== undefined; k = schedule.take()) order.push(k);
  return order;
}
