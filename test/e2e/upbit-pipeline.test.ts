/**
 * Upbit and Bithumb end to end: simulator → Feeder (in process) → real multicast on loopback → subscriber library,
 * per venue and per fault (the common ones and the venue's own: older timestamp, zero-size units, an error frame
 * bisected to its code, HTTP 429 on connect). After every message the subscriber's books equal the simulator's, and
 * at no moment does the subscriber hold a book marked valid that differs from the simulator's book at that timestamp.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { startUpbitSimulator, type UpbitSim, type UpbitSimFault } from "../../src/sim/upbit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor, type Levels } from "./harness.ts";

const CODES = [
  { symbol: "KRW-BTC", depth: 30 },
  { symbol: "KRW-XRP", depth: 15 },
  { symbol: "USDT-BTC", depth: 5 },
  { symbol: "BTC-ETH", depth: 5 },
];
const STALE_AFTER_MS = 600;

for (const [n, venue] of (["upbit", "bithumb"] as const).entries()) {
  describe(`${venue}: simulator → feeder → multicast → subscriber`, { timeout: 30_000 }, () => {
    let sim: UpbitSim;
    let feeder: Feeder;
    let subscriber: FeedSubscriber;
    const topics = CODES.map((c) => ({ ...c, id: instrumentIdOf(venue, "spot", c.depth === 30 ? c.symbol : `${c.symbol}@${c.depth}`) }));
    let live = topics;
    const history = new Map<number, Map<number, Levels>>();
    const violations: string[] = [];
    let validChecks = 0;
    const statesSeen = new Map<number, Set<BookState>>();

    function record(): void {
      for (const t of topics) {
        const b = subscriber.books.get(t.id);
        if (!b?.instrument) continue;
        const s = sim.book(t.symbol, t.depth);
        let h = history.get(t.id);
        if (!h) history.set(t.id, (h = new Map()));
        h.set(s.ts, levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
      }
    }
    function step(k = 1): void {
      for (let i = 0; i < k; i++) {
        sim.step(1);
        record();
      }
    }
    function allEqual(): boolean {
      return live.every((t) => {
        const b = subscriber.books.get(t.id);
        if (!b || !b.usable) return false;
        const s = sim.book(t.symbol, t.depth);
        return b.venueSeq === s.ts && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
      });
    }

    beforeAll(async () => {
      sim = await startUpbitSimulator({ venue, codes: CODES.map((c) => c.symbol), seed: 21 + n });
      const dest = uniqueDestination(40 + n);
      subscriber = new FeedSubscriber({ groups: [{ ...dest, iface: "127.0.0.1" }] });
      subscriber.on("update", (e) => {
        const book = e.book;
        let seen = statesSeen.get(book.instrumentId);
        if (!seen) statesSeen.set(book.instrumentId, (seen = new Set()));
        seen.add(book.state);
        if (!book.usable) return;
        if (!history.has(book.instrumentId)) record();
        const expected = history.get(book.instrumentId)?.get(book.venueSeq);
        if (!expected) {
          violations.push(`${book.instrument.symbol} ts=${book.venueSeq} valid at a timestamp the simulator never had`);
          return;
        }
        validChecks++;
        if (!sameLevels(levelsOfView(book), expected)) violations.push(`${book.instrument.symbol} ts=${book.venueSeq} valid but differs`);
      });
      await subscriber.start();
      const config = validateConfig({
        workers: 1,
        log: { level: "warn", format: "json" },
        http: { enabled: false, listen: "127.0.0.1:0" },
        publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "e2e", group: dest.group, port: dest.port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
        venues: {
          [venue]: {
            ws_url: sim.wsUrl,
            rest_url: sim.restUrl,
            instrument_cache: join(tempDir(`feeder-e2e-${venue}-`), "instruments.json"),
            spot: { depth: 30, symbols: CODES.map((c) => (c.depth === 30 ? c.symbol : `${c.symbol}@${c.depth}`)) },
          },
        },
      });
      feeder = new Feeder({
        config,
        log: process.env.DBG ? createLogger({ level: "warn", format: "json" }) : silentLogger,
        // Requests and pings share the venue's pacing (1.5/s per connection): pings and bisect probes no faster than that.
        adapterOptions: { pingIntervalMs: 2000, pongTimeoutMs: 5000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, errorWaitMs: 700, connectHoldMs: { 429: 50 } },
      });
      await feeder.start();
      await waitFor(() => topics.every((t) => subscriber.books.get(t.id)?.instrument !== undefined), "instruments received", 15_000);
      record();
      await waitFor(allEqual, "initial books", 15_000, () => step(1));
    }, 30_000);

    afterAll(async () => {
      await feeder?.stop();
      await subscriber?.stop();
      await sim?.stop();
    });

    test("books are equal after every message", async () => {
      for (let i = 0; i < 40; i++) {
        step(1);
        await waitFor(allEqual, `message ${i}`, 15_000);
      }
      expect(validChecks).toBeGreaterThan(40);
      expect(violations).toEqual([]);
    });

    const FAULTS: UpbitSimFault[] = ["duplicate", "older", "zero_size", "malformed", "disconnect", "stall", "429", "error_frame"];
    for (const fault of FAULTS) {
      test(`recovers from ${fault} and never shows a differing book as valid`, async () => {
        const target = fault === "error_frame" ? topics[3]! : topics[0]!;
        const before = feeder.stats().venues[venue]!;
        const zeroSentBefore = sim.stats.zeroSizeSent;
        const checksBefore = validChecks;
        if (fault === "429") {
          sim.inject("429", undefined, { count: 2 });
          sim.inject("disconnect");
        } else if (fault === "error_frame") {
          sim.inject("error_frame", target.symbol);
          sim.inject("disconnect"); // the reconnect's request names it: refused, bisected, the code halted
          live = topics.filter((t) => t !== target);
        } else sim.inject(fault, target.symbol, { stallMs: STALE_AFTER_MS * 3 });
        step(1);
        const sawInvalid = () => [...(statesSeen.get(target.id) ?? [])].some((s) => s === BookState.RESYNCING || s === BookState.STALE || s === BookState.HALTED);
        if (fault === "malformed" || fault === "stall" || fault === "disconnect" || fault === "error_frame") {
          await waitFor(sawInvalid, `status invalid after ${fault}`, 20_000, () => step(1));
        }
        if (fault === "429") await waitFor(() => sim.stats.refused429 === 2 && sim.stats.connections === 1 && sim.subscribed().length === topics.length, "two refused upgrades, then connected and subscribed", 20_000);
        if (fault === "error_frame") await waitFor(() => subscriber.books.get(target.id)?.state === BookState.HALTED, "the refused code halted", 20_000, () => step(1));
        await waitFor(allEqual, `recovery from ${fault}`, 20_000, () => step(1));
        for (let i = 0; i < 5; i++) {
          step(1);
          await waitFor(allEqual, `after ${fault}, message ${i}`, 15_000);
        }
        const after = feeder.stats().venues[venue]!;
        // The fault happened: the feeder counted it, or (a zero-size level, counted nowhere) the simulator served it.
        if (fault === "duplicate") expect(after.repeatedTimestamps).toBeGreaterThan(before.repeatedTimestamps!);
        if (fault === "zero_size") expect(sim.stats.zeroSizeSent).toBeGreaterThan(zeroSentBefore);
        if (fault === "older") expect(after.olderTimestamps).toBeGreaterThan(before.olderTimestamps!);
        if (fault === "malformed") expect(after.parseErrors).toBeGreaterThan(before.parseErrors!);
        if (fault === "disconnect" || fault === "429") expect(after.reconnects).toBeGreaterThan(before.reconnects!);
        if (fault === "429") expect(sim.stats.refused429).toBe(2);
        // The stalled server sent nothing: the book went STALE itself (not a leftover of an earlier fault).
        if (fault === "stall") expect([...(statesSeen.get(target.id) ?? [])]).toContain(BookState.STALE);
        if (fault === "error_frame") {
          expect(after.subscribeRejected).toBe(1);
          expect(subscriber.books.get(target.id)?.state).toBe(BookState.HALTED);
        }
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
}
