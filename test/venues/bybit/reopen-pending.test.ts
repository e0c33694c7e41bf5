/**
 * A book closed while its subscribe is out (retire-pending.test.ts) and listed as trading again before that subscribe
 * is answered: the reopen subscribed the topic a second time. The venue takes one and refuses the other as already
 * subscribed; on the option socket that refusal is a failTopics entry with no reason, which halted the book as
 * rejected for good (SUBSCRIBE_REJECTED, never asked for again); on linear it was counted and resynced. Now the reopen
 * sends no second subscribe while the first is out: its ack makes the topic active and its snapshot the book LIVE.
 * The order is forced: the first subscribe is held by the test until the reopen has happened.
 */
import { afterEach, describe, expect, test } from "vitest";
import { SUB_PENDING } from "../../../src/venues/common/connection.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";
import { closeWhileSubscribePending } from "./closed-while-pending.ts";
import { allResolved, subsOf, venueConfig, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const W = 20_000;

describe("a closed book reopened while its subscribe is out", { timeout: 90_000 }, () => {
  for (const [market, depth, symbols] of [
    ["linear", 50, ["BTCUSDT", "ETHUSDT"]],
    ["option", 25, ["BTC-27MAR26-70000-P-USDT", "BTC-27MAR26-80000-C-USDT"]],
  ] as const) {
    test(`${market}: no second subscribe; the first one's ack brings the book LIVE`, async () => {
      const { sim, adapter, a, send, held, subscribesOfTopic } = await closeWhileSubscribePending({ market, depth, symbols, seed: 6, holdFirstOnly: true, waitMs: W, cleanups });

      // Listed as trading again while that subscribe is still out: the reopen asks for nothing more.
      sim.setStatus(market, symbols[0], "Trading");
      await waitFor(() => adapter.stats().instrumentReopens === 1, "the book reopened", W);
      expect(a.topics[0]!.sub).toBe(SUB_PENDING);
      expect(subscribesOfTopic()).toBe(1);

      send(held.shift()!); // the venue takes the first subscribe and acks it
      await waitFor(() => adapter.topicInfo(0).state === "live", "live again on the first subscribe's snapshot", W);
      expect(adapter.topicInfo(1).state).toBe("live");
      // Nothing refused on the way: three pings later, still live, one subscribe in all.
      const pings = sim.stats.pings;
      await waitFor(() => sim.stats.pings >= pings + 3, "three more pings", W);
      expect(adapter.topicInfo(0).state).toBe("live");
      expect(subscribesOfTopic()).toBe(1);
      expect(adapter.stats()).toMatchObject({ subscribeRejected: 0, alreadySubscribed: 0 });
    });
  }
});

describe("record → replay: a closed book reopened while its subscribe is out", { timeout: 90_000 }, () => {
  test("linear: replay has the book LIVE again on the first subscribe's snapshot, at live's record", async () => {
    // Live's reopen wrote no request (its first subscribe still out), so replay, which brings a closed book back at
    // its recorded subscribe, kept it HALTED for good where live had it LIVE (until s-repleft).
    const markets = [{ market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const rec = recordingTaps();
    const { sim, adapter, send, held } = await closeWhileSubscribePending({ ...markets[0]!, seed: 6, holdFirstOnly: true, waitMs: W, cleanups, taps: rec.taps, tee: rec.sink });
    sim.setStatus("linear", "BTCUSDT", "Trading");
    await waitFor(() => adapter.stats().instrumentReopens === 1, "the book reopened", W);
    send(held.shift()!);
    await waitFor(() => adapter.topicInfo(0).state === "live", "live again on the first subscribe's snapshot", W);

    const replay = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, recheckInstruments: false });
    cleanups.push(() => replay.stop());
    await replay.loadInstruments().then((r) => allResolved(r));
    expect(rec.records.filter((r) => r.url === "ws:reopened").map((r) => r.body)).toEqual(["orderbook.50.BTCUSDT"]);
    const replayed = replayer(replay, rec.records).feed();
    expect(replay.topicInfo(0).state).toBe("live");
    expect(replayed).toEqual(rec.events);
  });
});
