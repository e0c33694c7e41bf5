/**
 * A venue's instruments from start to stop, the same for every venue (cold): loading them (resolveInstruments: an
 * unresolved symbol is left out and named; none resolvable throws unless allowed), and one schedule for every
 * instrument REST query while running, so a market is never asked twice for the same thing:
 * - the InstrumentReloader owns "when": periodic reloads (`intervalMs`), announced changes (OKX `upcChg`),
 *   re-checks asked for by a price or size that did not fit (coalesced per market), and the late retrier's
 *   deadlines (LateInstruments.dueMs: symbols left out at start, 5 s doubling while REST fails, 5 min while not
 *   listed);
 * - one query per market run (`source.fetchSpecs`): a reload asks for the market's resolved symbols and carries its
 *   pending ones along; a run only the late retrier is due for asks for the pending ones alone (as before);
 * - a changed tick/lot of a resolved symbol goes to the venue's `apply` (new exponents, the sink told, a resync) and
 *   into the disk cache; a pending symbol REST now lists joins (LateInstruments.answer → joinLate);
 * - a resolved symbol an answered query no longer lists as trading (delisted, expired, halted, settling: each venue's
 *   source leaves such symbols out) is closed: its book HALTED (INSTRUMENT_CLOSED), unsubscribed, out of every
 *   resync and stale check (ConnectionLifecycle.retire), logged once; every later query of its market asks for it
 *   too, and its market is asked for its closed symbols 15 s after a closure, the wait doubling to 1 min (one query
 *   per market for all of them; every listing period once all are past a listed expiry; queries failing in a row
 *   back off to 30 min: closed-schedule.ts), and once
 *   listed as trading again it is subscribed (at the new exponents if they changed) and LIVE on its first snapshot.
 *   A book that goes stale asks for its market's query (at most once per STALE_RECHECK_MS per market), so a symbol
 *   that stops trading silently is found within a stale period, not at the next hourly reload. Where the listing
 *   gives an expiry (InstrumentSpec.expiresMs: Deribit, Bybit, OKX, Binance USD-M), the book is closed when it comes (checked every
 *   second, and at once at start: one listed already past it is never subscribed), so an expired book is never left
 *   LIVE and frozen. A config override's symbol (no listing asked) has the expiry its name gives where the venue reads
 *   one (nameExpiryMs: Deribit), closed the same way and never asked for after. One resolved from the disk cache (REST unreachable at start) has the cache's expiry (unknown in
 *   an entry written before the cache kept them), and its market is reloaded 2 s after start (retried 2 s doubling
 *   while REST fails), so what the listing says (an expiry, a tick/lot, a closure) is learned once REST answers
 *   (not with applyAskedOnly: such a reload asks for the books that asked, and none has).
 * - a query answered in part (PartialAnswer: one of the market's requests failed) is used for what it lists; any other
 *   symbol of the market is unknown: not changed, closed nor reopened, the reload retried (an open book's symbol
 *   left out; a closed one's is not a failed reload), a late one backed off as for a failed query (never
 *   `not_listed`), its closed symbols' wait backed off as after a failed query.
 * The venue writes only its REST parsing (the InstrumentSource) and these hooks: how a topic enters its table and
 * how a changed instrument is applied. Replay never queries.
 * @module
 */
import { SymbolsUnusableError } from "../../core/errors.ts";
import { boundedText, DETAIL_MAX_CHARS } from "../../core/terminal-text.ts";
import { BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { BookSink, CommonAdapterOptions, VenueMetric } from "../venue.ts";
import { CLOSED_FAILED_MAX_MS, ClosedSchedule } from "./closed-schedule.ts";
import { ClosedTopics } from "./closed-topics.ts";
import type { TopicMembership } from "./connection-lifecycle.ts";
import { SUB_ACTIVE, SUB_REJECTED, type TopicState } from "./connection.ts";
import { InstrumentReloader, RELOAD_CHECK_MS, RELOAD_RETRY_BASE_MS } from "./instrument-reload.ts";
import { configuredCacheKeys, makeInstrument, mergeIntoInstrumentCache, PartialAnswer, resolveInstruments, sameTickLot, type InstrumentSource, type InstrumentSpec } from "./instruments.ts";
import { joinLate, LateInstruments, lateTimings, LISTING_RETRY_MS, type LateInstrumentOptions, type LateQuery, type UnresolvedInstrument } from "./late-instruments.ts";
import { counter, gauge } from "./metrics.ts";
import type { TopicResync } from "./topic-resync.ts";

/**
 * An expiry before this (2001-09-09 in ms) is no expiry in ms: seconds (1.7e9) or garbage, which taken as ms would
 * close every such book at once. Ignored (logged): the listing and the stream still tell.
 */
export const MIN_EXPIRY_MS = 1e12;

/** A stale book asks for its market's instrument query at most this often (per market): is it still trading? */
export const STALE_RECHECK_MS = 60_000;

/**
 * A book whose subscribe the venue rejected for good has its listing asked for after this long, the wait doubling
 * to REFUSED_RECHECK_MAX_MS while it is refused again each time it is listed as trading and subscribed again (a
 * refusal that lasts costs at most one request an hour); one refused again this long after it was last asked for
 * starts at the first wait again. Never slower than the listing cadence allows (listingRetryMs: 1 and 12 of it), so a
 * test's short listingRetryMs shortens them too.
 */
export const REFUSED_RECHECK_BASE_MS = 60_000;
export const REFUSED_RECHECK_MAX_MS = 3_600_000;

function bump(m: Map<MarketName, number>, market: MarketName): void {
  m.set(market, (m.get(market) ?? 0) + 1);
}

export interface InstrumentWatchOptions<T extends TopicState> extends Pick<LateInstrumentOptions, "venue" | "log" | "now" | "wallNow" | "random" | "config" | "subscriptions" | "restHeldUntilMs"> {
  /** By subscription index. */
  topics: readonly T[];
  /** The venue's REST parsing: a market's specs, the words for "not listed". */
  source: InstrumentSource;
  /** Periodic reload of each market (0: none; re-checks and the late retrier still query). */
  intervalMs: number;
  /** Periodic, announced and asked-for reloads (CommonAdapterOptions.recheckInstruments); late symbols are retried regardless. */
  recheck: boolean;
  /**
   * A reload asks for (and applies) only the resolved topics that asked for it (requestNow's `index`), not the whole
   * market: Upbit/Bithumb derive a tick from the last trade price, so a whole-market answer would rebuild every other
   * code whose price moved a band since start, healthy books included.
   */
  applyAskedOnly?: boolean;
  /** Start with no symbol resolved (CommonAdapterOptions.allowNoInstruments). */
  allowNoInstruments: boolean;
  /** Deadline checks (CommonAdapterOptions.instrumentCheckMs / lateCheckMs; the smaller wins). */
  instrumentCheckMs?: number;
  lateRetryBaseMs?: number;
  lateRetryMaxMs?: number;
  listingRetryMs?: number;
  lateCheckMs?: number;
  /** The adapter's instruments by subscription index (null before load). */
  instruments: () => (Instrument | undefined)[] | null;
  sink: () => BookSink | null;
  lifecycle: () => TopicMembership;
  /** Adds the topic to its connection's hot-path table at the instrument's exponents; returns the entry. */
  addToTable: (t: T, inst: Instrument) => number;
  /** A resolved topic's tick or lot changed: new exponents in its table, the sink told, the book resynced. */
  apply: (t: T, inst: Instrument) => void;
  /**
   * The adapter's RestStop signal (rest-stop.ts): once aborted, a load under way rejects with its reason (no
   * warning, no cache write) and a query's failure is not logged nor retried.
   */
  stop?: AbortSignal;
  /** After each answered query of a market (OKX: announce its `upcChg`), with when the query started (wall clock). */
  afterQuery?: (market: MarketName, symbols: readonly string[], startedMs: number) => void;
  /**
   * The expiry a symbol's name gives (Deribit: BTC-27DEC24-100000-C), for a config override's symbol: no listing is
   * asked for it, so without this an expired one stayed LIVE and frozen until it went stale. Undefined: none.
   */
  nameExpiryMs?: (market: MarketName, symbol: string) => number | undefined;
}

/**
 * The usual apply of a changed tick or lot once the topic's table has the new exponents: the book invalid
 * (INSTRUMENT_CHANGED), the sink told (it rebuilds the book and announces the new definition), a resync counted and
 * started at once by `restart`: new exponents are worth a snapshot now, whatever the backoff said.
 */
export function resyncForNewInstrument(books: TopicResync, t: TopicState, inst: Instrument, restart: () => void): void {
  books.invalidate(t, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
  books.sink?.onInstrumentChanged(t.index, inst);
  books.resyncs++;
  t.resyncs++;
  t.resyncDelayed = false;
  restart();
}

/** The adapter options the watch reads (recheckInstruments, allowNoInstruments and the test timings). */
export function watchSettings(opts: CommonAdapterOptions & { instrumentCheckMs?: number }): Pick<InstrumentWatchOptions<TopicState>, "recheck" | "allowNoInstruments" | "instrumentCheckMs" | "lateRetryBaseMs" | "lateRetryMaxMs" | "listingRetryMs" | "lateCheckMs"> {
  const { instrumentCheckMs, lateRetryBaseMs, lateRetryMaxMs, listingRetryMs, lateCheckMs } = opts;
  return { recheck: opts.recheckInstruments ?? true, allowNoInstruments: opts.allowNoInstruments ?? false, instrumentCheckMs, lateRetryBaseMs, lateRetryMaxMs, listingRetryMs, lateCheckMs };
}

export class InstrumentWatch<T extends TopicState = TopicState> {
  readonly late: LateInstruments;
  readonly reloader: InstrumentReloader;
  private live = false;
  /** Topics whose number did not fit, by index, until a reload answered for them (applyAskedOnly). */
  private readonly asked = new Set<number>();
  /** Books the sink built for late joins whose adapter part failed, by index (joinLate's sinkBooks). */
  private readonly sinkBooks = new Map<number, Instrument>();
  /** Tick/lot changes applied, and re-checks asked for (requestNow), per market (metrics; stats() sums them). */
  private readonly changes = new Map<MarketName, number>();
  private readonly rechecks = new Map<MarketName, number>();
  /** Closed topics (no longer listed as trading) by index, counted per market with whether one may reopen. */
  private readonly closed: ClosedTopics;
  /**
   * Resolved topics (an instrument) per market, counted at start and at each late join (none is ever unresolved
   * again): onlyClosed compares it with the closed count. The reloader asks that every check while a quiet market's
   * retry lies more than a minute ahead; before s-instleft each ask went over every topic of the venue (thousands of
   * options) once a second, and until s-instleft2 its answer was cached, dropped by hand wherever a topic changed.
   */
  private readonly resolvedIn = new Map<MarketName, number>();
  /**
   * Topics the venue rejected (SubscriptionControl.reject), by index: when their market is to be asked whether they are
   * listed as trading (`dueMs`; asked again after the same wait while unanswered; Infinity once subscribed again), the
   * wait that set it, and when they were last asked.
   */
  private readonly refused = new Map<number, { dueMs: number; waitMs: number; askedMs: number }>();
  /** When each market's closed topics are asked for next. */
  private readonly closedSchedule: ClosedSchedule;
  /** Closed topics listed again at a tick/lot that cannot be used, by index: that tick/lot, logged once while it lasts. */
  private readonly unusable = new Map<number, string>();
  /** Closures and reopenings per market (metrics). */
  private readonly closures = new Map<MarketName, number>();
  private readonly reopens = new Map<MarketName, number>();
  /** Queries that carried the market's closed symbols, and those that failed or left some unanswered (metrics). */
  private readonly closedQueries = new Map<MarketName, number>();
  private readonly closedQueryFailures = new Map<MarketName, number>();
  /** When a stale book last asked for its market's query (STALE_RECHECK_MS). */
  private readonly staleAsked = new Map<MarketName, number>();
  private readonly listingMs: number;
  /** The wall clock (InstrumentWatchOptions.wallNow, default `now`): listed expiries and announced changes. */
  private readonly wallNow: () => number;
  /** Expiry times the listing gave (InstrumentSpec.expiresMs), by index: the book is closed when it comes. */
  private readonly expiries = new Map<number, number>();
  /** Topics whose listed expiry was not a time in ms (MIN_EXPIRY_MS), logged once while it lasts. */
  private readonly badExpiry = new Set<number>();
  private expiryTimer: ReturnType<typeof setInterval> | null = null;
  private readonly checkEveryMs: number;
  /** The venue's source, noting each answer's expiry times (the specs handed on keep them: the disk cache does). */
  private readonly source: InstrumentSource;
  private readonly markets: MarketName[];
  /** Markets the disk cache answered for at start (REST failed): reloaded once running, so their listing is learned. */
  private readonly cacheAnswered = new Set<MarketName>();

  constructor(private readonly o: InstrumentWatchOptions<T>) {
    const { venue, log, now, wallNow, random, config, subscriptions, restHeldUntilMs } = o;
    // Listed expiries and announced changes are the venue's times of day: compared with the wall clock, not `now`.
    this.wallNow = wallNow ?? now;
    this.markets = [...new Set(subscriptions.map((s) => s.market))];
    this.listingMs = o.listingRetryMs ?? LISTING_RETRY_MS;
    // A config override's closed book (past the expiry its name gives) is never asked for: no listing for overrides.
    this.closed = new ClosedTopics((index) => o.topics[index]!.market, (index) => this.expiries.get(index), (index) => !this.overridden(o.topics[index]!));
    // What a market's closed symbols are, asked every check: kept per market, not a walk over every closed topic.
    this.closedSchedule = new ClosedSchedule(this.listingMs, now, (m) => this.closed.kindAt(m, this.wallNow()));
    this.checkEveryMs = Math.min(o.instrumentCheckMs ?? RELOAD_CHECK_MS, o.lateCheckMs ?? RELOAD_CHECK_MS);
    const inner = o.source;
    this.source = {
      ...inner,
      fetchSpecs: async (market, symbols) => {
        try {
          return this.noteExpiries(market, await inner.fetchSpecs(market, symbols));
        } catch (err) {
          // Answered in part: the answered parts' expiry times count too, and leave the specs the same way.
          if (err instanceof PartialAnswer) throw new PartialAnswer(this.noteExpiries(market, err.specs), err.failure);
          throw err;
        }
      },
    };
    this.late = new LateInstruments({
      ...{ venue, log, now, wallNow: this.wallNow, random, config, subscriptions, restHeldUntilMs, ...lateTimings(o) },
      onResolved: (i, inst) => {
        // One reading for the join's check and the close: with two, a clock step between them (the join calls the
        // sink in between) left the topic idle, neither joined nor closed.
        const now = this.wallNow();
        const pastExpiry = (t: TopicState) => this.expiredAt(t as T, now);
        joinLate({ topics: o.topics, instruments: o.instruments(), sink: o.sink(), lifecycle: o.lifecycle(), addToTable: (t, x) => o.addToTable(t as T, x), sinkBooks: this.sinkBooks, pastExpiry }, i, inst);
        bump(this.resolvedIn, o.topics[i]!.market); // joined (a failed join throws, rolled back: none more)
        // Listed already past its expiry (OKX lists a delivered future for a while): closed now, as at start.
        if (pastExpiry(o.topics[i]!)) this.checkExpiries(now);
      },
    });
    this.reloader = new InstrumentReloader({
      ...{ venue, log, now, wallNow: this.wallNow },
      markets: this.markets,
      intervalMs: o.recheck ? o.intervalMs : 0,
      checkEveryMs: this.checkEveryMs,
      lateDueMs: (market) => Math.min(this.late.dueMs(market), this.closedDueMs(market)),
      reload: (market, own) => this.query(market, own),
      quietMarket: (market) => this.onlyClosed(market),
    });
  }

  /**
   * Resolves every subscription (common/instruments.ts). A symbol that cannot be resolved is left out, logged as an
   * error naming it and why, and retried while running. None resolvable throws (unless allowNoInstruments) only when
   * REST answered for every one of them (not listed, refused: a configuration error); a venue whose REST could not be
   * answered (network, 5xx, timeout, 429 hold; no cache) is an outage, not an error: it starts with its symbols left
   * out and they join when REST comes back, while the other venues run. Not so without rechecks (replay, export):
   * there an unresolved venue throws as before.
   */
  async load(): Promise<(Instrument | undefined)[]> {
    const { config, subscriptions, log, venue } = this.o;
    const source = this.source;
    const { instruments, problems, unresolved, fromCache } = await resolveInstruments(config, subscriptions, source, log, this.o.stop, this.wallNow);
    // Their REST failed: the cache's expiry (if it holds one) closes the book as the listing's would.
    for (const [index, spec] of fromCache) {
      const t = this.o.topics[index]!;
      this.noteExpiry(t, spec.expiresMs);
      this.cacheAnswered.add(t.market);
    }
    if (problems.length > 0) {
      const message = `${venue}: cannot resolve instruments for ${problems.join(", ")}`;
      const none = !instruments.some((i) => i !== undefined);
      // Only a live run can wait for REST to come back, or for a halt or maintenance to end (a symbol listed but not
      // trading: Binance BREAK, OKX suspend); replay and export (no rechecks) have nothing to wait with.
      const outage = this.o.recheck && unresolved.some((u) => u.kind === "rest_unreachable" || u.kind === "not_trading");
      // REST answered for every symbol and refused each: the configuration's to change (run exits 2, not restarted).
      const refused = unresolved.length > 0 && unresolved.every((u) => u.kind === "not_listed" || u.kind === "bad_spec");
      if (none && !outage && !this.o.allowNoInstruments) throw refused ? new SymbolsUnusableError(message) : new Error(message);
      // Allowed (a worker's or shard's share) with REST answered: not listed here, perhaps listed in another share.
      if (none && outage) log.error(`${message}; the venue starts with no books and retries them while running (REST unreachable, or listed but not trading now: not a configuration error)`, { unresolved: problems.length, of: instruments.length });
      else if (none) log.error(`${message}; this share of the venue (a worker's or a shard's) starts with no books and retries them while running`, { unresolved: problems.length, of: instruments.length });
      else if (this.o.recheck) log.error(`${message}; those books are left out and retried while running, the others start`, { unresolved: problems.length, of: instruments.length });
      else log.error(`${message}; those books are left out (a replay or export does not ask for them again), the others start`, { unresolved: problems.length, of: instruments.length });
    }
    // An override's expiry is its name's (no listing is asked for it), closing the book as a listed one would.
    if (this.o.nameExpiryMs) {
      for (const t of this.o.topics) if (instruments[t.index] !== undefined && this.overridden(t)) this.noteExpiry(t, this.o.nameExpiryMs(t.market, t.symbol));
    }
    this.late.track(source, unresolved);
    return instruments;
  }

  /** Whether the topic's tick/lot come from a config override (no listing asked for it). */
  private overridden(t: TopicState): boolean {
    return this.o.config.overrides.has(`${t.market}:${t.symbol}`);
  }

  /**
   * At start, live or replay: a topic with an instrument enters its connection's table (the connection is used; in
   * replay the topic counts as subscribed); one without is not subscribed (SUB_REJECTED) unless it joins late.
   * Live, one listed already past its expiry does not make its connection used (start() closes it): a connection
   * with nothing else is not opened (before, it was opened, spending a connect, pinged and watched, for nothing);
   * its reopening opens it (ConnectionLifecycle.activateAll). Returns the topics with an instrument, for the venue's
   * own checks. Throws before load().
   */
  bindTopics(replaying: boolean): T[] {
    const list = this.o.instruments();
    if (list === null) throw new Error(`${this.o.venue}: start before loadInstruments()`);
    const bound: T[] = [];
    const now = this.wallNow();
    for (const t of this.o.topics) {
      const inst = list[t.index];
      if (inst === undefined) {
        t.sub = SUB_REJECTED; // never subscribed: there is no instrument to build its book with
        continue;
      }
      t.entry = this.o.addToTable(t, inst);
      if (replaying || !this.expiredAt(t, now)) t.conn.used = true;
      if (replaying) t.sub = SUB_ACTIVE;
      bound.push(t);
    }
    if (replaying) {
      // Replay asks no listing: the capture's closures and reopenings are counted here as live's close() and
      // reopenListed() counted them (a book the watch has closed already is not counted again).
      const lifecycle = this.o.lifecycle();
      lifecycle.onReplayClosed = (t) => {
        if (this.closed.has(t.index)) return;
        this.closed.add(t.index);
        bump(this.closures, t.market);
      };
      lifecycle.onReplayReopened = (t) => {
        if (!this.closed.has(t.index)) return; // a refused book subscribed again: no reopening (as live's reopenRefused)
        this.closed.delete(t.index);
        bump(this.reopens, t.market);
      };
    }
    return bound;
  }

  /** Live runs only: the late retrier (for a sink that takes late books) and the schedule. */
  start(sink: BookSink): void {
    this.live = true;
    const current = this.o.instruments() ?? [];
    this.resolvedIn.clear(); // the instruments load() gave
    for (const t of this.o.topics) if (current[t.index] !== undefined) bump(this.resolvedIn, t.market);
    this.late.start(sink, false);
    this.reloader.start();
    this.o.lifecycle().onTopicStale = (t) => this.onStale(t as T);
    this.o.lifecycle().onTopicRejected = (t, soon) => this.onRejected(t as T, soon);
    this.expiryTimer = setInterval(() => {
      this.checkExpiries();
      this.checkRefused();
    }, this.checkEveryMs);
    // A listing may give an expiry already past (OKX lists a delivered future for a while): that book is closed now,
    // before its connection opens, so it is never subscribed nor LIVE (the first check came after its snapshot).
    this.checkExpiries();
    // Books the disk cache resolved: their market's listing is asked for as a failed reload's retry is (after 2 s,
    // then doubling while REST fails). Before, nothing asked it before the hourly reload: an expiry the cache did not
    // hold came unnoticed (the book LIVE and frozen until it went stale, 600 s for a Deribit option). Not where a reload
    // asks only for the books that asked (applyAskedOnly: Upbit, Bithumb, no expiry listed): none has, so it asked for
    // nothing and was counted as an answered reload all the same.
    if (this.o.recheck && !this.o.applyAskedOnly) for (const market of this.cacheAnswered) this.reloader.dueBy(market, this.o.now() + RELOAD_RETRY_BASE_MS);
  }

  /**
   * Records the answer's expiry times for the market's topics (not an override's: its expiry is its name's, or none,
   * as before; a listing of the whole currency may name it); returns the specs as they are.
   */
  private noteExpiries(market: MarketName, specs: Map<string, InstrumentSpec>): Map<string, InstrumentSpec> {
    for (const t of this.o.topics) {
      if (t.market === market && specs.has(t.symbol) && !this.overridden(t)) this.noteExpiry(t, specs.get(t.symbol)!.expiresMs);
    }
    return specs;
  }

  /** The topic's expiry as its listing (or the disk cache) gives it: `at` undefined is none (or unknown). */
  private noteExpiry(t: T, at: number | undefined): void {
    const plausible = at !== undefined && Number.isFinite(at) && at >= MIN_EXPIRY_MS;
    const before = this.expiries.get(t.index);
    if (plausible) this.expiries.set(t.index, at!);
    else this.expiries.delete(t.index);
    if (this.expiries.get(t.index) !== before) this.closed.expiryChanged(t.index);
    if (plausible || at === undefined || !(at > 0)) this.badExpiry.delete(t.index);
    else if (!this.badExpiry.has(t.index)) {
      this.badExpiry.add(t.index); // logged once while it lasts
      this.o.log.warn(`${this.o.venue}: listed expiry is not a time in ms; ignored`, { market: t.market, symbol: t.symbol, expiresMs: at });
    }
  }

  /**
   * A book whose instrument reached the expiry time its listing gave is closed at once: after it nothing the stream
   * could still send (or fail to send) is the venue's book, and a quiet expired book would otherwise stay LIVE for a
   * whole stale period. Checked every checkEveryMs (1 s).
   */
  /** `now`: a reading the caller already judged by (a late join's); else the clock is read here. */
  private checkExpiries(now = this.wallNow()): void {
    if (!this.live || this.o.lifecycle().stopping) return;
    const current = this.o.instruments();
    const retiring: T[] = [];
    for (const [index, at] of this.expiries) {
      const t = this.o.topics[index]!;
      if (!this.expiredAt(t, now) || this.closed.has(index) || current?.[index] === undefined) continue;
      this.close(t.market, t, retiring, `expired at ${new Date(at).toISOString()}`);
    }
    if (retiring.length > 0) this.o.lifecycle().retireAll(retiring, StatusReason.INSTRUMENT_CLOSED); // an expiry's options together: one unsubscribe
  }

  /** Whether the topic's expiry (listed; a config override's from its name: nameExpiryMs) has come by `now`. */
  private expiredAt(t: T, now: number): boolean {
    const at = this.expiries.get(t.index);
    return at !== undefined && now >= at;
  }

  stop(): void {
    this.live = false;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
    this.reloader.stop();
    this.late.stop();
  }

  /** A price or size that did not fit (topic `index`): reload the market now (re-checks of a market coalesce). */
  requestNow(market: MarketName, index?: number): void {
    if (!this.live || !this.o.recheck) return;
    if (index !== undefined) this.asked.add(index);
    bump(this.rechecks, market);
    this.reloader.requestNow(market);
  }

  /**
   * A book went stale: the venue may have stopped trading it (Binance BREAK and Deribit expiry go silent), so its
   * market is asked, at most once per STALE_RECHECK_MS per market (a quiet market's stale books share one query).
   */
  private onStale(t: T): void {
    if (!this.live || !this.o.recheck || this.o.config.overrides.has(`${t.market}:${t.symbol}`) || this.closed.has(t.index)) return;
    const now = this.o.now();
    const last = this.staleAsked.get(t.market);
    if (last !== undefined && now - last < STALE_RECHECK_MS && now >= last) return; // (a clock stepped back asks again)
    this.staleAsked.set(t.market, now);
    this.requestNow(t.market, t.index);
  }

  /**
   * The venue rejected `t`'s subscribe for good (HALTED / SUBSCRIBE_REJECTED): its market is asked after a wait
   * (REFUSED_RECHECK_BASE_MS doubling to REFUSED_RECHECK_MAX_MS while it is refused again) whether it is listed as
   * trading; listed, it is subscribed again (reopenRefused); not listed, it is closed and comes back as a closed one
   * does. Until 2026-12-06 a rejected book stayed halted until a restart unless its listing happened to drop it.
   * `soon` (a refusal that gave no reason, the first of its streak: Bybit option failTopics): the first ask goes at
   * the next check, not after the first wait (later ones wait as above). Returns whether it will be asked.
   */
  private onRejected(t: T, soon = false): boolean {
    if (!this.live || !this.o.recheck || this.o.config.overrides.has(`${t.market}:${t.symbol}`) || this.closed.has(t.index)) return false;
    const now = this.o.now();
    const prev = this.refused.get(t.index);
    const baseMs = Math.min(REFUSED_RECHECK_BASE_MS, this.listingMs);
    const maxMs = Math.min(REFUSED_RECHECK_MAX_MS, 12 * this.listingMs);
    const again = prev !== undefined && now >= prev.askedMs && now - prev.askedMs < 2 * prev.waitMs + baseMs;
    const waitMs = again ? Math.min(maxMs, 2 * prev.waitMs) : baseMs;
    const dueMs = soon && !again ? now : now + waitMs;
    this.refused.set(t.index, { dueMs, waitMs, askedMs: prev?.askedMs ?? now });
    this.o.log.info(`${this.o.venue}: rejected book's listing asked for again after a wait (subscribed again if listed as trading)`, { market: t.market, symbol: t.symbol, topic: t.topic, waitMs: dueMs - now });
    return true;
  }

  /** Refused topics whose wait is over: their markets asked (one query per market; checked every checkEveryMs). */
  private checkRefused(): void {
    if (this.refused.size === 0 || !this.live || this.o.lifecycle().stopping) return;
    const now = this.o.now();
    for (const [index, r] of this.refused) {
      // A clock stepped back holds it no longer than its own wait from here.
      if (r.dueMs !== Infinity && r.dueMs > now + r.waitMs) r.dueMs = now + r.waitMs;
      if (now < r.dueMs) continue;
      r.dueMs = now + r.waitMs; // unanswered (REST down): asked again after the same wait
      r.askedMs = now;
      const t = this.o.topics[index]!;
      this.requestNow(t.market, index);
    }
  }

  /**
   * Refused topics the answer covered: listed as trading, subscribed again (its wait kept: refused again, the next
   * is longer); not listed, closed by applyChanges (out of this list: it comes back as a closed one does).
   */
  private reopenRefused(topics: readonly T[], specs: ReadonlyMap<string, InstrumentSpec>): void {
    const reopened: T[] = [];
    for (const t of topics) {
      const r = this.refused.get(t.index);
      if (r === undefined) continue;
      if (this.closed.has(t.index) || t.sub !== SUB_REJECTED) {
        this.refused.delete(t.index); // closed (it comes back as a closed one does), or subscribed again already
        continue;
      }
      if (!specs.has(t.symbol)) continue; // refused by the source (a tick rule): asked again on its wait
      r.dueMs = Infinity; // the subscribe's verdict decides: refused again, onRejected sets the next (longer) wait
      reopened.push(t);
      this.o.log.info(`${this.o.venue}: rejected book listed as trading; subscribing again`, { market: t.market, symbol: t.symbol, topic: t.topic });
    }
    if (reopened.length > 0) this.o.lifecycle().activateAll(reopened);
  }

  /** When the market's closed symbols are to be asked for next (Infinity: none). */
  private closedDueMs(market: MarketName): number {
    return this.live ? this.closedSchedule.dueMs(market) : Infinity;
  }

  /** A change the venue announced for `atMs` (OKX upcChg). */
  announce(market: MarketName, atMs: number): void {
    if (this.o.recheck) this.reloader.announce(market, atMs);
  }

  /**
   * Closed books whose listed expiry has passed (delivered futures, exercised options: never listed again), by
   * subscription index, with that expiry: /books shows it, /readyz does not count them (VenueAdapter.expiredInstruments).
   */
  expiredClosed(): Map<number, number> {
    const now = this.wallNow();
    const out = new Map<number, number>();
    for (const index of this.closed.values()) {
      const at = this.expiries.get(index);
      if (at !== undefined && at <= now) out.set(index, at);
    }
    return out;
  }

  /** The symbols still without an instrument (status page, /readyz): the first `limit` when given. */
  unresolved(limit?: number): UnresolvedInstrument[] {
    return this.late.list(limit);
  }

  /** Adds how many unresolved() lists per market to `into`, without listing them (/metrics). */
  countUnresolved(into: Map<string, number>): void {
    this.late.countByMarket(into);
  }

  /**
   * The schedule's counters per market, the same for every venue, and the late retrier's: one series per market of
   * each, zeros included, never a total beside them (sum() over market is the venue's).
   */
  metrics(): VenueMetric[] {
    const out: VenueMetric[] = [];
    const r = this.reloader;
    for (const market of this.markets) {
      const l = { market };
      out.push(
        counter("instrument_reloads_total", "Instrument reloads of the market while running (periodic, an announced change, asked for by re-checks, or after a start from the disk cache), answered", r.reloadsByMarket.get(market) ?? 0, l),
        counter("instrument_reload_failures_total", "Instrument reloads that failed (retried after 2 s, doubling to 1 min; to 30 min for a market whose books are all closed)", r.failuresByMarket.get(market) ?? 0, l),
        counter("instrument_changes_total", "Tick or lot changes applied (the book rebuilt at the new exponents)", this.changes.get(market) ?? 0, l),
        counter("instrument_rechecks_total", "Re-checks asked for by a price or size that did not fit, a venue reset or a stale book; a market's re-checks coalesce into one reload", this.rechecks.get(market) ?? 0, l),
        gauge("instruments_closed", "Books halted because the venue no longer lists their instrument as trading (asked for again 15 s after a closure, doubling to 1 min; to 30 min while the listing query fails), or a Deribit config override's at the expiry its name gives (never asked for)", this.closed.countIn(market), l),
        gauge("instruments_expired", "Of those, books past the expiry their listing gave (a Deribit config override's: its name's; delivered, exercised): never trading again, not counted against readiness", this.expiredIn(market), l),
        counter("instrument_closures_total", "Instruments found no longer listed as trading while running, or a Deribit config override's at the expiry its name gives (book halted, reason instrument_closed)", this.closures.get(market) ?? 0, l),
        counter("instrument_reopens_total", "Closed instruments listed as trading again and subscribed", this.reopens.get(market) ?? 0, l),
        counter("instrument_closed_queries_total", "Instrument REST queries that asked for the market's closed instruments (one per query, however many it carried; on their own schedule or riding a reload)", this.closedQueries.get(market) ?? 0, l),
        counter("instrument_closed_query_failures_total", "Those queries that failed, or were answered in part without some of the closed instruments (their wait backs off)", this.closedQueryFailures.get(market) ?? 0, l),
      );
    }
    out.push(...this.late.metrics());
    return out;
  }

  /** The status JSON's instrument counters (sums over markets). */
  stats(): Record<string, number> {
    const sum = (m: ReadonlyMap<MarketName, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      instrumentChanges: sum(this.changes),
      instrumentRechecks: sum(this.rechecks),
      instrumentReloads: this.reloader.reloads,
      instrumentReloadFailures: this.reloader.failures,
      instrumentsUnresolved: this.late.count,
      instrumentsResolvedLate: this.late.resolvedLate,
      instrumentsClosed: this.closed.size,
      instrumentClosures: sum(this.closures),
      instrumentReopens: sum(this.reopens),
      instrumentClosedQueries: sum(this.closedQueries),
      instrumentClosedQueryFailures: sum(this.closedQueryFailures),
    };
  }

  private expiredIn(market: MarketName): number {
    let n = 0;
    for (const index of this.expiredClosed().keys()) if (this.o.topics[index]!.market === market) n++;
    return n;
  }

  /** Whether every resolved book of the market is closed (at least one): nothing open for its reloads to keep current. */
  private onlyClosed(market: MarketName): boolean {
    const closed = this.closed.countIn(market);
    return closed > 0 && closed === this.resolvedIn.get(market);
  }

  /**
   * One query for the market: its resolved symbols when the reloader's own deadline came (`own`), plus the pending
   * ones. Rejects only for a reload (`own`): the reloader retries it; the late retrier backs off on its own. Resolves
   * to whether the listing answered (in part: for every open book asked for), which ends the reloader's failure streak.
   */
  private async query(market: MarketName, own: boolean): Promise<boolean> {
    const { config } = this.o;
    const source = this.source;
    const current = this.o.instruments();
    const wanted = (t: T) => !this.o.applyAskedOnly || this.asked.has(t.index);
    const topics = own ? this.o.topics.filter((t) => t.market === market && current?.[t.index] !== undefined && !this.closed.has(t.index) && !config.overrides.has(`${t.market}:${t.symbol}`) && wanted(t)) : [];
    // Closed symbols ride every query of their market (their own deadline is the listing cadence).
    const closed = this.o.topics.filter((t) => t.market === market && this.closed.has(t.index) && !this.overridden(t));
    const late: LateQuery | null = this.late.queryOf(market);
    if (topics.length === 0 && late === null && closed.length === 0) return false;
    const symbols = [...new Set([...topics.map((t) => t.symbol), ...closed.map((t) => t.symbol), ...(late?.symbols ?? [])])];
    const startedMs = this.wallNow(); // for afterQuery: OKX compares it with upcChg effTime
    if (closed.length > 0) bump(this.closedQueries, market);
    // What was known before the answer notes its expiry times: one newly learned goes into the disk cache.
    const expiriesBefore = new Map(this.expiries);
    let specs: Map<string, InstrumentSpec>;
    let partial: PartialAnswer | null = null;
    try {
      specs = await source.fetchSpecs(market, symbols);
    } catch (err) {
      if (this.o.stop?.aborted || !this.live || this.o.lifecycle().stopping) return false; // the adapter stopped: nothing failed
      if (!(err instanceof PartialAnswer)) {
        if (late !== null) this.late.failed(late, err);
        if (closed.length > 0) this.closedAsked(market, true);
        // A reload's failure is the reloader's to count and retry, whatever it carried: before, one that carried only
        // closed (or late) symbols returned, counted as answered, the next reload an hour on.
        if (own) throw err;
        return false;
      }
      partial = err;
      specs = err.specs;
    }
    if (!this.live || this.o.lifecycle().stopping) return false;
    // Answered in part: only what an answered part lists (or refused) is known; the rest is neither changed, closed
    // nor reopened, and is asked again as after a failed query.
    const answered = (t: T) => partial === null || specs.has(t.symbol) || source.whyRefused?.(market, t.symbol) !== undefined;
    const known = topics.filter(answered);
    for (const t of known) this.asked.delete(t.index); // answered (a failed query keeps them for the retry)
    // The closed symbols' next wait (as after a failed query if some went unanswered); a closure or a reopening below
    // brings it back to the first, ending the failure streak only if every closed symbol asked for was answered.
    const closedAnswered = closed.every(answered);
    if (closed.length > 0) this.closedAsked(market, !closedAnswered);
    this.o.afterQuery?.(market, symbols, startedMs);
    // A stop while a step waits (a cache write waits for the cache's lock, for seconds when another writer holds it)
    // ends the answer there: before, the closed symbols were reopened, and the sink told of new instruments, after the
    // Feeder had halted its books (test/venues/common/instrument-watch-stop.test.ts).
    const stopped = () => !this.live || this.o.lifecycle().stopping;
    if (known.length > 0) await this.applyChanges(market, known, specs, expiriesBefore, closedAnswered);
    if (known.length > 0 && this.refused.size > 0 && !stopped()) this.reopenRefused(known, specs);
    if (closed.length > 0 && !stopped()) await this.reopenListed(market, closed.filter(answered), specs, expiriesBefore, closedAnswered);
    if (late !== null && !stopped()) await this.late.answer(late, specs, partial?.failure);
    // The reloader retries the market when an open book went unanswered; not after a stop (during a cache write): no
    // retry runs then, nothing failed. A closed symbol left unanswered is its own schedule's (backed off, counted in
    // closedQueryFailures): its part of the listing may fail for good (an OKX option family delisted whole), and
    // until s-rd7b that made every reload a failed one, retried every minute for ever.
    if (own && partial !== null && known.length < topics.length && !stopped()) throw partial;
    return true;
  }

  /** A query carrying the market's closed symbols ended: answered for all of them, or not (`failed`). */
  private closedAsked(market: MarketName, failed: boolean): void {
    if (failed) bump(this.closedQueryFailures, market);
    this.closedSchedule.asked(market, failed);
  }

  /**
   * A resolved symbol the answer does not list (as trading): its book is to be halted and unsubscribed (pushed to
   * `retiring`, which the caller retires together: one unsubscribe request per connection), and its market asked
   * for it again (closed-schedule.ts). A symbol the source listed but refused the spec of (Upbit) is not closed.
   * `endsStreak`: the answer covered every closed symbol it asked for (false: the closed schedule's failure streak
   * goes on); a closure by the clock (an expiry) never ends it.
   */
  private close(market: MarketName, t: T, retiring: T[], why?: string, endsStreak = true): void {
    const { log, venue, source } = this.o;
    const expired = (this.expiries.get(t.index) ?? Infinity) <= this.wallNow();
    this.closed.add(t.index);
    this.closedSchedule.soon(market, expired, endsStreak);
    bump(this.closures, market);
    const s = this.closedSchedule;
    // Until s-instleft it left out the back-off while the listing query fails (to 30 min): an operator watching for
    // the minute's query after a break's end saw none and took the feeder for stuck.
    const failing = `backing off to ${CLOSED_FAILED_MAX_MS / 60_000} min while the listing query fails`;
    const again = expired ? `every ${this.listingMs / 1000} s (past its listed expiry; ${failing})` : `after ${s.baseMs / 1000} s, the wait doubling to ${s.maxMs / 1000} s (${failing})`;
    // A config override's (closed only at the expiry its name gives): no listing said so, and none is asked for after.
    const what = this.overridden(t) ? "instrument past the expiry its name gives (a config override: no listing is asked for it); its book is halted (instrument_closed) for good" : `instrument no longer listed as trading; its book is halted (instrument_closed) and asked for again ${again}`;
    log.warn(`${venue}: ${what}`, {
      market,
      symbol: t.symbol,
      topic: t.topic,
      detail: boundedText(why ?? source.notListed(market), DETAIL_MAX_CHARS),
    });
    retiring.push(t);
  }

  /**
   * Closed symbols the answer lists as trading again are subscribed (at the new tick/lot, if it changed); one whose
   * expiry the answer changed is written to the disk cache too (before, the expiry that closed it stayed there, and
   * every start with REST down closed the trading book again at once). `endsStreak` as for close().
   */
  private async reopenListed(market: MarketName, closed: readonly T[], specs: ReadonlyMap<string, InstrumentSpec>, expiriesBefore: ReadonlyMap<number, number>, endsStreak: boolean): Promise<void> {
    const { config, log, venue } = this.o;
    const current = this.o.instruments()!;
    const changed = new Map<string, InstrumentSpec>();
    const reopened: T[] = [];
    for (const t of closed) {
      if (!this.closed.has(t.index)) continue;
      const spec = specs.get(t.symbol);
      const cur = current[t.index]!;
      // Not listed, or listed still but past the expiry time the listing gives (settling): closed on.
      if (!spec || (this.expiries.get(t.index) ?? Infinity) <= this.wallNow()) continue;
      let inst = cur;
      if (!sameTickLot(spec, cur)) {
        try {
          inst = makeInstrument(config, this.o.subscriptions[t.index]!, spec);
        } catch (err) {
          // Asked for again within a minute: logged once per tick/lot, not every query.
          const what = `${spec.tickSize}/${spec.lotSize}`;
          if (this.unusable.get(t.index) !== what) log.warn(`${venue}: instrument listed as trading again, at a tick/lot that cannot be used; it stays halted`, { market, symbol: t.symbol, tickSize: spec.tickSize, lotSize: spec.lotSize, error: String(err) });
          this.unusable.set(t.index, what);
          continue;
        }
        // The book is HALTED and unsubscribed: new exponents in the table, the sink told; the subscribe below rebuilds it.
        t.entry = this.o.addToTable(t, inst);
        current[t.index] = inst;
        this.o.sink()?.onInstrumentChanged(t.index, inst);
        bump(this.changes, market);
        changed.set(`${market}:${t.symbol}`, spec);
      } else if (this.expiries.get(t.index) !== expiriesBefore.get(t.index)) changed.set(`${market}:${t.symbol}`, spec);
      this.closed.delete(t.index);
      this.unusable.delete(t.index);
      reopened.push(t);
      bump(this.reopens, market);
      log.info(`${venue}: instrument listed as trading again; subscribing`, { market, symbol: t.symbol, topic: t.topic, tickSize: inst.tickSize, lotSize: inst.lotSize });
    }
    // A break's end lists many again at once: one subscribe request per connection for all of them, not one each.
    if (reopened.length > 0) {
      this.o.lifecycle().activateAll(reopened);
      // A break may end symbol by symbol (Binance reopens a market in turns): the others are asked for again soon.
      this.closedSchedule.soon(market, false, endsStreak);
    }
    const path = config.instrumentCachePath;
    if (changed.size > 0 && path) {
      await mergeIntoInstrumentCache(path, venue, changed, { nowMs: this.wallNow, keep: configuredCacheKeys(config), log }).catch((err) => log.warn(`${venue}: could not write the instrument cache`, { path, error: String(err) }));
    }
  }

  /**
   * Each resolved topic whose tick or lot the answer changed: applied and written to the disk cache; one whose
   * expiry it changed (from `expiriesBefore`: a book the cache resolved without one) is written to the cache too.
   * `endsStreak` as for close().
   */
  private async applyChanges(market: MarketName, topics: readonly T[], specs: ReadonlyMap<string, InstrumentSpec>, expiriesBefore: ReadonlyMap<number, number>, endsStreak: boolean): Promise<void> {
    const { config, log, venue } = this.o;
    const current = this.o.instruments()!;
    const changed = new Map<string, InstrumentSpec>();
    const retiring: T[] = [];
    for (const t of topics) {
      // Closed while the query was out (its expiry came): not a change nor a second closure; reopenListed's, later.
      if (this.closed.has(t.index)) continue;
      const spec = specs.get(t.symbol);
      const cur = current[t.index];
      // Not listed as trading any more (a halt, a delisting, an expiry): the book is halted until it is listed again.
      // (One whose spec the source refused while listing it keeps its instrument: a tick rule, not the venue, said no.)
      if (!spec && cur && this.source.whyRefused?.(market, t.symbol) === undefined) {
        // Listed, but not as trading (a halt: OKX suspend, Deribit is_active false) says so; before 2026-12-07 the log
        // said "not listed … check the name" for it too.
        this.close(market, t, retiring, this.source.whyNotTrading?.(market, t.symbol), endsStreak);
        continue;
      }
      if (!spec || !cur) continue;
      if (sameTickLot(spec, cur)) {
        if (this.expiries.get(t.index) !== expiriesBefore.get(t.index)) changed.set(`${market}:${t.symbol}`, spec);
        continue;
      }
      let inst: Instrument;
      try {
        inst = makeInstrument(config, this.o.subscriptions[t.index]!, spec);
      } catch (err) {
        log.warn(`${venue}: instrument changed to a tick/lot that cannot be used; keeping the old one`, { market, symbol: t.symbol, tickSize: spec.tickSize, lotSize: spec.lotSize, error: String(err) });
        continue;
      }
      log.warn(`${venue}: instrument changed`, { market, symbol: t.symbol, from: `${cur.tickSize}/${cur.lotSize}`, to: `${spec.tickSize}/${spec.lotSize}` });
      current[t.index] = inst;
      this.o.apply(t, inst);
      bump(this.changes, market);
      changed.set(`${market}:${t.symbol}`, spec);
    }
    // A venue-wide break closes many at once: one unsubscribe request per connection for all of them, not one each.
    if (retiring.length > 0) this.o.lifecycle().retireAll(retiring, StatusReason.INSTRUMENT_CLOSED);
    const path = config.instrumentCachePath;
    if (changed.size > 0 && path) {
      await mergeIntoInstrumentCache(path, venue, changed, { nowMs: this.wallNow, keep: configuredCacheKeys(config), log }).catch((err) => log.warn(`${venue}: could not write the instrument cache`, { path, error: String(err) }));
    }
  }
}
