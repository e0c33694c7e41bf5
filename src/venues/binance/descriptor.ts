/**
 * Binance as the registry sees it (../registry.ts): spot and USD-M (`linear`) markets, the snapshot depths, the
 * endpoints (USD-M on its own host unless the venue-level URLs are changed, e.g. to a simulator), stale defaults. Each
 * market, its own host, has its own connect budget and hold (adapter.ts: the lifecycle's connectsPerMarket).
 * @module
 */
import { SYMBOL_NON_ASCII } from "../../core/symbol-text.ts";
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { fieldOf } from "../common/raw-topic.ts";
import { BinanceAdapter, type BinanceAdapterOptions, defaultStaleAfterMs } from "./adapter.ts";
import { binanceConfigLines } from "./config-lines.ts";
import { BINANCE_DEPTHS, DEFAULT_DEPTH, SPOT_REST_BASE, SPOT_WS_BASE, marketWsUrl } from "./protocol.ts";

/** Below 1 s a healthy book would flap (diffs come every 100 ms at most). */
const STALE_MIN_MS = 1_000;

/**
 * Binance symbols have no separator (BTCUSDT); USD-M delivery contracts end in _YYMMDD (BTCUSDT_251226). Some are named
 * in Chinese (币安人生USDT, spot and USD-M): letters without case are taken (core/symbol-text.ts).
 */
function market(depths: readonly number[], pattern: RegExp, expected: string): MarketSpec {
  return { depths, defaultDepth: DEFAULT_DEPTH, staleAfterMs: () => defaultStaleAfterMs(), staleFloor: () => ({ ms: STALE_MIN_MS }), symbolShape: { pattern, expected } };
}

export const BINANCE_VENUE: VenueSpec = {
  venue: "binance",
  wsUrl: SPOT_WS_BASE,
  restUrl: SPOT_REST_BASE,
  marketWsUrl,
  markets: {
    spot: market(BINANCE_DEPTHS.spot, new RegExp(`^(?:[A-Z0-9]|${SYMBOL_NON_ASCII})+$`, "u"), "a Binance symbol without separators, e.g. BTCUSDT or 币安人生USDT"),
    linear: market(BINANCE_DEPTHS.linear, new RegExp(String.raw`^(?:[A-Z0-9]|${SYMBOL_NON_ASCII})+(_\d{6})?$`, "u"), "a Binance USD-M symbol without separators, e.g. BTCUSDT or 币安人生USDT (a delivery contract: BTCUSDT_251226)"),
  },
  keepalive: "client_ping",
  resync: "rest_snapshot",
  sequenceScope: "topic",
  // Reloads its instruments while running; bridges a REST snapshot to buffered updates.
  venueKeys: ["instrument_reload_ms", "rest_bridge_buffer_bytes"],
  rawTopic: fieldOf(/"stream"\s*:\s*"([^"\\]{1,200})"/), // a combined stream's name
  describeConfig: binanceConfigLines,
  create: (config, subs, opts) => new BinanceAdapter(config, subs, opts as BinanceAdapterOptions),
};
