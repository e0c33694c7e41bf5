/**
 * The Binance overlap hold (src/venues/binance/overlap-hold.ts) and a stream whose REST bridge is in flight when a
 * planned reconnect swaps sockets, over the simulator and a WebSocket proxy (../ws-proxy.ts). The snapshot is taken
 * when asked for and handed over when the test says (an early snapshot: diffs arrive after it).
 * - The replacement faster: its first diff reaches the bridge while the old socket's diffs after the snapshot are
 *   still on their path. The bridge waits for the old socket's (the replacement's wait in the hold): one snapshot,
 *   no `no_bridge` and no second snapshot.
 * - The replacement slower (its diffs withheld): the bridge completes from the old socket's diffs. That is not the
 *   replacement's stream joining the book: the old socket stays open with its diffs still on the path.
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import type { ProxyLink } from "../ws-proxy.ts";
import { replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

/**
 * Depth snapshots taken when asked for; while `holding`, each is handed over only when the test releases it.
 * `onRequest` runs as a request goes out (the simulator sends a diff right after each snapshot).
 */
function earlySnapshots() {
  const g = { holding: false, requests: 0, waiting: [] as (() => void)[], onRequest: () => {} };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (!String(input).includes("/depth")) return fetch(input, init);
    g.requests++;
    g.onRequest();
    const res = await fetch(input, init); // the simulator's book now
    if (g.holding) await new Promise<void>((r) => g.waiting.push(r));
    return res;
  }) as typeof fetch;
  return { g, fetchFn };
}

/** A path that withholds diffs from the adapter (control frames pass) until released, as a slower one would. */
function slowPath(): { frames: string[]; rewriteDown: (f: string) => string | null; release(link: ProxyLink): void } {
  const frames: string[] = [];
  const rewriteDown = (f: string) => (isDiff(f) ? (frames.push(f), null) : f);
  return {
    frames,
    rewriteDown,
    release(link) {
      link.rewriteDown = null;
      for (const f of frames) link.client.send(f);
    },
  };
}

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: a REST bridge in flight at a planned reconnect's swap`, { timeout: 30_000 }, () => {
    test("replacement faster, the snapshot before its first diff: the bridge waits for the old socket's diffs; one snapshot, no no_bridge", async () => {
      const { g, fetchFn } = earlySnapshots();
      const { sim, proxy, adapter, sink, frames } = await setup(stops, market, market === "spot" ? 71 : 72, fetchFn);
      const requests0 = g.requests;
      const old = proxy.links[0]!;
      let oldPath: ReturnType<typeof slowPath> | null = null;
      g.holding = true;
      g.onRequest = () => {
        if (oldPath) return;
        oldPath = slowPath(); // the old socket's path is slower from here on
        old.rewriteDown = oldPath.rewriteDown;
        sim.step(1); // the snapshot's last diff is on that path (no buffered diff reaches the snapshot)
      };
      sim.inject("gap");
      sim.step(2); // a break; the next diff starts a bridge and its snapshot (taken now, handed over later)
      await until(() => g.waiting.length === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      const down = replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      sim.step(1); // only on the old socket
      const f0 = frames();
      proxy.releaseUp(proxy.links[1]!); // the simulator's diff after the subscription: the replacement's arrives first
      await until(() => down.some(isDiff) && frames() >= f0 + 1, "the replacement's first diff received");
      const fetched = adapter.stats().snapshotsFetched;
      g.holding = false;
      g.waiting[0]!(); // the snapshot: before the replacement's first diff, the old socket's diffs between them on its path
      await until(() => adapter.stats().snapshotsFetched === fetched + 1, "the snapshot handed to the bridge");
      expect(adapter.stats().bridgesFailed).toBe(0); // not no_bridge: the old socket's diffs are still to come
      expect(oldPath!.frames.length).toBeGreaterThanOrEqual(2);
      oldPath!.release(old);
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal");
      await until(() => old.closed, "the old socket closed once the replacement's stream joined the book");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid.length).toBe(1); // the injected gap only
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.bridgesFailed, g.requests - requests0]).toEqual([1, 1, 0, 1]);
    });

    test("replacement slower: the bridge completing from the old socket's diffs is not the replacement's join; the old socket is kept, nothing on its path is lost", async () => {
      const { g, fetchFn } = earlySnapshots();
      const { sim, proxy, adapter, sink, frames, afterHousekeeping, overlapOpen } = await setup(stops, market, market === "spot" ? 73 : 74, fetchFn, { housekeepingMs: 20 });
      g.holding = true;
      sim.inject("gap");
      sim.step(2);
      await until(() => g.waiting.length === 1 && adapter.topicInfo(0).bridging, "the bridge's snapshot taken (held)");
      const slow = slowPath(); // the replacement's
      let acked = false;
      proxy.next = { rewriteDown: (f) => ((acked ||= f.includes('"result"')), slow.rewriteDown(f)) };
      sim.inject("serverShutdown");
      await until(() => acked && slow.frames.length >= 1, "the replacement's SUBSCRIBE acked, its first diff withheld");
      const replacement = proxy.links[1]!;
      const f1 = frames();
      sim.step(1);
      await until(() => frames() >= f1 + 1, "one more diff through the old socket (buffered)");
      const old = proxy.links[0]!;
      old.heldDown = []; // the old socket's next diff is on its path when the bridge completes
      sim.step(1);
      await until(() => old.heldDown!.some(isDiff), "the diff on the old socket's path");
      const f0 = frames();
      g.holding = false;
      g.waiting[0]!(); // the bridge completes from the old socket's two diffs
      await until(() => adapter.topicInfo(0).state === "live", "the book live");
      expect(frames()).toBe(f0);
      // The old socket must still be open after a few housekeeping rounds (where the overlap's completion is looked at).
      await afterHousekeeping(5);
      expect(overlapOpen()).toBe(true);
      expect(old.closed).toBe(false);
      proxy.releaseDown(old);
      await until(() => sink.equalNow(), "the book equal through the old socket");
      slow.release(replacement); // the replacement's copies: repeats, its stream joins
      await until(() => old.closed, "the old socket closed once the replacement's stream joined the book");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid.length).toBe(1);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.bridgesFailed]).toEqual([1, 1, 0]);
    });
    test("the old socket closes while the replacement's diffs wait for the bridge: they go to the bridge, which completes without a no_bridge", async () => {
      // While the gate is on, a depth request waits; the snapshot is taken when the test lets it go.
      let gateOn = false;
      let release: (() => void) | null = null;
      const gated = (async (input: string | URL | Request, init?: RequestInit) => {
        if (gateOn && String(input).includes("/depth")) await new Promise<void>((r) => (release = r));
        return fetch(input, init);
      }) as typeof fetch;
      const { sim, proxy, adapter, sink } = await setup(stops, market, market === "spot" ? 75 : 76, gated);
      gateOn = true;
      sim.inject("gap");
      sim.step(2);
      await until(() => release !== null && adapter.topicInfo(0).bridging, "the bridge's snapshot requested (held)");
      replacementDown(proxy, true);
      sim.inject("serverShutdown");
      await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
      const old = proxy.links[0]!;
      old.rewriteDown = slowPath().rewriteDown; // the old socket's diffs never arrive
      const held = adapter.stats().overlapHeld;
      proxy.releaseUp(proxy.links[1]!); // the simulator's diff after the subscription: the replacement's waits for the bridge
      await until(() => adapter.stats().overlapHeld === held + 1, "the replacement's diff held for the bridge");
      proxy.closeClient(old); // the venue closes the old socket: the replacement carries on alone
      await until(() => old.closed, "the old socket closed");
      gateOn = false;
      (release as unknown as () => void)(); // the snapshot, at the simulator's id now: the held diff's
      await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal through the replacement");
      expect(sink.invalid.length).toBe(1);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs, s.bridgesFailed]).toEqual([1, 1, 0]);
    });
  });
}
