/**
 * Binance planned reconnects (`serverShutdown`, make-before-break) when the two sockets' paths are skewed: a WebSocket
 * proxy (../ws-proxy.ts) between the adapter and the simulator holds one socket's frames.
 * - Replacement faster: the old socket's frames are held; the replacement subscribes and delivers diffs that are
 *   ahead of the book (spot `U` > last `u` + 1, USD-M `pu` ≠ last `u`). They are not a break: they wait until the
 *   old socket's diffs fill the gap, and the old socket is not closed before the replacement's stream joins the book.
 * - Replacement slower: its diffs are repeats of what the book has (`u` ≤ last): dropped.
 * Both markets; every book update is compared with the simulator's book at that update id; no book leaves LIVE.
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: planned reconnect with skewed sockets`, { timeout: 30_000 }, () => {
    test("replacement faster: its diffs ahead of the book wait for the old socket's; the book stays LIVE and equal, nothing resyncs", async () => {
      const { sim, proxy, adapter, sink, frames, afterHousekeeping, overlapOpen, replay } = await setup(stops, market, market === "spot" ? 31 : 32, fetch, { housekeepingMs: 20 });
      const down = replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.heldDown = []; // the old socket's path is slower from now on
      sim.step(2); // only the old socket is subscribed at the simulator: its two diffs wait in the proxy
      proxy.releaseUp(proxy.links[1]!);
      await until(() => down.some((f) => f.includes('"result"')), "the replacement's SUBSCRIBE acked");
      const before = frames();
      sim.step(2); // both sockets: the replacement's copies arrive first, ahead of the book by the two held diffs
      await until(() => frames() >= before + 2, "the replacement's two diffs received");
      await afterHousekeeping(3); // where the overlap's completion is looked at: the old socket must still be open
      expect(sink.invalid).toEqual([]);
      expect(adapter.topicInfo(0).state).toBe("live");
      expect(overlapOpen()).toBe(true);
      expect(old.closed).toBe(false);
      proxy.releaseDown(old); // the old socket's diffs fill the gap
      await until(() => sink.equalNow(), "the book caught up through the old socket's diffs and the replacement's held ones");
      await until(() => old.closed, "the old socket closed once the replacement's stream joined the book");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid).toEqual([]);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.reconnects]).toEqual([0, 0, 0]);
      // The replacement's diffs (two, or more when the simulator added one of its own), each applied once the gap was filled.
      expect(s.overlapHeld).toBeGreaterThanOrEqual(2);
      expect(s.overlapHeldApplied).toBe(s.overlapHeld);
      const metric = (name: string) => adapter.metrics().find((m) => m.name === name)?.value;
      expect([metric("overlap_held_total"), metric("overlap_held_applied_total")]).toEqual([s.overlapHeld, s.overlapHeldApplied]);
      // Replayed, the recorded socket events (ws:swap, ws:old, ws:retired) hold the replacement's diffs as live did:
      // the book stays LIVE and equal. Before, replay ignored them: the first diff ahead was a break, and the book
      // waited RESYNCING for a REST snapshot the capture does not hold (live never asked for one).
      const r = await replay();
      expect(r.events).toEqual(expect.arrayContaining(["ws:swap", "ws:old", "ws:retired"]));
      expect(r.sink.invalid).toEqual([]);
      expect(r.sink.mismatches).toEqual([]);
      expect(r.sink.seq[0]).toBe(sink.seq[0]);
      expect([r.stats.gaps, r.stats.resyncs, r.stats.overlapHeld, r.stats.overlapHeldApplied]).toEqual([0, 0, s.overlapHeld, s.overlapHeldApplied]);
    });

    test("replacement slower: its diffs are repeats and are dropped; the book stays LIVE and equal", async () => {
      const { sim, proxy, adapter, sink } = await setup(stops, market, market === "spot" ? 33 : 34);
      const down = replacementDown(proxy, false);
      proxy.next = { ...proxy.next!, holdDown: true };
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldDown ?? []).some((f) => f.includes('"result"')), "the replacement's SUBSCRIBE acked (held)");
      const slow = proxy.links[1]!;
      sim.step(3); // both sockets subscribed: the old one delivers, the replacement's copies wait
      await until(() => sink.equalNow(), "the book equal through the old socket");
      const dupsBefore = adapter.stats().duplicates;
      proxy.releaseDown(slow); // the ack, then the three diffs the book has
      await until(() => adapter.stats().duplicates >= dupsBefore + 3, "the replacement's three repeats dropped");
      await until(() => proxy.links[0]!.closed, "the old socket closed");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(down.length).toBeGreaterThan(0);
      expect(sink.invalid).toEqual([]);
      expect(sink.mismatches).toEqual([]);
      expect([adapter.stats().gaps, adapter.stats().reconnects]).toEqual([0, 0]);
    });

    test("a REST bridge in flight at the swap (the book resyncing, its snapshot delayed), replacement faster: the book comes back LIVE once, equal, without a second resync", async () => {
      // While the gate is on, a depth request waits until the test releases it.
      let gateOn = false;
      let release: (() => void) | null = null;
      const gated = (async (input: string | URL | Request, init?: RequestInit) => {
        if (gateOn && String(input).includes("/depth")) await new Promise<void>((r) => (release = r));
        return fetch(input, init);
      }) as typeof fetch;
      const { sim, proxy, adapter, sink, frames, replay } = await setup(stops, market, market === "spot" ? 35 : 36, gated);
      gateOn = true;
      sim.inject("gap");
      sim.step(2); // a break: the book resyncs, its snapshot request waits at the gate
      await until(() => release !== null && adapter.topicInfo(0).bridging, "the bridge's snapshot requested (held)");
      const down = replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.heldDown = [];
      sim.step(2);
      proxy.releaseUp(proxy.links[1]!);
      await until(() => down.some((f) => f.includes('"result"')), "the replacement's SUBSCRIBE acked");
      const before = frames();
      sim.step(2);
      await until(() => frames() >= before + 2, "the replacement's two diffs received (buffered by the bridge)");
      gateOn = false;
      (release as unknown as () => void)(); // the snapshot, at the simulator's current id
      proxy.releaseDown(old);
      sim.step(1);
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal again");
      await until(() => old.closed, "the old socket closed");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid.length).toBe(1); // the injected gap only
      expect(sink.mismatches).toEqual([]);
      expect([adapter.stats().gaps, adapter.stats().resyncs, adapter.stats().bridgesFailed]).toEqual([1, 1, 0]);
      // Replayed: the bridge takes the old socket's diffs alone as live's did (the replacement's wait in the hold), one
      // snapshot, no no_bridge; the same book at the end.
      const r = await replay();
      expect(r.sink.invalid).toEqual(sink.invalid);
      expect(r.sink.mismatches).toEqual([]);
      expect(r.sink.seq[0]).toBe(sink.seq[0]);
      expect([r.stats.gaps, r.stats.resyncs, r.stats.bridgesFailed]).toEqual([1, 1, 0]);
    });
  });
}
