/**
 * Replay of a planned reconnect's replacement refusing a stream the old socket serves: the refusal is held until the
 * connection's next record says whose it was (live writes `ws:back` in a microtask right after the refusing frame).
 * A recorded REST depth snapshot is a later task, so one next says the venue's: until s-rdrepd2 ingestRest decided
 * nothing, and the held book was bridged to LIVE from the recorded snapshot where live had it halted.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import type { BookSink, VenueAdapter } from "../../../src/venues/venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const request = (id: string) => `ws:req ${JSON.stringify([id, "subscribe", ["btcusdt@depth@100ms"]])}`;

/** A replaying adapter of spot BTCUSDT (depth 1000) and what a test feeds it on conn0.spot. */
async function replaying() {
  const config: VenueConfig = { venue: "binance", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "spot", depth: 1000, symbols: ["BTCUSDT"] }], overrides: new Map([["spot:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]) };
  const adapter = new BinanceAdapter(config, [{ market: "spot", symbol: "BTCUSDT", depth: 1000 }], { log: silentLogger });
  cleanups.push(() => adapter.stop());
  await adapter.loadInstruments();
  const invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  let updates = 0;
  const sink: BookSink = { onBookUpdate: () => void updates++, onBookInvalid: (index, state, reason) => void invalid.push({ index, state, reason }), onInstrumentChanged: () => undefined };
  adapter.startReplay(sink);
  const conn = "conn0.spot";
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", conn, url, 1)).toBe(true);
  const feed = (f: string) => expect(adapter.ingestFrame("spot", conn, f, 1)).toBe(true);
  event("ws:open");
  event("ws:sockets");
  return { adapter, invalid, updates: () => updates, conn, event, feed };
}

describe("binance replay: a held refusal and a recorded REST snapshot", () => {
  test("the REST snapshot after the replacement's refusal decides it as the venue's: halted, not bridged to LIVE", async () => {
    const { adapter, invalid, updates, conn, event, feed } = await replaying();
    event(request("s1"));
    feed(`{"result":null,"id":11}`);
    // A diff before any snapshot: the bridge waits for the REST snapshot (the recorded one to come).
    feed(`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":11,"u":11,"b":[["100.0","1.000"]],"a":[]}}`);
    expect(adapter.topicInfo(0).state).not.toBe("live");
    event("ws:swap");
    event(request("s2"));
    feed(`{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":12}`);
    expect(invalid, "held").toEqual([]);
    adapter.ingestRest("spot", conn, "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=1000", `{"lastUpdateId":10,"bids":[["99.9","1.000"]],"asks":[["100.1","1.000"]]}`, 2);
    expect(invalid).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(adapter.topicInfo(0).state).toBe("halted");
    expect(updates()).toBe(0);
  });

  test("a stream refused for now takes its diffs again after a capture gap (the recorded acceptance may be in the lost records): bridged to LIVE from the recorded snapshot", async () => {
    // Until s-rd4a replay ignored the stream's diffs for good after the gap (refusedUntilAck, its stale clock refreshed
    // by each): RESYNCING to the replay's end where live, its retry accepted, had the book LIVE.
    const { adapter, event, feed, invalid, conn } = await replaying();
    event(request("s1"));
    feed(`{"result":null,"id":11}`);
    event(request("s2"));
    feed(`{"error":{"code":-1,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."},"id":12}`);
    expect(invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    (adapter as VenueAdapter).replayCaptureGap?.(); // as app Feeder.captureGap does at a file that ended early
    feed(`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":11,"u":11,"b":[["100.0","1.000"]],"a":[]}}`);
    adapter.ingestRest("spot", conn, "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=1000", `{"lastUpdateId":10,"bids":[["99.9","1.000"]],"asks":[["100.1","1.000"]]}`, 2);
    expect(adapter.topicInfo(0).state).toBe("live");
  });
});

describe("binance replay across a capture gap: a stream refused for now", () => {
  /**
   * Live: s1 refused for a reason that may pass (RESYNCING / subscribe_rejected; its updates ignored until a subscribe
   * of it is accepted: TopicState.refusedUntilAck), its retry s2 accepted, the book bridged to LIVE from a REST
   * snapshot; the capture lost s2's acceptance (a file that ended early, a time jump). Kept past the gap, the flag
   * ignored every update until the connection's next socket, the book resyncing where live had it LIVE; the merge of
   * s-gappend clears it at the gap (ConnectionLifecycle.replayCaptureGap).
   */
  test("its updates after the gap are taken again: bridged to LIVE from the recorded REST snapshot, as live", async () => {
    const config: VenueConfig = { venue: "binance", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "spot", depth: 1000, symbols: ["BTCUSDT"] }], overrides: new Map([["spot:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]) };
    const adapter = new BinanceAdapter(config, [{ market: "spot", symbol: "BTCUSDT", depth: 1000 }], { log: silentLogger });
    cleanups.push(() => adapter.stop());
    await adapter.loadInstruments();
    const invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
    const sink: BookSink = { onBookUpdate: () => undefined, onBookInvalid: (index, state, reason) => void invalid.push({ index, state, reason }), onInstrumentChanged: () => undefined };
    adapter.startReplay(sink);
    const conn = "conn0.spot";
    const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", conn, url, 1)).toBe(true);
    const feed = (f: string) => expect(adapter.ingestFrame("spot", conn, f, 1)).toBe(true);
    const request = (id: string) => `ws:req ${JSON.stringify([id, "subscribe", ["btcusdt@depth@100ms"]])}`;
    event("ws:open");
    event("ws:sockets");
    event(request("s1"));
    feed(`{"error":{"code":0,"msg":"Unknown error"},"id":11}`);
    expect(invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    event(request("s2"));
    adapter.replayCaptureGap(); // lost: s2's acceptance
    feed(`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":21,"u":21,"b":[["100.0","1.000"]],"a":[]}}`);
    adapter.ingestRest("spot", conn, "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=1000", `{"lastUpdateId":20,"bids":[["99.9","1.000"]],"asks":[["100.1","1.000"]]}`, 2);
    expect(adapter.topicInfo(0).state).toBe("live");
  });
});
