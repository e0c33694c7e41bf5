/**
 * Replay's resume of a STALE book (BookSink.onBookResumed: LIVE again at its kept levels, published whole) whose
 * snapshot cannot be encoded is that book's alone, as an exception while applying: the book is RESYNCING /
 * parse_error (never LIVE with nothing published), a status says so, the venue is asked to resync it, and the
 * adapter is told it was not resumed. Before, the exception went into the adapter's replay of the frame with the
 * book left LIVE (/books, /readyz) while subscribers had only its STALE status. Real Feeder, scripted venue.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ScriptedVenue, scriptedFeederConfig, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a resumed STALE book whose snapshot cannot be encoded resyncs (parse_error), never LIVE unpublished", { timeout: 20_000 }, async () => {
  const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "spot", "BTCUSDT"), venue: "bybit", market: "spot", symbol: "BTCUSDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(instrument);
  const { group, port } = uniqueDestination(79);
  const { spec, config } = scriptedFeederConfig({ venue, venueName: "bybit", market: "spot", depth: 25, symbols: [instrument.symbol], group, port });
  const feeder = new Feeder({ config, log: silentLogger, venues: { bybit: spec } });
  cleanups.push(() => feeder.stop());
  await feeder.start();
  const sink = venue.sink!;
  const u = new BookUpdate();
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  sink.onBookUpdate(0, u);
  sink.onBookInvalid(0, BookState.STALE, StatusReason.STALE_FEED);
  const book = feeder.books()[0]!;
  expect(book.state).toBe(BookState.STALE);
  const seqBefore = book.instrSeq;

  // The encoder refuses this book's snapshot (as a broken view or a level count past the wire's would).
  const publishSnapshot = feeder.publisher.publishSnapshot.bind(feeder.publisher);
  feeder.publisher.publishSnapshot = () => {
    throw new RangeError("snapshot refused by the encoder");
  };
  expect(sink.onBookResumed!(0)).toBe(false);
  feeder.publisher.publishSnapshot = publishSnapshot;

  expect(book.state).toBe(BookState.RESYNCING);
  expect(book.reason).toBe(StatusReason.PARSE_ERROR);
  expect(book.instrSeq).toBeGreaterThan(seqBefore + 1); // the unpublished resume's number skipped, then the status
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(feeder.stats().applyErrors).toBe(1);
  expect(feeder.readinessSummary().live).toBe(0);

  // A later resume of a book that is not STALE does nothing; the venue's next snapshot makes it LIVE again.
  expect(sink.onBookResumed!(0)).toBe(false);
  update(u, true, 2, [[1000, 6]], [[1001, 3]]);
  sink.onBookUpdate(0, u);
  expect(book.state).toBe(BookState.LIVE);
});
