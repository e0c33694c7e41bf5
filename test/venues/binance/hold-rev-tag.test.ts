/**
 * Second review of the Binance overlap hold (src/venues/binance/overlap-hold.ts): which socket a bridge's buffered diff
 * came from, when the bridge outlives the planned reconnect that buffered it. A replacement fails after its diffs were
 * buffered (the old socket is gone back to) and the next planned reconnect is under way when the snapshot comes: those
 * diffs are not the new replacement's, so applying them is not its stream joining the book. Taken for it, the old
 * socket was closed with diffs still on its path that the new replacement never carried (subscribed after them).
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger } from "../../../src/core/log.ts";
import { HOLD_MAX } from "../../../src/venues/binance/overlap-hold.ts";
import { until } from "../planned-fallback-harness.ts";
import { heldSnapshots, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: a bridge buffered across a failed planned reconnect and the next one`, { timeout: 30_000 }, () => {
    test("the failed replacement's buffered diffs are not the new replacement's join: the old socket is kept until its diffs are in", async () => {
      const snaps = heldSnapshots(); // taken when asked for, handed over when the test says
      const lines: string[] = [];
      const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
      const logged = (s: string) => lines.filter((l) => l.includes(s)).length;
      const { sim, proxy, adapter, sink, frames, receivedU, afterHousekeeping, overlapOpen } = await setup(stops, market, market === "spot" ? 91 : 92, snaps.fetchFn, { log, housekeepingMs: 20 });
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over at the end)
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      // Not "one more frame": a diff the snapshot includes may still have been on its way when it was asked for.
      await until(() => receivedU() > snaps.held.snapshotU, "the diff after the snapshot buffered");
      const old = proxy.links[0]!;

      // Replacement 1: its diffs come after the old socket's; the last ones past HOLD_MAX are buffered by the bridge.
      const late: string[] = [];
      proxy.next = { holdUp: true, rewriteDown: (f) => (isDiff(f) ? (late.push(f), null) : f) };
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "replacement 1's SUBSCRIBE (held)");
      const r1 = proxy.links[1]!;
      proxy.releaseUp(r1);
      await until(() => late.length >= 1, "replacement 1 subscribed");
      const f0 = frames();
      sim.step(HOLD_MAX + 10);
      await until(() => frames() >= f0 + HOLD_MAX + 10, "the old socket's diffs buffered");
      const f1 = frames();
      r1.rewriteDown = null;
      for (const f of late) r1.client.send(f);
      await until(() => frames() >= f1 + late.length, "replacement 1's diffs received (held, then buffered)");
      proxy.closeClient(r1); // replacement 1 fails: the old socket is gone back to
      await until(() => logged("planned reconnect failed") === 1, "gone back to the old socket");

      // Replacement 2 (the planned reconnect again): subscribed after diffs that are still on the old socket's path.
      proxy.next = { holdUp: true, holdDown: false, rewriteDown: (f) => (isDiff(f) ? null : f) };
      old.heldDown = [];
      sim.step(3); // on the old socket's path only
      await until(() => proxy.links.length === 3 && (proxy.links[2]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "replacement 2's SUBSCRIBE (held)");
      const r2 = proxy.links[2]!;
      const r2Late: string[] = [];
      r2.rewriteDown = (f) => (isDiff(f) ? (r2Late.push(f), null) : f); // replacement 2's path is slower
      let acked = false;
      const own = r2.rewriteDown;
      r2.rewriteDown = (f) => ((acked ||= f.includes('"result"')), own(f));
      proxy.releaseUp(r2);
      await until(() => acked, "replacement 2's SUBSCRIBE acked");
      sim.step(2); // both sockets, both withheld on their paths
      await until(() => r2Late.length >= 2, "replacement 2's diffs on its path");
      snaps.held.holding = false;
      snaps.held.release(); // the snapshot: the bridge completes from the buffer (the old socket's and replacement 1's diffs)
      await until(() => adapter.topicInfo(0).state === "live", "the book live");
      // Replacement 2 has delivered nothing, so the old socket must still be open after a few housekeeping rounds
      // (where the overlap's completion is looked at). Main before the fix took replacement 1's buffered diffs for its join.
      await afterHousekeeping(5);
      expect(overlapOpen()).toBe(true);
      expect(old.closed).toBe(false);
      proxy.releaseDown(old); // the old socket's diffs on its path
      await until(() => sink.equalNow(), "the book equal through the old socket");
      r2.rewriteDown = null;
      for (const f of r2Late) r2.client.send(f); // replacement 2's copies: repeats, its stream joins
      await until(() => old.closed, "the old socket closed once replacement 2's stream joined the book");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through replacement 2");
      expect(adapter.stats().gaps).toBe(1);
      expect(sink.mismatches).toEqual([]);
      expect(sink.invalid.length).toBe(1);
    });
  });
}
