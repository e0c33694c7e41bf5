/** The contract harness for Upbit and Bithumb: the adapter against startUpbitSimulator on 127.0.0.1. */
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startUpbitSimulator, type UpbitSim } from "../../../src/sim/upbit-sim.ts";
import type { VenueSpec } from "../../../src/venues/registry.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import type { VenueHarness, VenueRun } from "../contract.ts";
import { tempCachePath } from "../bybit/helpers.ts";

export const SNAPSHOT_ONLY_SKIPS = {
  gap: "snapshot-only: every message is the whole book and carries no sequence, so no message can be missed between two",
  reset: "snapshot-only: there is no venue sequence to reset",
  sequenceScope: "snapshot-only: no sequence, so no gap and no scope",
  restSnapshot: "resync kind next_full_book: no REST snapshot",
  checksum: "the feed carries no checksum",
  resyncBackoff: "resync kind next_full_book: a resync sends nothing (the book waits for the next full book), so there is no request to back off",
};

export const SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-BTC", depth: 30 },
  { market: "spot", symbol: "KRW-XRP", depth: 15 },
  { market: "spot", symbol: "BTC-ETH", depth: 5 },
];

export function upbitHarness(spec: VenueSpec): VenueHarness {
  const venue = spec.venue as "upbit" | "bithumb";
  return {
    venue,
    sequenceScope: spec.sequenceScope,
    snapshotOnly: true,
    skip: SNAPSHOT_ONLY_SKIPS,
    subscriptions: SUBS,
    async start(subs, opts = {}) {
      const sim: UpbitSim = await startUpbitSimulator({ venue, codes: subs.map((s) => s.symbol), seed: 7 });
      const config = {
        venue,
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        instrumentCachePath: tempCachePath(),
        markets: [{ market: "spot" as const, depth: 30, symbols: subs.map((s) => s.symbol) }],
        overrides: new Map(),
      };
      const adapter = spec.create(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, ...opts });
      const run: VenueRun & { sim: UpbitSim } = {
        sim,
        adapter,
        step: (n) => sim.step(n),
        instrumentsAvailable: (ok) => sim.setRestAvailable(ok),
        instrumentCachePath: config.instrumentCachePath,
        inject: (fault, index) => sim.inject(fault === "stall" ? "stall" : (fault as "disconnect" | "malformed" | "duplicate"), index === undefined ? undefined : subs[index]!.symbol, { stallMs: 1500 }),
        expected(index, instrument) {
          const b = sim.book(subs[index]!.symbol, subs[index]!.depth);
          const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
          return { bids: conv(b.bids), asks: conv(b.asks), seq: b.ts };
        },
        async stop() {
          await adapter.stop();
          await sim.stop();
        },
      };
      return run;
    },
  };
}
