/**
 * An exception while applying a book message is contained (the book RESYNCING / parse_error, a status, a resync
 * asked for) whatever was thrown: until 2026-12-07 the catch described it with String(err), which throws for a value
 * with no string form (Object.create(null)), so that throw left the catch into the venue's handler of the message
 * and the book stayed LIVE with a change that was never published. Real Feeder, scripted venue.
 */
import { afterEach, expect, test } from "vitest";
import type { BookView } from "../../src/core/book-view.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { ScriptedVenue, startScriptedOkxSpot, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a delta whose publish throws a value with no string form: contained, the book resyncs, the cause logged", { timeout: 20_000 }, async () => {
  const btc: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(btc);
  const { log, lines } = captureLog();
  const { feeder } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(86), cleanups, log });
  const u = new BookUpdate();
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5]], [[1001, 3]]));
  const book = feeder.books()[0]!;
  expect(book.state).toBe(BookState.LIVE);
  const publishDelta = feeder.publisher.publishDelta.bind(feeder.publisher);
  feeder.publisher.publishDelta = () => {
    throw Object.create(null);
  };
  try {
    venue.sink!.onBookUpdate(0, update(u, false, 2, [[1000, 6]], []));
  } finally {
    feeder.publisher.publishDelta = publishDelta;
  }
  expect([book.state, book.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  const errors = lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.error]);
  expect(errors).toEqual([["exception while applying a book message; book resyncs", "a thrown [object Object] with no string form"]]);
});

test("a resync request that throws a value with no string form after such an exception: logged with its cause, not thrown on", { timeout: 20_000 }, async () => {
  const btc: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(btc);
  const { log, lines } = captureLog();
  const { feeder } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(85), cleanups, log });
  const u = new BookUpdate();
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5]], [[1001, 3]]));
  const publishDelta = feeder.publisher.publishDelta.bind(feeder.publisher);
  const requestResync = venue.requestResync.bind(venue);
  feeder.publisher.publishDelta = () => {
    throw new Error("delta refused (test)");
  };
  venue.requestResync = () => {
    throw Object.create(null);
  };
  try {
    venue.sink!.onBookUpdate(0, update(u, false, 2, [[1000, 6]], []));
  } finally {
    feeder.publisher.publishDelta = publishDelta;
    venue.requestResync = requestResync;
  }
  expect(feeder.books()[0]!.state).toBe(BookState.RESYNCING);
  const errors = lines.filter((l) => l.level === "error").map((l) => [l.msg, l.fields.error]);
  expect(errors).toEqual([
    ["exception while applying a book message; book resyncs", "delta refused (test)"],
    ["could not resync after an exception", "a thrown [object Object] with no string form"],
  ]);
});

test("a status and its bare status that both throw values with no string form: the resync is still asked for", { timeout: 20_000 }, async () => {
  // Before: the bare status's description threw out of publishStatusContained, past contain's requestResync.
  const btc: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(btc);
  const { log, lines } = captureLog();
  const { feeder } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(84), cleanups, log });
  const u = new BookUpdate();
  venue.sink!.onBookUpdate(0, update(u, true, 1, [[1000, 5]], [[1001, 3]]));
  const p = feeder.publisher;
  const saved = { publishDelta: p.publishDelta, publishStatus: p.publishStatus, publishBareStatus: p.publishBareStatus };
  const noStringForm = () => {
    throw Object.create(null);
  };
  Object.assign(p, { publishDelta: noStringForm, publishStatus: noStringForm, publishBareStatus: noStringForm });
  try {
    venue.sink!.onBookUpdate(0, update(u, false, 2, [[1000, 6]], []));
  } finally {
    Object.assign(p, saved);
  }
  expect(feeder.books()[0]!.state).toBe(BookState.RESYNCING);
  expect(venue.resyncs).toEqual([StatusReason.PARSE_ERROR]);
  expect(lines.filter((l) => l.msg === "could not resync after an exception")).toEqual([]);
});

test("a refused changed definition or a halted book's refresh failure, thrown with no string form: contained as any", { timeout: 20_000 }, async () => {
  const btc: Instrument = { instrumentId: instrumentIdOf("okx", "spot", "BTC-USDT"), venue: "okx", market: "spot", symbol: "BTC-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(btc);
  const { log, lines } = captureLog();
  const { feeder } = await startScriptedOkxSpot({ venue, symbols: ["BTC-USDT"], dest: uniqueDestination(83), cleanups, log });
  venue.sink!.onBookUpdate(0, update(new BookUpdate(), true, 1, [[1000, 5]], [[1001, 3]]));
  const register = feeder.publisher.register.bind(feeder.publisher);
  feeder.publisher.register = () => {
    throw Object.create(null);
  };
  try {
    venue.sink!.onInstrumentChanged!(0, { ...btc, priceExp: 2, tickSize: "0.01" });
  } finally {
    feeder.publisher.register = register;
  }
  const book = feeder.books()[0]!;
  expect([book.state, book.reason]).toEqual([BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED]);
  expect(lines.filter((l) => l.level === "error").map((l) => l.fields.error)).toEqual(["a thrown [object Object] with no string form"]);
  venue.sink!.onBookInvalid(0, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED);
  const pipeline = (feeder as unknown as { pipelines: { onRefreshFailed(v: BookView, e: unknown): boolean }[] }).pipelines[0]!;
  expect(pipeline.onRefreshFailed(book, Object.create(null))).toBe(true);
  expect(feeder.stats().applyErrors).toBe(2);
});
