/**
 * Feeder.start() whose venue's start rejects with a value with no string form (Object.create(null)): the start
 * rejects with that value, as with any single failure. Until 2026-12-07 the failures were keyed by String(reason), which
 * threw: the start rejected with "Cannot convert object to primitive value", the venue's cause lost.
 */
import { afterEach, expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ScriptedVenue, startScriptedOkxSpot } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a venue start rejecting with a value with no string form: Feeder.start() rejects with that value", async () => {
  const venue = new ScriptedVenue({ instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" });
  const thrown: unknown = Object.create(null);
  venue.loadInstruments = () => Promise.reject(thrown);
  const failed = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(921), cleanups }).then(
    () => "started",
    (err: unknown) => err,
  );
  expect(failed).toBe(thrown);
});
