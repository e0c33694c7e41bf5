/**
 * Third read of the Binance overlap hold (src/venues/binance/overlap-hold.ts), over the simulator and a WebSocket
 * proxy (../ws-proxy.ts) that holds one socket's frames:
 * - a gap neither socket can fill (the venue lost a diff, so both sockets deliver the diff after it ahead of the
 *   book): a break as soon as the second socket's copy comes, not a book LIVE but stuck until the ack deadline;
 * - a repeat of a held diff from the same socket when HOLD_MAX diffs are held is not one more held (no overflow).
 * The stream that only the replacement carries is in hold-review-late.test.ts.
 */
import { afterEach, describe, expect, test } from "vitest";
import { HOLD_MAX } from "../../../src/venues/binance/overlap-hold.ts";
import { until } from "../planned-fallback-harness.ts";
import { replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: overlap hold, third review`, { timeout: 30_000 }, () => {
    test("a diff lost by the venue during the overlap: the second socket's copy of the diff after it is a break at once; the book resyncs and comes back equal", async () => {
      const { sim, proxy, adapter, sink, frames } = await setup(stops, market, market === "spot" ? 51 : 52);
      replacementDown(proxy, false);
      proxy.next = { ...proxy.next!, holdDown: true }; // the replacement's path is the slower one
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldDown ?? []).some((f) => f.includes('"result"')), "the replacement's SUBSCRIBE acked (held)");
      const slow = proxy.links[1]!;
      // The simulator sends one diff after a subscription (to both sockets): it chains; wait for it to be sent.
      await until(() => slow.heldDown!.some(isDiff), "the diff after the subscription sent");
      await until(() => sink.equalNow(), "the book equal through the old socket");
      const before = frames();
      sim.inject("gap"); // the next event is lost on both sockets
      sim.step(1);
      await until(() => frames() >= before + 1 && adapter.stats().overlapHeld === 1, "the old socket's diff after the lost one held (the replacement may still fill the gap)");
      expect(adapter.stats().gaps).toBe(0);
      const slowDiffs = slow.heldDown!.filter(isDiff).length;
      const f0 = frames();
      proxy.releaseDown(slow); // the replacement's diffs: its copy of the same diff, also past the gap
      await until(() => frames() >= f0 + slowDiffs, "the replacement's diffs received");
      expect(adapter.stats().gaps).toBe(1); // no socket can fill the gap: not held until the ack deadline
      expect(proxy.links[0]!.closed).toBe(false); // still during the overlap
      sim.step(2);
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal again");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal after 3 more diffs");
      expect(sink.invalid.length).toBe(1);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.overlapHeldApplied]).toEqual([1, 1, 0]);
    });

    test(`HOLD_MAX (${HOLD_MAX}) diffs held, then the same socket repeats the last: a repeat, not an overflow; the book stays LIVE and equal`, async () => {
      const { sim, proxy, adapter, sink, frames } = await setup(stops, market, market === "spot" ? 53 : 54);
      const down = replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.heldDown = []; // the old socket's path is slower from now on
      sim.step(2); // only the old socket is subscribed: its two diffs wait in the proxy
      proxy.releaseUp(proxy.links[1]!);
      // The simulator sends one diff after a subscription: to both sockets, the replacement's ahead of the book.
      await until(() => down.filter(isDiff).length === 1 && adapter.stats().overlapHeld === 1, "the replacement's first diff held");
      sim.step(HOLD_MAX - 1);
      await until(() => adapter.stats().overlapHeld === HOLD_MAX, `${HOLD_MAX} diffs held`);
      const f0 = frames();
      const dups = adapter.stats().duplicates;
      sim.inject("duplicate"); // the last frame again, on both sockets (the old socket's copy waits in the proxy)
      await until(() => frames() >= f0 + 1, "the replacement's repeat received");
      expect([adapter.stats().gaps, adapter.stats().overlapHeld, adapter.stats().duplicates]).toEqual([0, HOLD_MAX, dups]);
      expect(adapter.topicInfo(0).state).toBe("live");
      proxy.releaseDown(old); // the old socket's diffs fill the gap
      await until(() => sink.equalNow(), "the book caught up through the old socket's diffs and the held ones");
      await until(() => old.closed, "the old socket closed once the replacement's stream joined the book");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid).toEqual([]);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.overlapHeldApplied]).toEqual([0, 0, HOLD_MAX]);
    });
  });
}
