/**
 * Record → replay of a garbled topic: live resyncs every book of the connection on a book frame whose topic it never
 * asked for (onUnknownTopic); the capture's requests (ws:req) tell replay the topic was unknown to live too, so replay
 * resyncs there as well. Until s-unkreplay replay ignored every such frame (a capture may hold topics its config
 * leaves out: still so for a topic a recorded request named, unknown-topic-rule.ts), the book LIVE where live's was
 * RESYNCING. A live adapter on FakeWs sockets records its capture, replayed record by record (replayed-rig.ts). A
 * replay begun in a later capture file learns the topics asked from its head (`ws:asked`, since s-headask): before, it
 * ignored every such frame until the connection's next open or close.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { CaptureSocketHead } from "../../../src/app/capture-sockets.ts";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { liveAndReplayedBybit, replayedBybit } from "./replayed-rig.ts";

describe("bybit record → replay: a book frame naming a topic live never asked for", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  test("resyncs the connection's book in replay as in live: the same statuses published, LIVE again on the same snapshot", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    const rig = await liveAndReplayedBybit(50, () => FakeWs.made);
    const { live, replay, frame, deliver, ack, same } = rig;
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

  test("a replay begun in a later capture file (its head as feeder record writes it) resyncs there too: the same statuses as live from the cut", async () => {
    FakeWs.made = [];
    vi.stubGlobal("WebSocket", FakeWs);
    const rig = await liveAndReplayedBybit(50, () => FakeWs.made);
    const { live, liveSink, records, frame, deliver, ack } = rig;
    FakeWs.made[0]!.onopen!();
    ack(0);
    // The file is cut here: its head says what the records before it left (the socket, the topics asked).
    const cut = records.length;
    const liveInvalidAtCut = liveSink.invalid.length;
    deliver(0, frame("snapshot", 500, "100.5"));
    deliver(0, frame("delta", 501, "100.6").replace("orderbook.50.BTCUSDT", "orderbook.50.BTCUSDX")); // its topic garbled
    expect(live.topicInfo(0).state).toBe("resyncing");
    ack(0); // unsubscribed: the resubscribe goes
    ack(0);
    deliver(0, frame("snapshot", 510, "100.9"));
    expect(live.topicInfo(0)).toMatchObject({ state: "live", lastU: 510 });

    const head = new CaptureSocketHead();
    for (const r of records.slice(0, cut)) if (r.url !== undefined) head.observe("bybit", "linear", r.conn, r.url, r.body);
    expect(head.events().map((e) => e.url)).toContain("ws:asked");
    const later = await replayedBybit(50);
    for (const e of head.events()) expect(later.adapter.ingestConnectionEvent("linear", e.connection, e.url, 1, e.body)).toBe(true);
    let garbledState = "";
    for (const r of records.slice(cut)) {
      if (r.url === undefined) later.adapter.ingestFrame("linear", r.conn, r.frame, 1);
      else later.adapter.ingestConnectionEvent("linear", r.conn, r.url, 1, r.body);
      if (r.url === undefined && r.frame.includes("BTCUSDX")) garbledState = later.adapter.topicInfo(0).state;
    }
    // Before: LIVE at u 500 after the garbled frame (ignored: the requests not known), no resync told.
    expect(garbledState).toBe("resyncing");
    expect(later.sink.invalid).toEqual(liveSink.invalid.slice(liveInvalidAtCut));
    expect(later.adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 510 });
    expect(later.adapter.stats().unknownTopic).toBe(1);
    await Promise.all([rig.stop(), later.adapter.stop()]);
  });
});

describe("bybit replay: a file head's ws:asked whose body does not parse", () => {
  afterEach(() => vi.useRealTimers());
  // Before s-restwarn it was ignored silently (the lifecycle returned false, the adapter true): a damaged head left
  // the replay not knowing the topics asked, and nothing said so. Now counted and logged, at most a line per 5 s.
  test("is counted and logged as a malformed capture record naming the connection, rate-limited; a well-formed one is not", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log: Logger = { ...silentLogger, warn: (msg, fields) => void lines.push({ msg, fields: fields ?? {} }), child: () => log };
    const { adapter, conn } = await replayedBybit(50, { log });
    for (const body of ["null", '["orderbook.50.BTCUSDT"]']) adapter.ingestConnectionEvent("linear", conn.name, "ws:asked", 1, body);
    expect([adapter.stats().malformedRecords, lines]).toEqual([0, []]);
    for (const body of ["{not json", '{"a":1}', "7"]) adapter.ingestConnectionEvent("linear", conn.name, "ws:asked", 1, body);
    expect(adapter.stats().malformedRecords).toBe(3);
    expect(lines).toEqual([{ msg: expect.stringContaining("bybit: malformed capture record ignored"), fields: { count: 1, counted: "the first such report", total: 1, detail: `${conn.name}: {not json`, from: conn.name } }]);
    vi.advanceTimersByTime(5000);
    adapter.ingestConnectionEvent("linear", conn.name, "ws:asked", 1, "[1");
    expect(lines.at(-1)!.fields).toEqual({ count: 3, counted: "3 more since the last such report", total: 4, detail: `${conn.name}: [1`, from: conn.name });
    expect(lines).toHaveLength(2);
    await adapter.stop();
  });

  // Until s-wsreq a ws:req that was not a request live writes was ignored silently (each reader with rules of its
  // own: its third element's strings were still taken as asked), and the ws:asked count above was a field of the
  // lifecycle that no stats, metric or replay summary showed.
  test("a ws:req that is not a request live writes is counted the same way, per connection in stats and metrics, with what was wrong", async () => {
    vi.useFakeTimers({ toFake: ["performance"] }); // one log line for them all: no 5 s passes
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log: Logger = { ...silentLogger, warn: (msg, fields) => void lines.push({ msg, fields: fields ?? {} }), child: () => log };
    const { adapter, conn } = await replayedBybit(50, { log });
    const req = (json: string) => adapter.ingestConnectionEvent("linear", conn.name, `ws:req ${json}`, 1, "");
    const malformed = () => adapter.metrics().filter((m) => m.name === "malformed_capture_records_total");
    req('["s1","subscribe",["orderbook.50.BTCUSDT"]]');
    req('["s2","subscribe",["orderbook.50.BTCUSDT"],["orderbook.50.BTCUSDT"]]');
    req('["s3","unsubscribe",[]]');
    expect([adapter.stats().malformedRecords, lines]).toEqual([0, []]);
    expect(malformed()).toEqual([expect.objectContaining({ type: "counter", labels: { market: "linear", connection: conn.name }, value: 0 })]);
    const bad = ["[", '{"id":1}', '[1,"subscribe",["orderbook.50.BTCUSDT"]]', '["s4","ping",["orderbook.50.BTCUSDT"]]', '["s5","subscribe","orderbook.50.BTCUSDT"]', '["s6","subscribe",["orderbook.50.BTCUSDT",7]]', '["s7","subscribe",["orderbook.50.BTCUSDT"],"x"]'];
    for (const json of bad) req(json);
    expect(adapter.stats().malformedRecords).toBe(bad.length);
    expect(malformed().map((m) => m.value)).toEqual([bad.length]);
    expect(lines).toEqual([{ msg: expect.stringContaining("bybit: malformed capture record ignored"), fields: { count: 1, counted: "the first such report", total: 1, detail: `${conn.name}: ws:req not JSON: [`, from: conn.name } }]);
    await adapter.stop();
  });
});
