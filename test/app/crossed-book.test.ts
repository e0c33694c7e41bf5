/**
 * A venue update that crosses the book (issue #10 C): the publisher applies it, marks the book RESYNCING /
 * crossed_book and must publish that very update, so every subscriber's book stays identical to the publisher's
 * (/books shows the crossing level) while never being usable. Before, only a status went out: the subscriber kept
 * `valid` on a book that lacked the crossing level. Real Feeder, real publisher, real multicast on 127.0.0.1 (TTL 1).
 */
import { afterEach, expect, test } from "vitest";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { levelsOfView, sameLevels, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { ScriptedVenue, startScriptedOkxSpot, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a crossing delta is published itself: the subscriber's book keeps the crossing level, is valid and not usable", { timeout: 20_000 }, async () => {
  const instrument: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(instrument);
  const { feeder, subscriber } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(77), cleanups });
  const u = new BookUpdate();
  const sub = () => subscriber.books.get(instrument.instrumentId);
  const pub = () => feeder.books()[0]!;

  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5], [999, 7]], [[1001, 3], [1002, 1]]));
  await waitFor(() => sub()?.usable === true, "the snapshot, usable");

  // The venue sends a bid at 100.3 (mantissa 1003) above the best ask 100.1 (1001): the book is crossed.
  venue.sink!.onBookUpdate(0, update(u, false, 2, [[1003, 2]], []));
  await waitFor(() => sub()?.state === BookState.RESYNCING, "the crossed book's state");
  const book = sub()!;
  expect([pub().state, pub().reason]).toEqual([BookState.RESYNCING, StatusReason.CROSSED_BOOK]);
  expect(venue.resyncs).toEqual([StatusReason.CROSSED_BOOK]);
  expect(book.reason).toBe(StatusReason.CROSSED_BOOK);
  // Identical to the publisher's book, crossing level included …
  expect(book.bidPriceAt(0)).toBe(1003);
  expect(sameLevels(levelsOfView(book), levelsOfView(pub()))).toBe(true);
  expect(book.valid).toBe(true);
  // … and never usable while the publisher's book is not LIVE.
  expect(book.usable).toBe(false);
});
