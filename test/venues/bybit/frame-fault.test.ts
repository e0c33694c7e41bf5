/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Bybit's own rule for a frame it refused
 * (BybitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a frame of a topic not on the
 * connection is counted once (unknown-topic-rule.ts); a binary frame that is no UTF-8 is such a frame. Offline: no
 * socket, no network.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import type { MarketName } from "../../../src/core/types.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/bybit/scan-codes.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { liveAndReplayedBybit } from "./replayed-rig.ts";

function offlineAdapter(symbols = ["AUSDT"]): BybitAdapter {
  const o = offlineVenue("bybit", "spot", 50, symbols, "/v5/public/spot");
  return new BybitAdapter(o.config, o.subscriptions, o.options);
}

frameFaultRuleTests("Bybit", () => offlineAdapter(), (t: TopicState) => `{"topic":"${t.topic}","type":"delta","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"seq":3}}`, SCAN_ERR_SYNTAX);

// AUSDT's delta, its topic garbled (AUSDX).
const garbled = `{"topic":"orderbook.50.AUSDX","type":"delta","ts":1,"data":{"s":"AUSDX","b":[],"a":[],"u":2,"seq":3}}`;
unknownTopicRuleTests("Bybit", () => offlineAdapter(["AUSDT", "BUSDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "orderbook.50.CUSDT",
  frame: `{"topic":"orderbook.50.CUSDT","type":"delta","ts":1,"data":{"s":"CUSDT","b":[],"a":[],"u":2,"seq":3}}`,
});

describe("Bybit bindMessages: a binary frame that cannot be decoded is a frame fault", () => {
  test("bytes that are no UTF-8, or no bytes at all, reach no book and leave nothing out of the handler", () => {
    const books: number[] = [];
    const adapter = { rawFrameTap: undefined, onBook: (index: number) => void books.push(index), onParseError: () => undefined, onUnknownTopic: () => undefined, onText: () => false, onControl: () => undefined };
    const conn = new BybitConnection(adapter as unknown as BybitAdapter, 0, "linear" as MarketName, "ws://127.0.0.1:1/");
    conn.table.add("orderbook.50.AUSDT", 0, 1, 3);
    const faults: string[] = [];
    conn.frameFault = (_c, frame) => void faults.push(frame);
    const ws = { onmessage: null as ((ev: MessageEvent) => void) | null, addEventListener: () => undefined };
    conn.bindMessages(ws as unknown as WebSocket, conn.generation);
    const fire = (data: unknown) => ws.onmessage!({ data } as MessageEvent);
    const book = (x: string) => `{"topic":"orderbook.50.AUSDT","type":"snapshot","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"x":"${x}"},"cts":1}`;
    fire(Buffer.from(book("ok"))); // a binary frame that is UTF-8: read as text
    expect(books).toEqual([0]);
    // An invalid byte inside a value the scanner skips: until 2026-12-07 decoded to U+FFFD and taken as a book.
    const [head, tail] = book("@").split("@");
    const bad = Buffer.concat([Buffer.from(head!), Buffer.from([0xff]), Buffer.from(tail!)]);
    expect(() => fire(bad)).not.toThrow();
    expect(books).toEqual([0]);
    expect(conn.frameErrors).toBe(1);
    expect(faults[0]).toContain('"topic":"orderbook.50.AUSDT"'); // the fault's frame names its book (resynced by the lifecycle)
    expect(() => fire({ not: "bytes" })).not.toThrow(); // until 2026-12-07 the decoder threw out of the handler
    expect(conn.frameErrors).toBe(2);
    expect(faults[1]).toBe("");
  });
});

// Since s-binframe: such a frame failed before the raw tap, so no capture held it: replay neither saw it nor resynced
// where live did, and during a planned reconnect the old socket's ws:old took the next recorded frame for its own.
describe("Bybit record → replay: a binary frame that is no UTF-8", () => {
  afterEach(() => vi.unstubAllGlobals());

  /** `frame` as bytes with one 0xff inside the value of an unknown key (the scanner skips it). */
  const undecodable = (frame: string) => {
    const at = frame.lastIndexOf("}");
    return Buffer.concat([Buffer.from(frame.slice(0, at) + ',"x":"'), Buffer.from([0xff]), Buffer.from('"' + frame.slice(at))]);
  };

  for (const overlap of [false, true]) {
    test(`${overlap ? "on the old socket of a planned reconnect's overlap" : "on the connection's socket"}: recorded, and replay resyncs the book as live did`, async () => {
      FakeWs.made = [];
      vi.stubGlobal("WebSocket", FakeWs);
      const rig = await liveAndReplayedBybit(50, () => FakeWs.made);
      const { live, replay, records, frame, deliver, ack, same } = rig;
      FakeWs.made[0]!.onopen!();
      ack(0);
      deliver(0, frame("snapshot", 500, "100.5"));
      if (overlap) {
        rig.replanned(); // the replacement opens and subscribes; its ack not in: the old socket still delivers
        FakeWs.made[1]!.onopen!();
      }
      expect(same("first snapshot")).toMatchObject({ state: "live", lastU: 500 });
      const before = records.length;
      FakeWs.made[0]!.onmessage!({ data: undecodable(frame("delta", 501, "100.6")) as unknown as string });
      expect(live.topicInfo(0).state).toBe("resyncing");
      // Recorded: the mark, then the frame (its U+FFFD text), after the old socket's ws:old in an overlap.
      const made = records.slice(before, before + (overlap ? 3 : 2)).map((r) => (r.url === undefined ? r.frame : r.url));
      expect(made.slice(0, -1)).toEqual(overlap ? ["ws:old", "ws:undecodable"] : ["ws:undecodable"]);
      expect(made.at(-1)).toContain('"x":"\uFFFD"');
      // Before: replay LIVE at u 500 (nothing recorded), live RESYNCING / parse_error.
      expect(same("the undecodable frame")).toMatchObject({ state: "resyncing" });
      const frameErrors = (a: typeof live) => a.metrics().filter((m) => m.name === "frame_errors_total").reduce((n, m) => n + (m.value as number), 0);
      expect([frameErrors(live), frameErrors(replay)]).toEqual([1, 1]);
      if (overlap) {
        // The replacement's frame next: taken as the replacement's in replay too (before: as the old socket's).
        deliver(1, frame("snapshot", 505, "100.8"));
        same("the replacement's snapshot");
      }
      await rig.stop();
    });
  }
});
