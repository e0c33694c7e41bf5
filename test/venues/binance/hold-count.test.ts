/**
 * The Binance overlap-hold counters (src/venues/binance/overlap-hold.ts) when the held diffs reach the book through a
 * REST bridge: the replacement's diffs held for a stream being bridged are handed to the bridge when the old socket
 * closes, and the bridge (or, once it has completed, the chain rule) applies them. Each held diff is counted once in
 * `overlapHeld` and, when the book applies it, once in `overlapHeldApplied`; one the snapshot already has is not
 * applied. Before: a held diff applied through the bridge was never counted as applied (0 here). And a held diff
 * handed to a bridge that completes during the next planned reconnect, where it is ahead of the book and held again,
 * is not counted as held a second time (before: it was).
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { heldSnapshots, replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

/** A fetch whose depth requests wait while `on`, the snapshot taken when the test lets one go. */
function gatedSnapshots() {
  const g = { on: false, release: null as (() => void) | null };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (g.on && String(input).includes("/depth")) await new Promise<void>((r) => (g.release = r));
    return fetch(input, init);
  }) as typeof fetch;
  return { g, fetchFn };
}

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: held diffs applied through a bridge are counted once`, { timeout: 30_000 }, () => {
    test("four held, handed to the bridge at the old socket's close: the snapshot's own diff is not applied (spot) or bridges it (USD-M); the rest are", async () => {
      const { g, fetchFn } = gatedSnapshots();
      const { sim, proxy, adapter, sink } = await setup(stops, market, market === "spot" ? 81 : 82, fetchFn);
      g.on = true;
      sim.inject("gap");
      sim.step(2);
      await until(() => g.release !== null && adapter.topicInfo(0).bridging, "the bridge's snapshot requested (held)");
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.rewriteDown = (f) => (isDiff(f) ? null : f); // the old socket's diffs never arrive
      const s0 = adapter.stats();
      proxy.releaseUp(proxy.links[1]!);
      await until(() => adapter.stats().overlapHeld === s0.overlapHeld + 1, "the replacement's first diff (N) held for the bridge");
      g.on = false;
      const fetched = adapter.stats().snapshotsFetched;
      g.release!(); // the snapshot at N; the simulator's diff after it (N + 1) follows
      await until(() => adapter.stats().snapshotsFetched === fetched + 1 && adapter.stats().overlapHeld === s0.overlapHeld + 2, "the snapshot handed over, N + 1 held");
      sim.step(2);
      await until(() => adapter.stats().overlapHeld === s0.overlapHeld + 4, "N + 2 and N + 3 held");
      expect(adapter.stats().overlapHeldApplied).toBe(s0.overlapHeldApplied);
      proxy.closeClient(old); // the held diffs go to the bridge
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal");
      const s = adapter.stats();
      // Spot: N is in the snapshot (u ≤ lastUpdateId), N + 1 bridges it, N + 2 and N + 3 are live diffs. USD-M: N
      // bridges it (U ≤ lastUpdateId ≤ u). Main before the fix: 0 applied.
      expect(s.overlapHeld - s0.overlapHeld).toBe(4);
      expect(s.overlapHeldApplied - s0.overlapHeldApplied).toBe(market === "spot" ? 3 : 4);
      const metric = (name: string) => adapter.metrics().find((m) => m.name === name)?.value;
      expect([metric("overlap_held_total"), metric("overlap_held_applied_total")]).toEqual([s.overlapHeld, s.overlapHeldApplied]);
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(adapter.stats().overlapHeld).toBe(s.overlapHeld); // nothing held after the overlap
      expect(sink.mismatches).toEqual([]);
      expect([adapter.stats().gaps, adapter.stats().bridgesFailed, sink.invalid.length]).toEqual([1, 0, 1]);
    });
  });

  describe(`binance ${market}: a held diff held again during the next planned reconnect is counted once`, { timeout: 30_000 }, () => {
    test("held for the bridge, handed to it at the old socket's close, ahead of the book when the bridge completes during the next overlap", async () => {
      const snaps = heldSnapshots(); // taken when asked for, handed over when the test says
      const { sim, proxy, adapter, overlapOpen, receivedU } = await setup(stops, market, market === "spot" ? 83 : 84, snaps.fetchFn);
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over later)
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      await until(() => sim.diffsDue === 0 && receivedU() > snaps.held.snapshotU, "the diff after the snapshot buffered");
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "replacement 1's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.rewriteDown = (f) => (isDiff(f) ? null : f); // the old socket's diffs never arrive from here on
      sim.step(1); // lost: replacement 1 is not subscribed yet
      const [held0, applied0] = [adapter.stats().overlapHeld, adapter.stats().overlapHeldApplied];
      proxy.releaseUp(proxy.links[1]!);
      await until(() => adapter.stats().overlapHeld === held0 + 1, "replacement 1's first diff held for the bridge");
      sim.step(1);
      await until(() => adapter.stats().overlapHeld === held0 + 2, "its second held");
      const u2 = receivedU();
      proxy.closeClient(old); // both handed to the bridge, after the hole the lost diff left
      await until(() => old.closed && !overlapOpen(), "the old socket gone");
      // The next planned reconnect: replacement 2's acks pass, its diffs never arrive (nothing of its own is held).
      proxy.next = { rewriteDown: (f) => (isDiff(f) ? null : f) };
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 3 && overlapOpen() && proxy.links[2]!.fromClient.some((m) => m.includes("SUBSCRIBE")), "replacement 2 swapped in");
      // The simulator's diff after replacement 2's subscription, on replacement 1 (the old socket now): buffered, not held.
      await until(() => sim.diffsDue === 0 && receivedU() > u2, "the diff after replacement 2's subscription received");
      expect(adapter.stats().overlapHeld).toBe(held0 + 2);
      expect(adapter.topicInfo(0).bridging).toBe(true);
      const fetched = adapter.stats().snapshotsFetched;
      snaps.held.holding = false;
      snaps.held.release(); // the bridge completes; the two handed-over diffs and the one after them are ahead of the book
      await until(() => adapter.stats().snapshotsFetched === fetched + 1 && adapter.topicInfo(0).state === "live", "the bridge complete");
      // All three held (the gap before them may still be filled by replacement 2): the two handed over held again,
      // counted once; the third held for the first time. Main before the fix: held0 + 5 (the two counted again).
      const holding = (adapter as unknown as { overlap: { holding: number } }).overlap.holding;
      expect(holding).toBe(3);
      expect(adapter.stats().overlapHeld).toBe(held0 + 3);
      expect(adapter.stats().overlapHeldApplied).toBe(applied0);
    });
  });
}
