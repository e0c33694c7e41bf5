/**
 * Retransmission under chaos (test/support/chaos.ts with `retransmitFaults`): the Bybit simulator → Feeder with
 * publish.retransmit → multicast on 127.0.0.1 → FeedSubscriber asking for lost ranges through a proxy that
 * misbehaves (test/support/chaos-retransmit.ts): answers lost, cut short, corrupted, duplicated, reordered, late
 * (after the subscriber fell back), preceded by stale retransmissions (earlier answers, live datagrams flagged
 * RETRANSMIT), replaced by a refusal, or forged (changed, CRC valid, signed with another key: the odd seed signs
 * the feed with an HMAC key). With Bybit's faults and the feed's (publisher and subscriber restarts: a subscriber
 * that joins late; datagram loss, reordering, corruption, replay, garbage). Every usable book must equal the
 * simulator's at its u; losses are repaired by retransmission where the answer is good and by the refresh otherwise.
 *
 * More seeds: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS / CHAOS_VERBOSE as for every chaos test.
 */
import { describe, expect, test } from "vitest";
import { chaosOps, chaosSeeds, describeRun, runChaos } from "../support/chaos.ts";
import { expectCleanRun } from "../support/chaos-venue.ts";
import { bybitVenue } from "../support/chaos-bybit.ts";
import { uniqueDestination } from "./harness.ts";

describe("retransmission: randomized fault schedules with a misbehaving retransmission server", () => {
  for (const seed of chaosSeeds([801, 802])) {
    const auth = seed % 2 === 1;
    test(`seed ${seed}${auth ? " (HMAC-signed feed)" : ""}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(94);
      const r = await runChaos(await bybitVenue(seed), { seed, ops: chaosOps(150), ...dest, retransmitFaults: true, auth });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} answers ${JSON.stringify(r.retransmitAnswers)} retransmission ${JSON.stringify(r.retransmitTotals)}`);
      expectCleanRun(r);
      expect(r.retransmitTotals.recovered, "some losses repaired by retransmission").toBeGreaterThan(0);
      expect(Object.keys(r.retransmitAnswers).length, "some answers mangled").toBeGreaterThan(0);
    });
  }
});
