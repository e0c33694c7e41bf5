/**
 * A stream's REST bridge in flight, built on the old socket's diffs, when the old socket closes during a planned
 * reconnect's overlap before the replacement has answered its subscribe (held by the proxy: the venue streams nothing
 * of it there yet). The snapshot comes back afterwards: with the old socket's buffered diffs it could bridge, but
 * nothing feeds the book (the old socket is gone, the replacement's subscribe still out), so the book must stay
 * RESYNCING until the replacement's diffs bridge a snapshot of their own, as a LIVE book it was the only feed of leaves
 * LIVE (docs/architecture.md, "Venue layer"). Before: the bridge completed from the closed socket's diffs and the book
 * was LIVE, fed by nothing, until the replacement's first diff (a break) or its ack deadline.
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { heldSnapshots, setup, snapshotsHandled } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

type Conn = { retiringWs: WebSocket | null; replacing: WebSocket | null; open: boolean };

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: a bridge on the old socket's diffs when it closes before the replacement's ack`, { timeout: 30_000 }, () => {
    test("the snapshot comes back after the close: the book stays RESYNCING until the replacement feeds it", async () => {
      const snaps = heldSnapshots();
      const { sim, proxy, adapter, sink, receivedU } = await setup(stops, market, market === "spot" ? 71 : 72, snaps.fetchFn, { housekeepingMs: 20, ackTimeoutMs: 600_000 });
      const conn = (adapter as unknown as { conns: Conn[] }).conns[0]!;
      snaps.held.holding = true;
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over later)
      await until(() => snaps.held.waiting() === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      await until(() => receivedU() > snaps.held.snapshotU, "a diff past the snapshot buffered");
      proxy.next = { holdUp: true }; // the replacement's subscribe waits in the proxy: no ack, no diff there
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && conn.retiringWs !== null && proxy.links[1]!.heldUp!.some((m) => m.includes("SUBSCRIBE")), "swapped: the replacement's subscribe held");
      proxy.closeClient(proxy.links[0]!); // the old socket closes: the replacement carries on alone
      await until(() => conn.retiringWs === null, "the old socket gone");
      const handled = snapshotsHandled(adapter);
      snaps.held.holding = false;
      snaps.held.release(); // the snapshot asked for on the old socket's diffs
      // The adapter done with it: used (its bridge given it), refused, or dropped (its bridge gone). Until s-flaky7 a task
      // later was taken for that: a slower adapter passed "not live" before deciding.
      await until(() => snapshotsHandled(adapter) > handled, "the snapshot used, refused or dropped");
      // Before the fix: live here, bridged from the closed socket's diffs, fed by nothing.
      expect(adapter.topicInfo(0).state).not.toBe("live");
      proxy.releaseUp(proxy.links[1]!); // the replacement's subscribe reaches the venue
      sim.step(2);
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal from the replacement");
      expect(sink.mismatches).toEqual([]);
      expect(adapter.stats().reconnects).toBe(0);
    });
  });
}
