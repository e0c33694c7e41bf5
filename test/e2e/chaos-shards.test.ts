/**
 * Retransmission with workers and shards, randomized fault schedules end to end (test/support/chaos.ts with
 * `shards: 2, workers: 2`): the Bybit simulator → two shards (`shard = "0/2"`, `"1/2"`, as two feeder processes of a
 * scale-out), each a Supervisor running the pipeline on two Bun Workers with its own publish.source_id range (0 and
 * 3: sources 1, 2 and 4, 5) and a retransmission request server per worker → one group on 127.0.0.1 → a relay
 * applying the datagram faults → FeedSubscriber, which asks each source's server for what it lost (one port base:
 * source s on base + s; a proxy per source counts the answers). Faults: Bybit's, the feed's (publisher restart =
 * both shards, subscriber restart, datagram loss, reordering, corruption, replay, garbage), workerKill (a worker of
 * either shard dies; its supervisor restarts it), shardRestart (one shard restarts while the other publishes), and on
 * the odd seed answers that misbehave (retransmitFaults: lost, cut, corrupted, late, stale, refused…). Every usable
 * book must equal the simulator's at its u; losses are repaired by retransmission where the answer is good and by
 * the refresh otherwise.
 *
 * More seeds: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS / CHAOS_VERBOSE as for every chaos test.
 */
import { describe, expect, test } from "vitest";
import { inShard, inWorkerShare } from "../../src/app/feeder.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { bybitVenue } from "../support/chaos-bybit.ts";
import { uniqueDestination, type Markets } from "./harness.ts";

/** One book per worker of each shard (by instrument id: shard = id mod 2, worker = (id >>> 12) mod 2). */
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "SOLUSDT", "XRPUSDT"] },
  { market: "spot", depth: 200, symbols: ["XRPUSDT"] },
];
const placeOf = (m: Markets[number], symbol: string) => {
  const sub = { market: m.market, symbol, depth: m.depth };
  return `${inShard("bybit", sub, 0, 2) ? 0 : 1}/${inWorkerShare("bybit", sub, 0, 2) ? 0 : 1}`;
};

/** Losses to repair and restarts to repair them across, more often than in the other runs. */
const WEIGHTS = { datagramLoss: 3, publisherRestart: 0.6, shardRestart: 1, workerKill: 2 };

describe("shards × workers with retransmission: randomized fault schedules", () => {
  test("every worker of both shards has a book", () => {
    expect(new Set(MARKETS.flatMap((m) => m.symbols.map((s) => placeOf(m, s))))).toEqual(new Set(["0/0", "0/1", "1/0", "1/1"]));
  });

  for (const seed of chaosSeeds([1201, 1202])) {
    const retransmitFaults = seed % 2 === 1;
    test(`seed ${seed}${retransmitFaults ? " (answers misbehave)" : ""}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 150_000 }, async () => {
      const dest = uniqueDestination(89);
      const r = await runChaos(await bybitVenue(seed, MARKETS), { seed, ops: chaosOps(120), ...dest, workers: 2, shards: 2, retransmit: true, retransmitFaults, faultRate: 0.3, faultWeights: WEIGHTS, timeBudgetMs: 130_000 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} retransmission ${JSON.stringify(r.retransmitTotals)} answered by source ${JSON.stringify(r.retransmitAnsweredBySource)} answers ${JSON.stringify(r.retransmitAnswers)}`);
      expectCleanRun(r);
      expect(r.retransmitTotals.recovered, "some losses repaired by retransmission").toBeGreaterThan(0);
    });
  }
});
