/**
 * Workers, randomized fault schedules end to end (test/support/chaos.ts with `workers: 2`): the Bybit simulator → a
 * Supervisor running the pipeline on two Bun Workers (each its own connections, builders and publisher source, as
 * `feeder run` with workers = 2) → multicast on 127.0.0.1 → a relay in the test applying the datagram faults →
 * FeedSubscriber. Besides Bybit's faults and the feed's (publisher restart = the whole supervisor, subscriber
 * restart, datagram loss, reordering, corruption, replay, garbage), `workerKill` terminates one worker as a crash
 * would; the supervisor restarts it while the other keeps publishing. The odd seed also runs retransmission (each
 * worker's own request server). Every usable book must equal the simulator's at its u.
 *
 * The share of a symbol is fixed by its instrument id (app/feeder.ts inWorkerShare): books never move between
 * workers, a restarted worker takes the same share.
 *
 * More seeds: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS / CHAOS_VERBOSE as for every chaos test.
 */
import { describe, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { parseFixed } from "../../src/core/fixed.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { bybitVenue } from "../support/chaos-bybit.ts";
import { workersPublisher } from "../support/chaos-publishers.ts";
import { levelsOfView, sameLevels, uniqueDestination, untilSubscriber, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] },
  { market: "spot", depth: 200, symbols: ["BTCUSDT"] },
];
const shareOf = (market: Markets[number], symbol: string) => (inWorkerShare("bybit", { market: market.market, symbol, depth: market.depth }, 0, 2) ? 0 : 1);

describe("workers = 2: randomized fault schedules, simulator → workers → multicast → subscriber", () => {
  test("the symbols are split over both workers", () => {
    expect(new Set(MARKETS.flatMap((m) => m.symbols.map((s) => shareOf(m, s))))).toEqual(new Set([0, 1]));
  });

  for (const seed of chaosSeeds([701, 702])) {
    const retransmit = seed % 2 === 1;
    test(`seed ${seed}${retransmit ? " (with retransmission)" : ""}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 150_000 }, async () => {
      const dest = uniqueDestination(92);
      const r = await runChaos(await bybitVenue(seed, MARKETS), { seed, ops: chaosOps(120), ...dest, workers: 2, retransmit, timeBudgetMs: 130_000 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} retransmit ${r.subscriberCounters.retransmitRecovered}/${r.subscriberCounters.retransmitRequests}`);
      expectCleanRun(r);
    });
  }
});

describe("workers = 2: a worker that dies", () => {
  test("the other worker's books stay usable and equal to the venue's while it is down and restarted; its own are shown unusable", { timeout: 60_000 }, async () => {
    const venue = await bybitVenue(703, MARKETS);
    const { group, port } = uniqueDestination(93);
    const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    await sub.start();
    const publisher = workersPublisher(venue.feederConfig!({ group, port }, 2));
    const byWorker = (w: number) => venue.topics.filter((t) => MARKETS.some((m) => m.symbols.some((s) => t.label === `${m.market}:${s}` && shareOf(m, s) === w)));
    // Usable, at the venue's sequence, with the venue's levels.
    const sameAsVenue = (topics: typeof venue.topics) =>
      topics.every((t) => {
        const b = sub.books.get(t.id);
        const now = t.now();
        if (!b?.usable || b.venueSeq !== now.seq) return false;
        const side = (m: Map<string, string>, dir: number) =>
          [...m].map(([p, q]) => [parseFixed(p, b.instrument.priceExp), parseFixed(q, b.instrument.qtyExp)] as [number, number]).sort((x, y) => dir * (y[0] - x[0]));
        return sameLevels(levelsOfView(b), { bids: side(now.bids, 1), asks: side(now.asks, -1) });
      });
    try {
      await publisher.start();
      await untilSubscriber(sub, () => sameAsVenue(venue.topics), "every book usable", 30_000, () => venue.step(1));
      for (const dead of [1, 0]) {
        const others = byWorker(1 - dead);
        const its = byWorker(dead);
        expect(others.length).toBeGreaterThan(0);
        // From here until the dead worker is back, no event may show an other worker's book unusable; each of the dead
        // worker's books must be shown unusable (it sends no END: its streams stale after 3 heartbeat intervals, or its
        // successor's new session supersedes them, whichever comes first) before it is usable again.
        const seenUnusable: string[] = [];
        const deadUnusable = new Set<string>();
        const watch = () => {
          others.forEach((t) => sub.books.get(t.id)?.usable === false && seenUnusable.push(t.label));
          its.forEach((t) => sub.books.get(t.id)?.usable === false && deadUnusable.add(t.label));
        };
        for (const ev of ["update", "status", "gap", "session", "stale", "supersede", "exponent"] as const) sub.on(ev, watch);
        const restarts = publisher.supervisor!.restarts;
        publisher.supervisor!.kill(dead);
        for (let i = 0; i < 20; i++) {
          venue.step(1);
          await untilSubscriber(sub, () => sameAsVenue(others), `worker ${1 - dead}'s books after step ${i} while worker ${dead} is down or restarting`);
        }
        await untilSubscriber(sub, () => publisher.supervisor!.restarts === restarts + 1 && sameAsVenue(venue.topics), `worker ${dead} restarted and its books back`, 30_000, () => venue.step(1));
        for (const ev of ["update", "status", "gap", "session", "stale", "supersede", "exponent"] as const) sub.off(ev, watch);
        expect(seenUnusable, `worker ${dead} killed`).toEqual([]);
        expect([...deadUnusable].sort(), `worker ${dead}'s own books while it was gone`).toEqual(its.map((t) => t.label).sort());
      }
    } finally {
      await publisher.stop();
      await sub.stop();
    }
  });
});
