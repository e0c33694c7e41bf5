/**
 * Binance spot and USD-M, randomized fault schedules end to end (test/support/chaos.ts): the Binance simulator (two
 * symbols per market, every book state kept by update id) → the Binance adapter over a real WebSocket (diffs bridged
 * to REST depth snapshots) → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap, duplicate,
 * malformed frame, disconnect, stall, serverShutdown (planned reconnect), REST snapshots refused (429), banned (418),
 * failed (500) or too old to bridge; feed faults: publisher restart, subscriber restart, datagram loss, reordering,
 * corruption, replay, garbage. Every usable book must equal the simulator's book at its update id.
 *
 * The venue (simulator, faults, feeder) is test/support/chaos-binance.ts; instrument changes under chaos run in
 * chaos-binance-instruments.test.ts.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { describe, test } from "vitest";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { binanceVenue } from "../support/chaos-binance.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { uniqueDestination } from "./harness.ts";

describe("binance: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const market of ["spot", "linear"] as const) {
    for (const seed of chaosSeeds(market === "spot" ? [301] : [401])) {
      test(`${market}, seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
        const dest = uniqueDestination(market === "spot" ? 92 : 93);
        const r = await runChaos(await binanceVenue(seed, market), { seed, ops: chaosOps(150), ...dest });
        if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
        expectCleanRun(r);
      });
    }
  }
});
