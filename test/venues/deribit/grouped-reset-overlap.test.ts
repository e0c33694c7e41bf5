/**
 * A grouped channel's venue reset (whole books with lower ids) during a planned reconnect's overlap: every whole book
 * below the live one was ignored as the lagging socket's while the old socket was open, even one from the socket
 * that had delivered the book's change_id (TCP is ordered: that socket went back, a reset), so the book stayed LIVE
 * with its old levels for the rest of the overlap. Now only the other socket's are ignored. The overlap is the
 * connection's state (an old socket still open) set on a live adapter; its books come on the one real socket.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { until } from "../planned-fallback-harness.ts";
import { equalsSim, startAdapter } from "./helpers.ts";

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

describe("deribit: a grouped channel's reset during an overlap", { timeout: 20_000 }, () => {
  test("a whole book below the live one from the socket that delivered it resyncs the book (venue_reset)", async () => {
    const subs: Subscription[] = [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 10 }];
    const { sim, adapter, sink, instruments } = await startAdapter(running, subs, {}, { seed: 9 }, 10);
    adapter.start(sink);
    sim.step(2);
    await until(() => equalsSim(sim, sink, subs, instruments, 0), "the grouped book live");
    const conn = (adapter as unknown as { conns: VenueConnection[] }).conns[0]!;
    conn.retiringWs = {} as WebSocket; // an old socket still open: a planned reconnect's overlap
    try {
      const before = adapter.stats();
      sim.inject("reset_low", { market: "inverse", symbol: "BTC-PERPETUAL" });
      await until(() => adapter.stats().duplicates! + adapter.stats().venueResets! > before.duplicates! + before.venueResets!, "the rebuilt book received");
      // Before: ignored as the lagging socket's (duplicates), the book LIVE with the levels of before the reset.
      expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      expect(adapter.stats().venueResets).toBe(before.venueResets! + 1);
    } finally {
      conn.retiringWs = null;
    }
    sim.step(2);
    await until(() => equalsSim(sim, sink, subs, instruments, 0), "resubscribed: the venue's rebuilt book");
  });
});
