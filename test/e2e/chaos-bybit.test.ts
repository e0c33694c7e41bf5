/**
 * Bybit, randomized fault schedules end to end (test/support/chaos.ts): the Bybit simulator (three books: linear
 * BTCUSDT and ETHUSDT at depth 50, spot BTCUSDT at depth 200) → the Bybit adapter over a real WebSocket → Feeder →
 * multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap, duplicate, malformed frame, disconnect (one connection
 * or all), stall (one symbol or the whole server, shorter and longer than the pong timeout), reset (u restarts at 1
 * with a snapshot), a tick change (REST shows the new tick, u restarts at 1), a crossed book (a bid at the best ask),
 * REST instruments down; feed faults: publisher restart, subscriber restart, datagram loss, reordering, corruption,
 * replay, garbage. Every usable book must equal the simulator's at its u.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { describe, test } from "vitest";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { bybitVenue } from "../support/chaos-bybit.ts";
import { uniqueDestination } from "./harness.ts";

describe("bybit: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const seed of chaosSeeds([101, 102])) {
    test(`seed ${seed}${seed % 2 === 0 ? " (with retransmission)" : ""}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(90);
      // Every other seed with retransmission: lost datagrams asked for again before the refresh repairs them.
      const r = await runChaos(await bybitVenue(seed), { seed, ops: chaosOps(150), ...dest, retransmit: seed % 2 === 0 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} retransmit ${r.subscriberCounters.retransmitRecovered}/${r.subscriberCounters.retransmitRequests}`);
      expectCleanRun(r);
    });
  }
});
