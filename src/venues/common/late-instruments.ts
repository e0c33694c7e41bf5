/**
 * Symbols left out at start, resolved while running (cold), for every venue: a symbol whose market's REST was
 * unreachable (and not cached), that REST did not list yet, or whose tick/lot was unusable is retried per market,
 * one REST query for all of the market's pending symbols (through the venue's own budgeted fetch or pacer):
 * - REST unreachable: after `baseMs` (5 s), doubling with equal jitter to `maxMs` (5 min); the first failure of a
 *   streak is logged at warn, the retries at debug;
 * - REST answered but the symbol is missing or refused (a listing that is not live yet, a misspelt symbol): every
 *   `listingMs` (5 min), logged once when it becomes so (the start error already named it), never per retry.
 * When a symbol resolves, `onResolved(index, instrument)` runs: the adapter tells the sink (which builds and
 * registers the book) and subscribes the topic like any other (joinLate); the spec is merged into the disk cache.
 * Only a symbol that really joined leaves the pending list and is counted: a join that throws (rolled back by
 * joinLate) keeps it pending as `join_failed`, naming the error, and it is retried on the listing cadence.
 * Deadlines are kept against the adapter's clock. Standalone they are compared every `checkEveryMs` (no long timer);
 * in an adapter the InstrumentWatch (instrument-watch.ts) owns the schedule: it reads dueMs() and carries the
 * pending symbols in its market query (queryOf / answer / failed), so a market is never asked twice for the same
 * thing. Replay never retries.
 * @module
 */
import { sameStep } from "../../core/fixed.ts";
import { redactUrlsIn } from "../../core/redact-url.ts";
import { boundedText, DETAIL_MAX_CHARS } from "../../core/terminal-text.ts";
import type { Logger } from "../../core/log.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { BookSink, Subscription, VenueMetric } from "../venue.ts";
import { equalJitterMs } from "./backoff.ts";
import type { TopicMembership } from "./connection-lifecycle.ts";
import { SUB_IDLE, SUB_REJECTED, type TopicState } from "./connection.ts";
import { badSpec, configuredCacheKeys, makeInstrument, mergeIntoInstrumentCache, PartialAnswer, UNRESOLVED_KINDS, type InstrumentSource, type InstrumentSpec, type UnresolvedEntry, type UnresolvedKind } from "./instruments.ts";
import { counter, gauge } from "./metrics.ts";

/** First retry of a market whose instrument REST failed; doubles per failure up to LATE_RETRY_MAX_MS. */
export const LATE_RETRY_BASE_MS = 5_000;
export const LATE_RETRY_MAX_MS = 300_000;
/**
 * A market whose REST answers but lacks a configured symbol is asked again this often (a listing that goes live
 * later joins within this long). One query per market per 5 min is far inside every venue's REST budget.
 */
export const LISTING_RETRY_MS = 300_000;
/** The instruments_unresolved gauge's help. */
const UNRESOLVED_HELP = "Configured symbols without an instrument (no book yet): resolving at start, or left out and retried while running";
/** How often deadlines are compared with the clock. */
export const LATE_CHECK_MS = 1_000;

/** One symbol still without an instrument, as the status page, /readyz and metrics show it. */
export interface UnresolvedInstrument {
  readonly index: number;
  readonly market: MarketName;
  /** The symbol as configured (`SYMBOL@depth` for an extra depth). */
  readonly symbol: string;
  readonly kind: UnresolvedKind;
  /** Why, in words (the URL and error, or the venue's "not listed by …"). */
  readonly detail: string;
  /**
   * When its market is asked next (ms since the epoch, the wall clock: the deadline's distance from now added to
   * wallNow): its deadline, or the end of the venue's 429/418 REST hold if later; 0 = not retried (replay).
   */
  readonly nextAttemptMs: number;
}

export interface LateInstrumentOptions {
  venue: string;
  log: Logger;
  /** The deadline clock (CommonAdapterOptions.now). */
  now: () => number;
  /** The wall clock nextAttemptMs is shown in (CommonAdapterOptions.wallNow); default `now`. */
  wallNow?: () => number;
  random: () => number;
  config: VenueConfig;
  subscriptions: readonly Subscription[];
  baseMs?: number;
  maxMs?: number;
  listingMs?: number;
  checkEveryMs?: number;
  /**
   * When the venue's REST hold (a 429/418 and its Retry-After, RestWeightBudget.heldUntilMs) on the market's instrument
   * query ends; 0 (or absent) when none. A query due before it waits in the budget until then, so list() says so.
   */
  restHeldUntilMs?: (market: MarketName) => number;
  /**
   * The adapter's part: tell the sink, add the topic to its table, subscribe it (joinLate). Throws when the symbol
   * did not join (why); it then stays pending and is retried.
   */
  onResolved: (index: number, instrument: Instrument) => void;
}

interface Pending {
  kind: UnresolvedKind;
  detail: string;
}

/** The pending symbols of one market a query asks for (queryOf), handed back with its answer. */
export interface LateQuery {
  readonly market: MarketName;
  readonly indexes: readonly number[];
  /** Venue symbols, each once. */
  readonly symbols: readonly string[];
}

interface MarketRetry {
  dueMs: number;
  /** Failed REST queries in a row (the backoff step). */
  failures: number;
  inFlight: boolean;
}

export class LateInstruments {
  private readonly pending = new Map<number, Pending>();
  private readonly markets = new Map<MarketName, MarketRetry>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly listingMs: number;
  private readonly checkEveryMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private running = false;
  private source: InstrumentSource | null = null;
  /** track() ran: the start's load has answered (before it, every subscription is still `resolving`). */
  private tracked = false;
  // Counters (cold).
  /** REST queries made for pending symbols, and how many of them failed. */
  attempts = 0;
  failures = 0;
  /** Symbols that resolved after start and joined. */
  resolvedLate = 0;

  constructor(private readonly o: LateInstrumentOptions) {
    this.baseMs = o.baseMs ?? LATE_RETRY_BASE_MS;
    this.maxMs = o.maxMs ?? LATE_RETRY_MAX_MS;
    this.listingMs = o.listingMs ?? LISTING_RETRY_MS;
    this.checkEveryMs = o.checkEveryMs ?? LATE_CHECK_MS;
  }

  /** What loadInstruments left out (resolveInstruments' `unresolved`) and the source to ask again. */
  track(source: InstrumentSource, unresolved: readonly UnresolvedEntry[]): void {
    this.source = source;
    this.tracked = true;
    this.pending.clear();
    // A detail may name the REST URL asked (not listed by <rest_url>/…): kept without its credentials, as /readyz shows it.
    for (const u of unresolved) this.pending.set(u.index, { kind: u.kind, detail: detailText(u.detail) });
  }

  /** Pending symbols now. */
  get count(): number {
    return this.pending.size;
  }

  /**
   * Starts retrying (live runs only, and only for a sink that takes late books); nothing to do when every symbol
   * resolved at start.
   */
  start(sink: BookSink, ownTimer = true): void {
    if (this.running || this.pending.size === 0 || sink.onInstrumentResolved === undefined) return;
    this.running = true;
    const now = this.o.now();
    for (const [index, p] of this.pending) {
      const market = this.o.subscriptions[index]!.market;
      const first = p.kind === "rest_unreachable" ? now + equalJitterMs(0, this.baseMs, this.maxMs, this.o.random) : now + this.listingMs;
      const m = this.markets.get(market);
      if (m === undefined) this.markets.set(market, { dueMs: first, failures: p.kind === "rest_unreachable" ? 1 : 0, inFlight: false });
      else if (first < m.dueMs) {
        m.dueMs = first;
        m.failures = 1;
      }
    }
    // In an adapter the InstrumentWatch owns the schedule (it reads dueMs); standalone, this timer does.
    if (ownTimer) this.timer = setInterval(() => this.check(), this.checkEveryMs);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Adds the symbols still pending per market to `into`, without listing them (/metrics' count, every scrape). */
  countByMarket(into: Map<string, number>): void {
    for (const index of this.pending.keys()) {
      const market = this.o.subscriptions[index]!.market;
      into.set(market, (into.get(market) ?? 0) + 1);
    }
  }

  /**
   * Every symbol still pending, in subscription order; with `limit`, the first `limit` of them (/readyz names no
   * more: the smallest indexes picked in one pass, not all 20,000 sorted and listed).
   */
  list(limit = Infinity): UnresolvedInstrument[] {
    const out: UnresolvedInstrument[] = [];
    const nextByMarket = new Map<MarketName, number>(); // the same for each of a market's symbols: asked once
    for (const index of limit >= this.pending.size ? Array.from(this.pending.keys()).sort((a, b) => a - b) : smallest(this.pending.keys(), limit)) {
      const p = this.pending.get(index)!;
      const sub = this.o.subscriptions[index]!;
      let next = nextByMarket.get(sub.market);
      if (next === undefined) nextByMarket.set(sub.market, (next = this.running ? this.nextAttemptMs(sub.market) : 0));
      out.push({
        index,
        market: sub.market,
        symbol: sub.extraDepth === true ? `${sub.symbol}@${sub.depth}` : sub.symbol,
        kind: p.kind,
        detail: p.detail,
        nextAttemptMs: next,
      });
    }
    return out;
  }

  /**
   * When the market is really asked next: its deadline, or the end of the venue's REST hold if later (a query that
   * comes due, or went out, during a 429's hold waits in the budget until it ends: minutes to hours, not "now").
   */
  private nextAttemptMs(market: MarketName): number {
    const due = this.markets.get(market)?.dueMs ?? 0;
    if (due === 0) return 0;
    const inMs = Math.max(due, this.o.restHeldUntilMs?.(market) ?? 0) - this.o.now();
    return (this.o.wallNow ?? this.o.now)() + inMs; // shown: a wall-clock time (the deadlines are monotonic)
  }

  /** Asks every market whose deadline has come. Cold, every checkEveryMs standalone (tests call it). */
  check(): void {
    if (!this.running) return;
    const now = this.o.now();
    for (const [market, m] of this.markets) {
      this.clampToClock(m, now);
      if (m.inFlight || now < m.dueMs) continue;
      void this.retry(market, m);
    }
  }

  /** When the market's pending symbols are to be asked for next; Infinity when none are (or not running). */
  dueMs(market: MarketName): number {
    const m = this.running ? this.markets.get(market) : undefined;
    if (m === undefined || m.inFlight) return Infinity;
    this.clampToClock(m, this.o.now());
    return m.dueMs;
  }

  /**
   * The adapter's deadline clock is monotonic by default, but an injected one may step back: a retry time set before
   * lies that much further ahead, and the symbols waited the step's length more. None is set further than the listing cadence
   * or the longest backoff from now: one beyond is brought back to it.
   */
  private clampToClock(m: MarketRetry, now: number): void {
    const longestMs = Math.max(this.listingMs, this.maxMs);
    if (m.dueMs > now + longestMs) m.dueMs = now + longestMs;
  }

  /** The market's pending symbols for a query about to go out (null: none); count it as a retry. */
  queryOf(market: MarketName): LateQuery | null {
    if (!this.running) return null;
    const subs = this.o.subscriptions;
    const indexes = [...this.pending.keys()].filter((i) => subs[i]!.market === market);
    if (indexes.length === 0) {
      this.markets.delete(market);
      return null;
    }
    this.attempts++;
    return { market, indexes, symbols: [...new Set(indexes.map((i) => subs[i]!.symbol))] };
  }

  /**
   * Venue metrics: pending symbols by market and reason (zeros included), retries, failures and late joins. Until the
   * start's load has answered (track()), every subscription is `resolving`, as the app's feeder_symbols_unresolved and
   * /readyz count it (before, the gauge read 0 for every reason while that counted them all).
   */
  metrics(): VenueMetric[] {
    const out: VenueMetric[] = [];
    const markets = [...new Set(this.o.subscriptions.map((s) => s.market))];
    for (const market of markets) {
      const resolving = this.tracked ? 0 : this.o.subscriptions.filter((s) => s.market === market).length;
      out.push(gauge("instruments_unresolved", UNRESOLVED_HELP, resolving, { market, reason: "resolving" }));
      for (const kind of UNRESOLVED_KINDS) {
        let n = 0;
        for (const [index, p] of this.pending) if (p.kind === kind && this.o.subscriptions[index]!.market === market) n++;
        out.push(gauge("instruments_unresolved", UNRESOLVED_HELP, n, { market, reason: kind }));
      }
    }
    out.push(counter("instrument_retries_total", "Instrument REST queries made for symbols left out at start", this.attempts));
    out.push(counter("instrument_retry_failures_total", "Those queries that failed (REST unreachable or refused)", this.failures));
    out.push(counter("instruments_resolved_late_total", "Symbols left out at start that resolved while running and joined", this.resolvedLate));
    return out;
  }

  /** Standalone: one query for the market's pending symbols through the source. */
  private async retry(market: MarketName, m: MarketRetry): Promise<void> {
    const q = this.queryOf(market);
    if (q === null) return;
    m.inFlight = true;
    let specs: Map<string, InstrumentSpec>;
    try {
      specs = await this.source!.fetchSpecs(market, q.symbols);
    } catch (err) {
      m.inFlight = false;
      if (err instanceof PartialAnswer) await this.answer(q, err.specs, err.failure);
      else this.failed(q, err);
      return;
    }
    m.inFlight = false;
    await this.answer(q, specs);
  }

  /** The query for `q` failed: the market backs off (5 s doubling), its symbols are `rest_unreachable`. */
  failed(q: LateQuery, err: unknown): void {
    const m = this.markets.get(q.market);
    if (!this.running || m === undefined) return;
    this.onFailure(q.market, m, q.indexes, err instanceof Error ? err.message : String(err));
  }

  /**
   * REST answered the query for `q`: each symbol it lists with a usable tick/lot joins (onResolved); one that did
   * not join, or is still missing or refused, stays pending and is asked again on the listing cadence. `failure`: it
   * answered in part (PartialAnswer); a symbol missing from `specs` (not refused) may be in the part that failed, so
   * it stays `rest_unreachable` and the market backs off as for a failed query.
   */
  async answer(q: LateQuery, specs: ReadonlyMap<string, InstrumentSpec>, failure?: Error): Promise<void> {
    const { market } = q;
    const m = this.markets.get(market);
    if (!this.running || m === undefined) return;
    const subs = this.o.subscriptions;
    const source = this.source!;
    if (failure === undefined) m.failures = 0;
    const unanswered: number[] = [];
    const resolved = new Map<string, InstrumentSpec>();
    for (const index of q.indexes) {
      const p = this.pending.get(index);
      if (p === undefined) continue;
      const sub = subs[index]!;
      const key = `${market}:${sub.symbol}`;
      const spec = this.o.config.overrides.get(key) ?? specs.get(sub.symbol);
      if (spec === undefined) {
        const refused = source.whyRefused?.(market, sub.symbol);
        const halted = source.whyNotTrading?.(market, sub.symbol);
        if (halted !== undefined) this.setPending(index, sub, "not_trading", halted);
        else if (refused === undefined && failure !== undefined) unanswered.push(index);
        else this.setPending(index, sub, refused !== undefined ? "bad_spec" : "not_listed", refused ?? source.notListed(market));
        continue;
      }
      let instrument: Instrument;
      try {
        instrument = makeInstrument(this.o.config, sub, spec);
      } catch (err) {
        this.setPending(index, sub, "bad_spec", badSpec(spec, err));
        continue;
      }
      try {
        this.o.onResolved(index, instrument);
      } catch (err) {
        // Not joined (the adapter rolled its part back): still pending, named, asked again.
        this.setPending(index, sub, "join_failed", `resolved (tick/lot ${spec.tickSize}/${spec.lotSize}) but could not join: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      this.pending.delete(index);
      this.resolvedLate++;
      if (!this.o.config.overrides.has(key)) resolved.set(key, spec);
      this.o.log.info(`${this.o.venue}: instrument resolved after start; subscribing`, {
        market,
        symbol: instrument.symbol,
        tickSize: spec.tickSize,
        lotSize: spec.lotSize,
      });
    }
    const cachePath = this.o.config.instrumentCachePath;
    if (resolved.size > 0 && cachePath) {
      await mergeIntoInstrumentCache(cachePath, this.o.venue, resolved, { nowMs: this.o.wallNow ?? this.o.now, keep: configuredCacheKeys(this.o.config), log: this.o.log }).catch((err) => this.o.log.warn("could not write the instrument cache", { path: cachePath, error: String(err) }));
    }
    if (unanswered.length > 0) this.onFailure(market, m, unanswered, failure!.message);
    else if ([...this.pending.keys()].some((i) => subs[i]!.market === market)) m.dueMs = this.o.now() + this.listingMs;
    else this.markets.delete(market);
  }

  private onFailure(market: MarketName, m: MarketRetry, indexes: readonly number[], why: string): void {
    const error = detailText(why);
    this.failures++;
    const waitMs = equalJitterMs(m.failures, this.baseMs, this.maxMs, this.o.random);
    m.failures++;
    m.dueMs = this.o.now() + waitMs;
    let newlyUnreachable = 0;
    for (const index of indexes) {
      const p = this.pending.get(index);
      if (p === undefined) continue;
      if (p.kind !== "rest_unreachable") newlyUnreachable++;
      p.kind = "rest_unreachable";
      p.detail = detailText(`REST unreachable: ${why}`);
    }
    // The first failure of a streak is worth a warning (the start error covers the streak it began with); the rest repeat it.
    const fields = { market, error, pending: indexes.length, retryInMs: Math.round(waitMs) };
    if (newlyUnreachable > 0) this.o.log.warn(`${this.o.venue}: instrument REST unreachable; symbols left out at start retried`, fields);
    else this.o.log.debug(`${this.o.venue}: instrument REST still unreachable; retrying`, fields);
  }

  /** Logs a pending symbol's reason when it changes (once, never per retry). */
  private setPending(index: number, sub: Subscription, kind: UnresolvedKind, detail: string): void {
    const p = this.pending.get(index)!;
    detail = detailText(detail);
    const changed = p.kind !== kind || (kind !== "rest_unreachable" && p.detail !== detail);
    p.kind = kind;
    p.detail = detail;
    if (changed) {
      this.o.log.warn(`${this.o.venue}: instrument still not resolvable; asked again every ${this.listingMs / 1000} s`, { market: sub.market, symbol: sub.symbol, reason: kind, detail });
    }
  }
}

/**
 * A detail as /readyz, /status and the logs show it: a URL's credentials redacted, bounded (a server's megabyte error
 * body), control characters escaped.
 */
function detailText(detail: string): string {
  return boundedText(redactUrlsIn(detail), DETAIL_MAX_CHARS);
}

/** The retry timings an adapter's options may override (CommonAdapterOptions.lateRetryBaseMs, …). */
export function lateTimings(o: { lateRetryBaseMs?: number; lateRetryMaxMs?: number; listingRetryMs?: number; lateCheckMs?: number }): Pick<LateInstrumentOptions, "baseMs" | "maxMs" | "listingMs" | "checkEveryMs"> {
  return { baseMs: o.lateRetryBaseMs, maxMs: o.lateRetryMaxMs, listingMs: o.listingRetryMs, checkEveryMs: o.lateCheckMs };
}

/** What an adapter hands over, at the time a symbol resolves late, so it joins like one resolved at start. */
export interface LateJoin {
  /** By subscription index. */
  readonly topics: readonly TopicState[];
  /** The adapter's instruments by subscription index (null before loadInstruments). */
  readonly instruments: (Instrument | undefined)[] | null;
  readonly sink: BookSink | null;
  readonly lifecycle: TopicMembership;
  /** Adds the topic to its connection's hot-path table at the instrument's exponents; returns the entry. */
  addToTable(t: TopicState, inst: Instrument): number;
  /**
   * By subscription index, the instrument the sink built a book for in an attempt whose adapter part failed (kept by
   * the caller across attempts): the sink keeps that book, so a retry must not ask it to build one again.
   */
  readonly sinkBooks?: Map<number, Instrument>;
  /**
   * Whether the topic's listing gave an expiry already past (instrument-watch.ts): it joins unsubscribed, its
   * connection not opened for it, and the watch closes it at once, as one listed so at start is.
   */
  pastExpiry?(t: TopicState): boolean;
}

/**
 * The adapter's part when a symbol resolves late, the same for every venue: let the sink build and announce the
 * book, add the topic to its table, record the instrument, then subscribe it (ConnectionLifecycle.activate). Cold.
 * Throws, naming why, when the symbol did not join; whatever was done by then is undone (the topic stays out of the
 * subscription, without an instrument), so LateInstruments keeps it pending and asks again. The sink goes first:
 * it is the step that can refuse (feeder.ts registers atomically), and nothing of the adapter's is touched then. The
 * sink's book is not undone when a later step fails: `sinkBooks` remembers it, and the retry tells the sink of a
 * changed tick/lot through onInstrumentChanged (a new definition) instead of a second onInstrumentResolved.
 */
export function joinLate(j: LateJoin, index: number, inst: Instrument): void {
  const t = j.topics[index];
  const list = j.instruments;
  const sink = j.sink;
  if (t === undefined || list === null) throw new Error(`no topic for subscription ${index} (instruments not loaded)`);
  if (sink?.onInstrumentResolved === undefined) throw new Error("the sink takes no books added while running");
  if (j.lifecycle.stopping) throw new Error("the adapter is stopping");
  if (list[index] !== undefined) throw new Error(`the adapter has an instrument for it already (${list[index]!.tickSize}/${list[index]!.lotSize})`);
  // A failed attempt left the sink a book: the same tick/lot is that book; another one is a change (a new
  // definition on the wire), else the sink would keep the old exponents while the table takes the new ones. Compared
  // as values: until 2026-12-07 as texts, so "0.10" after "0.1" resynced the book and told subscribers of a change.
  const built = j.sinkBooks?.get(index);
  if (built === undefined) sink.onInstrumentResolved(index, inst);
  else if (!sameStep(built.tickSize, inst.tickSize) || !sameStep(built.lotSize, inst.lotSize)) sink.onInstrumentChanged(index, inst);
  j.sinkBooks?.set(index, inst);
  try {
    t.entry = j.addToTable(t, inst);
    list[index] = inst;
    // Past its expiry: resolved but idle (as bindTopics leaves it), for the watch to close now. Before, it was
    // subscribed, its connection opened for it, and its book could go LIVE until the next expiry check.
    if (j.pastExpiry?.(t)) t.sub = SUB_IDLE;
    else j.lifecycle.activate(t);
    j.sinkBooks?.delete(index);
  } catch (err) {
    // The topic stays out: not subscribed, no instrument. A table entry already added is never looked up while the
    // topic is not subscribed, and the retry's add reuses it (tables add by name).
    list[index] = undefined;
    t.sub = SUB_REJECTED;
    throw err;
  }
}

/** The `n` smallest of `keys`, ascending (n small: kept sorted by insertion; keys mostly ascending cost one compare). */
function smallest(keys: Iterable<number>, n: number): number[] {
  const top: number[] = [];
  if (n <= 0) return top;
  for (const k of keys) {
    if (top.length === n && k >= top[n - 1]!) continue;
    let at = top.length;
    while (at > 0 && top[at - 1]! > k) at--;
    top.splice(at, 0, k);
    if (top.length > n) top.pop();
  }
  return top;
}
