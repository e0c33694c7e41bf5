/**
 * A tick or lot change (onInstrumentChanged) rebuilds the publisher's book empty. When the exponents stay the same
 * (a tick of 0.5 becoming 0.1: one decimal either way) nothing in the book messages empties the subscriber's copy
 * (wire-protocol §5.8 drops levels only on other exponents), so the emptying must show as a jump in instrSeq: before,
 * the RESYNCING / instrument_changed status came next in sequence and the subscriber's book stayed `valid` ("identical
 * to the publisher's book as of instrSeq", §6.8) with levels the publisher no longer held.
 * Real Feeder, real publisher, real multicast on 127.0.0.1 (TTL 1).
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

test("a tick change at the same exponents leaves no subscriber holding a `valid` copy of the emptied book", { timeout: 20_000 }, async () => {
  const instrument: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.5", lotSize: "0.01" };
  const venue = new ScriptedVenue(instrument);
  const { feeder, subscriber } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(80), cleanups });
  const u = new BookUpdate();
  const sub = () => subscriber.books.get(instrument.instrumentId);
  const pub = () => feeder.books()[0]!;

  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5], [995, 7]], [[1005, 3]]));
  await waitFor(() => sub()?.usable === true, "the snapshot, usable");
  // As the venues' instrument watch does: the old book invalid, then the sink told (common/instrument-watch.ts).
  venue.sink!.onBookInvalid(0, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
  venue.sink!.onInstrumentChanged(0, { ...instrument, tickSize: "0.1" });
  await waitFor(() => sub()?.instrument.tickSize === "0.1" && sub()!.instrSeq === pub().instrSeq, "the new definition and the status");
  expect([pub().state, pub().reason, pub().bidCount]).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED, 0]);
  expect(sub()!.usable).toBe(false);
  expect(!sub()!.valid || sameLevels(levelsOfView(sub()!), levelsOfView(pub()))).toBe(true);
  // The snapshot at the new tick makes it valid and usable again.
  venue.sink!.onBookUpdate(0, update(u, true, 2, [[1001, 5]], [[1002, 3]]));
  await waitFor(() => sub()?.usable === true, "the new snapshot, usable");
  expect(sameLevels(levelsOfView(sub()!), levelsOfView(pub()))).toBe(true);
});
