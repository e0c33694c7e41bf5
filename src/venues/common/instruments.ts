/**
 * Instrument resolution and its disk cache, for every venue (cold): per symbol the config override, then the
 * venue's REST answer, then the cache (so a restart works while REST is unreachable); an unresolved symbol is left
 * out and named with the reason (late-instruments.ts retries it while running). The venue supplies the REST query
 * (fetchSpecs) and the words for "not listed".
 * @module
 */
import { exponentOf, sameStep } from "../../core/fixed.ts";
import { instrumentIdOf } from "../../core/instrument-id.ts";
import { MAX_DEF_STRING_BYTES, utf8Bytes } from "../../core/symbol-text.ts";
import type { Logger } from "../../core/log.ts";
import { boundedText, DETAIL_MAX_CHARS } from "../../core/terminal-text.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { instrumentSymbolOf, type Subscription } from "../venue.ts";
import { configuredCacheKeys, mergeIntoInstrumentCache, readInstrumentCache, sameCachedSpec, sweepInstrumentCacheTemps } from "./instrument-cache.ts";

// The disk cache lives in instrument-cache.ts; its functions stay importable from here.
export { configuredCacheKeys, instrumentCacheWritesSettled, mergeIntoInstrumentCache, readInstrumentCache, sameCachedSpec, writeInstrumentCache } from "./instrument-cache.ts";

export interface InstrumentSpec {
  readonly tickSize: string;
  readonly lotSize: string;
  /**
   * When the instrument stops trading (ms since the epoch), where the venue's listing says (Deribit
   * `expiration_timestamp`, Bybit `deliveryTime`, OKX `expTime`): the InstrumentWatch halts its book then
   * (instrument-watch.ts). Kept in the disk cache with tick and lot, so a book resolved from the cache (REST
   * unreachable at start) is halted at its expiry too; a cache entry without one is an unknown expiry.
   */
  readonly expiresMs?: number;
}

/**
 * The error a source throws for a listing that holds no instrument at all (`url`'s list empty): a venue in
 * maintenance or a broken answer, never "every instrument delisted". Taken as a failed query, it closes no book
 * while running (instrument-watch.ts) and lets the disk cache answer at start.
 */
export function emptyListing(url: string): Error {
  return new Error(`${url}: the listing is empty (venue maintenance or a broken answer); not taken as every instrument delisted`);
}

/**
 * What a source throws when its market's listing takes several requests (Deribit one per currency, OKX SWAP and
 * FUTURES, Bybit one per option base coin, Upbit/Bithumb tickers per 100 codes) and some answered while another
 * failed: `specs` holds what the answered ones list. A symbol in `specs` (or refused by whyRefused) was answered;
 * any other may be in the part that failed, so it counts as REST unreachable, never as not listed: not left out as
 * `not_listed`, not closed while running; it is asked again like a failed query's (instrument-watch.ts,
 * late-instruments.ts). A source throws the plain error when nothing answered.
 */
export class PartialAnswer extends Error {
  constructor(
    readonly specs: Map<string, InstrumentSpec>,
    /** The first failure, named in the unanswered symbols' detail. */
    readonly failure: Error,
  ) {
    super(`${failure.message} (the market's other instrument requests answered)`);
  }
}

/**
 * Per market, the symbols its last answer listed as trading but with a tick/lot that cannot be read, and why: a
 * source's whyRefused (a bad_spec at start, never closed while running: listed, not delisted). A PartialAnswer's
 * answered parts count; a failed query leaves the previous answer's.
 */
export class ListedUnreadable {
  private readonly byMarket = new Map<MarketName, Map<string, string>>();
  /** Per market, the symbols its last answer listed in a state that does not trade, and that state (whyNotTrading). */
  private readonly haltedByMarket = new Map<MarketName, Map<string, string>>();

  /** Runs one query, `fetch` filling `found` with the symbols it refuses and `halted` with those listed not trading. */
  async track(market: MarketName, fetch: (found: Map<string, string>, halted: Map<string, string>) => Promise<Map<string, InstrumentSpec>>): Promise<Map<string, InstrumentSpec>> {
    const found = new Map<string, string>();
    const halted = new Map<string, string>();
    try {
      const specs = await fetch(found, halted);
      this.byMarket.set(market, found); // only the last answer counts
      this.haltedByMarket.set(market, halted);
      return specs;
    } catch (err) {
      if (err instanceof PartialAnswer) {
        this.byMarket.set(market, found); // the answered parts' refusals count
        this.haltedByMarket.set(market, halted);
      }
      throw err;
    }
  }

  why(market: MarketName, symbol: string): string | undefined {
    return this.byMarket.get(market)?.get(symbol);
  }

  /** The state the last answer listed `symbol` in when not a trading one (a halt, maintenance), else undefined. */
  notTrading(market: MarketName, symbol: string): string | undefined {
    return this.haltedByMarket.get(market)?.get(symbol);
  }
}

/**
 * A listed item's field refused (a bad_spec's detail, never a guessed spec): the field, its value as listed
 * (listedValue) and what it should be. One wording for every venue's listing reader (Bybit, OKX, Deribit).
 */
export function unusableField(field: string, shown: string, want: string): string {
  return `listed without a usable ${field} (${shown}: ${want})`;
}

/** A listed field's value as unusableField names it: its JSON text (bounded), a list or object by its type. */
export function listedValue(v: unknown): string {
  if (v === undefined) return "missing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object" && v !== null) return "an object";
  return boundedText(JSON.stringify(v), 40);
}

/** Whether `v` is a step text makeInstrument can use (a positive decimal exponentOf reads). */
export function isStepText(v: unknown): v is string {
  try {
    return typeof v === "string" && exponentOf(v) >= 0;
  } catch {
    return false;
  }
}

/** A part's failure as an Error (sources collect them while the other parts are asked). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The venue's side of resolution. */
export interface InstrumentSource {
  /**
   * Specs of a market's listed instruments, at least `symbols` (venue symbols); throws naming the URL on failure,
   * and (emptyListing) when a list it reads holds no instrument at all.
   */
  fetchSpecs(market: MarketName, symbols: readonly string[]): Promise<Map<string, InstrumentSpec>>;
  /** Why a symbol REST answered for is missing, e.g. "not listed by <url>; check the symbol and that it is Trading". */
  notListed(market: MarketName): string;
  /** Where REST lists the symbol but the source refused its specs (Upbit: no tick_size, an unsupported level): why. */
  whyRefused?(market: MarketName, symbol: string): string | undefined;
  /**
   * Where the market's last answer lists the symbol but not as trading now (Binance BREAK, OKX suspend, Bybit Closed,
   * Coinbase offline or trading_disabled: a halt or maintenance) or answered without what its spec needs (Upbit: no
   * price or tick for it): why. Not "this symbol does not exist": at start it is `not_trading`, never a configuration
   * error (a venue left with only such symbols starts empty and retries them), asked again as a not-listed one.
   */
  whyNotTrading?(market: MarketName, symbol: string): string | undefined;
}

/**
 * Whether `spec`'s tick and lot are the values `inst` has, compared as exact decimals: venues pad steps to their display
 * precision, and "0.01000000" after "0.0100" is no change (compared as texts until 2026-12-07: the book resynced and
 * subscribers heard instrument_changed for nothing). The instrument keeps its text for display.
 */
export function sameTickLot(spec: InstrumentSpec, inst: Pick<Instrument, "tickSize" | "lotSize">): boolean {
  return sameStep(spec.tickSize, inst.tickSize) && sameStep(spec.lotSize, inst.lotSize);
}

/** The instrument of a subscription; an extra depth is `SYMBOL@depth` with its own id (venue.ts instrumentSymbolOf). */
export function makeInstrument(config: VenueConfig, sub: Subscription, spec: InstrumentSpec): Instrument {
  const symbol = instrumentSymbolOf(sub);
  // The wire's definition holds each string in at most 255 bytes: a longer one (a venue's "0.1000…" of 300 characters:
  // trailing zeros pass exponentOf) threw in the publisher's register, at start for the whole venue, not as this spec.
  for (const [what, s] of [["tick size", spec.tickSize], ["lot size", spec.lotSize], ["symbol", symbol]] as const) {
    const bytes = utf8Bytes(s);
    if (bytes > MAX_DEF_STRING_BYTES) throw new RangeError(`the ${what} is ${bytes} bytes long; the wire's instrument definition holds at most ${MAX_DEF_STRING_BYTES}`);
  }
  return {
    instrumentId: instrumentIdOf(config.venue, sub.market, symbol),
    venue: config.venue,
    market: sub.market,
    symbol,
    priceExp: exponentOf(spec.tickSize),
    qtyExp: exponentOf(spec.lotSize),
    tickSize: spec.tickSize,
    lotSize: spec.lotSize,
  };
}

/**
 * Why a symbol has no instrument: its market's REST failed and the cache lacks it, REST does not list it, REST lists
 * it but not as trading now (InstrumentSource.whyNotTrading: may clear), its tick/lot is unusable, or it resolved
 * while running but its book could not be added (late-instruments.ts).
 */
export type UnresolvedKind = "rest_unreachable" | "not_listed" | "not_trading" | "bad_spec" | "join_failed";
export const UNRESOLVED_KINDS: readonly UnresolvedKind[] = ["rest_unreachable", "not_listed", "not_trading", "bad_spec", "join_failed"];

/** One subscription left without an instrument: its index, the kind and the sentence naming it. */
export interface UnresolvedEntry {
  readonly index: number;
  readonly kind: UnresolvedKind;
  readonly detail: string;
}

/** Instruments in subscription order (undefined where unresolved) and, per unresolved symbol, why. */
export interface ResolvedInstruments {
  instruments: (Instrument | undefined)[];
  problems: string[];
  /** The same symbols as `problems`, by subscription index (late-instruments.ts retries them). */
  unresolved: UnresolvedEntry[];
  /**
   * The specs the disk cache answered with (REST failed for them), by subscription index: their expiry is the cache's
   * (or unknown), so the InstrumentWatch notes it and asks their market's listing again once running.
   */
  fromCache: Map<number, InstrumentSpec>;
}

/**
 * Resolves every (market, symbol) in order. REST failures are logged and covered by the cache; a symbol still
 * unresolved is left undefined and named, with the reason, in `problems` (the caller decides what is fatal).
 * `stop` (the adapter's RestStop signal) aborted: rejects with its reason once the requests under way have ended
 * (they end at once), logging nothing and writing nothing to the cache.
 */
export async function resolveInstruments(
  config: VenueConfig,
  subs: readonly Subscription[],
  source: InstrumentSource,
  log: Logger,
  stop?: AbortSignal,
  /** The wall clock the cache's expiries are judged by when it is written (instrument-cache.ts expiredLongAgo). */
  wallNow: () => number = Date.now,
): Promise<ResolvedInstruments> {
  stop?.throwIfAborted();
  const cachePath = config.instrumentCachePath;
  // What killed writers left beside it goes now: this start may write nothing (REST agrees with the cache).
  if (cachePath) sweepInstrumentCacheTemps(cachePath);
  const cache = cachePath ? await readInstrumentCache(cachePath, config.venue).catch((err) => {
    log.warn("instrument cache unreadable; ignoring it", { path: cachePath, error: String(err) });
    return new Map<string, InstrumentSpec>();
  }) : new Map<string, InstrumentSpec>();
  const needRest = new Map<MarketName, string[]>();
  for (const s of subs) {
    if (config.overrides.has(`${s.market}:${s.symbol}`)) continue;
    const list = needRest.get(s.market) ?? [];
    if (!list.includes(s.symbol)) list.push(s.symbol);
    needRest.set(s.market, list);
  }
  const fromRest = new Map<string, InstrumentSpec>();
  const restError = new Map<MarketName, string>();
  /** Markets a part of whose listing failed (PartialAnswer): a symbol not in the answered parts is unreachable. */
  const partError = new Map<MarketName, string>();
  await Promise.all(
    [...needRest].map(async ([market, symbols]) => {
      try {
        const specs = await source.fetchSpecs(market, symbols);
        for (const [sym, spec] of specs) fromRest.set(`${market}:${sym}`, spec);
      } catch (err) {
        if (stop?.aborted) return; // stopped, not failed: thrown below
        if (err instanceof PartialAnswer) {
          for (const [sym, spec] of err.specs) fromRest.set(`${market}:${sym}`, spec);
          partError.set(market, err.message);
          log.warn("instrument REST query failed in part; the answered symbols start, the others use the disk cache", { market, error: boundedText(err.message, DETAIL_MAX_CHARS), cache: cachePath });
          return;
        }
        restError.set(market, err instanceof Error ? err.message : String(err));
        log.warn("instrument REST query failed; using the disk cache", { market, error: boundedText(restError.get(market)!, DETAIL_MAX_CHARS), cache: cachePath });
      }
    }),
  );
  stop?.throwIfAborted();
  const out: (Instrument | undefined)[] = [];
  const problems: string[] = [];
  const unresolved: UnresolvedEntry[] = [];
  const fromCache = new Map<number, InstrumentSpec>();
  const leaveOut = (index: number, key: string, kind: UnresolvedKind, why: string) => {
    const detail = boundedText(why, DETAIL_MAX_CHARS); // a server's text in it: /readyz, the exit message, the logs
    out.push(undefined);
    problems.push(`${key} (${detail})`);
    unresolved.push({ index, kind, detail });
  };
  /** REST answers the cache does not hold yet (merged under its lock: another worker or process may write it too). */
  const toCache = new Map<string, InstrumentSpec>();
  for (const [index, s] of subs.entries()) {
    const key = `${s.market}:${s.symbol}`;
    // Not in an answered part of a partly answered listing (and not refused there): perhaps in the part that failed.
    const unanswered = partError.has(s.market) && !fromRest.has(key) && source.whyRefused?.(s.market, s.symbol) === undefined;
    const failure = restError.get(s.market) ?? (unanswered ? partError.get(s.market) : undefined);
    const answered = config.overrides.get(key) ?? fromRest.get(key);
    const spec = answered ?? (failure !== undefined ? cache.get(key) : undefined);
    if (!spec) {
      if (failure !== undefined) leaveOut(index, key, "rest_unreachable", `REST unreachable: ${failure}; not in cache ${cachePath || "(none)"}`);
      else {
        const halted = source.whyNotTrading?.(s.market, s.symbol);
        const refused = source.whyRefused?.(s.market, s.symbol);
        if (halted !== undefined) leaveOut(index, key, "not_trading", halted);
        else if (refused !== undefined) leaveOut(index, key, "bad_spec", refused);
        else leaveOut(index, key, "not_listed", source.notListed(s.market));
      }
      continue;
    }
    try {
      out.push(makeInstrument(config, s, spec));
    } catch (err) {
      leaveOut(index, key, "bad_spec", badSpec(spec, err));
      continue;
    }
    if (answered === undefined) fromCache.set(index, spec);
    const rest = fromRest.get(key);
    // Also an entry whose expiry REST now gives (one written before the cache kept expiries has none).
    if (rest && !sameCachedSpec(cache.get(key), rest)) toCache.set(key, rest);
  }
  // Written before returning unless another writer holds the cache's lock: the merge may then wait up to
  // CACHE_LOCK_WAIT_MS, and start-up (no venue connected yet) must not wait with it; it goes on in the background
  // (instrumentCacheWritesSettled() waits for it where that matters).
  if (toCache.size > 0 && cachePath) {
    await new Promise<void>((resolve) => {
      void mergeIntoInstrumentCache(cachePath, config.venue, toCache, { onWait: resolve, nowMs: wallNow, keep: configuredCacheKeys(config), log })
        .catch((err) => log.warn("could not write the instrument cache", { path: cachePath, error: String(err) }))
        .finally(resolve);
    });
  }
  return { instruments: out, problems, unresolved, fromCache };
}

/** The words for a tick/lot that makeInstrument refused. */
export function badSpec(spec: InstrumentSpec, err: unknown): string {
  return `bad tick/lot ${spec.tickSize}/${spec.lotSize}: ${String(err)}`;
}
