/**
 * Reloading one OKX market's instruments over REST (cold), run by the common InstrumentReloader
 * (../common/instrument-reload.ts): every `instrument_reload_ms` (default 1 hour), just after an announced `upcChg`
 * takes effect, and when a price or size does not fit its exponents (the market's re-checks coalesce into one
 * reload). Each changed tick or lot is applied by the adapter's callback (new exponents, the app told, the book
 * resynced) and written to the disk cache; `upcChg` entries seen are announced to the reloader, so a change
 * announced after start is picked up by the next periodic reload (docs/venues/okx.md, "Instruments").
 * @module
 */
import type { Instrument, MarketName } from "../../core/types.ts";
import type { Logger } from "../../core/log.ts";
import type { VenueConfig } from "../../config/types.ts";
import { makeInstrument, mergeIntoInstrumentCache, type InstrumentSpec } from "../common/instruments.ts";
import type { Subscription } from "../venue.ts";
import { InstrumentReloader } from "../common/instrument-reload.ts";
import type { OkxTopic } from "./connection.ts";
import { fetchOkxSpecs, restUrlOf, type InstrumentRequestPacer, type UpcomingChange } from "./instruments.ts";

/** Announced changes are re-read this long after their effTime (OKX switches at effTime). */
export const AFTER_EFF_TIME_MS = 1_000;

export interface ReloadContext {
  config: VenueConfig;
  log: Logger;
  fetchFn: typeof fetch;
  pacer: InstrumentRequestPacer;
  now: () => number;
  topics: readonly OkxTopic[];
  subscriptions: readonly Subscription[];
  current: (index: number) => Instrument | undefined;
  stopping: () => boolean;
  apply: (t: OkxTopic, inst: Instrument) => void;
  announce: (market: MarketName, atMs: number) => void;
}

/** The adapter's reloader: its markets, reloaded every intervalMs, announced changes, asked-for re-checks. */
export function okxReloader(intervalMs: number, checkEveryMs: number | undefined, x: Omit<ReloadContext, "announce">): InstrumentReloader {
  const reloader: InstrumentReloader = new InstrumentReloader({
    venue: "okx",
    log: x.log,
    now: x.now,
    markets: [...new Set(x.subscriptions.map((s) => s.market))],
    intervalMs,
    checkEveryMs,
    reload: (market) => reloadMarket({ ...x, announce: (m, atMs) => reloader.announce(m, atMs) }, market),
  });
  return reloader;
}

/** Fetches the market's listing, applies every changed tick/lot, announces upcoming changes. Rejects on REST failure. */
export async function reloadMarket(x: ReloadContext, market: MarketName): Promise<void> {
  const topics = x.topics.filter((t) => t.market === market && x.current(t.index) !== undefined && !x.config.overrides.has(`${t.market}:${t.symbol}`));
  if (topics.length === 0) return;
  const startedMs = x.now();
  const upcoming: UpcomingChange[] = [];
  const symbols = [...new Set(topics.map((t) => t.symbol))];
  const specs = await fetchOkxSpecs(x.fetchFn, restUrlOf(x.config, market), market, symbols, upcoming, x.pacer);
  if (x.stopping()) return;
  const changed = new Map<string, InstrumentSpec>();
  for (const t of topics) {
    const spec = specs.get(t.symbol);
    const cur = x.current(t.index);
    if (!spec || !cur || (spec.tickSize === cur.tickSize && spec.lotSize === cur.lotSize)) continue;
    const inst = makeInstrument(x.config, x.subscriptions[t.index]!, spec);
    x.log.warn("okx: instrument changed", { market, symbol: t.symbol, from: `${cur.tickSize}/${cur.lotSize}`, to: `${spec.tickSize}/${spec.lotSize}` });
    x.apply(t, inst);
    changed.set(`${market}:${t.symbol}`, spec);
  }
  // A change already in effect when this reload started is what the listing just showed (or OKX is late): the next
  // periodic reload looks again, rather than every check.
  for (const c of upcoming) if (symbols.includes(c.symbol) && c.effTimeMs + AFTER_EFF_TIME_MS > startedMs) x.announce(market, c.effTimeMs + AFTER_EFF_TIME_MS);
  if (changed.size > 0 && x.config.instrumentCachePath) {
    try {
      await mergeIntoInstrumentCache(x.config.instrumentCachePath, "okx", changed);
    } catch (err) {
      x.log.warn("okx: could not write the instrument cache", { path: x.config.instrumentCachePath, error: String(err) });
    }
  }
}
