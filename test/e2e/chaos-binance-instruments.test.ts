/**
 * Binance instrument changes while running, under chaos (test/support/chaos-binance.ts `instruments`): the Binance
 * simulator → the adapter reloading each market's exchangeInfo every 300 ms (venues.binance.instrument_reload_ms)
 * → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Tick and step changes both ways (ten times coarser, which no
 * price reveals, only the reload; ten times finer, which a misfitting number asks a reload for; the simulator
 * re-prices the book and its update ids go on), a symbol halted or delisted (status BREAK: the stream silent, REST
 * depth refused) and listed again, exchangeInfo down for a while, with Binance's other faults and the feed's. The
 * subscriber must never show a book usable in the wrong units (the check parses the venue's book at the exponents
 * the subscriber's book has), and at the end every book is in the units the venue lists. Spot (numbers padded to 8
 * decimals) on the odd seed, USD-M on the even one.
 *
 * More seeds: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS / CHAOS_VERBOSE as for every chaos test.
 */
import { describe, expect, test } from "vitest";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { binanceVenue } from "../support/chaos-binance.ts";
import { uniqueDestination } from "./harness.ts";

describe("binance instrument reload: randomized fault schedules with tick/step changes and a delisting", () => {
  for (const seed of chaosSeeds([1101, 1102])) {
    const market = seed % 2 === 1 ? "spot" : "linear";
    test(`seed ${seed} (${market}): every usable book equals the venue's in its units; all LIVE and equal at the end, in the listed units`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(88);
      const venue = await binanceVenue(seed, market, { instruments: { reloadMs: 300 } });
      const r = await runChaos(venue, { seed, ops: chaosOps(150), ...dest, faultRate: 0.3 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} changes ${JSON.stringify(venue.instrumentChanges)} exponents ${JSON.stringify([...r.finalExponents])}`);
      expectCleanRun(r);
      // The books ended in the venue's units as they are now.
      for (const t of venue.topics) expect(r.finalExponents.get(t.id), `${t.label}, seed ${seed}: ${r.schedule.join(" ")}`).toEqual(venue.exponentsNow!(t.id));
    });
  }
});
