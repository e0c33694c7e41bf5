/**
 * A book held by its stream's open retransmission request (§11.4: behind, not usable until the request ends) that the
 * other channel of an A/B pair carries meanwhile. Before 2026-12-07 any message of the other channel moved the book to
 * that stream and took its stale flag: a lagging copy of an event the book had applied made it usable while its
 * own stream's gap (maybe its next event) was still asked for, and a fallback's gap then missed it (no longer that
 * stream's), so it stayed usable where without retransmission the gap had made it invalid.
 */
import { describe, expect, it } from "vitest";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { deltaFeed, flagged } from "./delta-feed.ts";
import { take, T0 } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
const RETX = { host: "127.0.0.1", port: 9, timeoutMs: 1000 };

/** Channel 1 and 2 of one publisher (same source and session) carrying the same events of one book. */
function pair() {
  const a = deltaFeed(inst, 4, 6);
  const b = deltaFeed(inst, 4, 6, { channelId: 2 });
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: RETX });
  for (const d of [...a.head, a.deltas[0]!]) sub.ingest(d, T0);
  sub.ingest(b.deltas[0]!, T0); // channel 2 lags: a copy of what the book has
  sub.ingest(a.deltas[1]!, T0); // channel 1 carries the book again, its next event
  const book = sub.book(inst.instrumentId)!;
  expect(book.usable).toBe(true);
  return { a, b, sub, book };
}

/** The gap on channel 1 revealed by `d`: asked for, `d` held, the book (channel 1's) held too. */
function gapAt(sub: FeedSubscriber, book: SubscriberBook, d: Uint8Array): void {
  sub.ingest(d, T0);
  expect(sub.retransmitsPending).toBe(1);
  expect(book.usable).toBe(false);
}

describe("a book held by a retransmission request, carried meanwhile by the other channel", () => {
  it("a lagging copy on the other channel of an event it has keeps it held (not usable) until the request ends", () => {
    const { a, b, sub, book } = pair();
    gapAt(sub, book, a.deltas[3]!); // [2] lost
    sub.ingest(b.deltas[1]!, T0); // the other channel's copy of the event the book is at: the gap is still open
    expect(book.usable).toBe(false);
    sub.ingest(flagged(a.deltas[2]!), T0); // the answer: gap filled, the held datagram applied
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(book.usable).toBe(true);
    expect(book.instrSeq).toBe(a.book.instrSeq - 2);
  });

  it("the request falling back: its gap makes the book invalid, as without retransmission", () => {
    const { a, b, sub, book } = pair();
    // [2] … [5] lost on channel 1, the gap revealed by a heartbeat: no event of the book is held behind it
    a.p.appendHeartbeat(0);
    gapAt(sub, book, take(a.p)[0]!);
    sub.ingest(b.deltas[1]!, T0); // a lagging copy on channel 2 of the event the book is at
    sub.checkRecovery(Date.now() + 5000);
    expect(sub.counters.retransmitTimeouts).toBe(1);
    expect(sub.counters.gaps).toBe(1);
    expect(book.valid).toBe(false);
    expect(book.usable).toBe(false);
  });

  it("the other channel's next event applies (the book in sequence) but the book stays held until the request ends", () => {
    const { a, b, sub, book } = pair();
    gapAt(sub, book, a.deltas[3]!);
    sub.ingest(b.deltas[2]!, T0); // the event lost on channel 1, from channel 2
    expect(book.instrSeq).toBe(a.book.instrSeq - 3);
    expect(book.valid).toBe(true);
    expect(book.usable).toBe(false); // channel 1's held datagrams are still ahead of it
    sub.ingest(flagged(a.deltas[2]!), T0);
    expect(book.usable).toBe(true);
    expect(book.instrSeq).toBe(a.book.instrSeq - 2);
  });
});
