/**
 * A make-before-break whose replacement fails before its snapshots came (rev34): its subscribe marked every channel
 * as waiting for the snapshot it asked for, the old socket was gone back to (its channels go on, no new subscribe),
 * and the marks stayed. The next venue reset on the old socket (a snapshot below the live book, not asked for) was
 * then taken for that answer and ignored, with every change after it: the book LIVE with its old levels until the
 * channel went stale. Now going back to the old socket clears the marks of the channels it serves.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { DeribitSim } from "../../../src/sim/deribit-sim.ts";
import { startDeribit, until, type PlannedRun } from "../planned-fallback-harness.ts";
import type { WsProxy } from "../ws-proxy.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

describe("deribit: a failed replacement's subscribe marks", { timeout: 30_000 }, () => {
  test("after going back to the old socket, a venue reset on it resyncs the book (not taken for the failed replacement's answer)", async () => {
    let sim: DeribitSim | null = null;
    // Link 1 (the replacement) delivers nothing: no ack, no snapshot, no test_request; it fails and the old socket
    // is gone back to. The next attempt waits a minute (reconnectBaseMs), well after the test.
    const prepare = (p: WsProxy) => p.byIndex.set(1, { rewriteDown: () => null });
    const run = await startDeribit(["BTC-PERPETUAL", "ETH-PERPETUAL"], 800, { prepare, onSim: (s) => (sim = s), adapter: { reconnectBaseMs: 60_000, reconnectMaxMs: 120_000 } });
    runs.push(run);
    run.step(1);
    await until(() => run.equal(0) && run.equal(1), "both books live");
    await until(() => (run.adapter.stats().plannedReconnectFailures ?? 0) >= 1, "the replacement failed, the old socket gone back to");
    expect(run.proxy.links[0]!.closed).toBe(false);
    expect(run.sink.invalid).toEqual([]);
    const before = run.adapter.stats();
    sim!.inject("reset_low", { market: "inverse", symbol: "BTC-PERPETUAL" });
    await until(() => run.adapter.stats().olderSnapshots! + run.adapter.stats().venueResets! > before.olderSnapshots! + before.venueResets!, "the reset snapshot received");
    // Before: taken for the failed replacement's answer (olderSnapshots), the book LIVE with its old levels.
    expect(run.sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    run.step(2);
    await until(() => run.equal(0) && run.equal(1), "BTC resubscribed on the old socket: the venue's rebuilt book");
  });
});
