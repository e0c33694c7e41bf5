/**
 * A wire snapshot listing a price twice on a side (docs/wire-protocol.md §4.4, §6.6): no publisher sends one (its
 * builder refuses a venue snapshot that does), so the datagram is corrupt or forged (no key). Until 2026-12-08 the
 * subscriber loaded it (Ladder.loadSorted kept the last entry's size, its answer ignored): the book valid and usable
 * at a guessed size. Now it is refused: the book emptied and invalid, `snapshotsRepeatingPrice`, an 'error' (rate
 * limited), and the next good snapshot loads it. The snapshots are built by the real encoder from a view that
 * repeats one rank's price, as a publisher bug would send them.
 */
import { afterEach, expect, it } from "vitest";
import type { FeedSubscriber, SubscriberErrorEvent } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { deepBook } from "./cut-books.ts";
import { bidDelta, newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

/** `book` as a view whose bid (or ask) at `rank` shows the price of the rank above it: that price listed twice. */
function repeating(book: TestBook, side: "bid" | "ask", rank: number): TestBook {
  const view = Object.create(book) as TestBook;
  if (side === "bid") view.bidPriceAt = (r: number) => book.bidPriceAt(r === rank ? r - 1 : r);
  else view.askPriceAt = (r: number) => book.askPriceAt(r === rank ? r - 1 : r);
  return view;
}

function errorsOf(s: FeedSubscriber): SubscriberErrorEvent[] {
  const out: SubscriberErrorEvent[] = [];
  s.on("error", (e) => out.push(e));
  return out;
}

it("a first snapshot repeating a bid price: refused (book empty, invalid), counted, said; the other book in the datagram loads; the next good one recovers it", () => {
  const a = new TestBook(makeInstrument("coinbase", "spot", "BTC-USD", 2, 8));
  a.load([[100_00, 5], [99_00, 6], [98_00, 7]], [[101_00, 8]], 1, T0);
  const b = new TestBook(makeInstrument("coinbase", "spot", "ETH-USD", 2, 8));
  b.load([[50_00, 1]], [[51_00, 2]], 1, T0);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(a.instrument), false);
  packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
  packBookSnapshot(p, repeating(a, "bid", 1), 0, false); // bids 100.00, 100.00, 98.00
  packBookSnapshot(p, b, 0, false);
  const datagrams = take(p);
  expect(datagrams.length).toBe(1);
  sub = newSubscriber();
  const errors = errorsOf(sub);
  sub.ingest(datagrams[0]!, T0);
  const bookA = sub.book(a.instrument.instrumentId)!;
  // Old: valid and usable, bids 100.00 × 6 (the second entry's size, a guess) and 98.00.
  expect(bookA.valid).toBe(false);
  expect(bookA.usable).toBe(false);
  expect(bookA.bidCount + bookA.askCount).toBe(0);
  expect(sub.counters.snapshotsRepeatingPrice).toBe(1);
  expect(errors.length).toBe(1);
  expect(errors[0]!.error.message).toContain(`instrument ${a.instrument.instrumentId}`);
  expect(errors[0]!.error.message).toContain("bids list price 10000");
  expect(errors[0]!.from).toBe("channel 1 source 0");
  expect(sub.counters.errors).toBe(0); // the datagram itself decodes: nothing rejected
  const bookB = sub.book(b.instrument.instrumentId)!;
  expect(bookB.usable).toBe(true);
  expect(bookB.bidPriceAt(0)).toBe(50_00);
  // The next good snapshot (a refresh) loads A.
  packBookSnapshot(p, a, 0, true);
  for (const d of take(p)) sub.ingest(d, T0);
  expect(bookA.usable).toBe(true);
  expect([bookA.bidCount, bookA.bidPriceAt(1), bookA.bidQtyAt(1)]).toEqual([3, 99_00, 6]);
  expect(sub.counters.snapshotsRepeatingPrice).toBe(1);
});

it("a chunked refresh at a valid book's own instrSeq repeating an ask price: refused, the book emptied and invalid (no repair); reports rate-limited; the next good refresh recovers it", () => {
  const pub = deepBook(20); // 20 levels a side: several chunks at 320-byte datagrams
  const p = packer({ maxBytes: 320 });
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 0, false);
  sub = newSubscriber();
  const errors = errorsOf(sub);
  let repairs = 0;
  sub.on("repair", () => repairs++);
  for (const d of take(p)) sub.ingest(d, T0);
  const book = sub.book(pub.instrument.instrumentId)!;
  expect(book.usable).toBe(true);
  for (let round = 1; round <= 2; round++) {
    packBookSnapshot(p, repeating(pub, "ask", 15), 0, true); // in a later chunk than the best asks
    const datagrams = take(p);
    expect(datagrams.length).toBeGreaterThan(3);
    for (const d of datagrams) sub.ingest(d, T0);
    // Old: loaded (a repair), valid and usable with 19 asks, one of them at a guessed size.
    expect(book.valid).toBe(false);
    expect(book.usable).toBe(false);
    expect(book.bidCount + book.askCount).toBe(0);
    expect(sub.counters.snapshotsRepeatingPrice).toBe(round);
  }
  expect(repairs).toBe(0);
  expect(sub.counters.snapshotsAbandoned).toBe(0); // assembled whole: refused at the load
  expect(errors.length).toBe(1); // the second within 5 s: said with the next report
  expect(errors[0]!.error.message).toContain("asks list price");
  packBookSnapshot(p, pub, 0, true);
  for (const d of take(p)) sub.ingest(d, T0);
  expect(book.usable).toBe(true);
  expect([book.bidCount, book.askCount, book.askPriceAt(15), book.askQtyAt(15)]).toEqual([20, 20, pub.askPriceAt(15), pub.askQtyAt(15)]);
  // Emptied by the subscriber, not diverged from the publisher's events: loading it back is no repair.
  expect(repairs).toBe(0);
});

it("a refused snapshot far ahead takes no header: deltas after it leave the book not usable, and the next good refresh (below the refused instrSeq) loads it", () => {
  const a = new TestBook(makeInstrument("coinbase", "spot", "BTC-USD", 2, 8));
  a.load([[100_00, 5], [99_00, 6]], [[101_00, 8]], 1, T0);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(a.instrument), false);
  packBookSnapshot(p, a, 0, false);
  sub = newSubscriber();
  for (const d of take(p)) sub.ingest(d, T0);
  const book = sub.book(a.instrument.instrumentId)!;
  expect(book.usable).toBe(true);
  const forged = repeating(a, "bid", 1);
  forged.instrSeq = 1_000_000; // its own, not a's: a forged header far ahead
  packBookSnapshot(p, forged, 0, true);
  for (const d of take(p)) sub.ingest(d, T0);
  expect(sub.counters.snapshotsRepeatingPrice).toBe(1);
  expect([book.usable, book.instrSeq]).toEqual([false, 1]);
  // The publisher's next delta: applied to the emptied book, which stays invalid (no snapshot since).
  packBookDelta(p, a, bidDelta(a, [[99_50, 3]]));
  for (const d of take(p)) sub.ingest(d, T0);
  expect([book.valid, book.usable, book.instrSeq]).toEqual([false, false, 2]);
  // Taken, the refused header's instrSeq had refused this refresh as older (staleSnapshots): never usable again.
  packBookSnapshot(p, a, 0, true);
  for (const d of take(p)) sub.ingest(d, T0);
  expect(sub.counters.staleSnapshots).toBe(0);
  expect(book.usable).toBe(true);
  expect([book.bidCount, book.bidPriceAt(1), book.bidQtyAt(1)]).toEqual([3, 99_50, 3]);
});

it("refused on one channel, the other channel's copy of the same snapshot (the publisher's) loads the book at once", () => {
  const a = new TestBook(makeInstrument("coinbase", "spot", "BTC-USD", 2, 8));
  a.load([[100_00, 5], [99_00, 6]], [[101_00, 8], [102_00, 9]], 1, T0);
  const pA = packer({ channelId: 1 });
  const pB = packer({ channelId: 2 });
  packInstrumentDefinition(pA, new EncodedDefinition(a.instrument), false);
  packBookSnapshot(pA, repeating(a, "ask", 1), 0, false); // forged on channel 1: asks 101.00, 101.00
  packBookSnapshot(pB, a, 0, false);
  sub = newSubscriber();
  for (const d of take(pA)) sub.ingest(d, T0);
  const book = sub.book(a.instrument.instrumentId)!;
  expect(book.usable).toBe(false);
  expect(sub.counters.snapshotsRepeatingPrice).toBe(1);
  for (const d of take(pB)) sub.ingest(d, T0);
  // Not taken as a copy of the set refused (duplicateEvents): loaded, not left waiting for the next refresh.
  expect(sub.counters.duplicateEvents).toBe(0);
  expect(book.usable).toBe(true);
  expect([book.askCount, book.askPriceAt(1), book.askQtyAt(1)]).toEqual([2, 102_00, 9]);
});
