/**
 * Instrument metadata for Binance spot and USD-M: `GET /api/v3/exchangeInfo` and `GET /fapi/v1/exchangeInfo`
 * (docs/venues/binance.md, "Instruments") → `PRICE_FILTER.tickSize` and `LOT_SIZE.stepSize`, TRADING symbols
 * only, a USD-M contract's `deliveryDate` (its expiry), and the `rateLimits` REQUEST_WEIGHT per minute. Subscribing to an unknown symbol is not refused by the
 * WebSocket (the ack is a success and nothing comes), so this list is what decides. Cold path.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { InstrumentSource, InstrumentSpec } from "../common/instruments.ts";
import { apiPrefix, marketRestBase } from "./protocol.ts";

export interface ExchangeInfo {
  specs: Map<string, InstrumentSpec>;
  /** REQUEST_WEIGHT per minute from `rateLimits`, when listed (a positive whole number; BinanceRest.takeLimits bounds it). */
  weightPerMinute: number | undefined;
  /** REQUEST_WEIGHT entries not taken, each naming its value and why (at most MAX_REFUSED_LIMITS): takeLimits warns. */
  refusedLimits: string[];
  /** TRADING symbols whose tick or step could not be read, and why: listed, so never taken as delisted. */
  unreadable: Map<string, string>;
  /** Symbols listed in another status (BREAK: a halt, maintenance, or delisted), and that status. */
  halted: Map<string, string>;
}

interface Filter {
  filterType?: unknown;
  tickSize?: unknown;
  stepSize?: unknown;
}

/** USD-M statuses of a contract that has ended (delivered, closed): not listed for us, never `not_trading`. */
const ENDED_STATUSES = new Set(["CLOSE", "DELIVERING", "DELIVERED", "SETTLING"]);

/**
 * USD-M lists a perpetual's `deliveryDate` as a placeholder far ahead (4133404800000, 2100-12-25): one from here on
 * is no delivery. A dated contract's (and a perpetual's being delisted, PERPETUAL_DELIVERING) is when it stops.
 */
export const NO_DELIVERY_FROM_MS = Date.UTC(2100, 0, 1);

/** A `deliveryDate` as an expiry (ms): a positive whole number before NO_DELIVERY_FROM_MS, else none. */
function deliveryOf(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v < NO_DELIVERY_FROM_MS ? v : undefined;
}

/** Refused REQUEST_WEIGHT entries kept per answer: a body listing thousands must not become thousands of log lines. */
export const MAX_REFUSED_LIMITS = 4;

/** A JSON value named in a warning, short (a string quoted, so "6000" is told from 6000). */
function shown(v: unknown): string {
  return (typeof v === "string" ? JSON.stringify(v) : String(v)).slice(0, 40);
}

/** Reads an exchangeInfo body. Symbols not TRADING are left out (they are "not listed" for us). */
export function parseExchangeInfo(body: unknown): ExchangeInfo {
  const specs = new Map<string, InstrumentSpec>();
  const unreadable = new Map<string, string>();
  const halted = new Map<string, string>();
  if (typeof body !== "object" || body === null) throw new Error("exchangeInfo is not a JSON object");
  const b = body as { symbols?: unknown; rateLimits?: unknown };
  if (!Array.isArray(b.symbols)) throw new Error("exchangeInfo without a symbols array");
  // No symbol at all (maintenance, a broken answer): not "every symbol delisted" (common/instruments.ts emptyListing).
  if (b.symbols.length === 0) throw new Error("exchangeInfo: the listing is empty (venue maintenance or a broken answer); not taken as every instrument delisted");
  for (const item of b.symbols) {
    if (typeof item !== "object" || item === null) continue;
    const it = item as { symbol?: unknown; status?: unknown; filters?: unknown; deliveryDate?: unknown };
    if (typeof it.symbol !== "string") continue;
    if (it.status !== "TRADING") {
      // BREAK is maintenance and a delisting alike: taken as may-clear. A future's delivery is for good (not listed).
      if (!ENDED_STATUSES.has(String(it.status))) halted.set(it.symbol, `listed as ${String(it.status)}, not TRADING`);
      continue;
    }
    if (!Array.isArray(it.filters)) {
      unreadable.set(it.symbol, "listed as TRADING without a filters array");
      continue;
    }
    let tick: unknown;
    let step: unknown;
    for (const f of it.filters as Filter[]) {
      if (f?.filterType === "PRICE_FILTER") tick = f.tickSize;
      else if (f?.filterType === "LOT_SIZE") step = f.stepSize;
    }
    // The delivery closes the book then (common/instrument-watch.ts), as Deribit's, Bybit's and OKX's expiries do.
    const expiresMs = deliveryOf(it.deliveryDate);
    if (typeof tick === "string" && typeof step === "string") specs.set(it.symbol, expiresMs === undefined ? { tickSize: tick, lotSize: step } : { tickSize: tick, lotSize: step, expiresMs });
    else unreadable.set(it.symbol, "listed as TRADING without PRICE_FILTER.tickSize and LOT_SIZE.stepSize");
  }
  let weightPerMinute: number | undefined;
  const refusedLimits: string[] = [];
  const refuse = (why: string) => void (refusedLimits.length < MAX_REFUSED_LIMITS && refusedLimits.push(why));
  if (Array.isArray(b.rateLimits)) {
    for (const r of b.rateLimits as { rateLimitType?: unknown; interval?: unknown; intervalNum?: unknown; limit?: unknown }[]) {
      if (r?.rateLimitType !== "REQUEST_WEIGHT") continue;
      // Our budget is a minute's: a limit per second or per 5 minutes read as per minute would be far off. Refused
      // (the default or last good limit stays) and warned, never converted: a per-second one is no minute's 60 ×.
      if (r.interval !== "MINUTE" || r.intervalNum !== 1) refuse(`REQUEST_WEIGHT limit ${shown(r.limit)} per ${shown(r.intervalNum)} ${shown(r.interval)}: only a limit per 1 MINUTE is read`);
      // A positive whole number only: before, any positive number was taken, and a limit written past a double's
      // range (1e400 reads as Infinity) made the market's budget unbounded (shareOf keeps an infinite limit): every
      // queued snapshot went at once, into a 429 / 418. Anything else leaves the default (or the last good) limit.
      else if (!Number.isSafeInteger(r.limit) || (r.limit as number) <= 0) refuse(`REQUEST_WEIGHT limit ${shown(r.limit)} a minute: not a positive whole number`);
      else weightPerMinute = r.limit as number;
    }
  }
  return { specs, weightPerMinute, refusedLimits, unreadable, halted };
}

/** The market's REST base: its own `rest_url`, else the venue's (USD-M's default host for the default). */
export function restBaseOf(config: VenueConfig, market: MarketName): string {
  return (config.markets.find((m) => m.market === market)?.restUrl ?? marketRestBase(config.restUrl, market)).replace(/\/+$/, "");
}

export function exchangeInfoUrl(config: VenueConfig, market: MarketName): string {
  return `${restBaseOf(config, market)}${apiPrefix(market)}/exchangeInfo`;
}

export async function fetchExchangeInfo(fetchFn: typeof fetch, url: string): Promise<ExchangeInfo> {
  const res = await fetchFn(url);
  if (!res.ok) throw new Error(`binance REST ${url}: HTTP ${res.status}`);
  try {
    return parseExchangeInfo(await res.json());
  } catch (err) {
    throw new Error(`binance REST ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Binance as an instrument source; `onInfo` hears each market's rateLimits. */
export function binanceInstrumentSource(config: VenueConfig, fetchOf: (m: MarketName) => typeof fetch, onInfo: (m: MarketName, info: ExchangeInfo) => void): InstrumentSource {
  const unreadable = new Map<MarketName, Map<string, string>>();
  const halted = new Map<MarketName, Map<string, string>>();
  return {
    async fetchSpecs(market) {
      const info = await fetchExchangeInfo(fetchOf(market), exchangeInfoUrl(config, market));
      onInfo(market, info);
      unreadable.set(market, info.unreadable); // only the last answer counts
      halted.set(market, info.halted);
      return info.specs;
    },
    // Listed, but BREAK (Binance's maintenance sets every symbol so): not "no such symbol", so never exit 2 for it.
    whyNotTrading: (market, symbol) => {
      const status = halted.get(market)?.get(symbol);
      return status === undefined ? undefined : `${status} by ${exchangeInfoUrl(config, market)}`;
    },
    // Listed as TRADING but unreadable: a bad_spec at start, and never closed while running (not delisted).
    whyRefused: (market, symbol) => {
      const why = unreadable.get(market)?.get(symbol);
      return why === undefined ? undefined : `${why} at ${exchangeInfoUrl(config, market)}`;
    },
    notListed: (market) => `not listed as TRADING by ${exchangeInfoUrl(config, market)}; check the symbol (Binance does not refuse unknown streams)`,
  };
}
