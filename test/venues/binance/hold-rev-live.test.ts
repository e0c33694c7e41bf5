/**
 * Second review of the Binance overlap hold (src/venues/binance/overlap-hold.ts): the replacement's diffs held for a
 * bridge are handed to it when the old socket closes (overlapOver). The snapshot came while the old socket's diffs
 * were all in it, so the first held diff past it completes the bridge: the book is live from then on, and the held
 * diffs after that one are live diffs (the chain rule), not the start of a new bridge (a second snapshot asked for,
 * the diffs buffered instead of applied, the next diff a break).
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: the bridge completes from the first of the replacement's held diffs`, { timeout: 30_000 }, () => {
    test("the held diffs after it apply to the live book: no second snapshot, no break", async () => {
      // While the gate is on, a depth request waits; the snapshot is taken when the test lets it go.
      let gateOn = false;
      let release: (() => void) | null = null;
      let depthRequests = 0;
      const gated = (async (input: string | URL | Request, init?: RequestInit) => {
        if (String(input).includes("/depth")) depthRequests++;
        if (gateOn && String(input).includes("/depth")) await new Promise<void>((r) => (release = r));
        return fetch(input, init);
      }) as typeof fetch;
      const { sim, proxy, adapter, sink } = await setup(stops, market, market === "spot" ? 95 : 96, gated);
      const requests0 = depthRequests;
      gateOn = true;
      sim.inject("gap");
      sim.step(2);
      await until(() => release !== null && adapter.topicInfo(0).bridging, "the bridge's snapshot requested (held)");
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.rewriteDown = (f) => (isDiff(f) ? null : f); // the old socket's diffs never arrive
      const held0 = adapter.stats().overlapHeld;
      proxy.releaseUp(proxy.links[1]!);
      await until(() => adapter.stats().overlapHeld === held0 + 1, "the replacement's first diff held for the bridge");
      gateOn = false;
      const fetched = adapter.stats().snapshotsFetched;
      (release as unknown as () => void)(); // the snapshot, at the simulator's id now; the diff right after it follows
      await until(() => adapter.stats().snapshotsFetched === fetched + 1 && adapter.stats().overlapHeld === held0 + 2, "the snapshot handed over, one more diff held");
      sim.step(2);
      await until(() => adapter.stats().overlapHeld === held0 + 4, "two more held");
      expect(adapter.topicInfo(0).state).not.toBe("live"); // the bridge waits: the old socket's diffs are all in the snapshot
      proxy.closeClient(old); // the venue closes the old socket: the held diffs go to the bridge
      // Main before the fix: live from the first, the others buffered by a new bridge (a second snapshot asked for).
      await until(() => adapter.topicInfo(0).state === "live" && (sink.equalNow() || adapter.topicInfo(0).bridging), "the book live (and equal, or bridging again)");
      expect(adapter.topicInfo(0).bridging).toBe(false);
      expect(sink.equalNow()).toBe(true);
      sim.step(3);
      await until(() => sink.equalNow() || adapter.stats().gaps > 1, "the book equal through the replacement, or a break");
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.bridgesFailed, depthRequests - requests0]).toEqual([1, 1, 0, 1]);
      expect(sink.invalid.length).toBe(1);
    });
  });
}
