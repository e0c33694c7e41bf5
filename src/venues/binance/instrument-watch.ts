/**
 * Reloading Binance's instruments while running (cold), run by the common InstrumentReloader
 * (../common/instrument-reload.ts): each market's exchangeInfo every `venues.binance.instrument_reload_ms` (default
 * 1 hour, 0 = never), and at once when a price or size does not fit its exponents (a market's re-checks coalesce
 * into one reload). Binance announces no tick/lot change ahead, so the periodic reload is what finds a coarser tick
 * or step (a misfit never reveals one) and keeps the advertised tick/lot current. Each request spends the market's
 * REST weight (rest.ts: exchangeInfo costs 20 on spot, 1 on USD-M). A changed tick or step is applied by the
 * adapter's callback (new exponents, the app told, the book resynced) and merged into the disk cache
 * (docs/venues/binance.md, "Instruments").
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { Instrument, MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { InstrumentReloader } from "../common/instrument-reload.ts";
import { makeInstrument, mergeIntoInstrumentCache, type InstrumentSpec } from "../common/instruments.ts";
import type { Subscription } from "../venue.ts";
import type { BinanceTopic } from "./connection.ts";
import { exchangeInfoUrl, fetchExchangeInfo, type ExchangeInfo } from "./instruments.ts";

export interface BinanceReloadContext {
  config: VenueConfig;
  log: Logger;
  now: () => number;
  /** The market's budgeted REST fetch (rest.ts). */
  fetchOf: (market: MarketName) => typeof fetch;
  /** Each exchangeInfo's rateLimits (the adapter keeps its weight limit current). */
  onInfo: (market: MarketName, info: ExchangeInfo) => void;
  topics: readonly BinanceTopic[];
  subscriptions: readonly Subscription[];
  current: (index: number) => Instrument | undefined;
  stopping: () => boolean;
  apply: (t: BinanceTopic, inst: Instrument) => void;
}

/** The adapter's reloader: its markets, reloaded every intervalMs and when asked (a number that did not fit). */
export function binanceReloader(intervalMs: number, checkEveryMs: number | undefined, x: BinanceReloadContext): InstrumentReloader {
  return new InstrumentReloader({
    venue: "binance",
    log: x.log,
    now: x.now,
    markets: [...new Set(x.subscriptions.map((s) => s.market))],
    intervalMs,
    checkEveryMs,
    reload: (market) => reloadMarket(x, market),
  });
}

/** Fetches the market's exchangeInfo and applies every changed tick/step. Rejects on REST failure (retried later). */
export async function reloadMarket(x: BinanceReloadContext, market: MarketName): Promise<void> {
  // Resolved topics only (one not resolved yet is the late retrier's, common/late-instruments.ts); overrides stay.
  const topics = x.topics.filter((t) => t.market === market && x.current(t.index) !== undefined && !x.config.overrides.has(`${t.market}:${t.symbol}`));
  if (topics.length === 0) return;
  const info = await fetchExchangeInfo(x.fetchOf(market), exchangeInfoUrl(x.config, market));
  x.onInfo(market, info);
  if (x.stopping()) return;
  const changed = new Map<string, InstrumentSpec>();
  for (const t of topics) {
    const spec = info.specs.get(t.symbol);
    const cur = x.current(t.index);
    // Not listed as TRADING any more (a halt, a delisting): the book keeps its instrument; its stream says the rest.
    if (!spec || !cur || (spec.tickSize === cur.tickSize && spec.lotSize === cur.lotSize)) continue;
    let inst: Instrument;
    try {
      inst = makeInstrument(x.config, x.subscriptions[t.index]!, spec);
    } catch (err) {
      x.log.warn("binance: instrument changed to a tick/step that cannot be used; keeping the old one", { market, symbol: t.symbol, tickSize: spec.tickSize, lotSize: spec.lotSize, error: String(err) });
      continue;
    }
    x.log.warn("binance: instrument changed", { market, symbol: t.symbol, from: `${cur.tickSize}/${cur.lotSize}`, to: `${spec.tickSize}/${spec.lotSize}` });
    x.apply(t, inst);
    changed.set(`${market}:${t.symbol}`, spec);
  }
  const path = x.config.instrumentCachePath;
  if (changed.size > 0 && path) {
    await mergeIntoInstrumentCache(path, "binance", changed).catch((err) => x.log.warn("binance: could not write the instrument cache", { path, error: String(err) }));
  }
}
