/**
 * Simulator → Feeder (in process) → real multicast on loopback → subscriber library.
 * After every simulator message the subscriber's books must equal the simulator's once delivered; for every
 * fault type they must be equal again after recovery; and at no moment may the subscriber hold a book marked
 * valid that differs from the simulator's book at the same venue sequence.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, type MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim, type SimFault } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { allBooksEqual, feederConfig, levelsOfSim, levelsOfView, sameLevels, uniqueDestination, waitFor, type Levels, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 200, symbols: ["BTCUSDT"] },
];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));
const TARGET = { market: "linear" as MarketName, symbol: "BTCUSDT" };
const STALE_AFTER_MS = 600;

let sim: BybitSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
/** The simulator's book per topic and venue sequence, recorded right after each message is sent. */
const history = new Map<string, Map<number, Levels>>();
let validChecks = 0;
const violations: string[] = [];
/**
 * Valid states shown before history recording started (the initial snapshots arrive while beforeAll waits):
 * checked once the first history is recorded. After that every valid state must be one the history holds:
 * history is recorded synchronously after each simulator step or fault, before any frame can reach the feeder.
 */
let historyStarted = false;
const beforeHistory: { key: string; symbol: string; u: number; levels: Levels }[] = [];
const statesSeen = new Map<number, Set<BookState>>();

function keyOf(market: string, symbol: string): string {
  return `${market}:${symbol}`;
}

function subBook(t: { id: number }): SubscriberBook | undefined {
  return subscriber.books.get(t.id);
}

/** Records the simulator's current book of every topic under its current u. */
function recordHistory(): void {
  for (const t of TOPICS) {
    const b = subBook(t);
    if (!b || !b.instrument || b.instrument.priceExp === undefined) continue;
    const simBook = sim.book(t.market, t.symbol);
    let h = history.get(keyOf(t.market, t.symbol));
    if (!h) history.set(keyOf(t.market, t.symbol), (h = new Map()));
    h.set(simBook.u, levelsOfSim(simBook, b.instrument.priceExp, b.instrument.qtyExp));
  }
}

function step(n = 1): void {
  for (let i = 0; i < n; i++) {
    recordHistory(); // a resubscribe moves the simulator's book on by itself (attach): keep that state too
    sim.step(1);
    recordHistory();
  }
}

function allEqualAndValid(): boolean {
  return allBooksEqual(subscriber, sim, TOPICS);
}

async function settle(what: string): Promise<void> {
  await waitFor(allEqualAndValid, what, 15_000);
}

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 7, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(1);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    const book = e.book;
    let seen = statesSeen.get(book.instrumentId);
    if (!seen) statesSeen.set(book.instrumentId, (seen = new Set()));
    seen.add(book.state);
    if (!book.usable) return; // usable = safe to trade on; a valid book may be an exact copy of a publisher book that is not LIVE
    const h = history.get(keyOf(book.instrument.market, book.instrument.symbol));
    let expected = h?.get(book.venueSeq);
    if (!expected && historyStarted) {
      // Not recorded yet: the simulator moved there by itself (a resubscribe's snapshot). Its book now must be it.
      recordHistory();
      expected = history.get(keyOf(book.instrument.market, book.instrument.symbol))?.get(book.venueSeq);
    }
    if (!expected) {
      const key = keyOf(book.instrument.market, book.instrument.symbol);
      if (historyStarted) violations.push(`${key} u=${book.venueSeq} valid at a sequence the simulator never had`);
      else beforeHistory.push({ key, symbol: book.instrument.symbol, u: book.venueSeq, levels: levelsOfView(book) });
      return;
    }
    validChecks++;
    if (!sameLevels(levelsOfView(book), expected)) violations.push(`${book.instrument.symbol} u=${book.venueSeq} valid but differs`);
  });
  await subscriber.start();
  feeder = new Feeder({
    config: feederConfig({ sim, markets: MARKETS, group, port, snapshotIntervalMs: 500 }),
    log: silentLogger,
    adapterOptions: { pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS },
  });
  await feeder.start();
  await settle("initial snapshots published and received");
  recordHistory(); // no simulator step since the feeder subscribed: this is the state its initial snapshots carried
  historyStarted = true;
  for (const e of beforeHistory) {
    const expected = history.get(e.key)?.get(e.u);
    if (!expected) violations.push(`${e.symbol} u=${e.u} valid before the first step at a sequence the simulator never had`);
    else if (!sameLevels(e.levels, expected)) violations.push(`${e.symbol} u=${e.u} valid but differs (initial snapshot)`);
    else validChecks++;
  }
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("simulator → feeder → multicast → subscriber", { timeout: 30_000 }, () => {
  test("books are equal after every message", async () => {
    for (let i = 0; i < 60; i++) {
      step(1);
      await settle(`message ${i}`);
    }
    expect(validChecks).toBeGreaterThan(60);
    expect(violations).toEqual([]);
  });

  const FAULTS: SimFault[] = ["gap", "reset", "malformed", "duplicate", "disconnect", "stall"];
  for (const fault of FAULTS) {
    test(`recovers from ${fault} and never shows a differing book as valid`, async () => {
      const before = feeder.stats().venues.bybit!;
      const checksBefore = validChecks;
      if (fault === "reset") history.get(keyOf(TARGET.market, TARGET.symbol))?.clear();
      sim.inject(fault, TARGET, { stallMs: STALE_AFTER_MS * 3 });
      recordHistory();
      step(3);
      const target = TOPICS.find((t) => t.market === TARGET.market && t.symbol === TARGET.symbol)!;
      const sawInvalid = () => [...(statesSeen.get(target.id) ?? [])].some((s) => s === BookState.RESYNCING || s === BookState.STALE);
      if (fault === "gap" || fault === "malformed" || fault === "stall" || fault === "disconnect") {
        // Subscribers are told the book is not to be trusted (a stall only once the topic's cadence has passed).
        await waitFor(sawInvalid, `status resyncing/stale after ${fault}`, 20_000, () => step(1));
      }
      // Keep the other books moving while the target recovers: one slow or broken symbol never stops the others.
      await waitFor(allEqualAndValid, `recovery from ${fault}`, 20_000, () => step(1));
      for (let i = 0; i < 5; i++) {
        step(1);
        await settle(`after ${fault}, message ${i}`);
      }
      const after = feeder.stats().venues.bybit!;
      if (fault === "gap") expect(after.gaps).toBeGreaterThan(before.gaps!);
      if (fault === "reset") expect(after.venueResets).toBeGreaterThan(before.venueResets!);
      if (fault === "duplicate") expect(after.duplicates).toBeGreaterThan(before.duplicates!);
      if (fault === "malformed") expect(after.parseErrors).toBeGreaterThan(before.parseErrors!);
      if (fault === "disconnect") expect(after.reconnects).toBeGreaterThan(before.reconnects!);
      if (fault === "stall") expect(after.staleResyncs).toBeGreaterThan(before.staleResyncs!);
      expect(validChecks).toBeGreaterThan(checksBefore);
      expect(violations).toEqual([]);
      statesSeen.clear();
    });
  }

  test("the subscriber saw no channel gaps and the publisher no send errors", () => {
    expect(subscriber.counters.gaps).toBe(0);
    expect(feeder.publisher.counters.sendErrors).toBe(0);
    expect(feeder.stats().applyErrors).toBe(0);
  });
});
