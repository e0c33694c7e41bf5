/**
 * A planned reconnect's old socket closes (the venue's close, a path that fails) after the swap, before the
 * replacement's stream has joined the book (skew-harness.ts: the simulator behind a WebSocket proxy), with the old
 * socket's last diffs still on its path (lost with it):
 * - the replacement slower (its copies of those diffs still on its path): the replacement carries on alone and its
 *   copies fill what the old socket lost; the book never leaves LIVE and stays equal.
 * - the replacement faster (subscribed after them: its diffs held, ahead of the book): no socket can fill the gap any more, so the book
 *   resyncs once (RESYNCING / SEQUENCE_GAP: one break, one snapshot) and is live and equal again through the
 *   replacement.
 * Either way the old socket is gone (no second close, no reconnect, no failure counted) and nothing stays held.
 * No defect found (pins the behaviour).
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { until } from "../planned-fallback-harness.ts";
import { setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const isDiff = (f: string) => f.includes("depthUpdate");

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: the old socket closes before the replacement's stream joined the book`, { timeout: 30_000 }, () => {
    for (const replacementPath of ["slower", "faster"] as const) {
      test(`the replacement ${replacementPath}`, async () => {
        const { sim, proxy, adapter, sink, frames, overlapOpen } = await setup(stops, market, (market === "spot" ? 61 : 62) + (replacementPath === "faster" ? 2 : 0));
        const late: string[] = []; // the replacement's diffs on its (slower) path
        let acked = false;
        const s0 = adapter.stats();
        if (replacementPath === "slower") {
          proxy.next = { rewriteDown: (f) => ((acked ||= f.includes('"result"')), isDiff(f) ? (late.push(f), null) : f) };
          const f0 = frames();
          sim.inject("serverShutdown");
          // The simulator's diff after the replacement's subscription: received from the old socket, on the replacement's path.
          await until(() => acked && overlapOpen() && frames() >= f0 + 1 && late.length >= 1, "the replacement swapped in and subscribed");
          proxy.links[0]!.heldDown = []; // the old socket's next diffs stay on its path
          sim.step(2);
          await until(() => late.length >= 3 && proxy.links[0]!.heldDown!.filter(isDiff).length === 2, "both sockets' copies on their paths");
        } else {
          proxy.next = { holdUp: true, rewriteDown: (f) => ((acked ||= f.includes('"result"')), f) };
          sim.inject("serverShutdown");
          await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
          proxy.links[0]!.heldDown = []; // the old socket's next diffs stay on its path
          sim.step(2); // on the old socket's path only: the replacement is not subscribed yet
          proxy.releaseUp(proxy.links[1]!);
          await until(() => acked && adapter.stats().overlapHeld >= s0.overlapHeld + 1, "the replacement subscribed, its first diff held (ahead of the book)");
          const f1 = frames();
          sim.step(2);
          await until(() => frames() >= f1 + 2 && adapter.stats().overlapHeld >= s0.overlapHeld + 3, "its next two held");
          expect(overlapOpen()).toBe(true);
        }
        const old = proxy.links[0]!;
        const replacement = proxy.links[1]!;
        expect(adapter.topicInfo(0).state).toBe("live");
        proxy.closeClient(old); // the old socket closes: the diffs on its path are lost with it
        await until(() => !overlapOpen(), "the overlap over");
        if (replacementPath === "slower") {
          replacement.rewriteDown = null;
          for (const f of late) replacement.client.send(f);
        }
        sim.step(3);
        await until(() => sink.equalNow() && adapter.topicInfo(0).state === "live", "the book live and equal through the replacement");
        expect(sink.mismatches).toEqual([]);
        const s = adapter.stats();
        if (replacementPath === "slower") {
          expect(sink.invalid).toEqual([]);
          expect([s.gaps - s0.gaps, s.resyncs - s0.resyncs]).toEqual([0, 0]);
        } else {
          expect(sink.invalid.map((x) => [x.state, x.reason])).toEqual([[BookState.RESYNCING, StatusReason.SEQUENCE_GAP]]);
          expect([s.gaps - s0.gaps, s.resyncs - s0.resyncs, s.snapshots - s0.snapshots]).toEqual([1, 1, 1]);
        }
        expect([s.reconnects, s.plannedReconnects, s.plannedReconnectFailures]).toEqual([0, 1, 0]);
        expect((adapter as unknown as { overlap: { holding: number } }).overlap.holding).toBe(0);
        expect([proxy.links.length, old.closed, replacement.closed]).toEqual([2, true, false]);
      });
    }
  });
}
