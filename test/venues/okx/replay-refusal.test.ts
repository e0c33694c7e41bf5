/**
 * Replay of a venue's subscribe refusal: the capture's `ws:req` record (venue.ts SOCKET_REQUEST_URL_PREFIX) makes the
 * request pending as live's was, so the refusal answering it halts the book as live did; a planned reconnect's
 * replacement refusing a topic the old socket serves is held until the overlap's recorded end says whose refusal it
 * was (`ws:back`: the replacement failed, nothing halted; `ws:retired`: the venue's). Before, requests were not
 * recorded and every refusal was ignored in replay (the book stayed LIVE where live had it halted).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { CaptureSocketHead } from "../../../src/app/capture-sockets.ts";
import { RECORDER_STOPPED_WHY, type VenueAdapter } from "../../../src/venues/venue.ts";
import { btcUsdtConfig, MapSink } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const HALTED = [{ index: 0, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }];
const snapshot = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["200.1","1","0","1"]],"bids":[["200","1","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":-1,"seqId":10}]}`;
const request = (id: string) => `ws:req ${JSON.stringify([id, "subscribe", ["books:BTC-USDT"]])}`;
const refusal = (id: string) => JSON.stringify({ id, event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:BTC-USDT doesn't exist." });
const accepted = (id: string) => JSON.stringify({ id, event: "subscribe", arg: { channel: "books", instId: "BTC-USDT" } });

/** A replaying adapter of spot BTC-USDT (depth 400) on a MapSink, stopped after the test. */
async function replayOfBtcUsdt(log: Logger = silentLogger) {
  const adapter = new OkxAdapter(btcUsdtConfig(400), [{ market: "spot", symbol: "BTC-USDT", depth: 400 }], { log });
  cleanups.push(() => adapter.stop());
  const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
  adapter.startReplay(sink);
  /** A record of a capture file's head (a connection event on conn0.spot), taken. */
  const head = (url: string, body = "") => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1, body)).toBe(true);
  return { adapter, sink, head };
}

/** A replaying adapter of spot BTC-USDT, its subscribe s1 written on conn0.spot, and what a test feeds it there. */
async function subscribedInReplay(log: Logger = silentLogger) {
  const { adapter, sink } = await replayOfBtcUsdt(log);
  const feed = (f: string) => expect(adapter.ingestFrame("spot", "conn0.spot", f, 1)).toBe(true);
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  event("ws:open");
  event("ws:sockets");
  event(request("s1"));
  return { adapter, sink, feed, event };
}

/** subscribedInReplay, then LIVE from a snapshot. */
async function liveInReplay(log: Logger = silentLogger) {
  const r = await subscribedInReplay(log);
  r.feed(snapshot);
  expect(r.adapter.topicInfo(0).state).toBe("live");
  return r;
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
    feed(accepted("s3"));
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
    // Recorded before live's ws:back: a request written while the refusal was handled (a refused batch's rest), and a
    // new file's head (the writer cuts files by receive time). Neither says the refusal was the venue's.
    back.event(request("s3"));
    back.event("ws:overlap");
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

  test("a refused book's frames after the refusal are not applied: live halted it at the refusal, ws:back would have come next", async () => {
    // Live: the replacement's refusal while the old socket is closing (it cannot go back) halts the book at once; its
    // going back (ws:back) is recorded right after the refusing frame. So any other record next says it was the venue's.
    const update = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":10,"seqId":11}]}`;
    const { adapter, sink, feed, event } = await liveInReplay();
    event("ws:swap");
    event(request("s2"));
    feed(refusal("s2"));
    event("ws:old");
    feed(update); // the old socket's last frame, received after the refusal
    expect(sink.invalid, "halted before the frame").toEqual(HALTED);
    expect(sink.seq[0]).toBe(10);
    expect(sink.bids[0]).toBeUndefined();
    event("ws:retired");
    expect(sink.invalid).toEqual(HALTED);
    expect(adapter.topicInfo(0).state).toBe("halted");
  });

  test("a book refused for now takes its frames again after a capture gap (the recorded acceptance may be in the lost records): LIVE from the next snapshot", async () => {
    // Live: the retry was accepted and the book LIVE from its snapshot; the capture lost the retry's ws:req and answer.
    // Until s-rd4a replay ignored the book's frames for good (refusedUntilAck, its stale clock refreshed by each): it
    // stayed RESYNCING to the replay's end, or to a recorded close.
    const busy = JSON.stringify({ id: "s2", event: "error", code: "50001", msg: "Service temporarily unavailable. Please try again later." });
    const { adapter, sink, feed, event } = await liveInReplay();
    event(request("s2"));
    feed(busy);
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    (adapter as VenueAdapter).replayCaptureGap?.(); // as app Feeder.captureGap does at a file that ended early
    feed(snapshot.replace('"seqId":10', '"seqId":20'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(20);
  });

  test("a refusal over the rate limit is not sent again in replay (no warning of a retry): the recorded retry follows", async () => {
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (msg) => void warnings.push(msg), child: () => log };
    const { adapter, sink, feed, event } = await liveInReplay(log);
    event(request("s2"));
    feed(JSON.stringify({ id: "s2", event: "error", code: "60014", msg: "Requests too frequent." }));
    expect(warnings).toEqual([]);
    event(request("s3"));
    feed(accepted("s3"));
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0).state).toBe("live");
  });

  test("a rejected book subscribed again (its listing found trading) awaits its snapshot, is LIVE from it, and a second refusal halts it again", async () => {
    const { adapter, sink, feed, event } = await liveInReplay();
    event(request("s2"));
    feed(refusal("s2"));
    expect(adapter.topicInfo(0).state).toBe("halted");
    event(request("s3"));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "awaiting_snapshot", rejected: false, subscribed: true });
    feed(accepted("s3"));
    feed(snapshot.replace('"seqId":10', '"seqId":30'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(30);
    event(request("s4"));
    feed(refusal("s4"));
    expect(sink.invalid).toEqual([...HALTED, ...HALTED]);
    expect(adapter.topicInfo(0).state).toBe("halted");
  });
});

describe("okx replay: a held refusal and a recorded REST answer", () => {
  test("the REST answer after the replacement's refusal decides it as the venue's (live's ws:back would have come first): the buffered book is halted, not bridged to LIVE", async () => {
    // Live writes ws:back in a microtask right after the refusing frame; a REST answer is a later task, so one recorded
    // next says live did not go back. Until 2026-12-07 (s-rdrepd2) ingestRest decided nothing: the held book was
    // bridged to LIVE from the recorded answer, published LIVE where live had it halted.
    const { adapter, sink, feed, event } = await subscribedInReplay();
    // An update before any snapshot: buffered for a REST snapshot (rest-bridge.ts), the recorded answer to come.
    feed(`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":10,"seqId":11}]}`);
    expect(adapter.topicInfo(0).state).not.toBe("live");
    event("ws:swap");
    event(request("s2"));
    feed(refusal("s2"));
    expect(sink.invalid, "held").toEqual([]);
    const rest = JSON.stringify({ code: "0", msg: "", data: [{ asks: [["200.1", "1", "0", "1"]], bids: [["200", "1", "0", "1"]], ts: "1700000000000", checksum: 0, prevSeqId: -1, seqId: 10 }] });
    expect(adapter.ingestRest("spot", "conn0.spot", "https://www.okx.com/api/v5/market/books-full?instId=BTC-USDT&sz=400", rest, 2)).toBe(true);
    expect(sink.invalid).toEqual(HALTED);
    expect(adapter.topicInfo(0).state).toBe("halted");
    expect(sink.seq[0]).toBeUndefined();
  });
});

describe("okx replay: a refusal for now and a recorded REST answer", () => {
  test("the book refused for now (RESYNCING, its subscribe sent again later) drops its bridge: a REST answer recorded after the refusal (by a run before s-rd3a) does not bridge it to LIVE", async () => {
    // Live now drops the bridge at the refusal and records no answer of it; until s-rd3a it kept the bridge, and the
    // answer (live's or a recorded one) bridged the buffered update to LIVE while the subscribe waited to go again.
    const busy = (id: string) => JSON.stringify({ id, event: "error", code: "50001", msg: "Service temporarily unavailable. Please try again later." });
    const { adapter, sink, feed } = await subscribedInReplay();
    feed(`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":10,"seqId":11}]}`);
    feed(busy("s1"));
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    const rest = JSON.stringify({ code: "0", msg: "", data: [{ asks: [["200.1", "1", "0", "1"]], bids: [["200", "1", "0", "1"]], ts: "1700000000000", checksum: 0, prevSeqId: -1, seqId: 10 }] });
    expect(adapter.ingestRest("spot", "conn0.spot", "https://www.okx.com/api/v5/market/books-full?instId=BTC-USDT&sz=400", rest, 2)).toBe(true);
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.seq[0]).toBeUndefined();
  });
});

describe("okx replay: a recorded unsubscribe and a capture gap", () => {
  test("records lost after a resync's unsubscribe (its subscribe among them): the book is LIVE from the capture's next snapshot, as live's was from the resubscribe's", async () => {
    // Replay ignores a book's frames from its recorded unsubscribe to its next recorded subscribe (live's
    // SUB_UNSUBSCRIBING). Until 2026-12-07 a gap that lost that subscribe left the mark for good: every later frame of the
    // book ignored, the book RESYNCING until the connection's close where live's was LIVE from the resubscribe's snapshot.
    const { adapter, sink, feed, event } = await liveInReplay();
    feed(`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":12,"seqId":13}]}`);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", ["books:BTC-USDT"]])}`);
    feed(snapshot.replace('"seqId":10', '"seqId":20')); // before the gap: still unsubscribing, ignored as live's
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    adapter.replayCaptureGap?.(); // as the app's Feeder.captureGap: lost here are the ack, ws:req s3, its ack
    feed(snapshot.replace('"seqId":10', '"seqId":30'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(30);
  });
});

describe("okx replay: a recorded budget wait", () => {
  test("a resync's wait for the request budget (ws:wait … ws:waited) ignores the book's frames, through a go-back too, as live's; the restart's answer after it makes it LIVE", async () => {
    // Live sends nothing while the wait lasts and ignores the book's frames (budgetWait); a go-back does not end it (its
    // redo waits too). Until 2026-12-07 nothing was recorded and replay took the next snapshot there.
    const { adapter, sink, feed, event } = await liveInReplay();
    feed(`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":12,"seqId":13}]}`);
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:wait", 1, "books:ETH-USDT")).toBe(false); // not one of conn's
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:wait", 1, "books:BTC-USDT")).toBe(true);
    feed(snapshot.replace('"seqId":10', '"seqId":20'));
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    event("ws:swap");
    event("ws:back");
    feed(snapshot.replace('"seqId":10', '"seqId":25'));
    expect(adapter.topicInfo(0).state, "still waiting after the go-back").toBe("resyncing");
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:waited", 1, "books:BTC-USDT")).toBe(true);
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", ["books:BTC-USDT"]])}`);
    feed(snapshot.replace('"seqId":10', '"seqId":27'));
    expect(adapter.topicInfo(0).state, "unsubscribing").toBe("resyncing");
    event(request("s3"));
    feed(snapshot.replace('"seqId":10', '"seqId":30'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(30);
  });
});

describe("okx replay: a book closed during its budget wait", () => {
  test("reopened (ws:reopened, no request: its closure's unsubscribe held too), its frames stay ignored until the wait's restart, across its socket's close too; a file begun after that close says so (ws:waitset)", async () => {
    // Live's wait runs on through the closure and the socket's close (its timer, then ws:waited and the restart), and a
    // book reopened meanwhile takes no frame (budgetWait). Until s-rd29b replay ended the mark at the closure (the
    // disconnected hook) and the head dropped it at the close: the reopened book LIVE from its next snapshot in replay only.
    const closedDuringWait = (r: Awaited<ReturnType<typeof liveInReplay>>) => {
      expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:wait", 1, "books:BTC-USDT")).toBe(true);
      expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:closed", 1, "books:BTC-USDT")).toBe(true);
    };
    const reopenedIgnored = (r: Awaited<ReturnType<typeof liveInReplay>>, what: string) => {
      expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:reopened", 1, "books:BTC-USDT")).toBe(true);
      r.feed(snapshot.replace('"seqId":10', '"seqId":20'));
      expect(r.adapter.topicInfo(0).state, what).not.toBe("live");
      expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:waited", 1, "books:BTC-USDT")).toBe(true);
      r.event(request("s9"));
      r.feed(snapshot.replace('"seqId":10', '"seqId":30'));
      expect(r.adapter.topicInfo(0).state, `${what}: the restart's answer`).toBe("live");
    };
    const same = await liveInReplay();
    closedDuringWait(same);
    reopenedIgnored(same, "reopened on its socket");

    const across = await liveInReplay();
    closedDuringWait(across);
    for (const url of ["ws:close", "ws:open", "ws:sockets"]) across.event(url);
    reopenedIgnored(across, "reopened on the next socket");

    // The same records cut after the close: the next file's head keeps the closed book's wait.
    const head = new CaptureSocketHead();
    for (const [url, body] of [["ws:open", ""], ["ws:sockets", ""], [request("s1"), ""], ["ws:wait", "books:BTC-USDT"], ["ws:closed", "books:BTC-USDT"], ["ws:close", ""]]) {
      head.observe("okx", "spot", "conn0.spot", url!, body);
    }
    const { adapter: alone, sink: aloneSink } = await replayOfBtcUsdt();
    const event = (url: string, body = "") => expect(alone.ingestConnectionEvent("spot", "conn0.spot", url, 1, body)).toBe(true);
    for (const e of head.events()) event(e.url, e.body);
    for (const url of ["ws:open", "ws:sockets"]) event(url);
    reopenedIgnored({ adapter: alone, sink: aloneSink, feed: (f) => expect(alone.ingestFrame("spot", "conn0.spot", f, 1)).toBe(true), event }, "a file begun after the close");
  });

  test("the recorder's stop ends the wait (live's ended with its process): reopened in the next run, the book's frames are taken", async () => {
    // A lost socket leaves a closed book's wait running (above); the stop's ws:close does not: the next run starts with
    // no wait. Until s-smallfr the mark carried into the next run's records, its frames ignored there in replay only.
    const r = await liveInReplay();
    expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:wait", 1, "books:BTC-USDT")).toBe(true);
    expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:closed", 1, "books:BTC-USDT")).toBe(true);
    expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:close", 1, RECORDER_STOPPED_WHY)).toBe(true);
    for (const url of ["ws:open", "ws:sockets"]) r.event(url);
    expect(r.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:reopened", 1, "books:BTC-USDT")).toBe(true);
    r.feed(snapshot.replace('"seqId":10', '"seqId":20'));
    expect(r.adapter.topicInfo(0).state).toBe("live");
    expect(r.sink.seq[0]).toBe(20);

    // The same records cut after the stop's close (its block split by a rotation): the next file's head has no wait
    // either. Until s-rd2b its ws:waitset kept the closed book's, its frames ignored in that file's replay only.
    const head = new CaptureSocketHead();
    for (const [url, body] of [["ws:open", ""], ["ws:sockets", ""], [request("s1"), ""], ["ws:wait", "books:BTC-USDT"], ["ws:closed", "books:BTC-USDT"], ["ws:close", RECORDER_STOPPED_WHY]]) {
      head.observe("okx", "spot", "conn0.spot", url!, body);
    }
    expect(head.events().map((e) => e.url)).not.toContain("ws:waitset");
    const { adapter: alone, sink: aloneSink, head: event } = await replayOfBtcUsdt();
    for (const e of head.events()) event(e.url, e.body);
    for (const url of ["ws:open", "ws:sockets"]) event(url);
    event("ws:reopened", "books:BTC-USDT");
    expect(alone.ingestFrame("spot", "conn0.spot", snapshot.replace('"seqId":10', '"seqId":20'), 1)).toBe(true);
    expect(alone.topicInfo(0).state, "a file begun after the stop's close").toBe("live");
    expect(aloneSink.seq[0]).toBe(20);
  });
});

describe("okx replay: a file begun during a budget wait", () => {
  test("its head's ws:waitset ignores the book's frames as the wait's ws:wait did, and decides no refusal held; the restart's answer makes it LIVE", async () => {
    // A file rotated during the wait (up to an hour) replayed alone: before s-recrd its head did not say so, and the
    // first snapshot of the book made it LIVE in that replay where live's stayed RESYNCING until the restart.
    const { adapter, sink, head } = await replayOfBtcUsdt();
    head("ws:state");
    head("ws:waitset", "books:ETH-USDT books:BTC-USDT"); // a name not of the replay's config is passed over
    head("ws:asked", '["books:BTC-USDT"]');
    expect(adapter.ingestFrame("spot", "conn0.spot", snapshot, 1)).toBe(true);
    expect(adapter.topicInfo(0).state, "waiting for the budget").not.toBe("live");
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:waited", 1, "books:BTC-USDT")).toBe(true);
    head(request("s3"));
    expect(adapter.ingestFrame("spot", "conn0.spot", snapshot.replace('"seqId":10', '"seqId":30'), 1)).toBe(true);
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(30);

    // A head between a replacement's refusing frame and live's ws:back (files are cut by receive time).
    const back = await liveInReplay();
    back.event("ws:swap");
    back.event(request("s2"));
    back.feed(refusal("s2"));
    expect(back.adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:waitset", 1, "books:ETH-USDT")).toBe(true);
    back.event("ws:back");
    expect(back.sink.invalid).toEqual([]);
  });
});

describe("okx replay: a file begun inside a recorded unsubscribe's hold or a go-back's held subscribe", () => {
  test("its head's ws:unsubset ignores the book's frames until its subscribe's ws:req; ws:back-heldset takes them, its silence not judged", async () => {
    // A file rotated between a resync's recorded unsubscribe and its subscribe (a book idle after a go-back while the
    // old socket streams its channel: up to its resync's backoff) replayed alone: before s-rd27a its head did not say
    // so, and the first snapshot of the book made it LIVE in that replay where live's stayed RESYNCING.
    const { adapter, head } = await replayOfBtcUsdt();
    head("ws:state");
    head("ws:unsubset", "books:ETH-USDT books:BTC-USDT"); // a name not of the replay's config is passed over
    head("ws:asked", '["books:BTC-USDT"]');
    expect(adapter.ingestFrame("spot", "conn0.spot", snapshot, 1)).toBe(true);
    expect(adapter.topicInfo(0).state, "held as by its unsubscribe").not.toBe("live");
    head(request("s3"));
    expect(adapter.ingestFrame("spot", "conn0.spot", snapshot.replace('"seqId":10', '"seqId":30'), 1)).toBe(true);
    expect(adapter.topicInfo(0).state).toBe("live");

    // A file begun inside a go-back's held subscribe (ws:back-heldset alone): its frames taken, its subscribe marked held
    // until its ws:req. (A book in both head sets, ws:back-heldset then ws:unsubset: test/record/capture-socket-head.test.ts.)
    const { adapter: other } = await replayOfBtcUsdt();
    for (const [url, body] of [["ws:state", ""], ["ws:back-heldset", "books:BTC-USDT books:ETH-USDT"], ["ws:asked", '["books:BTC-USDT"]']] as const) {
      expect(other.ingestConnectionEvent("spot", "conn0.spot", url, 1, body)).toBe(true);
    }
    expect(other.ingestFrame("spot", "conn0.spot", snapshot, 1)).toBe(true);
    expect(other.topicInfo(0).state, "its subscribe held: the old socket's snapshot taken, as live").toBe("live");
    const t = (other as unknown as { conns: { topics: { subscribeQueued: boolean }[] }[] }).conns[0]!.topics[0]!;
    expect(t.subscribeQueued).toBe(true);
    expect(other.ingestConnectionEvent("spot", "conn0.spot", request("s4"), 1)).toBe(true);
    expect(t.subscribeQueued, "its ws:req ends the mark").toBe(false);
    // A head naming only books not of the replay's config (a replay of fewer books) is taken, no malformed record.
    expect(other.ingestConnectionEvent("spot", "conn0.spot", "ws:back-heldset", 1, "books:ETH-USDT")).toBe(true);
    expect(other.stats().malformedRecords).toBe(0);
    // Nor is a go-back's own record naming only such books (counted malformed until the final read of 2026-12-07);
    // one naming nothing is.
    other.ingestConnectionEvent("spot", "conn0.spot", "ws:back-held", 1, "books:ETH-USDT");
    expect(other.stats().malformedRecords).toBe(0);
    other.ingestConnectionEvent("spot", "conn0.spot", "ws:back-held", 1, "");
    expect(other.stats().malformedRecords).toBe(1);
  });
});

describe("okx replay: a go-back's held subscribe of a book closed and reopened before it went", () => {
  test("the replay of every record and one begun at a later file's head agree: subscribe held (not subscribed), an unreadable frame of the book resyncs nothing, as live", async () => {
    // Live: the book's go-back subscribe held (SUB_PENDING, subscribeQueued), its closure (SUB_REJECTED), its reopening
    // while that subscribe is out (activateAll: SUB_PENDING again, ws:reopened). Until s-subdiff the replay that read
    // those records had it SUB_ACTIVE (replayResubscribed): a bad frame resynced it there (parse-errors.ts
    // subscribeHeld), but not in live nor in a replay begun at the next file's head (ws:back-heldset: SUB_PENDING).
    const records: [string, string][] = [["ws:open", ""], ["ws:sockets", ""], [request("s1"), ""], ["ws:back-held", "books:BTC-USDT"], ["ws:closed", "books:BTC-USDT"], ["ws:reopened", "books:BTC-USDT"]];
    const fileHead = new CaptureSocketHead();
    for (const [url, body] of records) fileHead.observe("okx", "spot", "conn0.spot", url, body);
    const replays = [];
    for (const events of [records, fileHead.events().map((e): [string, string] => [e.url!, e.body ?? ""])]) {
      const { adapter } = await replayOfBtcUsdt();
      for (const [url, body] of events) expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1, body), url).toBe(true);
      expect(adapter.ingestFrame("spot", "conn0.spot", snapshot.replace('"seqId":10', '"seqId":30'), 1)).toBe(true);
      expect(adapter.topicInfo(0).state, "the old socket's snapshot taken").toBe("live");
      const update = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["x","1","0","1"]],"ts":"1700000000001","checksum":0,"prevSeqId":30,"seqId":31}]}`;
      expect(adapter.ingestFrame("spot", "conn0.spot", update, 1)).toBe(true);
      replays.push(adapter.topicInfo(0));
    }
    expect(replays[0], "every record").toMatchObject({ state: "live", subscribed: false, resyncs: 0 });
    expect(replays[1], "begun at the head").toEqual(replays[0]);
  });
});

describe("okx replay: a frame unreadable down to its book", () => {
  test("resyncs no book whose frames replay ignores (a recorded budget wait, a recorded unsubscribe), as live's spares them", async () => {
    // Live: a book waiting for the budget, or unsubscribing, is resynced already (ParseErrors spares it). Until
    // 2026-12-07 replay resynced it again at such a frame (counted, its overlap marks cleared) where live did not.
    const { adapter, feed, event } = await liveInReplay();
    feed(`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":12,"seqId":13}]}`);
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:wait", 1, "books:BTC-USDT")).toBe(true);
    const resyncs = adapter.stats().resyncs!;
    feed(`{"arg":{"chan`);
    expect(adapter.stats().unattributedParseErrors).toBe(1);
    expect(adapter.stats().resyncs, "waiting for the budget").toBe(resyncs);
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:waited", 1, "books:BTC-USDT")).toBe(true);
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", ["books:BTC-USDT"]])}`);
    feed(`{"arg":{"chan`);
    expect(adapter.stats().unattributedParseErrors).toBe(2);
    expect(adapter.stats().resyncs, "unsubscribing").toBe(resyncs);
  });
});

/** A replaying adapter of spot BTC-USDT books5 on a clock the test sets (stale after 1 s), LIVE from a first book at 1 000 000 ms. */
async function books5OnClock() {
  let nowMs = 1_000_000;
  const adapter = new OkxAdapter(btcUsdtConfig(5), [{ market: "spot", symbol: "BTC-USDT", depth: 5 }], { log: silentLogger, now: () => nowMs, staleAfterMs: () => 1_000 });
  cleanups.push(() => adapter.stop());
  const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
  adapter.startReplay(sink);
  const book = (seq: number, bid = "200") =>
    `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"ts":"${1700000000000 + seq}","checksum":0,"prevSeqId":-1,"seqId":${seq}}]}`;
  const at = (ms: number) => {
    nowMs = ms;
    adapter.replayClockAt(ms); // as the app's replay clock, before each record
  };
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, nowMs * 1000)).toBe(true);
  const feed = (f: string) => expect(adapter.ingestFrame("spot", "conn0.spot", f, nowMs * 1000)).toBe(true);
  at(nowMs);
  event("ws:open");
  event("ws:sockets");
  event(`ws:req ${JSON.stringify(["s1", "subscribe", ["books5:BTC-USDT"]])}`);
  feed(book(10));
  expect(adapter.topicInfo(0).state).toBe("live");
  return { adapter, sink, book, at, event, feed };
}

describe("okx replay: staleness while a recorded unsubscribe is out", () => {
  test("a LIVE book's recorded unsubscribe (live had halted it: an instrument closed, which replay does not see) holds nothing: its books are taken, STALE a stale time after its last", async () => {
    // The venues' common rule (SubscriptionControl.replayHold), Bybit's before: until 2026-12-07 OKX held a LIVE book
    // too, shown LIVE frozen at its last book before the unsubscribe while the venue's went on, until the stale rule.
    const { adapter, sink, book, at, event, feed } = await books5OnClock();
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", ["books5:BTC-USDT"]])}`);
    for (let k = 1; k <= 30; k++) {
      at(1_000_000 + k * 100); // the venue's books until the unsubscribe's ack
      if (k <= 3) feed(book(10 + k));
      if (k === 3) expect(adapter.topicInfo(0), "the venue's book").toMatchObject({ state: "live", seqId: 13 });
    }
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED }]);
    expect(adapter.topicInfo(0).state).toBe("stale");
  });

  test("a book whose unsubscribe is out past the stale time (refused over the rate limit, sent again later) is not made STALE, nor just after its subscribe; its answer makes it LIVE", async () => {
    // Live judges no topic while unsubscribing (ConnectionLifecycle.judgeStale) and counts a subscribe's silence from its
    // send; replay ignores the book's frames there. Until 2026-12-07 replay made it STALE (stale_feed) a stale time after
    // its last book taken, where live's stayed RESYNCING.
    const { adapter, sink, book, at, event, feed } = await books5OnClock();
    feed(book(11, "x")); // cannot be read: resynced
    const RESYNC = [{ index: 0, state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR }];
    expect(sink.invalid).toEqual(RESYNC);
    event(`ws:req ${JSON.stringify(["u2", "unsubscribe", ["books5:BTC-USDT"]])}`);
    for (let k = 1; k <= 30; k++) {
      at(1_000_000 + k * 100); // 3 s: the old subscription's books go on, live's unsubscribe waiting to go again
      feed(book(11 + k));
    }
    event(`ws:req ${JSON.stringify(["u3", "unsubscribe", ["books5:BTC-USDT"]])}`);
    at(1_003_100);
    event(`ws:req ${JSON.stringify(["s4", "subscribe", ["books5:BTC-USDT"]])}`);
    at(1_004_050); // within a stale time of the subscribe, past a round (each stale time while unsubscribing)
    feed(book(50));
    expect(sink.invalid).toEqual(RESYNC);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 50 });
  });
});

describe("okx replay across a capture gap (a file that ended early or could not be read, a time jump)", () => {
  /** As Feeder.captureGap does to a replaying adapter: its capture-order state starts over, its LIVE book resyncs. */
  const gap = (adapter: OkxAdapter) => {
    adapter.replayCaptureGap();
    if (adapter.topicInfo(0).state === "live") adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
  };
  const busy = (id: string) => JSON.stringify({ id, event: "error", code: "50001", msg: "Service temporarily unavailable. Please try again later." });

  test("a book refused for now whose retry's acceptance was among the lost records takes its updates again: LIVE from the snapshot after the gap", async () => {
    // Live: s2 refused for now (RESYNCING / subscribe_rejected), its retry s3 accepted, the book LIVE at its snapshot;
    // the capture lost s3's acceptance. Kept past the gap, refusedUntilAck ignored the book's frames until the
    // connection's next socket (the merge of s-gappend clears it at the gap).
    const { adapter, sink, feed, event } = await liveInReplay();
    event(request("s2"));
    feed(busy("s2"));
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    event(request("s3"));
    gap(adapter); // lost: s3's acceptance
    feed(snapshot.replace('"seqId":10', '"seqId":20'));
    expect(adapter.topicInfo(0).state).toBe("live");
    expect(sink.seq[0]).toBe(20);
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
  });

  test("a replacement's refusal held when records were lost: the record after the gap does not decide it (live's ws:back may have been lost), nothing halted", async () => {
    // Live writes ws:back right after the refusing frame: lost in the gap, the next record after it (here the old
    // socket's update) would have decided the refusal as the venue's and halted a book live kept LIVE on the old
    // socket. As at a ws:state saying the overlap's end was lost: none rejected.
    const update = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["200.2","5","0","1"]],"bids":[],"ts":"1700000000001","checksum":0,"prevSeqId":10,"seqId":11}]}`;
    const { adapter, sink, feed, event } = await liveInReplay();
    event("ws:swap");
    event(request("s2"));
    feed(refusal("s2"));
    expect(sink.invalid, "held").toEqual([]);
    gap(adapter); // lost: ws:back, and more
    event("ws:old");
    feed(update);
    event("ws:retired"); // a later overlap's end, or this one's: the held refusal is not decided by it either
    expect(sink.invalid.filter((i) => i.state === BookState.HALTED)).toEqual([]);
    expect(adapter.topicInfo(0).state).not.toBe("halted");
  });
});
