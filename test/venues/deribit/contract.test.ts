/** Deribit runs the venue contract suite against its simulator. */
import { silentLogger } from "../../../src/core/log.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { DERIBIT_VENUE } from "../../../src/venues/deribit/descriptor.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { runVenueContract } from "../contract.ts";
import { mantissa } from "./helpers.ts";

runVenueContract({
  venue: "deribit",
  sequenceScope: DERIBIT_VENUE.sequenceScope,
  skip: {
    restSnapshot: "Deribit resyncs by unsubscribe + subscribe; it takes no REST snapshot",
    checksum: "Deribit book notifications carry no checksum",
    snapshotOnly: "book.X.100ms sends a snapshot, then changes (grouped channels are full books: subscription 2 here)",
  },
  subscriptions: [
    { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
    { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
    { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
  ],
  async start(subs: Subscription[], opts = {}) {
    const markets = [...new Set(subs.map((s) => s.market))].map((market) => ({ market, symbols: subs.filter((s) => s.market === market).map((s) => s.symbol) }));
    const sim = await startDeribitSimulator({ markets, seed: 13 });
    const config = {
      venue: "deribit" as const,
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      instrumentCachePath: `${makeTempDir("deribit-contract-")}/instruments.json`,
      markets: markets.map((m) => ({ market: m.market, depth: 0, symbols: m.symbols })),
      overrides: new Map(),
    };
    const adapter = new DeribitAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, ...opts });
    return {
      adapter,
      step: (n: number) => sim.step(n),
      instrumentsAvailable: (ok) => sim.setInstrumentsAvailable(ok),
      instrumentCachePath: config.instrumentCachePath,
      inject: (fault, index) =>
        void (fault === "stall"
          ? sim.inject("stall", undefined, { stallMs: 1500 })
          : sim.inject(fault, index === undefined ? undefined : { market: subs[index]!.market, symbol: subs[index]!.symbol })),
      expected(index, instrument) {
        const s = subs[index]!;
        const b = sim.book(s.market, s.symbol, s.depth);
        const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [mantissa(p, instrument.priceExp), mantissa(q, instrument.qtyExp)] as [number, number]));
        return { bids: conv(b.bids), asks: conv(b.asks), seq: b.changeId };
      },
      async stop() {
        await adapter.stop();
        await sim.stop();
      },
    };
  },
});
