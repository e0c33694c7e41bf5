/**
 * Replay of a venue's subscribe refusal: the capture's `ws:req` record (venue.ts SOCKET_REQUEST_URL_PREFIX) makes the
 * request pending as live's was, so the refusal answering it halts the book as live did; a planned reconnect's
 * replacement refusing a topic the old socket serves is held until the overlap's recorded end says whose refusal it
 * was (`ws:back`: the replacement failed, nothing halted; `ws:retired`: the venue's). Before, requests were not
 * recorded and every refusal was ignored in replay (the book stayed LIVE where live had it halted).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { btcUsdtConfig, MapSink } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const HALTED = [{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }];
const snapshot = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["200.1","1","0","1"]],"bids":[["200","1","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":-1,"seqId":10}]}`;
const request = (id: string) => `ws:req ${JSON.stringify([id, "subscribe", ["books:BTC-USDT"]])}`;
const refusal = (id: string) => JSON.stringify({ id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:BTC-USDT doesn't exist." });

/** A replaying adapter of spot BTC-USDT, LIVE from a snapshot on conn0.spot, and what a test feeds it there. */
async function liveInReplay() {
  const adapter = new OkxAdapter(btcUsdtConfig(400), [{ market: "spot", symbol: "BTC-USDT", depth: 400 }], { log: silentLogger });
  cleanups.push(() => adapter.stop());
  const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
  adapter.startReplay(sink);
  const feed = (f: string) => expect(adapter.ingestFrame("spot", "conn0.spot", f, 1)).toBe(true);
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  event("ws:open");
  event("ws:sockets");
  event(request("s1"));
  feed(snapshot);
  expect(adapter.topicInfo(0).state).toBe("live");
  return { adapter, sink, feed, event };
}

describe("okx replay: subscribe refusals", { timeout: 20_000 }, () => {
  test("a refusal answering a recorded request halts the book; one answering no recorded request (an older capture) is ignored", async () => {
    const { adapter, sink, feed, event } = await liveInReplay();
    feed(refusal("s9")); // its request not in the capture: matches none
    expect(sink.invalid).toEqual([]);
    event(request("s2"));
    feed(refusal("s2"));
    expect(sink.invalid).toEqual(HALTED);
    expect(adapter.topicInfo(0).state).toBe("halted");
  });

  test("a refusal for a reason that may pass: RESYNCING / subscribe_rejected, then LIVE from the snapshot after the recorded retry; in an overlap, held as a permanent one", async () => {
    const busy = (id: string) => JSON.stringify({ id, event: "error", code: "50001", msg: "Service temporarily unavailable. Please try again later." });
    const RETRY = [{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }];
    const { adapter, sink, feed, event } = await liveInReplay();
    event(request("s2"));
    feed(busy("s2"));
    expect(sink.invalid).toEqual(RETRY);
    event(request("s3")); // the retry after its backoff, accepted
    feed(JSON.stringify({ id: "s3", event: "subscribe", arg: { channel: "books", instId: "BTC-USDT" } }));
    feed(snapshot.replace('"seqId":10', '"seqId":20'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.invalid).toEqual(RETRY);

    const back = await liveInReplay();
    back.event("ws:swap");
    back.event(request("s2"));
    back.feed(busy("s2"));
    back.event("ws:back");
    expect(back.sink.invalid).toEqual([]);
    const retired = await liveInReplay();
    retired.event("ws:swap");
    retired.event(request("s2"));
    retired.feed(busy("s2"));
    expect(retired.sink.invalid).toEqual([]);
    retired.event("ws:retired");
    expect(retired.sink.invalid).toEqual(RETRY);
  });

  test("the replacement's refusal in an overlap: nothing when live went back (ws:back), halted when the old socket had retired (ws:retired)", async () => {
    const back = await liveInReplay();
    back.event("ws:swap");
    back.event(request("s2"));
    back.feed(refusal("s2"));
    back.event("ws:back");
    expect(back.sink.invalid).toEqual([]);
    expect(back.adapter.topicInfo(0).state).toBe("live");

    const retired = await liveInReplay();
    retired.event("ws:swap");
    retired.event(request("s2"));
    retired.feed(refusal("s2"));
    expect(retired.sink.invalid, "held until the overlap's end").toEqual([]);
    retired.event("ws:retired");
    expect(retired.sink.invalid).toEqual(HALTED);
  });

  test("an overlap whose end the capture lost (ws:state) rejects nothing, then or at a later overlap's ws:retired", async () => {
    const { adapter, sink, feed, event } = await liveInReplay();
    event("ws:swap");
    event(request("s2"));
    feed(refusal("s2"));
    event("ws:state"); // the overlap's ws:retired or ws:back was in a lost block
    event("ws:swap");
    event(request("s3"));
    event("ws:retired");
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0).state).toBe("live");
  });
});
