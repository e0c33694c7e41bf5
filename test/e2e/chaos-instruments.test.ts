/**
 * Instrument changes while running, under chaos (test/support/chaos-bybit.ts `instruments`): the Bybit simulator →
 * Feeder → multicast on 127.0.0.1 → FeedSubscriber, with tick and lot changes both ways (finer and coarser: the
 * simulator re-prices the book; u restarts at 1 and the adapter re-checks the instrument), a delisting and
 * relisting (a publisher restart meanwhile leaves the symbol out; it joins again through LateInstruments), and
 * linear SOLUSDT listed only 0.3–2.5 s after start (a late join). With Bybit's other faults and the feed's. The
 * subscriber must never show a book usable in the wrong units: the check parses the venue's book at the exponents
 * the subscriber's book has, so old mantissas under new exponents (or the reverse) differ. OKX's announced changes
 * (`upcChg`) run in chaos-okx.test.ts.
 *
 * More seeds: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS / CHAOS_VERBOSE as for every chaos test.
 */
import { describe, expect, test } from "vitest";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { bybitVenue } from "../support/chaos-bybit.ts";
import { uniqueDestination, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] },
  { market: "spot", depth: 200, symbols: ["BTCUSDT"] },
];

describe("instrument changes: randomized fault schedules with tick/lot changes, delistings and a late symbol", () => {
  for (const seed of chaosSeeds([1001, 1002])) {
    test(`seed ${seed}: every usable book equals the venue's in its units; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(96);
      const venue = await bybitVenue(seed, MARKETS, { instruments: { lateSymbol: "linear:SOLUSDT" } });
      const r = await runChaos(venue, { seed, ops: chaosOps(150), ...dest, faultRate: 0.3 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} exponents ${JSON.stringify([...r.finalExponents])}`);
      expectCleanRun(r);
      // The books ended in the venue's units as they are now.
      for (const t of venue.topics) expect(r.finalExponents.get(t.id), `${t.label}, seed ${seed}: ${r.schedule.join(" ")}`).toEqual(venue.exponentsNow!(t.id));
    });
  }
});
