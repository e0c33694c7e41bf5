/** Bybit runs the venue contract suite against its simulator. */
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { BYBIT_VENUE, createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { runVenueContract } from "../contract.ts";
import { tempCachePath } from "./helpers.ts";

runVenueContract({
  venue: "bybit",
  sequenceScope: BYBIT_VENUE.sequenceScope,
  skip: {
    restSnapshot: "Bybit resyncs by unsubscribe + subscribe; it takes no REST snapshot",
    checksum: "Bybit's orderbook.N carries no checksum",
    snapshotOnly: "Bybit sends a snapshot, then deltas",
  },
  subscriptions: [
    { market: "linear", symbol: "BTCUSDT", depth: 50 },
    { market: "linear", symbol: "ETHUSDT", depth: 200 },
    { market: "spot", symbol: "BTCUSDT", depth: 50 },
  ],
  async start(subs: Subscription[], opts = {}) {
    const markets = [...new Set(subs.map((s) => s.market))].map((market) => ({ market, symbols: subs.filter((s) => s.market === market).map((s) => s.symbol) }));
    const sim = await startBybitSimulator({ markets, seed: 11 });
    const config = {
      venue: "bybit" as const,
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      instrumentCachePath: tempCachePath(),
      markets: subs.map((s) => ({ market: s.market, depth: s.depth, symbols: [s.symbol] })),
      overrides: new Map(),
    };
    const adapter = createBybitAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, ...opts });
    return {
      adapter,
      step: (n: number) => sim.step(n),
      instrumentsAvailable: (ok) => sim.setRestAvailable(ok),
      instrumentCachePath: config.instrumentCachePath,
      inject: (fault, index) =>
        fault === "stall"
          ? sim.inject("stall", undefined, { stallMs: 1500 })
          : sim.inject(fault, index === undefined ? undefined : { market: subs[index]!.market, symbol: subs[index]!.symbol }),
      expected(index, instrument) {
        const b = sim.book(subs[index]!.market, subs[index]!.symbol, subs[index]!.depth);
        const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
        return { bids: conv(b.bids), asks: conv(b.asks), seq: b.u };
      },
      async stop() {
        await adapter.stop();
        await sim.stop();
      },
    };
  },
});
