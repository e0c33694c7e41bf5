/**
 * Reloading a venue's instruments per market while it runs (cold): every `intervalMs` (config
 * `venues.<venue>.instrument_reload_ms`, default 1 hour; 0 = never), at times the venue announced a change for
 * (OKX `upcChg` `effTime`), and at once when asked (a price or size that does not fit: a market's re-checks
 * coalesce into one reload). Intervals and retries are kept against the adapter's deadline clock (`now`, monotonic),
 * announced times against the wall clock (`wallNow`: they are the venue's times of day), and both are checked every
 * `checkEveryMs`, so no timer ever waits long: a change announced 40 days ahead is neither fired early by the 2^31 ms
 * cap of setTimeout nor lost, and a stepped wall clock moves only the announced times with it. The venue's `reload` fetches the market and
 * applies what changed; a failed reload is retried after `retryBaseMs` (2 s), doubling per failure in a row up to
 * `retryMs` (1 min; or the interval, if shorter); any answer of the market's listing ends the streak. A client's deadline
 * (`lateDueMs`: the late retrier's, instrument-watch.ts) runs the market's query too, so one schedule owns every
 * instrument query of a venue; such a run is the client's (`own` false): not counted, its failure not retried here.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { boundedText, DETAIL_MAX_CHARS } from "../../core/terminal-text.ts";
import type { MarketName } from "../../core/types.ts";

/** Default of `venues.<venue>.instrument_reload_ms`. */
export const INSTRUMENT_RELOAD_MS = 3_600_000;
/** How often deadlines are compared with the clock (1 s: an announced change is seen ~1–2 s after it takes effect). */
export const RELOAD_CHECK_MS = 1_000;
/**
 * A failed reload is tried again after RELOAD_RETRY_BASE_MS, doubling per failure in a row up to RELOAD_RETRY_MS: a
 * re-check asked for by a venue reset or a coarser tick is the only thing that would notice that change, so it must
 * not wait a minute behind one lost request, nor hammer a REST endpoint that is down.
 */
export const RELOAD_RETRY_BASE_MS = 2_000;
export const RELOAD_RETRY_MS = 60_000;
/**
 * The longest wait before retrying a failed reload of a market with nothing open to keep current (its books all
 * closed: InstrumentReloadOptions.quietMarket): until s-binmisc such a market whose listing failed for good was asked
 * every minute for ever, each a counted failure. Its closed symbols' own queries back off alike (closed-schedule.ts).
 */
export const QUIET_RETRY_MAX_MS = 1_800_000;

export interface InstrumentReloadOptions {
  venue: string;
  log: Logger;
  /** The deadline clock: intervals and retries. */
  now: () => number;
  /** The wall clock announced times are compared with (default `now`). */
  wallNow?: () => number;
  markets: readonly MarketName[];
  /** 0: no periodic reload (announced changes and asked-for reloads still run). */
  intervalMs: number;
  checkEveryMs?: number;
  /** First retry of a failed reload (default RELOAD_RETRY_BASE_MS), doubling to retryMs. */
  retryBaseMs?: number;
  retryMs?: number;
  /**
   * Fetches the market's instruments and applies changes; rejects on failure (logged, retried). `own`: the
   * reloader's deadline came (periodic, announced, asked for); false: only the client's (lateDueMs) did. Resolves to
   * whether the market's listing answered: a client's run that did ends the market's failure streak too (until
   * s-instleft only the reloader's own answer did, so a quiet market's next failed reload waited 30 min at once).
   */
  reload: (market: MarketName, own: boolean) => Promise<boolean>;
  /** A client's next deadline for the market (Infinity: none); it rides the same query. */
  lateDueMs?: (market: MarketName) => number;
  /**
   * Whether the market has nothing open to keep current (every book closed): a failed reload's retry then keeps
   * doubling up to QUIET_RETRY_MAX_MS (and never past the interval) instead of stopping at retryMs.
   */
  quietMarket?: (market: MarketName) => boolean;
}

export class InstrumentReloader {
  private readonly dueMs = new Map<MarketName, number>();
  /** Announced change times per market (wall clock), ascending. */
  private readonly announced = new Map<MarketName, number[]>();
  private readonly inFlight = new Set<MarketName>();
  /**
   * requestNow calls so far, per market: one made while that market's reload is in flight gets a reload of its own
   * after it (another market's ask is no reason to ask this one again).
   */
  private readonly asks = new Map<MarketName, number>();
  private readonly checkEveryMs: number;
  private readonly wallNow: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMs: number;
  /** Failed reloads in a row per market (the retry's doubling step). */
  private readonly failuresInRow = new Map<MarketName, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  // Counters (cold): in all, and per market (metrics).
  reloads = 0;
  failures = 0;
  readonly reloadsByMarket = new Map<MarketName, number>();
  readonly failuresByMarket = new Map<MarketName, number>();

  constructor(private readonly o: InstrumentReloadOptions) {
    this.wallNow = o.wallNow ?? o.now;
    this.checkEveryMs = o.checkEveryMs ?? RELOAD_CHECK_MS;
    this.retryMs = o.retryMs ?? RELOAD_RETRY_MS;
    this.retryBaseMs = Math.min(o.retryBaseMs ?? RELOAD_RETRY_BASE_MS, this.retryMs);
  }

  start(): void {
    const now = this.o.now();
    for (const m of this.o.markets) this.dueMs.set(m, this.o.intervalMs > 0 ? now + this.o.intervalMs : Infinity);
    this.timer = setInterval(() => this.check(), this.checkEveryMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A change the venue announced for `atMs`: the market is reloaded once that time has come. */
  announce(market: MarketName, atMs: number): void {
    const list = this.announced.get(market) ?? [];
    if (list.includes(atMs)) return;
    list.push(atMs);
    list.sort((a, b) => a - b);
    this.announced.set(market, list);
  }

  /** The earliest announced change still to be reloaded for (tests, status). */
  nextAnnouncedMs(market: MarketName): number | undefined {
    return this.announced.get(market)?.[0];
  }

  /** Reload the market by `atMs` (the deadline clock) at the latest: as a failed reload's retry is (a start from the disk cache). */
  dueBy(market: MarketName, atMs: number): void {
    this.dueMs.set(market, Math.min(this.dueMs.get(market) ?? Infinity, atMs));
  }

  /** Reload the market now (or as soon as its reload in flight is done). */
  requestNow(market: MarketName): void {
    this.asks.set(market, (this.asks.get(market) ?? 0) + 1);
    this.dueMs.set(market, Math.min(this.dueMs.get(market) ?? Infinity, this.o.now()));
    this.check();
  }

  /** Runs every market whose deadline (periodic, asked for, or announced) has come. */
  check(): void {
    if (this.stopped) return;
    const now = this.o.now();
    const wallNow = this.wallNow();
    // An injected clock (tests) may step back: a deadline set before would lie that much further ahead, and the next
    // reload or retry wait the step's length too. None is ever set further than the interval or the longest retry
    // wait from now, so one beyond that is brought back to it. (Announced times are the venue's own and stay.)
    // A quiet market's retry may be set up to its longest retry wait ahead (retryCapMs: QUIET_RETRY_MAX_MS, never past
    // the interval; until s-rd13c a step back held it to 30 min even with a shorter interval).
    const longestMs = Math.max(this.o.intervalMs, this.retryMs);
    for (const [m, due] of this.dueMs) {
      if (!Number.isFinite(due) || due <= now + longestMs) continue;
      const mostMs = Math.max(longestMs, this.retryCapMs(m));
      if (due > now + mostMs) this.dueMs.set(m, now + mostMs);
    }
    for (const m of this.o.markets) {
      if (this.inFlight.has(m)) continue;
      if (now >= (this.dueMs.get(m) ?? Infinity) || wallNow >= (this.announced.get(m)?.[0] ?? Infinity)) this.run(m, wallNow);
      else if (now >= (this.o.lateDueMs?.(m) ?? Infinity)) this.runForClient(m);
    }
  }

  /** The longest wait before retrying the market's failed reload: retryMs, a quiet market's QUIET_RETRY_MAX_MS; never past the interval. */
  private retryCapMs(market: MarketName): number {
    const longestRetryMs = this.o.quietMarket?.(market) === true ? Math.max(this.retryMs, QUIET_RETRY_MAX_MS) : this.retryMs;
    return this.o.intervalMs > 0 ? Math.min(this.o.intervalMs, longestRetryMs) : longestRetryMs;
  }

  /** Only the client's deadline came: its query, nothing of the reloader's changes; answered, the failure streak is over. */
  private runForClient(market: MarketName): void {
    this.inFlight.add(market);
    this.o
      .reload(market, false)
      .then((answered) => void (answered && this.failuresInRow.delete(market)))
      .catch((err: unknown) => void (this.stopped || this.o.log.warn(`${this.o.venue}: instrument query failed`, { market, error: boundedText(String(err), DETAIL_MAX_CHARS) })))
      .finally(() => {
        this.inFlight.delete(market);
        this.check();
      });
  }

  /** `startedWallMs`: the wall clock when it starts (announcements that had come by then are done by it). */
  private run(market: MarketName, startedWallMs: number): void {
    this.inFlight.add(market);
    const asksBefore = this.asks.get(market);
    this.o
      .reload(market, true)
      .then(
        () => {
          this.reloads++;
          this.reloadsByMarket.set(market, (this.reloadsByMarket.get(market) ?? 0) + 1);
          this.failuresInRow.delete(market);
          // Announcements that had come when this reload started are done; later ones stay.
          const list = this.announced.get(market);
          if (list) this.announced.set(market, list.filter((at) => at > startedWallMs));
          // Asked again meanwhile (a number that did not fit may predate what this reload saw): once more, now.
          const asked = this.asks.get(market) !== asksBefore && this.dueMs.get(market)! <= this.o.now();
          if (!asked) this.dueMs.set(market, this.o.intervalMs > 0 ? this.o.now() + this.o.intervalMs : Infinity);
        },
        (err: unknown) => {
          if (this.stopped) return; // no retry runs after a stop: "retrying" would mislead
          this.failures++;
          this.failuresByMarket.set(market, (this.failuresByMarket.get(market) ?? 0) + 1);
          const inRow = this.failuresInRow.get(market) ?? 0;
          this.failuresInRow.set(market, inRow + 1);
          const waitMs = Math.min(this.retryCapMs(market), this.retryBaseMs * 2 ** Math.min(inRow, 30));
          this.o.log.warn(`${this.o.venue}: instrument reload failed; retrying`, { market, error: boundedText(String(err), DETAIL_MAX_CHARS), retryInMs: waitMs });
          // Announced times that have passed wait for the retry too, instead of asking again every check.
          const list = this.announced.get(market);
          if (list) this.announced.set(market, list.map((at) => Math.max(at, this.wallNow() + waitMs)));
          this.dueMs.set(market, this.o.now() + waitMs);
        },
      )
      .finally(() => {
        this.inFlight.delete(market);
        this.check();
      });
  }
}
