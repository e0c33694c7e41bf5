/**
 * A snapshot (or full book) listing one price twice on a side: the app refuses it as malformed (src/app/feeder.ts
 * VenuePipeline contains the builder's RepeatedPriceError): that book alone RESYNCING / parse_error, its resync asked,
 * the error logged naming venue, symbol, side and price, the apply-errors counter up; the connection's other book stays
 * LIVE. A LIVE book's full book (replace) refused on its asks after its bids were loaded publishes no delta. Until
 * 2026-12-08 the last entry was kept and the book went LIVE at that guess. Every venue's loads (Bybit, OKX,
 * Binance REST, Coinbase, Deribit, Upbit, Bithumb, their JSON fallbacks and replay) reach the builder through here.
 * Real Feeder, scripted venue.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ScriptedVenue, scriptedFeederConfig, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const inst = (symbol: string): Instrument => ({ instrumentId: instrumentIdOf("okx", "spot", symbol), venue: "okx", market: "spot", symbol, priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" });
const BTC = inst("BTC-USDT");
const ETH = inst("ETH-USDT");

/** Two books on one scripted connection; resyncs recorded by book. */
class TwoBooks extends ScriptedVenue {
  readonly resyncOf: number[] = [];
  override loadInstruments(): Promise<(Instrument | undefined)[]> {
    return Promise.resolve([BTC, ETH]);
  }
  override requestResync(index: number, reason: StatusReason): void {
    this.resyncOf.push(index);
    super.requestResync(index, reason);
  }
}

test("a snapshot or a LIVE full book with a repeated price resyncs that book alone, named in the log, nothing of it published; distinct prices out of order are taken", { timeout: 20_000 }, async () => {
  const errors: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = { ...silentLogger, error: (msg, fields) => void errors.push({ msg, fields }), child: () => log };
  const venue = new TwoBooks(BTC);
  const { group, port } = uniqueDestination(83);
  const { spec, config } = scriptedFeederConfig({ venue, venueName: "okx", market: "spot", depth: 400, symbols: [BTC.symbol, ETH.symbol], group, port });
  const feeder = new Feeder({ config, log, venues: { okx: spec } });
  cleanups.push(() => feeder.stop());
  await feeder.start();
  const sink = venue.sink!;
  const u = new BookUpdate();
  sink.onBookUpdate(0, update(u, true, 1, [[1000, 5], [999, 1]], [[1001, 3]]));
  sink.onBookUpdate(1, update(u, true, 1, [[20, 5]], [[22, 1], [21, 2]])); // asks out of order, each price once: taken
  expect(feeder.books().map((b) => b.state)).toEqual([BookState.LIVE, BookState.LIVE]);

  // BTC's next snapshot lists ask 100.2 twice (sizes 3 and 4): which one the venue holds is unknown.
  sink.onBookUpdate(0, update(u, true, 2, [[1000, 5]], [[1002, 3], [1003, 1], [1002, 4]]));
  const [btc, eth] = feeder.books();
  expect([btc!.state, btc!.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect([eth!.state, eth!.reason]).toEqual([BookState.LIVE, StatusReason.SNAPSHOT_APPLIED]);
  expect(venue.resyncOf).toEqual([0]);
  const logged = errors.map((e) => `${e.msg} ${JSON.stringify(e.fields)}`).join("\n");
  expect(logged).toContain("okx spot BTC-USDT: ask price 100.2 is listed twice");
  expect(feeder.stats().applyErrors).toBe(1);

  // The same snapshot without the repeat makes it LIVE again.
  sink.onBookUpdate(0, update(u, true, 3, [[1000, 5]], [[1003, 1], [1002, 4]]));
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);

  // A full book taken by LIVE ETH as a whole (replace), its bids new and its asks repeating 2.2: the bids were loaded
  // before the asks were refused, so nothing of it is published (no delta) and the book is not usable until resynced.
  const deltas: number[] = [];
  const publishDelta = feeder.publisher.publishDelta.bind(feeder.publisher);
  feeder.publisher.publishDelta = (...args) => (deltas.push(args[0]), publishDelta(...args));
  update(u, false, 2, [[19, 7]], [[22, 1], [23, 1], [22, 2]]);
  u.replace = true;
  sink.onBookUpdate(1, u);
  expect([feeder.books()[1]!.state, feeder.books()[1]!.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
  expect(deltas).toEqual([]);
  expect(venue.resyncOf).toEqual([0, 1]);
  expect(feeder.stats().applyErrors).toBe(2);
});
