/**
 * An adapter's constructor arguments for a test that never touches the network (the venues' offline rigs): a config
 * on 127.0.0.1:9 (nothing listens there, nothing is asked), each symbol's tick 0.1 and lot 0.001 as overrides keyed by
 * its own market (so loadInstruments resolves them offline, as a replay does), a fresh instrument cache, and a fetch
 * that refuses.
 */
import { join } from "node:path";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { MarketName, VenueName } from "../../../src/core/types.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

export function offlineVenue(venue: VenueName, market: MarketName, depth: number, symbols: readonly string[], wsPath: string) {
  const config: VenueConfig = {
    venue,
    wsUrl: `ws://127.0.0.1:9${wsPath}`,
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir(`${venue}-offline`), "i.json"),
    markets: [{ market, depth, symbols }],
    overrides: new Map(symbols.map((s) => [`${market}:${s}`, { tickSize: "0.1", lotSize: "0.001" }])),
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  const subscriptions: Subscription[] = symbols.map((symbol) => ({ market, symbol, depth }));
  return { config, subscriptions, options: { log: silentLogger, fetch: refuse } };
}

/** Per venue: a market, two symbols it lists and its WebSocket path, for a test run over every venue (offlineRig). */
const RIGS: Record<VenueName, [MarketName, string[], string]> = {
  bybit: ["spot", ["BTCUSDT", "ETHUSDT"], "/v5/public/spot"],
  binance: ["spot", ["BTCUSDT", "ETHUSDT"], ""],
  okx: ["spot", ["BTC-USDT", "ETH-USDT"], "/ws/v5/public"],
  deribit: ["inverse", ["BTC-PERPETUAL", "ETH-PERPETUAL"], "/ws/api/v2"],
  coinbase: ["spot", ["BTC-USD", "ETH-USD"], ""],
  upbit: ["spot", ["KRW-BTC", "KRW-ETH"], "/websocket/v1"],
  bithumb: ["spot", ["KRW-BTC", "KRW-ETH"], "/websocket/v1"],
} as Record<VenueName, [MarketName, string[], string]>;

/** offlineVenue for `venue`'s rig (RIGS): depth 0 where the venue streams only full depth (Deribit, Coinbase), else 50. */
export function offlineRig(venue: VenueName) {
  const [market, symbols, wsPath] = RIGS[venue];
  return { market, symbols, ...offlineVenue(venue, market, venue === "deribit" || venue === "coinbase" ? 0 : 50, symbols, wsPath) };
}
