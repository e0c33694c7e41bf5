/**
 * The per-IP budgets of a venue, shared by its connections (cold): a sliding window (connects, honouring a refused
 * handshake's hold; outgoing messages where the venue counts them per window), token buckets for outgoing messages
 * (per connection and per IP) and a REST weight budget that honours 429, 418 and `Retry-After`. Workers on one host each take a part (splitBudget), so together they stay
 * within the venue's limit in any window, however many they are.
 * Every method takes the time, so tests drive them with a fake clock. With workers, a budget linked to the
 * supervisor's ledger (track()) starts from what the slot's previous worker spent and reports what it spends
 * (budget-ledger.ts): a restarted worker does not get a fresh budget while the venue still counts the old one's.
 * @module
 */
import { monoEpochMs } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { BudgetLink, UseRing } from "./budget-ledger.ts";

/** share clamped to [0, 1] (undefined: the whole, one process). */
function clampShare(share: number | undefined): number {
  return Math.min(1, Math.max(0, share ?? 1));
}

/**
 * This process's part of a per-IP count that is never split below one (a per-minute REST weight of thousands):
 * floor(limit · share), at least 1. Where N workers may outnumber the limit, use splitBudget, which widens the
 * window instead (a floor of 1 let N workers take N of a limit below N: OKX's 3 connects/s, 4 workers, 4/s).
 */
export function shareOf(limit: number, share: number | undefined): number {
  if (!Number.isFinite(limit)) return limit;
  return Math.max(1, Math.floor(limit * clampShare(share) + 1e-9));
}

/**
 * A worker's part of a per-IP "limit per windowMs": `count` per `windowMs`, and, when its share is below one a
 * window, a slot: its events go only within `toleranceMs` after `phaseMs` + k · `periodMs` (of the wall clock on
 * the production clock: gridOffsetMs; see splitBudget). periodMs 0: at any time.
 */
export interface BudgetSplit {
  readonly count: number;
  readonly windowMs: number;
  readonly phaseMs: number;
  readonly periodMs: number;
  readonly toleranceMs: number;
  /** What to add to the budget's clock to read the slots' grid (absent: none; see splitBudget's `now`). */
  readonly gridOffsetMs?: () => number;
}

const NO_SLOT = { phaseMs: 0, periodMs: 0, toleranceMs: 0 };

/**
 * Worker `index`'s part of "`limit` per `windowMs`" when `1 / share` workers share one IP, so that the workers'
 * parts add up to at most the limit in any window. floor(limit · share) per window when that is at least one (the
 * counts add up to at most the limit). Below one (more workers than the limit), one per a longer window, at a slot
 * of its own: worker i's events only at i · spacing (+ k · workers · spacing), within a tolerance, the spacing being
 * the venue's own (windowMs / limit) plus that tolerance (a quarter of it, at least 1 ms), so any limit + 1 events
 * of all workers span at least windowMs, and the workers never all go at t = 0 (they did: a floor of 1 per worker
 * gave 4 workers on OKX's 3 connects/s 4/s, and 9 workers on Coinbase's 8/s 9 connects at once). A timer late past
 * the tolerance waits for the next slot (costs one period, never breaks the limit). One process (share 1): the
 * whole limit, no slot. `now`, the budget's clock: on the production one (monoEpochMs) the slots are read on the wall
 * clock, which every thread shares exactly; monoEpochMs reads like epoch ms from its own thread's start, so a worker
 * restarted days later (clock slew) or after a wall-clock step would read the grid apart from the others. On an
 * injected clock (tests), on that clock.
 */
export function splitBudget(limit: number, windowMs: number, share: number | undefined, index = 0, now?: () => number): BudgetSplit {
  const s = clampShare(share);
  const n = limit * s;
  if (!Number.isFinite(limit)) return { count: limit, windowMs, ...NO_SLOT };
  if (n >= 1 - 1e-9) return { count: Math.floor(n + 1e-9), windowMs, ...NO_SLOT };
  if (!(n > 0)) return { count: 1, windowMs, ...NO_SLOT };
  const workers = Math.ceil(1 / s - 1e-9);
  const venueSpacingMs = windowMs / limit;
  const toleranceMs = Math.max(1, Math.floor(venueSpacingMs / 4));
  const spacingMs = Math.ceil(venueSpacingMs) + toleranceMs; // whole ms: the slots' spacing is exact
  const periodMs = workers * spacingMs;
  const slot = { count: 1, windowMs: periodMs, phaseMs: (Math.max(0, index) % workers) * spacingMs, periodMs, toleranceMs };
  return now === monoEpochMs ? { ...slot, gridOffsetMs: wallGridOffsetMs } : slot;
}

/** The wall clock less the deadline clock, in whole ms (cold: only slotted budgets read it). */
function wallGridOffsetMs(): number {
  return Math.round(Date.now() - monoEpochMs());
}

/**
 * A connection lifecycle's connect budget from a venue's per-IP "limit per windowMs": this worker's split
 * (splitBudget, with its slot), or what a test set instead (then no slot; a count alone is at least 1).
 */
export function connectSplit(
  limit: number,
  windowMs: number,
  opts: { budgetShare?: number; budgetIndex?: number; maxConnectsPerWindow?: number; connectWindowMs?: number },
  /** The budget's clock (splitBudget's `now`). */
  now?: () => number,
): { maxConnectsPerWindow: number; connectWindowMs: number; connectSlot?: BudgetSplit } {
  if (opts.maxConnectsPerWindow !== undefined || opts.connectWindowMs !== undefined) {
    return { maxConnectsPerWindow: opts.maxConnectsPerWindow ?? shareOf(limit, opts.budgetShare), connectWindowMs: opts.connectWindowMs ?? windowMs };
  }
  const split = splitBudget(limit, windowMs, opts.budgetShare, opts.budgetIndex, now);
  return { maxConnectsPerWindow: split.count, connectWindowMs: split.windowMs, connectSlot: split };
}

/** The first time at or after `atMs` within a slot (periodMs 0: `atMs`). */
export function slotAtOrAfter(atMs: number, split: { phaseMs: number; periodMs: number; toleranceMs: number }): number {
  if (!(split.periodMs > 0)) return atMs;
  const r = (((atMs - split.phaseMs) % split.periodMs) + split.periodMs) % split.periodMs;
  return r < split.toleranceMs ? atMs : atMs + split.periodMs - r;
}

/** A wait of `waitMs` from `nowMs`, moved on to the next slot (none: unchanged). */
function slotWait(nowMs: number, waitMs: number, slot: BudgetSplit | undefined): number {
  if (slot === undefined || !(slot.periodMs > 0)) return waitMs;
  const gridMs = nowMs + (slot.gridOffsetMs?.() ?? 0);
  return slotAtOrAfter(gridMs + waitMs, slot) - gridMs;
}

/**
 * A venue's hold on a budget (a 429/418 answer, Bybit's 403): nothing goes until its end (the `now` clock: the adapters'
 * deadline clock, monotonic in production; a Retry-After date is turned into a length first). Of overlapping holds the one that ends last is kept, with its own length: a
 * later hold ending sooner never shortens it, and a clock stepped back cannot make it last longer than that length
 * from now (before, a hold given before the step held requests for the step's length too).
 */
export class VenueHold {
  /** The end (0: none). */
  untilMs = 0;
  /**
   * The length of the hold that ends at untilMs: a clock stepped back cannot make it last longer from now. (Bounded
   * by the longest hold ever given instead, a 60 s 429 after an hour's 418 waited out up to the hour.)
   */
  private lenMs = 0;

  /** The hold's end if it still runs at `nowMs`, 0 otherwise. */
  endMs(nowMs: number): number {
    if (this.untilMs > nowMs + this.lenMs) this.untilMs = nowMs + this.lenMs; // a clock stepped back
    return this.untilMs > nowMs ? this.untilMs : 0;
  }

  /** A hold until `untilMs`, `holdMs` long when it was given: the one that ends last is kept (overlapping holds). */
  add(untilMs: number, holdMs: number): void {
    if (untilMs <= this.untilMs) return;
    this.untilMs = untilMs;
    this.lenMs = holdMs;
  }
}

/**
 * At most `max` events in any sliding `windowMs`: connects (e.g. Bybit: 500 per 5 min per domain) and outgoing
 * messages where a venue's limit is a count per window (RequestProtocol.pacing, "8 per second": a token bucket of N
 * plus N per second lets 2N out in one second from a full bucket; this never does). An event waits until the max-th
 * last one is `windowMs` old, and none goes while the venue holds them: a connect refused with 429/418/403
 * (connect-hold.ts), given to this worker, another one on this IP or its slot's previous worker. The last `max`
 * event times live in a ring allocated once (nothing per event). Until 2026-12-07 messages had a copy of this of
 * their own (MessageWindow).
 */
export class SlidingWindowBudget implements MessageLimit {
  /** The last `max` event times (none kept for an unbounded max); the oldest at `head` once `size` is the ring's length. */
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;
  private readonly held = new VenueHold();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    /** A worker's slot (splitBudget): events only within it. Default: none. */
    readonly slot?: BudgetSplit,
  ) {
    this.ring = new Float64Array(Number.isFinite(max) ? Math.max(1, Math.ceil(max)) : 0); // a fractional max: as many as stay below it
  }

  /** How long until one more event fits (0 = now), in this worker's slot when it has one. */
  waitMs(nowMs: number): number {
    return slotWait(nowMs, this.windowWaitMs(nowMs), this.slot);
  }

  private windowWaitMs(nowMs: number): number {
    const heldUntilMs = this.held.endMs(nowMs);
    if (heldUntilMs > 0) return heldUntilMs - nowMs;
    const ring = this.ring;
    const n = ring.length;
    if (this.size === 0) return 0;
    // A clock stepped back (an injected one: the adapters' default is monotonic) put recent events in the future: they
    // would have held a full window for the step's length more. Counted as now instead (cold, rare).
    if (ring[(this.head + this.size - 1) % n]! > nowMs) for (let i = 0; i < n; i++) ring[i] = Math.min(ring[i]!, nowMs);
    if (this.size < n) return 0;
    return Math.max(0, ring[this.head]! + this.windowMs - nowMs);
  }

  private link: BudgetLink | undefined;
  /** Where each event goes for the slot's next worker, written in place (trackUses: messages). */
  private uses: UseRing | undefined;

  /** Records one event (call after waitMs returned 0), reported to the supervisor's ledger when tracked. */
  take(nowMs: number): void {
    this.record(nowMs);
    this.uses?.add(nowMs);
    this.link?.ledger.report({ key: this.link.key, windowMs: this.windowMs, atMs: nowMs, weight: 1 });
  }

  /** Takes one if it may go now; false (and nothing taken) otherwise (MessageLimit: SubscriptionControl's pacing). */
  tryTake(nowMs: number): boolean {
    if (this.waitMs(nowMs) > 0) return false;
    this.take(nowMs);
    return true;
  }

  /** Keeps `atMs` as the newest event time (the oldest of a full ring goes). */
  private record(atMs: number): void {
    const n = this.ring.length;
    if (n === 0) return;
    if (this.size < n) this.ring[(this.head + this.size++) % n] = atMs;
    else {
      this.ring[this.head] = atMs;
      this.head = (this.head + 1) % n;
    }
  }

  /** When the venue's hold ends (the `now` clock); 0 when there is none. */
  heldUntilMs(nowMs: number): number {
    return this.held.endMs(nowMs);
  }

  /** The venue refused an event (a connect answered 429/418/403): none for `holdMs` from `nowMs`, on every worker (reported). */
  hold(nowMs: number, holdMs: number): void {
    if (!(holdMs > 0) || !Number.isFinite(holdMs)) return;
    this.held.add(nowMs + holdMs, holdMs);
    this.link?.ledger.report({ key: this.link.key, blockedUntilMs: this.held.untilMs });
  }

  /** A hold given to another worker on this IP or to the slot's previous worker (not reported back). */
  heldElsewhere(untilMs: number, holdMs: number): void {
    if (!(holdMs > 0) || !Number.isFinite(untilMs)) return;
    this.held.add(untilMs, holdMs);
  }

  /**
   * Starts from the previous worker's events (oldest first: the ledger's order) and hold under link's key, reports
   * every new one, and takes the holds the venue gives the other workers on this IP (cold; once, at construction).
   */
  track(link: BudgetLink | undefined): this {
    this.link = link;
    const carried = link?.ledger.carried(link.key);
    if (carried) {
      for (const u of carried.uses) this.record(u.atMs);
      if (carried.blockedUntilMs > 0) this.heldElsewhere(carried.blockedUntilMs, carried.holdMs);
    }
    link?.ledger.onHold?.(link.key, (untilMs, holdMs) => this.heldElsewhere(untilMs, holdMs));
    return this;
  }

  /**
   * For a budget spent per message (a per-IP message limit): starts from the previous worker's events under link's
   * key, and writes each new one into the ledger's ring (allocation-free; no report, no hold: the venue gives
   * messages none). Cold; once, at construction.
   */
  trackUses(link: BudgetLink | undefined): this {
    const carried = link?.ledger.carried(link.key);
    if (carried) for (const u of carried.uses) this.record(u.atMs);
    if (link !== undefined && this.ring.length > 0) this.uses = link.ledger.ring?.(link.key, this.windowMs, this.ring.length);
    return this;
  }
}

/**
 * A token bucket: `capacity` tokens, refilled at `perSecond`; a send takes one (or `n`). Used to pace outgoing
 * messages per connection (e.g. OKX 480 requests/h per connection, Binance 5 messages/s) and per IP.
 */
export class TokenBucket implements MessageLimit {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.lastMs = nowMs;
  }

  private refill(nowMs: number): void {
    // A clock stepped back: refilled from now on (waiting for the old time stopped sending for the step's length).
    if (nowMs < this.lastMs) this.lastMs = nowMs;
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) * this.perSecond) / 1000);
      this.lastMs = nowMs;
    }
  }

  /** How long until `n` tokens are there (0 = now). */
  waitMs(nowMs: number, n = 1): number {
    this.refill(nowMs);
    if (this.tokens >= n) return 0;
    return Math.ceil(((n - this.tokens) * 1000) / this.perSecond);
  }

  /** Takes `n` tokens if there are; false (and nothing taken) otherwise. */
  tryTake(nowMs: number, n = 1): boolean {
    this.refill(nowMs);
    if (this.tokens < n) return false;
    this.tokens -= n;
    if (this.uses !== undefined) for (let i = 0; i < n; i++) this.uses.add(nowMs);
    return true;
  }

  /** Where each take goes for the slot's next worker, written in place (trackUses). */
  private uses: UseRing | undefined;

  /**
   * For a per-IP bucket (Deribit's credits): starts from the previous worker's takes under link's key and writes
   * each new one into the ledger's ring (allocation-free). The bucket is rebuilt as if empty one full refill
   * (capacity / perSecond) before it was made, then spent by the carried takes since: the venue's bucket holds at
   * least that much (it held something then, and a take only went with a token), so it never starts fuller than the
   * venue's. Nothing carried: full, as before. Cold; once, at construction.
   */
  trackUses(link: BudgetLink | undefined): this {
    if (link === undefined || !(this.perSecond > 0) || !Number.isFinite(this.capacity)) return this;
    const refillMs = (this.capacity * 1000) / this.perSecond;
    const carried = link.ledger.carried(link.key);
    const madeMs = this.lastMs;
    const fromMs = madeMs - refillMs;
    if (carried !== undefined && carried.uses.some((u) => u.atMs > fromMs)) {
      this.tokens = 0;
      this.lastMs = fromMs;
      for (const u of carried.uses) {
        if (!(u.atMs > fromMs)) continue;
        this.refill(Math.max(u.atMs, this.lastMs));
        this.tokens -= u.weight;
      }
      this.refill(Math.max(madeMs, this.lastMs));
    }
    // Takes within one refill of now are all that can matter: at most capacity + one refill's worth of them.
    this.uses = link.ledger.ring?.(link.key, refillMs, 2 * this.capacity);
    return this;
  }
}

/** What SubscriptionControl paces messages with: a TokenBucket or a SlidingWindowBudget. */
export interface MessageLimit {
  /** How long until one more message may go (0 = now). */
  waitMs(nowMs: number): number;
  /** Takes one if it may go now; false (and nothing taken) otherwise. */
  tryTake(nowMs: number): boolean;
}

/**
 * A REST weight budget (e.g. Binance: 6000 weight per minute per IP): requests wait while the window's weight is
 * spent, and a 429 or 418 answer stops every request until its `Retry-After` (or a default) has passed: ignoring
 * 429s is what earns Binance's 418 ban.
 */
export class RestWeightBudget {
  private spent: { atMs: number; weight: number }[] = [];
  private readonly held = new VenueHold();
  /** 418s in a row without Retry-After (a longer ban each: BAN_DEFAULT_MS doubling); an answer below 400 ends it. */
  private bansInRow = 0;
  /** Counters (cold). */
  rateLimited = 0;
  banned = 0;
  /** Requests now waiting for weight (budgetedFetch). */
  waiting = 0;
  /** Retry-After values out of range (clamped) or unreadable (the default held), each logged (cold). */
  retryAfterOutOfRange = 0;
  private log: Logger | undefined;
  private logName = "REST";

  constructor(
    /** Weight allowed per window; setMaxWeight changes it in place (Binance's exchangeInfo `rateLimits`). */
    public maxWeight: number,
    readonly windowMs: number,
    /** Wait after a 429/418 that carries no Retry-After. */
    readonly defaultBackoffMs = 60_000,
    /** Further statuses that mean "over the limit" for this venue, with their wait (Bybit: 403 → 10 min). */
    private readonly extraBlocking: ReadonlyMap<number, number> = new Map(),
    /** A worker's slot (splitBudget): requests only within it. Default: none. */
    readonly slot?: BudgetSplit,
  ) {}

  /** A worker's part of a venue's "limit requests per windowMs" (splitBudget), in its slot when below one a window. */
  static split(split: BudgetSplit, defaultBackoffMs?: number, extraBlocking?: ReadonlyMap<number, number>): RestWeightBudget {
    return new RestWeightBudget(split.count, split.windowMs, defaultBackoffMs, extraBlocking, split);
  }

  /** How long until a request of `weight` may go (0 = now), in this worker's slot when it has one. */
  waitMs(nowMs: number, weight: number): number {
    return slotWait(nowMs, this.weightWaitMs(nowMs, weight), this.slot);
  }

  private weightWaitMs(nowMs: number, weight: number): number {
    // A clock stepped back (an injected one: the adapters' default is monotonic): spending and a hold it put in the future held requests
    // for the step's length more. Spending counts as now, a hold lasts at most its own length from now (VenueHold).
    const heldUntilMs = this.held.endMs(nowMs);
    if (this.spent.some((s) => s.atMs > nowMs)) this.spent = this.spent.map((s) => (s.atMs > nowMs ? { atMs: nowMs, weight: s.weight } : s));
    if (heldUntilMs > 0) return heldUntilMs - nowMs;
    this.spent = this.spent.filter((s) => nowMs - s.atMs < this.windowMs);
    let used = 0;
    for (const s of this.spent) used += s.weight;
    if (used + weight <= this.maxWeight || this.spent.length === 0) return 0;
    // Wait until enough of the oldest requests leave the window.
    let freed = 0;
    for (const s of this.spent) {
      freed += s.weight;
      if (used - freed + weight <= this.maxWeight) return s.atMs + this.windowMs - nowMs;
    }
    return this.windowMs;
  }

  /**
   * When the venue's 429/418 hold ends (ms, the `now` clock); 0 when there is none. A request asked for before
   * waits for it, so this, not when it was asked, is when it goes (/readyz's "retried in"). Cold.
   */
  heldUntilMs(nowMs: number): number {
    return this.held.endMs(nowMs);
  }

  /**
   * A new limit for the same budget: what was spent in the window, a hold and the counters stay (a new budget in
   * its place would forget them and send into a 429/418 hold the venue still applies).
   */
  setMaxWeight(maxWeight: number): void {
    this.maxWeight = maxWeight;
  }

  take(nowMs: number, weight: number): void {
    this.spent.push({ atMs: nowMs, weight });
    this.link?.ledger.report({ key: this.link.key, windowMs: this.windowMs, atMs: nowMs, weight });
  }

  private link: BudgetLink | undefined;

  /**
   * Starts from the previous worker's spending and hold under link's key, reports new ones, and takes the holds the
   * venue gives the other workers on this IP (cold; once, at construction).
   */
  track(link: BudgetLink | undefined): this {
    this.link = link;
    const carried = link?.ledger.carried(link.key);
    if (carried) {
      this.spent.push(...carried.uses);
      if (carried.blockedUntilMs > 0) this.heldElsewhere(carried.blockedUntilMs, carried.holdMs);
    }
    // In the budgets' clock, as a carried hold is (the worker's ledger dates both so: budget-ledger.ts).
    link?.ledger.onHold?.(link.key, (untilMs, holdMs) => this.heldElsewhere(untilMs, holdMs));
    return this;
  }

  /**
   * A hold given before this budget (its slot's previous worker's) or to another worker on this IP, until `untilMs`
   * and `holdMs` long from when it was handed over: this budget waits as long (not reported back), and, as for its
   * own holds, a clock stepped back cannot make it wait longer than `holdMs` from then (before, a carried hold was
   * unbounded: a restarted worker waited out the step too).
   */
  heldElsewhere(untilMs: number, holdMs: number): void {
    if (!(holdMs > 0) || !Number.isFinite(untilMs)) return;
    this.held.add(untilMs, holdMs);
  }

  /** Where a Retry-After out of range or unreadable is logged (a warning), as `name` (e.g. `binance:rest:spot`). Cold. */
  logTo(log: Logger | undefined, name: string): this {
    this.log = log;
    this.logName = name;
    return this;
  }

  /**
   * Holds every request for `waitMs` from now without an over-limit answer (Binance: X-MBX-USED-WEIGHT-1M near the
   * limit): reported as a hold, not counted as a 429. Cold.
   */
  holdFor(nowMs: number, waitMs: number): void {
    if (!(waitMs > 0)) return;
    this.held.add(nowMs + waitMs, waitMs);
    this.link?.ledger.report({ key: this.link.key, blockedUntilMs: this.held.untilMs });
  }

  /**
   * Reads a response: 429 (rate limited) and 418 (banned) block every request until Retry-After (seconds, or an
   * HTTP date, read against the response's `Date` when it has one: the server's clock, not ours), clamped to
   * [RETRY_AFTER_MIN_MS, RETRY_AFTER_MAX_MS], or the default (a 418 without a readable Retry-After, or with one below
   * RETRY_AFTER_MIN_MS: at least BAN_DEFAULT_MS, doubling while 418s follow); a value clamped, unreadable or a ban's below
   * the floor is logged and counted (retryAfterOutOfRange). Returns how long requests are
   * now blocked (0 = not blocked). `wallNowMs`: the wall clock, which an HTTP-date Retry-After without a readable
   * `Date` is read against (`nowMs` is the deadline clock, monotonic in production; default: the same reading).
   */
  onResponse(nowMs: number, status: number, retryAfter: string | null, serverDate: string | null = null, wallNowMs = nowMs): number {
    const extra = this.extraBlocking.get(status);
    if (status < 400) this.bansInRow = 0;
    if (status !== 429 && status !== 418 && extra === undefined) return 0;
    if (status === 418) this.banned++;
    else this.rateLimited++;
    const readMs = readRetryAfterMs(retryAfter, wallNowMs, serverDate);
    // A ban said to last less than the floor ("0", a date past) is a venue glitch: Binance bans for 2 min at least, and a
    // request sent into the ban lengthens it. Read as no length at all (the ban default), not as the 1 s floor.
    const banBelowFloor = status === 418 && readMs !== undefined && readMs < RETRY_AFTER_MIN_MS;
    const given = readMs === undefined || banBelowFloor ? undefined : clampRetryAfterMs(readMs);
    let waitMs = given ?? extra ?? this.defaultBackoffMs;
    if (status === 418 && given === undefined) waitMs = Math.max(waitMs, Math.min(BAN_MAX_DEFAULT_MS, BAN_DEFAULT_MS * 2 ** Math.min(this.bansInRow++, 30)));
    if (given !== readMs || (readMs === undefined && retryAfter !== null && retryAfter.trim() !== "")) this.warnRetryAfter(status, retryAfter!, readMs, waitMs, banBelowFloor);
    this.held.add(nowMs + waitMs, waitMs);
    this.link?.ledger.report({ key: this.link.key, blockedUntilMs: this.held.untilMs });
    return Math.max(0, this.held.untilMs - nowMs);
  }

  /**
   * A Retry-After out of range (held `holdMs` instead), unreadable (the default held) or a ban's below the floor (the ban
   * default held): one warning, the value named.
   */
  private warnRetryAfter(status: number, value: string, readMs: number | undefined, holdMs: number, banBelowFloor: boolean): void {
    this.retryAfterOutOfRange++;
    const shown = value.length > 64 ? `${value.slice(0, 64)}… (${value.length} chars)` : value;
    const why =
      readMs === undefined
        ? "unreadable; the default hold applies"
        : banBelowFloor
          ? `below ${RETRY_AFTER_MIN_MS} ms on a ban; the ban default applies: held ${holdMs} ms`
          : `out of range (${RETRY_AFTER_MIN_MS} ms to ${RETRY_AFTER_MAX_MS} ms); held ${holdMs} ms`;
    this.log?.warn(`${this.logName}: HTTP ${status} with Retry-After ${JSON.stringify(shown)}: ${why}`, { status, retryAfter: shown, readMs, holdMs });
  }
}

/**
 * A 418 (an IP ban) without Retry-After holds at least this long, doubling with each 418 in a row to
 * BAN_MAX_DEFAULT_MS: Binance bans for 2 minutes to 3 days, and a request sent into the ban lengthens it.
 */
export const BAN_DEFAULT_MS = 120_000;
export const BAN_MAX_DEFAULT_MS = 3_600_000;

/**
 * A 429/418's Retry-After is held at least this long: "0", a fraction below it or a date already past would send the
 * next request at once, into the venue's limit (what turns Binance's 429 into a 418). One second: the least a venue
 * can say in whole delta-seconds, below every venue's default hold (Coinbase 2 s), so it only stops a retry at once.
 */
export const RETRY_AFTER_MIN_MS = 1_000;
/**
 * And at most this long: Binance's longest ban (418s escalate from 2 min to 3 days), so any hold Binance documents is
 * honoured whole (a request sent into a ban lengthens it). A longer one (hundreds of digits read as Infinity, or a
 * date years ahead) held the market's REST until the process restarted: no book of it could resync by REST again.
 */
export const RETRY_AFTER_MAX_MS = 3 * 86_400_000;

/** A Retry-After length clamped to [RETRY_AFTER_MIN_MS, RETRY_AFTER_MAX_MS] (Infinity: the max). */
export function clampRetryAfterMs(ms: number): number {
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, ms));
}

/**
 * `Retry-After` as delta-seconds or an HTTP date → ms from now, clamped to [RETRY_AFTER_MIN_MS, RETRY_AFTER_MAX_MS];
 * undefined when absent or unreadable (the caller's default holds). readRetryAfterMs: the same, not clamped.
 */
export function retryAfterMs(value: string | null, nowMs: number, serverDate: string | null = null): number | undefined {
  const ms = readRetryAfterMs(value, nowMs, serverDate);
  return ms === undefined ? undefined : clampRetryAfterMs(ms);
}

/**
 * `Retry-After` as delta-seconds (fractional ones too, which some servers send) or an HTTP date → ms from now (0 for
 * a date past, Infinity for hundreds of digits); undefined when absent or unreadable. A date names its day or month: Date.parse alone reads "1.5" or "-1" as a
 * date in 2001 (no hold at all). A date is the server's clock: read against the response's `Date` header
 * (`serverDate`) when that is readable, so a clock of ours running ahead does not cut the hold short (or to nothing:
 * requests sent into a 429's hold are what earns the 418 ban), else against `nowMs`.
 */
export function readRetryAfterMs(value: string | null, nowMs: number, serverDate: string | null = null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = serverTimeMs(v); // an HTTP date, read as a Date header is
  if (at === undefined) return undefined;
  return Math.max(0, at - (serverTimeMs(serverDate) ?? nowMs));
}

/** A response's `Date` header (the server's clock, to the second) in ms; undefined when absent or unreadable. */
export function serverTimeMs(date: string | null): number | undefined {
  if (date === null || !/[A-Za-z]{3}/.test(date)) return undefined;
  const at = Date.parse(date);
  return Number.isNaN(at) ? undefined : at;
}

/** Timeout signals made by requestTimeout, with their length: budgetedFetch starts them only when it sends. */
const sendTimeouts = new WeakMap<AbortSignal, number>();

/**
 * A request timeout for `init.signal` that counts from when the request is sent: a budgetedFetch ignores it while
 * the request waits for the budget (a Retry-After may be longer than the timeout: nothing was sent, nothing failed)
 * and sends with a fresh timeout of the same length. Any other fetch sees a plain AbortSignal.timeout(ms).
 */
export function requestTimeout(ms: number): AbortSignal {
  const signal = AbortSignal.timeout(ms);
  sendTimeouts.set(signal, ms);
  return signal;
}

/**
 * A fetch that spends the REST weight budget: it waits while the budget is spent or blocked, and reads every
 * answer's status and Retry-After into it. `weightOf(url)` is the venue's weight table (default 1). A request whose
 * `init.signal` aborts while it waits gives up its place at once and is never sent nor charged; a requestTimeout
 * signal is not one of those (it starts at the send). `stop` (the adapter's RestStop signal) ends every wait too: a
 * stopped adapter's request is never sent. `now` is the budget's (deadline) clock; `wallNow` the wall clock an HTTP-date
 * Retry-After without a readable `Date` is read against (default `now`: a test's one clock; the adapters pass theirs).
 * Cold.
 */
export function budgetedFetch(
  fetchFn: typeof fetch,
  budget: RestWeightBudget,
  now: () => number = monoEpochMs,
  weightOf: (url: string) => number = () => 1,
  stop?: AbortSignal,
  wallNow: () => number = now,
): typeof fetch {
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const weight = weightOf(url);
    const timeoutMs = init?.signal ? sendTimeouts.get(init.signal) : undefined;
    const own = timeoutMs === undefined ? (init?.signal ?? undefined) : undefined;
    const signal = own && stop ? AbortSignal.any([own, stop]) : (own ?? stop);
    let wait = budget.waitMs(now(), weight);
    if (wait > 0) {
      budget.waiting++;
      try {
        for (; wait > 0; wait = budget.waitMs(now(), weight)) {
          if (signal?.aborted) break;
          await sleepUnlessAborted(Math.min(wait, 1000), signal);
        }
      } finally {
        budget.waiting--;
      }
    }
    // Checked last, just before the weight is taken: an abort during the final wait spends nothing.
    if (stop?.aborted) throw stop.reason;
    if (signal?.aborted) throw new Error(`REST ${url}: budget wait aborted`);
    budget.take(now(), weight);
    const res = await fetchFn(input, timeoutMs === undefined ? init : { ...init, signal: AbortSignal.timeout(timeoutMs) });
    budget.onResponse(now(), res.status, res.headers.get("retry-after"), res.headers.get("date"), wallNow());
    return res;
  };
  return wrapped as typeof fetch;
}

/** Resolves after `ms`, or at once when `signal` aborts; the timer and the listener are removed either way. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
