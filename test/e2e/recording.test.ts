/**
 * The genuine Bybit recording end to end: simulator replaying linear-XRPUSDT-ob500-2024-12-01.jsonl (served as
 * orderbook.1000.XRPUSDT, replayDepth 1000, since a config only accepts current depths) → the real Feeder (in
 * process) → real multicast on 127.0.0.1, TTL 1, a group private to this file → the FeedSubscriber library.
 * After every recorded line the subscriber's book must equal the recording's book (built here from the file,
 * independently of the simulator, and checked against the simulator's book() too), and no update may show the book
 * valid at a sequence where it differs from the recording.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { feederConfig, levelsOfSim, levelsOfView, sameLevels, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const SYMBOL = "XRPUSDT";
const DEPTH = 1000;
const MARKETS: Markets = [{ market: "linear", depth: DEPTH, symbols: [SYMBOL] }];
const ID = instrumentIdOf("bybit", "linear", SYMBOL);

interface RecordedBook {
  u: number;
  bids: Map<string, string>;
  asks: Map<string, string>;
}

/** The book after each recorded line, built from the file alone. */
function recordedBooks(): RecordedBook[] {
  const out: RecordedBook[] = [];
  const bids = new Map<string, string>();
  const asks = new Map<string, string>();
  for (const line of readFileSync(FIXTURE, "utf8").split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const msg = JSON.parse(line) as { topic: string; type: string; data: { s: string; b: [string, string][]; a: [string, string][]; u: number } };
    if (msg.topic !== `orderbook.500.${SYMBOL}`) throw new Error(`unexpected topic ${msg.topic}`);
    if (msg.type === "snapshot") {
      bids.clear();
      asks.clear();
    }
    for (const [p, q] of msg.data.b) if (Number(q) === 0) bids.delete(p); else bids.set(p, q);
    for (const [p, q] of msg.data.a) if (Number(q) === 0) asks.delete(p); else asks.set(p, q);
    out.push({ u: msg.data.u, bids: new Map(bids), asks: new Map(asks) });
  }
  return out;
}

const BOOKS = recordedBooks();
const BY_U = new Map(BOOKS.map((b) => [b.u, b]));

let sim: BybitSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
let validChecks = 0;
const violations: string[] = [];

function subBook(): SubscriberBook | undefined {
  return subscriber.books.get(ID);
}

function equalsRecorded(b: SubscriberBook | undefined, expected: RecordedBook): boolean {
  if (!b || !b.usable || b.venueSeq !== expected.u || b.instrument.priceExp === undefined) return false;
  return sameLevels(levelsOfView(b), levelsOfSim(expected, b.instrument.priceExp, b.instrument.qtyExp));
}

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: [SYMBOL] }], replayFile: FIXTURE, replayDepth: DEPTH, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(21);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    const book = e.book;
    // usable, not just valid: an empty AWAITING_SNAPSHOT book refreshed before the venue snapshot is valid
    // (identical to the publisher's, which is empty) but not usable, and the recording never had it.
    if (book.instrumentId !== ID || !book.usable) return;
    validChecks++;
    const expected = BY_U.get(book.venueSeq);
    if (!expected) violations.push(`valid at u=${book.venueSeq}, which the recording never had`);
    else if (!sameLevels(levelsOfView(book), levelsOfSim(expected, book.instrument.priceExp, book.instrument.qtyExp))) {
      violations.push(`valid at u=${book.venueSeq} but differs from the recording`);
    }
  });
  await subscriber.start();
  feeder = new Feeder({ config: feederConfig({ sim, markets: MARKETS, group, port, snapshotIntervalMs: 500 }), log: silentLogger });
  await feeder.start();
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("recorded XRPUSDT order book → feeder → multicast → subscriber", { timeout: 60_000 }, () => {
  test("the recording has a snapshot and consecutive deltas", () => {
    expect(BOOKS.length).toBe(50);
    expect(BOOKS[0]!.bids.size).toBe(500);
    expect(BOOKS[0]!.asks.size).toBe(500);
    for (let i = 1; i < BOOKS.length; i++) expect(BOOKS[i]!.u).toBe(BOOKS[i - 1]!.u + 1);
  });

  test("the subscriber's book equals the recording's after every line, and is never usable while it differs", async () => {
    // The feeder subscribes orderbook.1000.XRPUSDT; the simulator answers with the recorded snapshot (line 1).
    await waitFor(() => equalsRecorded(subBook(), BOOKS[0]!), "the recorded snapshot delivered", 20_000);
    expect(sim.topics()).toMatchObject([{ topic: `orderbook.${DEPTH}.${SYMBOL}`, kind: "replay", subscribers: 1, cursor: 1 }]);
    for (let i = 1; i < BOOKS.length; i++) {
      sim.step(1);
      const expected = BOOKS[i]!;
      const simBook = sim.book("linear", SYMBOL, DEPTH);
      // The simulator serves exactly the recording (its book() is what other tests compare against).
      expect({ u: simBook.u, bids: simBook.bids, asks: simBook.asks }).toEqual(expected);
      await waitFor(() => equalsRecorded(subBook(), expected), `recorded line ${i + 1} (u=${expected.u}) delivered`, 20_000);
    }
    // The end of the recording: nothing more is sent, and the last book stays valid and equal.
    sim.step(1);
    expect(sim.book("linear", SYMBOL, DEPTH).u).toBe(BOOKS.at(-1)!.u);
    expect(equalsRecorded(subBook(), BOOKS.at(-1)!)).toBe(true);
    expect(subBook()!.bidCount).toBe(BOOKS.at(-1)!.bids.size);
    expect(subBook()!.askCount).toBe(BOOKS.at(-1)!.asks.size);
    expect(validChecks).toBeGreaterThanOrEqual(BOOKS.length);
    expect(violations).toEqual([]);
  });

  test("no venue gaps, channel gaps, apply or send errors", () => {
    const venue = feeder.stats().venues.bybit!;
    expect(venue.gaps).toBe(0);
    expect(venue.parseErrors).toBe(0);
    expect(subscriber.counters.gaps).toBe(0);
    expect(feeder.publisher.counters.sendErrors).toBe(0);
    expect(feeder.stats().applyErrors).toBe(0);
  });
});
