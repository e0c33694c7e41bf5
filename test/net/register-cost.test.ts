/**
 * FeedPublisher.register finds an instrument already registered (an instrument change) by its id without looking at
 * every book registered before: a venue's books are all registered in one turn (VenuePipeline.attach), so a lookup
 * through every earlier book made that turn quadratic (20,000 books: seconds of a blocked thread at start, heartbeats
 * and the other venues' frames waiting). Counted, not timed: how often registration reads an instrument's id.
 * No socket: register() before start() only packs.
 */
import { expect, it } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import type { Instrument } from "../../src/core/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

const BOOKS = 1000;

const publish: PublishConfig = {
  maxDatagramBytes: 1400,
  heartbeatIntervalMs: 0,
  snapshotIntervalMs: 0,
  snapshotDepth: 0,
  destinations: [{ name: "all", group: "239.255.43.2", port: 17_011, iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } }],
};

/** The instrument with its id behind a getter that counts the reads. */
function counted(i: number, reads: { n: number }, priceExp = 2): Instrument {
  const plain = makeInstrument("binance", "spot", `S${i}USDT`, priceExp, 3);
  const id = plain.instrumentId;
  return Object.defineProperty({ ...plain }, "instrumentId", {
    get: () => {
      reads.n++;
      return id;
    },
    enumerable: true,
  });
}

it("registering n books reads each instrument's id a bounded number of times, not once per book before it; a change keeps its handle", () => {
  const pub = new FeedPublisher({ publish, sessionId: 1 });
  const reads = { n: 0 };
  const instruments = Array.from({ length: BOOKS }, (_, i) => counted(i, reads));
  const handles = instruments.map((instrument) => pub.register(instrument, new TestBook(instrument)));
  expect(handles).toEqual(instruments.map((_, i) => i));
  // Per book: the id for the lookup and for its definition. Before: every earlier book's id too (~n² = 1,000,000 reads).
  expect(reads.n).toBeLessThan(10 * BOOKS);
  // An instrument change (same id, new exponents) replaces the book behind its handle; a new instrument gets the next.
  const changed = counted(BOOKS / 2, reads, 4);
  expect(pub.register(changed, new TestBook(changed))).toBe(BOOKS / 2);
  const another = counted(BOOKS, reads);
  expect(pub.register(another, new TestBook(another))).toBe(BOOKS);
  expect(pub.channelInfo()[0]!.instruments).toBe(BOOKS + 1);
});
