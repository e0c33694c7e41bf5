/**
 * OKX full books (books5, bbo-tbt) during a planned reconnect's overlap: a book at or below the last seqId from the
 * other socket only lags and is ignored; from the socket that delivered the last seqId (TCP is ordered) it is a
 * maintenance reset and replaces the book, as it does outside an overlap. Ignoring it left the book LIVE at its old
 * levels for the rest of the overlap. In-process: replay mode, frames fed straight in, the two sockets told apart as
 * the planned reconnect does (generation, retiringGeneration, retiringWs, fromRetiring).
 */
import { expect, test } from "vitest";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { books5Adapter } from "./helpers.ts";

class Sink {
  seq = -1;
  bid = -1;
  invalid = 0;
  onBookUpdate(_i: number, u: { venueSeq: number; bidCount: number; bidPx: Float64Array }): void {
    this.seq = u.venueSeq;
    this.bid = u.bidCount > 0 ? u.bidPx[0]! : -1;
  }
  onBookInvalid(): void {
    this.invalid++;
  }
  onInstrumentChanged(): void {}
}

test("okx books5 in an overlap: the other socket's lower seqId is ignored, the same socket's is a reset", async () => {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const conn = (adapter as unknown as { conns: OkxConnection[] }).conns[0]!;
  const feed = (seq: number, bid: string, old = false) => {
    conn.fromRetiring = old;
    try {
      conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","ts":"1700000000000","seqId":${seq}}]}`, 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  feed(100, "100.1");
  // The swap: the replacement is the connection's socket, the old one still delivers.
  conn.retiringWs = {} as WebSocket;
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  feed(101, "100.2", true); // the old socket, ahead
  feed(100, "100.1"); // the replacement, lagging: ignored
  expect([adapter.stats().duplicates, sink.seq]).toEqual([1, 101]);
  feed(7, "99.5", true); // the old socket after a maintenance reset
  // Old: ignored as the lagging socket's (duplicates 2); the book stayed at seqId 101, bid 100.2, LIVE.
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq, sink.invalid]).toEqual([1, 1, 7, 0]);
  expect(adapter.topicInfo(0)).toMatchObject({ seqId: 7, state: "live" });
  feed(8, "99.6"); // the replacement, past it now: takes over
  feed(8, "99.6", true); // the old one at the same seqId: ignored
  expect([adapter.stats().duplicates, sink.seq]).toEqual([2, 8]);
  conn.retiringWs = null;
});

// The same through a capture that records the sockets (ws:sockets, ws:swap, ws:old, ws:retired: venue.ts), fed as
// replay feeds it: the overlap and each frame's socket are the live run's. Without the events, replay applied the
// lagging replacement's lower book as a reset (the book stepped back to 100).
test("okx books5 replayed with the recorded sockets: the lagging replacement's lower book is ignored, as live", async () => {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const seqs: number[] = [];
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  const feed = (seq: number, bid: string) => {
    adapter.ingestFrame("spot", "conn0.spot", `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","ts":"1700000000000","seqId":${seq}}]}`, 1);
    seqs.push(sink.seq);
  };
  event("ws:open");
  event("ws:sockets");
  feed(100, "100.1");
  event("ws:swap");
  event("ws:old");
  feed(101, "100.2"); // the old socket, ahead
  feed(100, "100.1"); // the replacement, lagging: ignored
  event("ws:old");
  feed(102, "100.3"); // the old socket
  event("ws:retired");
  feed(102, "100.3"); // the replacement, caught up
  feed(103, "100.4");
  expect(seqs).toEqual([100, 101, 101, 102, 102, 103]);
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.invalid]).toEqual([1, 0, 0]);
  await adapter.stop();
});

// A capture file's head (app/capture-sockets.ts) can come between a ws:old and its frame: the writer cuts a block at
// its file's UTC boundary by receive time, and the frame, the first of its event-loop turn, is stamped a microsecond
// after the ws:old recorded before it (core/clock.ts turnReceiptUs is read at the turn's first frame). Replayed in a
// row, the head repeats the overlap replay knows and must leave the ws:old's frame the old socket's.
test("okx books5 replayed: a file head between a ws:old and its frame leaves that frame the old socket's", async () => {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  const feed = (seq: number, bid: string) =>
    adapter.ingestFrame("spot", "conn0.spot", `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","ts":"1700000000000","seqId":${seq}}]}`, 1);
  event("ws:open");
  event("ws:sockets");
  feed(100, "100.1");
  event("ws:swap");
  event("ws:old");
  feed(101, "100.2"); // the old socket, ahead: the book's socket of record
  event("ws:old"); // the last record of one file …
  event("ws:overlap"); // … the next file's head …
  feed(7, "99.5"); // … and the old socket's frame: a maintenance reset on the book's socket, as live applied it
  // Before: the head cleared the pending ws:old, the frame was taken for the replacement's and ignored as lagging
  // (duplicates 1, the book LIVE at 101 with the pre-reset levels).
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq]).toEqual([0, 1, 7]);
  await adapter.stop();
});
