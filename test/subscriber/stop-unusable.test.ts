/**
 * FeedSubscriber.stop(): its stale and retransmission timers stop and its sockets close, so nothing it holds is
 * watched any more. Before, its books stayed `usable` for good after stop(): a consumer reading a stopped subscriber's
 * books traded on a book nobody was keeping. Now stop() marks every stream stale (one 'stale' event each, `stopped`)
 * and every book with it; after start() a stream's next datagram clears it, as after any silence.
 */
import { afterEach, expect, it } from "vitest";
import { FeedSubscriber, type StaleEvent } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

it("after stop() no book is usable (a 'stale' event per stream, stopped: true); started again, the stream's next datagram makes it usable", async () => {
  const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
  const other = makeInstrument("bybit", "linear", "ETHUSDT", 1, 3);
  const p = packer();
  for (const i of [inst, other]) {
    const book = new TestBook(i);
    book.load([[943503, 1500]], [[943504, 250]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(i), false);
    packBookSnapshot(p, book, 0, false);
  }
  // No stale check of its own in this test (a minute): only stop() can make the books stale here.
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 60_000 });
  await sub.start();
  for (const d of take(p)) sub.ingest(d, T0);
  const books = [sub.book(inst.instrumentId)!, sub.book(other.instrumentId)!];
  expect(books.map((b) => b.usable)).toEqual([true, true]);
  const stale: StaleEvent[] = [];
  sub.on("stale", (e) => stale.push(e));

  await sub.stop();
  // Old: both still usable, no event.
  expect(books.map((b) => b.usable)).toEqual([false, false]);
  expect(books.map((b) => [b.valid, b.stale])).toEqual([[true, true], [true, true]]); // exact as of stop, not watched
  expect(stale).toHaveLength(1);
  expect(stale[0]).toMatchObject({ channelId: 1, books: 2, stopped: true });
  expect(sub.streamInfo()[0]!.stale).toBe(true);
  await sub.stop(); // a second stop says nothing more
  expect(stale).toHaveLength(1);

  await sub.start();
  expect(books.map((b) => b.usable)).toEqual([false, false]); // nothing heard yet
  const refresh = new TestBook(inst);
  refresh.load([[943503, 1500]], [[943504, 250]], 1, T0);
  packBookSnapshot(p, refresh, 0, true); // the stream's next datagram, no gap
  for (const d of take(p, T0 + 1_000)) sub.ingest(d, T0 + 1_000);
  expect(books.map((b) => b.usable)).toEqual([true, true]);
});
