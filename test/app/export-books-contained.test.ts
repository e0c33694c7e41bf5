/**
 * `export --books`: an exception while applying a book message is contained as in the Feeder (the book RESYNCING /
 * parse_error, a resync asked for, the error logged) whatever was thrown: until 2026-12-07 its line described it with
 * String(err), which throws for a value with no string form, so that throw left into the adapter's replay of the
 * frame and the book stayed live in the rows.
 */
import { expect, test } from "vitest";
import { BookSinkForExport } from "../../src/app/export-books.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import type { VenueAdapter } from "../../src/venues/venue.ts";
import { captureLog } from "../support/capture-log.ts";
import { update } from "../support/scripted-venue.ts";

const instrument: Instrument = { instrumentId: 7, venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };

test("a venue check that throws a value with no string form: the book resyncs, the cause logged", () => {
  const { log, lines } = captureLog();
  const changed: BookState[] = [];
  const sink = new BookSinkForExport([instrument], (b) => changed.push(b.state), log);
  const resyncs: StatusReason[] = [];
  sink.adapter = {
    verify: () => {
      throw Object.create(null);
    },
    requestResync: (_index: number, reason: StatusReason) => void resyncs.push(reason),
  } as unknown as VenueAdapter;
  sink.onBookUpdate(0, update(new BookUpdate(), true, 1, [[1000, 5]], [[1001, 3]]));
  const book = sink.builders[0]!;
  expect([book.state, book.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(changed.at(-1)).toBe(BookState.RESYNCING);
  expect(lines.map((l) => [l.msg, l.fields.error])).toEqual([["exception while applying a book message; book resyncs", "a thrown [object Object] with no string form"]]);
});
