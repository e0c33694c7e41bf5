/**
 * Symbols left out at start, resolved while running (cold), for every venue: a symbol whose market's REST was
 * unreachable (and not cached), that REST did not list yet, or whose tick/lot was unusable is retried per market,
 * one REST query for all of the market's pending symbols (through the venue's own budgeted fetch or pacer):
 * - REST unreachable: after `baseMs` (5 s), doubling with equal jitter to `maxMs` (5 min); the first failure of a
 *   streak is logged at warn, the retries at debug;
 * - REST answered but the symbol is missing or refused (a listing that is not live yet, a misspelt symbol): every
 *   `listingMs` (5 min), logged once when it becomes so (the start error already named it), never per retry.
 * When a symbol resolves, `onResolved(index, instrument)` runs: the adapter tells the sink (which builds and
 * registers the book) and subscribes the topic like any other; the spec is merged into the disk cache. Deadlines
 * are kept against the adapter's clock and compared every `checkEveryMs` (no long timer). Replay never retries.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { BookSink, Subscription, VenueMetric } from "../venue.ts";
import { equalJitterMs } from "./backoff.ts";
import type { ConnectionLifecycle } from "./connection-lifecycle.ts";
import type { TopicState } from "./connection.ts";
import { badSpec, makeInstrument, mergeIntoInstrumentCache, UNRESOLVED_KINDS, type InstrumentSource, type InstrumentSpec, type UnresolvedEntry, type UnresolvedKind } from "./instruments.ts";
import { counter, gauge } from "./metrics.ts";

/** First retry of a market whose instrument REST failed; doubles per failure up to LATE_RETRY_MAX_MS. */
export const LATE_RETRY_BASE_MS = 5_000;
export const LATE_RETRY_MAX_MS = 300_000;
/**
 * A market whose REST answers but lacks a configured symbol is asked again this often (a listing that goes live
 * later joins within this long). One query per market per 5 min is far inside every venue's REST budget.
 */
export const LISTING_RETRY_MS = 300_000;
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
  /** When its market is asked next (ms since the epoch, the adapter's clock); 0 = not retried (replay). */
  readonly nextAttemptMs: number;
}

export interface LateInstrumentOptions {
  venue: string;
  log: Logger;
  now: () => number;
  random: () => number;
  config: VenueConfig;
  subscriptions: readonly Subscription[];
  baseMs?: number;
  maxMs?: number;
  listingMs?: number;
  checkEveryMs?: number;
  /** The adapter's part: tell the sink, add the topic to its table, subscribe it (joinLate). */
  onResolved: (index: number, instrument: Instrument) => void;
}

interface Pending {
  kind: UnresolvedKind;
  detail: string;
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
    this.pending.clear();
    for (const u of unresolved) this.pending.set(u.index, { kind: u.kind, detail: u.detail });
  }

  /** Pending symbols now. */
  get count(): number {
    return this.pending.size;
  }

  /**
   * Starts retrying (live runs only, and only for a sink that takes late books); nothing to do when every symbol
   * resolved at start.
   */
  start(sink: BookSink): void {
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
    this.timer = setInterval(() => this.check(), this.checkEveryMs);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Every symbol still pending, in subscription order. */
  list(): UnresolvedInstrument[] {
    const out: UnresolvedInstrument[] = [];
    for (const [index, p] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      const sub = this.o.subscriptions[index]!;
      out.push({
        index,
        market: sub.market,
        symbol: sub.extraDepth === true ? `${sub.symbol}@${sub.depth}` : sub.symbol,
        kind: p.kind,
        detail: p.detail,
        nextAttemptMs: this.running ? (this.markets.get(sub.market)?.dueMs ?? 0) : 0,
      });
    }
    return out;
  }

  /** Asks every market whose deadline has come. Cold, every checkEveryMs (tests call it). */
  check(): void {
    if (!this.running) return;
    const now = this.o.now();
    for (const [market, m] of this.markets) {
      if (m.inFlight || now < m.dueMs) continue;
      void this.retry(market, m);
    }
  }

  /** Venue metrics: pending symbols by market and reason (zeros included), retries, failures and late joins. */
  metrics(): VenueMetric[] {
    const out: VenueMetric[] = [];
    const markets = [...new Set(this.o.subscriptions.map((s) => s.market))];
    for (const market of markets) {
      for (const kind of UNRESOLVED_KINDS) {
        let n = 0;
        for (const [index, p] of this.pending) if (p.kind === kind && this.o.subscriptions[index]!.market === market) n++;
        out.push(gauge("instruments_unresolved", "Configured symbols without an instrument (no book yet), retried while running", n, { market, reason: kind }));
      }
    }
    out.push(counter("instrument_retries_total", "Instrument REST queries made for symbols left out at start", this.attempts));
    out.push(counter("instrument_retry_failures_total", "Those queries that failed (REST unreachable or refused)", this.failures));
    out.push(counter("instruments_resolved_late_total", "Symbols left out at start that resolved while running and joined", this.resolvedLate));
    return out;
  }

  private async retry(market: MarketName, m: MarketRetry): Promise<void> {
    const subs = this.o.subscriptions;
    const indexes = [...this.pending.keys()].filter((i) => subs[i]!.market === market);
    if (indexes.length === 0) {
      this.markets.delete(market);
      return;
    }
    const source = this.source!;
    m.inFlight = true;
    this.attempts++;
    const symbols = [...new Set(indexes.map((i) => subs[i]!.symbol))];
    let specs: Map<string, InstrumentSpec>;
    try {
      specs = await source.fetchSpecs(market, symbols);
    } catch (err) {
      m.inFlight = false;
      if (!this.running) return;
      this.onFailure(market, m, indexes, err instanceof Error ? err.message : String(err));
      return;
    }
    m.inFlight = false;
    if (!this.running) return;
    m.failures = 0;
    const resolved = new Map<string, InstrumentSpec>();
    for (const index of indexes) {
      const p = this.pending.get(index);
      if (p === undefined) continue;
      const sub = subs[index]!;
      const key = `${market}:${sub.symbol}`;
      const spec = this.o.config.overrides.get(key) ?? specs.get(sub.symbol);
      if (spec === undefined) {
        const refused = source.whyRefused?.(market, sub.symbol);
        this.setPending(index, sub, refused !== undefined ? "bad_spec" : "not_listed", refused ?? source.notListed(market));
        continue;
      }
      let instrument: Instrument;
      try {
        instrument = makeInstrument(this.o.config, sub, spec);
      } catch (err) {
        this.setPending(index, sub, "bad_spec", badSpec(spec, err));
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
      try {
        this.o.onResolved(index, instrument);
      } catch (err) {
        this.o.log.error(`${this.o.venue}: could not add a resolved instrument`, { market, symbol: instrument.symbol, error: String(err) });
      }
    }
    const cachePath = this.o.config.instrumentCachePath;
    if (resolved.size > 0 && cachePath) {
      await mergeIntoInstrumentCache(cachePath, this.o.venue, resolved).catch((err) => this.o.log.warn("could not write the instrument cache", { path: cachePath, error: String(err) }));
    }
    if ([...this.pending.keys()].some((i) => subs[i]!.market === market)) m.dueMs = this.o.now() + this.listingMs;
    else this.markets.delete(market);
  }

  private onFailure(market: MarketName, m: MarketRetry, indexes: readonly number[], error: string): void {
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
      p.detail = `REST unreachable: ${error}`;
    }
    // The first failure of a streak is worth a warning (the start error covers the streak it began with); the rest repeat it.
    const fields = { market, error, pending: indexes.length, retryInMs: Math.round(waitMs) };
    if (newlyUnreachable > 0) this.o.log.warn(`${this.o.venue}: instrument REST unreachable; symbols left out at start retried`, fields);
    else this.o.log.debug(`${this.o.venue}: instrument REST still unreachable; retrying`, fields);
  }

  /** Logs a pending symbol's reason when it changes (once, never per retry). */
  private setPending(index: number, sub: Subscription, kind: UnresolvedKind, detail: string): void {
    const p = this.pending.get(index)!;
    const changed = p.kind !== kind || (kind !== "rest_unreachable" && p.detail !== detail);
    p.kind = kind;
    p.detail = detail;
    if (changed) {
      this.o.log.warn(`${this.o.venue}: instrument still not resolvable; asked again every ${this.listingMs / 1000} s`, { market: sub.market, symbol: sub.symbol, reason: kind, detail });
    }
  }
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
  readonly lifecycle: ConnectionLifecycle;
  /** Adds the topic to its connection's hot-path table at the instrument's exponents; returns the entry. */
  addToTable(t: TopicState, inst: Instrument): number;
}

/**
 * The adapter's part when a symbol resolves late, the same for every venue: record the instrument, add the topic to
 * its table, let the sink build and announce the book, then subscribe it (ConnectionLifecycle.activate). Cold.
 */
export function joinLate(j: LateJoin, index: number, inst: Instrument): void {
  const t = j.topics[index];
  const list = j.instruments;
  const sink = j.sink;
  if (t === undefined || list === null || sink?.onInstrumentResolved === undefined || j.lifecycle.stopping || list[index] !== undefined) return;
  list[index] = inst;
  t.entry = j.addToTable(t, inst);
  sink.onInstrumentResolved(index, inst);
  j.lifecycle.activate(t);
}
