/**
 * feeder_exchange_to_receipt_seconds measures an exchange event's way to us (network plus clock offset): a book
 * message's matching-engine time (Bybit `cts`, Binance `T`) to its receipt. A snapshot's is the time of the book's
 * last match, which on a quiet book (an option) is minutes old, so every subscribe or resync put a minutes-long
 * outlier into the histogram. Snapshots are left out; deltas are measured. Real Feeder, scripted venue.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, type Instrument } from "../../src/core/types.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ScriptedVenue, scriptedFeederConfig, update } from "../support/scripted-venue.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a snapshot's old matching-engine time is not measured as exchange → receipt latency; a delta's is", { timeout: 20_000 }, async () => {
  const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "option", "BTC-27MAR26-70000-P-USDT"), venue: "bybit", market: "option", symbol: "BTC-27MAR26-70000-P-USDT", priceExp: 1, qtyExp: 2, tickSize: "0.1", lotSize: "0.01" };
  const venue = new ScriptedVenue(instrument);
  const { group, port } = uniqueDestination(78);
  const { spec, config } = scriptedFeederConfig({ venue, venueName: "bybit", market: "option", depth: 25, symbols: [instrument.symbol], group, port });
  const feeder = new Feeder({ config, log: silentLogger, venues: { bybit: spec } });
  cleanups.push(() => feeder.stop());
  await feeder.start();
  const u = new BookUpdate();
  const nowUs = Date.now() * 1000;
  const latency = () => feeder.latencySnapshot().exchangeToReceipt.bybit!;

  // The subscribe's snapshot: the book's last match was 10 minutes ago.
  update(u, true, 1, [[1000, 5]], [[1001, 3]]);
  u.tsEventUs = nowUs - 600_000_000;
  u.tsRecvUs = nowUs;
  venue.sink!.onBookUpdate(0, u);
  expect(feeder.books()[0]!.state).toBe(BookState.LIVE);
  expect(latency().count).toBe(0);

  // A delta 3 ms after its match.
  update(u, false, 2, [[1000, 6]], []);
  u.tsEventUs = nowUs - 3_000;
  u.tsRecvUs = nowUs;
  venue.sink!.onBookUpdate(0, u);
  expect(latency().count).toBe(1);
  expect(latency().sumUs).toBe(3_000);
});
