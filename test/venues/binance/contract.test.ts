/** Binance spot and USD-M run the venue contract suite against the Binance simulator. */
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter, BINANCE_VENUE } from "../../../src/venues/binance/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { runVenueContract, type VenueHarness } from "../contract.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { join } from "node:path";

function harness(market: "spot" | "linear"): VenueHarness {
  const subs: Subscription[] = [
    { market, symbol: "BTCUSDT", depth: 1000 },
    { market, symbol: "ETHUSDT", depth: 100 },
    { market, symbol: "SOLUSDT", depth: 500 },
  ];
  return {
    venue: `binance ${market === "spot" ? "spot" : "USD-M"}`,
    sequenceScope: BINANCE_VENUE.sequenceScope,
    subscriptions: subs,
    skip: {
      reset: "Binance update ids never restart (no venue reset exists); a lower u is a repeat",
      checksum: "Binance diff streams carry no checksum",
      snapshotOnly: "Binance sends diffs bridged to a REST snapshot",
    },
    async start(s, opts = {}) {
      const sim = await startBinanceSimulator({ markets: [{ market, symbols: s.map((x) => x.symbol) }], seed: 7 });
      const config = {
        venue: "binance" as const,
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        instrumentCachePath: join(makeTempDir("binance-contract"), "instruments.json"),
        markets: [{ market, depth: 1000, symbols: s.map((x) => x.symbol) }],
        overrides: new Map(),
      };
      const adapter = new BinanceAdapter(config, s, { log: process.env.DBG ? ({ debug: () => {}, info: console.log, warn: console.log, error: console.log } as never) : silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100, ...opts });
      return {
        adapter,
        step: (n: number) => sim.step(n),
        instrumentsAvailable: (ok) => sim.setInstrumentsAvailable(ok),
        instrumentCachePath: config.instrumentCachePath,
        inject: (fault, index) =>
          void (fault === "stall"
            ? sim.inject("stall", undefined, { stallMs: 1500 })
            : fault === "reset"
              ? undefined
              : sim.inject(fault, index === undefined ? undefined : { market, symbol: s[index]!.symbol })),
        restFault: (kind, index) => sim.restFault(kind === "refuse" ? "refuse" : "no_bridge", { market, symbol: s[index]!.symbol }),
        restFaultsPending: () => sim.restFaultsPending(),
        expected(index, instrument) {
          const b = sim.book(market, s[index]!.symbol);
          const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
          return { bids: conv(b.bids), asks: conv(b.asks), seq: b.u };
        },
        async stop() {
          await adapter.stop();
          await sim.stop();
        },
      };
    },
  };
}

runVenueContract(harness("spot"));
runVenueContract(harness("linear"));
