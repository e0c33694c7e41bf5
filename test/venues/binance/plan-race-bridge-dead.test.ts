/**
 * A stream's REST bridge in flight when its connection is lost: a planned reconnect's replacement still opening when
 * the old socket closes (the ordinary reconnect follows), and the reconnect's handshake held by the proxy (the venue
 * unreachable for a while). The snapshot asked for before the close comes back after it: with the dead socket's
 * buffered diffs it could bridge, but nothing feeds the book any more (the stream is not subscribed until the new
 * socket opens, and a stream not subscribed is never found stale), so the book must stay RESYNCING until the new
 * socket's diffs bridge a snapshot of their own. Before: the bridge completed from the dead socket's diffs and the
 * book was LIVE (published usable) while disconnected, for as long as the venue stayed unreachable.
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { heldSnapshots, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

type Conn = { replacing: WebSocket | null; open: boolean };

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: a bridge in flight when the connection is lost`, { timeout: 30_000 }, () => {
    test("the old socket closes while the replacement is opening; the snapshot comes back while disconnected: the book stays RESYNCING", async () => {
      const snaps = heldSnapshots(); // taken when asked for, handed over when the test says
      const { sim, proxy, adapter, sink, receivedU } = await setup(stops, market, market === "spot" ? 65 : 66, snaps.fetchFn, { housekeepingMs: 20 });
      const conn = (adapter as unknown as { conns: Conn[] }).conns[0]!;
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over later)
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      await until(() => receivedU() > snaps.held.snapshotU, "a diff past the snapshot buffered");
      proxy.holdUpgrades = true; // the replacement, and then the reconnect, stay CONNECTING
      sim.inject("serverShutdown");
      await until(() => proxy.upgradesHeld === 1 && conn.replacing !== null, "the replacement opening");
      proxy.closeClient(proxy.links[0]!); // the old socket closes: the ordinary reconnect (its handshake held too)
      await until(() => conn.replacing === null && proxy.upgradesHeld === 2, "disconnected, the reconnect opening");
      expect(conn.open).toBe(false);
      const [read, abandoned] = [snaps.held.bodiesRead, adapter.stats().snapshotsAbandoned];
      snaps.held.holding = false;
      snaps.held.release(); // the snapshot asked for on the dead socket's diffs
      await until(() => snaps.held.bodiesRead > read || adapter.stats().snapshotsAbandoned > abandoned, "the snapshot's body read by the adapter, or its request abandoned");
      await new Promise((r) => setTimeout(r, 0)); // a task later: what the adapter does with it is done (microtasks)
      // Main before the fix: live here, bridged from the dead socket's diffs, with no socket open.
      expect(adapter.topicInfo(0).state).not.toBe("live");
      proxy.releaseUpgrades(); // the venue reachable again
      await until(() => conn.open, "reconnected");
      sim.step(2);
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal on the new socket");
      expect(sink.mismatches).toEqual([]);
      expect(sink.invalid.length).toBe(1); // the break only: RESYNCING already, the disconnect published nothing more
      expect(adapter.stats().reconnects).toBe(1);
    });
  });
}
