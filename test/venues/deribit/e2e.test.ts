/**
 * Deribit end to end: simulator → Feeder (in process) → real multicast on loopback → subscriber library, for every
 * fault the simulator injects. After every message the subscriber's books equal the simulator's once delivered,
 * they are equal again after each fault's recovery, and no update ever shows a book valid while it differs from the
 * simulator's book at the same change_id. Multicast: 127.0.0.1, TTL 1, a 239.255.x.x group private to this file.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../../src/app/feeder.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, type MarketName } from "../../../src/core/types.ts";
import { startDeribitSimulator, type DeribitSim, type DeribitSimFault } from "../../../src/sim/deribit-sim.ts";
import { FeedSubscriber } from "../../../src/subscriber/index.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { levelsOfView, sameLevels, uniqueDestination, waitFor, type Levels } from "../../e2e/harness.ts";
import { mantissa } from "./helpers.ts";

const TOPICS: { market: MarketName; symbol: string; depth: number; id: number }[] = [
  { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
  { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
  { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
].map((t) => ({ ...t, id: instrumentIdOf("deribit", t.market as MarketName, t.symbol) })) as never;
const TARGET = TOPICS[0]!;
/** Channels push only on change: short enough for the stall case, long enough that polling pauses stay below it. */
const STALE_AFTER_MS = 1_500;

let sim: DeribitSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
const history = new Map<number, Map<number, Levels>>();
const violations: string[] = [];
const statesSeen = new Map<number, Set<BookState>>();
let validChecks = 0;

function simLevels(t: (typeof TOPICS)[number], priceExp: number, qtyExp: number): { levels: Levels; changeId: number } {
  const b = sim.book(t.market, t.symbol, t.depth);
  const conv = (m: Map<string, string>) => [...m].map(([p, q]) => [mantissa(p, priceExp), mantissa(q, qtyExp)] as [number, number]);
  return { levels: { bids: conv(b.bids).sort((x, y) => y[0] - x[0]), asks: conv(b.asks).sort((x, y) => x[0] - y[0]) }, changeId: b.changeId };
}

function recordHistory(): void {
  for (const t of TOPICS) {
    const b = subscriber.books.get(t.id);
    if (!b || b.instrument.priceExp === undefined) continue;
    const { levels, changeId } = simLevels(t, b.instrument.priceExp, b.instrument.qtyExp);
    let h = history.get(t.id);
    if (!h) history.set(t.id, (h = new Map()));
    h.set(changeId, levels);
  }
}

function step(n = 1): void {
  for (let i = 0; i < n; i++) {
    recordHistory();
    sim.step(1);
    recordHistory();
  }
}

function allEqualAndValid(): boolean {
  return TOPICS.every((t) => {
    const b = subscriber.books.get(t.id);
    if (!b || !b.usable) return false;
    const s = simLevels(t, b.instrument.priceExp, b.instrument.qtyExp);
    return b.venueSeq === s.changeId && sameLevels(levelsOfView(b), s.levels);
  });
}

beforeAll(async () => {
  sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, { market: "option", symbols: ["BTC-27MAR26-70000-C"] }], seed: 21, heartbeatIntervalMs: 300 });
  const { group, port } = uniqueDestination(53);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    const book = e.book;
    let seen = statesSeen.get(book.instrumentId);
    if (!seen) statesSeen.set(book.instrumentId, (seen = new Set()));
    seen.add(book.state);
    if (!book.usable) return;
    let expected = history.get(book.instrumentId)?.get(book.venueSeq);
    if (!expected) {
      recordHistory(); // the simulator moved there by itself (a resubscribe's snapshot): its book now must be it
      expected = history.get(book.instrumentId)?.get(book.venueSeq);
    }
    if (!expected) {
      violations.push(`${book.instrument.symbol} change_id=${book.venueSeq} valid at an id the simulator never had`);
      return;
    }
    validChecks++;
    if (!sameLevels(levelsOfView(book), expected)) violations.push(`${book.instrument.symbol} change_id=${book.venueSeq} valid but differs`);
  });
  await subscriber.start();
  const config = validateConfig({
    log: { level: "error" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "e2e", group, port, interface: "127.0.0.1", ttl: 1, channel: 9 }] },
    venues: {
      deribit: {
        ws_url: sim.wsUrl,
        rest_url: sim.restUrl,
        instrument_cache: join(makeTempDir("deribit-e2e-"), "instruments.json"),
        inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] },
        option: { depth: 10, symbols: ["BTC-27MAR26-70000-C"] },
      },
    },
  });
  feeder = new Feeder({ config, log: silentLogger, adapterOptions: { reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS } });
  // The initial snapshots come from attach (before the first step): record as soon as definitions arrive.
  const poll = setInterval(recordHistory, 1);
  await feeder.start();
  await waitFor(allEqualAndValid, "initial books published and received", 15_000);
  clearInterval(poll);
  recordHistory();
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("Deribit: simulator → feeder → multicast → subscriber", { timeout: 40_000 }, () => {
  test("books are equal after every message; test_requests answered meanwhile", async () => {
    for (let i = 0; i < 40; i++) {
      step(1);
      await waitFor(allEqualAndValid, `message ${i}`, 15_000);
    }
    expect(validChecks).toBeGreaterThan(40);
    expect(violations).toEqual([]);
    // The server sends a test_request once per heartbeat interval (300 ms): wait for one to be answered rather than
    // assume the 40 messages took that long.
    await waitFor(() => sim.stats.testAnswers > 0, "a test_request answered", 10_000, () => step(1));
    expect(violations).toEqual([]);
    expect(sim.stats.heartbeatCloses).toBe(0);
  });

  // stall last: the stalled instrument stays silent for a while after its book has recovered.
  const FAULTS: DeribitSimFault[] = ["gap", "change_id_break", "reset", "reset_low", "malformed", "duplicate", "disconnect", "rate_limit", "stall"];
  for (const fault of FAULTS) {
    test(`recovers from ${fault} and never shows a differing book as valid`, async () => {
      const before = feeder.stats().venues.deribit!;
      const checksBefore = validChecks;
      statesSeen.clear();
      if (fault === "rate_limit") {
        // The reconnect's subscribe is refused twice with 10028 first.
        sim.inject("rate_limit", undefined, { count: 2 });
        sim.inject("disconnect", TARGET);
      } else sim.inject(fault, TARGET, { stallMs: STALE_AFTER_MS * 3 });
      recordHistory();
      step(3);
      // A silent channel is STALE (its cadence passed); every other fault makes the book RESYNCING.
      const sawInvalid = () => [...(statesSeen.get(TARGET.id) ?? [])].some((s) => (fault === "stall" ? s === BookState.STALE : s === BookState.RESYNCING));
      if (fault !== "duplicate" && fault !== "reset") await waitFor(sawInvalid, `status resyncing/stale after ${fault}`, 20_000, () => step(1));
      if (fault === "rate_limit") await waitFor(() => feeder.stats().venues.deribit!.rateLimited! >= before.rateLimited! + 2, "both refusals received", 20_000, () => step(1));
      await waitFor(allEqualAndValid, `recovery from ${fault}`, 20_000, () => step(1));
      for (let i = 0; i < 5; i++) {
        step(1);
        await waitFor(allEqualAndValid, `after ${fault}, message ${i}`, 15_000);
      }
      const after = feeder.stats().venues.deribit!;
      if (fault === "gap" || fault === "change_id_break") expect(after.gaps).toBeGreaterThan(before.gaps!);
      if (fault === "malformed") expect(after.parseErrors).toBeGreaterThan(before.parseErrors!);
      if (fault === "duplicate") expect(after.duplicates).toBeGreaterThan(before.duplicates!);
      if (fault === "reset") expect(after.snapshots).toBeGreaterThan(before.snapshots!);
      if (fault === "reset_low") expect(after.venueResets).toBeGreaterThan(before.venueResets!);
      if (fault === "disconnect") expect(after.reconnects).toBeGreaterThan(before.reconnects!);
      if (fault === "stall") expect(after.staleResyncs).toBeGreaterThan(before.staleResyncs!);
      if (fault === "rate_limit") expect(after.rateLimited).toBeGreaterThanOrEqual(before.rateLimited! + 2);
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
