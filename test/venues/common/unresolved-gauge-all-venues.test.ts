/**
 * Every venue feeds `instruments_unresolved{market,reason}` (the app's feeder_venue_instruments_unresolved): a
 * symbol left out at start (no override, no cache, REST refused) counts as rest_unreachable, the resolved one not.
 * An alert on that gauge must fire for every venue, not only those a test happened to cover. Offline adapters.
 */
import { expect, test } from "vitest";
import type { MarketName, VenueName } from "../../../src/core/types.ts";
import { VENUES } from "../../../src/venues/registry.ts";
import type { VenueAdapter } from "../../../src/venues/venue.ts";
import { offlineVenue } from "./offline-venue.ts";

const RIGS: Record<VenueName, [MarketName, string[], string]> = {
  bybit: ["spot", ["BTCUSDT", "ETHUSDT"], "/v5/public/spot"],
  binance: ["spot", ["BTCUSDT", "ETHUSDT"], ""],
  okx: ["spot", ["BTC-USDT", "ETH-USDT"], "/ws/v5/public"],
  deribit: ["inverse", ["BTC-PERPETUAL", "ETH-PERPETUAL"], "/ws/api/v2"],
  coinbase: ["spot", ["BTC-USD", "ETH-USD"], ""],
  upbit: ["spot", ["KRW-BTC", "KRW-ETH"], "/websocket/v1"],
  bithumb: ["spot", ["KRW-BTC", "KRW-ETH"], "/websocket/v1"],
} as Record<VenueName, [MarketName, string[], string]>;

test.each(Object.keys(VENUES) as VenueName[])("%s: a symbol left out at start counts in instruments_unresolved", async (venue) => {
  const [market, symbols, wsPath] = RIGS[venue];
  const o = offlineVenue(venue, market, venue === "deribit" || venue === "coinbase" ? 0 : 50, symbols, wsPath);
  // No spec for the second symbol: REST refuses, no cache.
  const config = { ...o.config, overrides: new Map([...o.config.overrides].filter(([key]) => key !== `${market}:${symbols[1]}`)) };
  const adapter = VENUES[venue]!.create(config, o.subscriptions, o.options) as VenueAdapter;
  try {
    const instruments = await adapter.loadInstruments();
    expect(instruments.map((i) => i?.symbol)).toEqual([symbols[0], undefined]);
    const unresolved = adapter
      .metrics()
      .filter((m) => m.name === "instruments_unresolved" && m.value > 0)
      .map((m) => [m.labels?.market, m.labels?.reason, m.value]);
    expect(unresolved).toEqual([[market, "rest_unreachable", 1]]);
  } finally {
    await adapter.stop();
  }
});
