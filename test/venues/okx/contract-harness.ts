/**
 * The OKX harness of the venue contract suite (test/venues/contract.ts), run three times, a file each so the three
 * run side by side (one file ran them one after another, ~36 s): `books` with its initial snapshot (checksums real, so
 * verify() checks every message: contract.test.ts), `books` without it (every start and resync bridges a REST snapshot
 * by seqId: contract-rest.test.ts), and books5 (full books: contract-books5.test.ts).
 */
import { silentLogger } from "../../../src/core/log.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OKX_VENUE, OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import type { VenueHarness } from "../contract.ts";
import { expectedBook, okxConfig } from "./helpers.ts";

export function harness(initialSnapshot: boolean, subscriptions: Subscription[], skip: VenueHarness["skip"], snapshotOnly = false): VenueHarness {
  return {
    venue: `okx (${snapshotOnly ? "books5" : initialSnapshot ? "books with snapshot" : "books without snapshot: REST bridge"})`,
    sequenceScope: OKX_VENUE.sequenceScope,
    snapshotOnly,
    skip,
    subscriptions,
    async start(subs, opts = {}) {
      const markets = [...new Set(subs.map((s) => s.market))].map((market) => ({ market, symbols: subs.filter((s) => s.market === market).map((s) => s.symbol) }));
      const sim = await startOkxSimulator({ markets, seed: 7, checksums: true, initialSnapshot });
      const config = okxConfig(sim, subs);
      // connectHoldMs: the backoff cases drive the adapter's clock ahead of real time, so its connect budget (3 a second)
      // can let out a connect the simulator's real-time limit refuses (429): the 10 s hold after that refusal was
      // 10 of the ~12 s such a case took (now and then: books5's reconnect backoff, one run in two). 50 ms here.
      const adapter = new OkxAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, resyncBackoffBaseMs: 20, connectHoldMs: { 429: 50 }, ...opts });
      return {
        adapter,
        step: (n) => sim.step(n),
        instrumentsAvailable: (ok) => sim.setInstrumentsAvailable(ok),
        instrumentCachePath: config.instrumentCachePath,
        inject: (fault, index) => (fault === "stall" ? sim.inject("stall", undefined, { stallMs: 1500 }) : sim.inject(fault, index === undefined ? undefined : subs[index]!.symbol)),
        restFault: (kind, index) => sim.restFault(kind, subs[index]!.symbol),
        restFaultsPending: () => sim.restFaultsPending(),
        corruptChecksum: (index) => sim.inject("checksum", subs[index]!.symbol),
        expected: (index, instrument) => expectedBook(sim, subs[index]!, instrument),
        async stop() {
          await adapter.stop();
          await sim.stop();
        },
      };
    },
  };
}

export const BOOKS: Subscription[] = [
  { market: "spot", symbol: "BTC-USDT", depth: 400 },
  { market: "linear", symbol: "ETH-USDT-SWAP", depth: 400 },
  { market: "inverse", symbol: "BTC-USD-SWAP", depth: 400 },
];
