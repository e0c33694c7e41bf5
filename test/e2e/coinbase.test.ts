/**
 * Coinbase end to end: simulator → Feeder (in process) → real multicast on loopback → subscriber library. Books
 * equal after every message; for every fault they are equal again after recovery; at no moment does the subscriber
 * hold a valid book that differs from the simulator's book at the same sequence_num; and a sequence gap
 * invalidates exactly the books of its connection (BTC-USD and ETH-USD share one, SOL-USD has its own).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { startCoinbaseSimulator, type CoinbaseSim, type CoinbaseSimFault } from "../../src/sim/coinbase-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor, type Levels } from "./harness.ts";

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];
const IDS = PRODUCTS.map((p) => instrumentIdOf("coinbase", "spot", p));
const TARGET = 0; // BTC-USD, sharing its connection with ETH-USD
const SAME_CONNECTION = [0, 1];
const OTHER_CONNECTION = [2];
const DEAD_MS = 600;

let sim: CoinbaseSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
/** Per product: the simulator's book under "connection id:sequence_num" (each connection has its own sequence). */
const history = new Map<string, Map<string, Levels>>();
let historyStarted = false;
let validChecks = 0;
const violations: string[] = [];
const statesSeen = new Map<number, Set<BookState>>();

function recordHistory(): void {
  PRODUCTS.forEach((p, i) => {
    const b = subscriber.books.get(IDS[i]!);
    if (!b?.instrument) return;
    const s = sim.book(p);
    let h = history.get(p);
    if (!h) history.set(p, (h = new Map()));
    h.set(`${s.conn}:${s.seq}`, levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
  });
}

function step(n = 1): void {
  for (let i = 0; i < n; i++) {
    recordHistory();
    sim.step(1);
    recordHistory();
  }
}

function allEqualAndValid(): boolean {
  return PRODUCTS.every((p, i) => {
    const b = subscriber.books.get(IDS[i]!);
    if (!b || !b.usable) return false;
    const s = sim.book(p);
    return b.venueSeq === s.seq && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
  });
}

beforeAll(async () => {
  sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 17, levels: 80, heartbeatMs: 100 });
  const { group, port } = uniqueDestination(57);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    const book = e.book;
    let seen = statesSeen.get(book.instrumentId);
    if (!seen) statesSeen.set(book.instrumentId, (seen = new Set()));
    seen.add(book.state);
    const p = book.instrument.symbol;
    if (!book.usable || !historyStarted) return;
    // Each connection has its own sequence: the book must be the simulator's at that sequence on one of them.
    const candidates = (): Levels[] => [...(history.get(p) ?? [])].filter(([k]) => k.endsWith(`:${book.venueSeq}`)).map(([, v]) => v);
    const levels = levelsOfView(book);
    let expected = candidates();
    if (!expected.some((e) => sameLevels(levels, e))) {
      // A new connection's snapshot carries the simulator's current book at a sequence_num earlier connections
      // also had (they all start at 0): its state now is the one to compare with.
      recordHistory();
      expected = candidates();
    }
    if (expected.length === 0) {
      violations.push(`${p} seq=${book.venueSeq} valid at a sequence the simulator never had`);
      return;
    }
    validChecks++;
    if (!expected.some((e) => sameLevels(levels, e))) violations.push(`${p} seq=${book.venueSeq} valid but differs`);
  });
  await subscriber.start();
  const config = validateConfig({
    workers: 1,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "e2e", group, port, interface: "127.0.0.1", ttl: 1, channel: 9 }] },
    venues: { coinbase: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir("feeder-e2e-cb-"), "instruments.json"), spot: { symbols: PRODUCTS } } },
  });
  feeder = new Feeder({
    config,
    log: silentLogger,
    adapterOptions: { maxProductsPerConnection: 2, reconnectBaseMs: 20, reconnectMaxMs: 200, deadConnectionMs: DEAD_MS },
  });
  await feeder.start();
  await waitFor(allEqualAndValid, "initial snapshots published and received", 15_000);
  recordHistory();
  historyStarted = true;
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("coinbase: simulator → feeder → multicast → subscriber", { timeout: 30_000 }, () => {
  test("books are equal after every message (frames carry both products of a connection)", async () => {
    for (let i = 0; i < 40; i++) {
      step(1);
      await waitFor(allEqualAndValid, `message ${i}`, 15_000);
    }
    expect(validChecks).toBeGreaterThan(40);
    expect(violations).toEqual([]);
  });

  const FAULTS: CoinbaseSimFault[] = ["gap", "reset", "malformed", "duplicate", "disconnect", "stall", "error", "sequence_reset"];
  for (const fault of FAULTS) {
    test(`recovers from ${fault} and never shows a differing book as valid`, async () => {
      const before = feeder.stats().venues.coinbase!;
      const checksBefore = validChecks;
      statesSeen.clear();
      if (fault === "reset") history.get(PRODUCTS[TARGET]!)?.clear();
      sim.inject(fault, PRODUCTS[TARGET], { stallMs: DEAD_MS * 3 });
      recordHistory();
      step(3);
      const invalidSeen = (i: number) => [...(statesSeen.get(IDS[i]!) ?? [])].some((s) => s !== BookState.LIVE);
      if (fault === "gap" || fault === "malformed" || fault === "disconnect" || fault === "stall" || fault === "sequence_reset") {
        await waitFor(() => invalidSeen(TARGET), `status not live after ${fault}`, 20_000, () => step(1));
      }
      await waitFor(allEqualAndValid, `recovery from ${fault}`, 20_000, () => step(1));
      for (let i = 0; i < 5; i++) {
        step(1);
        await waitFor(allEqualAndValid, `after ${fault}, message ${i}`, 15_000);
      }
      const after = feeder.stats().venues.coinbase!;
      if (fault === "gap" || fault === "malformed" || fault === "sequence_reset") {
        // The connection's scope exactly: both books of the target's connection went invalid, the other never did.
        expect(SAME_CONNECTION.every(invalidSeen)).toBe(true);
        expect(OTHER_CONNECTION.some(invalidSeen)).toBe(false);
      }
      if (fault === "gap" || fault === "sequence_reset") expect(after.gaps).toBeGreaterThan(before.gaps!);
      if (fault === "malformed") expect(after.parseErrors).toBeGreaterThan(before.parseErrors!);
      if (fault === "duplicate") expect(after.duplicates).toBeGreaterThan(before.duplicates!);
      if (fault === "reset") expect(after.snapshots).toBeGreaterThan(before.snapshots!);
      if (fault === "error") expect(after.errorFrames).toBeGreaterThan(before.errorFrames!);
      if (fault === "disconnect" || fault === "stall") expect(after.reconnects).toBeGreaterThan(before.reconnects!);
      if (fault === "duplicate" || fault === "reset" || fault === "error") expect(PRODUCTS.some((_, i) => invalidSeen(i))).toBe(false);
      expect(validChecks).toBeGreaterThan(checksBefore);
      expect(violations).toEqual([]);
    });
  }

  test("the subscriber saw no channel gaps and the publisher no send errors", () => {
    expect(subscriber.counters.gaps).toBe(0);
    expect(feeder.publisher.counters.sendErrors).toBe(0);
    expect(feeder.stats().applyErrors).toBe(0);
  });
});
