/**
 * A grouped channel (`book.X.none.N.100ms`, whole books) whose venue rebuilt the book with lower ids (rev34): before,
 * every whole book below the live one was ignored as a duplicate and, since rev28, no sign of life, so the book stayed
 * LIVE with its old levels until its channel went stale (120 s; 600 s for options). Now a whole book below the live
 * one that no subscribe asked for is a venue reset, as a snapshot is: the book resyncs at once and is resubscribed.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { until } from "../planned-fallback-harness.ts";
import { equalsSim, startAdapter } from "./helpers.ts";

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

describe("deribit: a grouped channel's venue reset", { timeout: 20_000 }, () => {
  test("a whole book below the live one that no subscribe asked for resyncs the book at once (venue_reset); the venue's book again after", async () => {
    const subs: Subscription[] = [
      { market: "inverse", symbol: "BTC-PERPETUAL", depth: 10 },
      { market: "inverse", symbol: "ETH-PERPETUAL", depth: 10 },
    ];
    // Stale only long after the test (the default 120 s): before, the frozen book stayed LIVE that long.
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs, {}, { seed: 9 }, 10);
    const equal = (i: number) => equalsSim(sim, sink, subs, instruments, i);
    adapter.start(sink);
    sim.step(2);
    await until(() => equal(0) && equal(1), "both grouped books live");
    const before = adapter.stats();
    sim.inject("reset_low", { market: "inverse", symbol: "BTC-PERPETUAL" });
    // The rebuilt book (ids far below) has come when it is counted, as a duplicate (before) or a venue reset.
    await until(() => adapter.stats().duplicates! + adapter.stats().venueResets! > before.duplicates! + before.venueResets!, "the rebuilt book received");
    // Before: a duplicate, the book LIVE with the levels of before the reset (and every later book ignored too).
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    expect(adapter.stats().venueResets).toBe(1);
    expect(adapter.topicInfo(1).state).toBe("live");
    sim.step(2);
    await until(() => equal(0) && equal(1), "BTC resubscribed: the venue's rebuilt book; ETH untouched");
    expect(sink.invalid).toHaveLength(1);
  });
});
