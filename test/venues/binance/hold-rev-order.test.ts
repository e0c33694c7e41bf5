/**
 * Second review of the Binance overlap hold (src/venues/binance/overlap-hold.ts): the order of a bridge's buffer.
 * A stream bridging (its snapshot late) during a planned reconnect's overlap: the replacement's diffs wait in the hold,
 * at most HOLD_MAX; the ones after go to the bridge's buffer as they come. When the old socket closes, the held ones
 * are handed to the bridge too (overlapOver): they must take their place by update id, not go after the later diffs
 * already buffered, or the bridge delivers a diff past the gap before the ones that fill it (a break, one more snapshot).
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger } from "../../../src/core/log.ts";
import { HOLD_MAX } from "../../../src/venues/binance/overlap-hold.ts";
import { until } from "../planned-fallback-harness.ts";
import { heldSnapshots, replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: more than HOLD_MAX diffs of the replacement wait for a bridge`, { timeout: 30_000 }, () => {
    test("the old socket closes: the held diffs go to the bridge in update-id order; it completes without a break", async () => {
      const snaps = heldSnapshots(); // taken when asked for, handed over when the test says
      const lines: string[] = [];
      const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
      const { sim, proxy, adapter, sink, frames, receivedU } = await setup(stops, market, market === "spot" ? 81 : 82, snaps.fetchFn, { log });
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over later)
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      // The simulator's diff right after the snapshot reaches the bridge through the old socket: it bridges.
      // Not "one more frame": a diff the snapshot includes may still have been on its way when it was asked for.
      await until(() => receivedU() > snaps.held.snapshotU, "the diff after the snapshot buffered");
      const old = proxy.links[0]!;
      old.rewriteDown = (f) => (isDiff(f) ? null : f); // the old socket's later diffs never arrive
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const held0 = adapter.stats().overlapHeld;
      const f0 = frames();
      proxy.releaseUp(proxy.links[1]!);
      await until(() => frames() >= f0 + 1, "the replacement's first diff");
      sim.step(HOLD_MAX + 20); // the replacement's: HOLD_MAX held, the rest buffered by the bridge
      await until(() => frames() >= f0 + 1 + HOLD_MAX + 20, "the replacement's diffs received");
      expect(adapter.stats().overlapHeld).toBe(held0 + HOLD_MAX);
      proxy.closeClient(old); // the venue closes the old socket: the replacement carries on alone
      await until(() => lines.some((l) => l.includes("old socket closed during the planned reconnect")), "the adapter saw the old socket close");
      snaps.held.holding = false;
      snaps.held.release(); // the snapshot: before the replacement's first diff, bridged by the old socket's diff after it
      // Main before the fix: the bridge delivered a diff past the held ones before them: a second break.
      await until(() => (adapter.topicInfo(0).state === "live" && sink.equalNow()) || adapter.stats().gaps > 1, "the book live and equal, or a break");
      expect(adapter.stats().gaps, lines.join("\n")).toBe(1); // the log names the second break if there is one
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.bridgesFailed, s.snapshotsFetched]).toEqual([1, 1, 0, 2]); // the injected gap only
      expect(sink.invalid.length).toBe(1);
    });
  });
}

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: the overlap hold's bytes stay within its share of the budget`, { timeout: 30_000 }, () => {
    // The hold's copies count against a quarter of maxBufferedBytes (rest_bridge_buffer_bytes; options.ts
    // splitBufferBudget). Before, only HOLD_MAX a stream bounded them (uncounted): here all 40 diffs were held.
    test("40 diffs of the replacement for a bridged book: those that do not fit go to the bridge; it completes without a break", async () => {
      const maxBufferedBytes = 64 * 1024;
      const snaps = heldSnapshots();
      const { sim, proxy, adapter, sink, frames, receivedU } = await setup(stops, market, market === "spot" ? 81 : 82, snaps.fetchFn, { maxBufferedBytes });
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2);
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      await until(() => receivedU() > snaps.held.snapshotU, "the diff after the snapshot buffered");
      const old = proxy.links[0]!;
      old.rewriteDown = (f) => (isDiff(f) ? null : f);
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const held0 = adapter.stats().overlapHeld;
      const f0 = frames();
      proxy.releaseUp(proxy.links[1]!);
      await until(() => frames() >= f0 + 1, "the replacement's first diff");
      let peak = 0;
      for (let i = 0; i < 40; i++) {
        sim.step(1);
        await until(() => frames() >= f0 + 2 + i, "the replacement's diff received");
        peak = Math.max(peak, adapter.stats().overlapHeldBytes!);
      }
      const s = adapter.stats();
      expect(s.overlapHeld - held0).toBeLessThan(40);
      expect(peak).toBeLessThanOrEqual(maxBufferedBytes / 4);
      expect(s.overlapHoldOverBudget).toBeGreaterThan(0);
      proxy.closeClient(old);
      snaps.held.holding = false;
      snaps.held.release();
      await until(() => (adapter.topicInfo(0).state === "live" && sink.equalNow()) || adapter.stats().gaps > 1, "the book live and equal, or a break");
      expect(adapter.stats().gaps).toBe(1);
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.mismatches).toEqual([]);
      expect(adapter.stats().overlapHeldBytes).toBe(0);
    });
  });
}
