/**
 * Coinbase runs the venue contract suite against its simulator. Two products share the first connection and one
 * has its own (maxProductsPerConnection 2), so the connection scope of a sequence gap is visible: a gap on the
 * first connection invalidates exactly its two books and never the third.
 */
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { COINBASE_VENUE, createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { runVenueContract } from "../contract.ts";
import { coinbaseConfig } from "./helpers.ts";

runVenueContract({
  venue: "coinbase",
  sequenceScope: COINBASE_VENUE.sequenceScope,
  skip: {
    plannedReconnect: "Coinbase numbers messages per connection: two sockets cannot interleave, so no make-before-break",
    restSnapshot: "Coinbase sends the snapshot on the WebSocket; it takes no REST snapshot",
    checksum: "Coinbase level2 carries no checksum",
    snapshotOnly: "Coinbase sends a snapshot, then updates",
  },
  subscriptions: [
    { market: "spot", symbol: "BTC-USD", depth: 0 },
    { market: "spot", symbol: "ETH-USD", depth: 0 },
    { market: "spot", symbol: "SOL-USD", depth: 0 },
  ],
  async start(subs: Subscription[], opts = {}) {
    const products = subs.map((s) => s.symbol);
    const sim = await startCoinbaseSimulator({ products, seed: 13, levels: 60 });
    const config = coinbaseConfig(sim, products);
    const adapter = createCoinbaseAdapter(config, subs, {
      log: silentLogger,
      reconnectBaseMs: 5,
      reconnectMaxMs: 20,
      maxProductsPerConnection: 2,
      ...opts,
    });
    return {
      adapter,
      step: (n: number) => sim.step(n),
      instrumentsAvailable: (ok) => sim.setRestAvailable(ok),
      instrumentCachePath: config.instrumentCachePath,
      inject: (fault, index) => void sim.inject(fault, index === undefined ? undefined : subs[index]!.symbol, fault === "stall" ? { stallMs: 1500 } : undefined),
      connectionOf: (index) => adapter.connectionOf(index),
      expected(index, instrument) {
        const b = sim.book(subs[index]!.symbol);
        const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
        return { bids: conv(b.bids), asks: conv(b.asks), seq: b.seq };
      },
      async stop() {
        await adapter.stop();
        await sim.stop();
      },
    };
  },
});
