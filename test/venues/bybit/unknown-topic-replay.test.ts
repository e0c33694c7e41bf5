/**
 * Record → replay of a garbled topic: live resyncs every book of the connection on a book frame whose topic it never
 * asked for (onUnknownTopic); the capture's requests (ws:req) tell replay the topic was unknown to live too, so replay
 * resyncs there as well. Until s-unkreplay replay ignored every such frame (a capture may hold topics its config
 * leaves out: still so for a topic a recorded request named, unknown-topic-rule.ts), the book LIVE where live's was
 * RESYNCING. A live adapter on FakeWs sockets records its capture, replayed record by record (replayed-rig.ts).
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { FakeWs } from "../common/fake-ws.ts";
import { liveAndReplayedBybit } from "./replayed-rig.ts";

describe("bybit record → replay: a book frame naming a topic live never asked for", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  test("resyncs the connection's book in replay as in live: the same statuses published, LIVE again on the same snapshot", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    const rig = await liveAndReplayedBybit(50, () => FakeWs.made);
    const { live, replay, liveSink, replaySink, frame, deliver, ack } = rig;
    const same = (what: string) => {
      const b = rig.books();
      expect(b.replay, what).toEqual(b.live);
      expect(replaySink.invalid, what).toEqual(liveSink.invalid);
      return b.live;
    };
    FakeWs.made[0]!.onopen!();
    ack(0);
    deliver(0, frame("snapshot", 500, "100.5"));
    expect(same("first snapshot")).toMatchObject({ state: "live", lastU: 500 });
    deliver(0, frame("delta", 501, "100.6").replace("orderbook.50.BTCUSDT", "orderbook.50.BTCUSDX")); // its topic garbled
    // Before: replay LIVE at u 500 (the frame ignored), live RESYNCING / parse_error.
    expect(same("the garbled topic")).toMatchObject({ state: "resyncing" });
    expect([live.stats().unknownTopic, replay.stats().unknownTopic]).toEqual([1, 1]);
    ack(0); // unsubscribed: the resubscribe goes
    ack(0);
    deliver(0, frame("snapshot", 510, "100.9"));
    expect(same("the resubscribe's snapshot")).toMatchObject({ state: "live", lastU: 510 });
    await rig.stop();
  });
});
