/**
 * OKX end to end: simulator (real checksums) → Feeder (in process, the OKX adapter with verify()) → real multicast
 * on 127.0.0.1 → subscriber library. After every message the subscriber's books equal the simulator's; for every
 * fault they are equal again after recovery; at no moment is a book valid while it differs from the simulator's at
 * the same seqId; a 64008 notice (planned reconnect) leaves every book LIVE throughout.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, type MarketName } from "../../src/core/types.ts";
import { startOkxSimulator, type OkxSim, type OkxSimFault } from "../../src/sim/okx-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor, type Levels } from "./harness.ts";

const MARKETS: { market: MarketName; depth: number; symbols: string[] }[] = [
  { market: "spot", depth: 400, symbols: ["BTC-USDT", "ETH-USDT"] },
  { market: "linear", depth: 400, symbols: ["BTC-USDT-SWAP"] },
  { market: "inverse", depth: 5, symbols: ["BTC-USD-SWAP"] },
];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth, id: instrumentIdOf("okx", m.market, symbol) })));
const TARGET = "BTC-USDT";
/**
 * Long enough that a hiccup of this shared VM never marks a book stale (books5 also pushes only when its top 5
 * changes): the stall is caught by the unanswered ping (pong timeout 1 s) instead.
 */
const STALE_AFTER_MS = 5_000;
/**
 * The stall lasts until the feeder noticed it (a book not LIVE), then ends: a fixed stall just over the pong timeout
 * could end, under load, before a late housekeeping round judged the unanswered ping (its pong then came).
 */
const STALL_MAX_MS = 20_000;

let sim: OkxSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
const history = new Map<string, Map<number, Levels>>();
let validChecks = 0;
const violations: string[] = [];
let historyStarted = false;
const statesSeen = new Map<number, Set<BookState>>();

function recordHistory(): void {
  for (const t of TOPICS) {
    const b = subscriber.books.get(t.id);
    if (!b?.instrument) continue;
    const s = sim.book(t.symbol, t.depth);
    let h = history.get(t.symbol);
    if (!h) history.set(t.symbol, (h = new Map()));
    h.set(s.seqId, levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
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
    const s = sim.book(t.symbol, t.depth);
    return b.venueSeq === s.seqId && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
  });
}

beforeAll(async () => {
  sim = await startOkxSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 5, checksums: true, noticeCloseMs: 3000 });
  const { group, port } = uniqueDestination(41);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    const book = e.book;
    let seen = statesSeen.get(book.instrumentId);
    if (!seen) statesSeen.set(book.instrumentId, (seen = new Set()));
    seen.add(book.state);
    if (!book.usable || !historyStarted) return;
    let expected = history.get(book.instrument.symbol)?.get(book.venueSeq);
    if (!expected) {
      recordHistory(); // a resubscribe's snapshot: the simulator's book now
      expected = history.get(book.instrument.symbol)?.get(book.venueSeq);
    }
    if (!expected) {
      violations.push(`${book.instrument.symbol} seqId=${book.venueSeq} valid at a seqId the simulator never had`);
      return;
    }
    validChecks++;
    if (!sameLevels(levelsOfView(book), expected)) violations.push(`${book.instrument.symbol} seqId=${book.venueSeq} valid but differs`);
  });
  await subscriber.start();
  const okx: Record<string, unknown> = { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir("feeder-okx-e2e-"), "instruments.json") };
  for (const m of MARKETS) okx[m.market] = { depth: m.depth, symbols: m.symbols };
  const config = validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "e2e", group, port, interface: "127.0.0.1", ttl: 1, channel: 9 }] },
    venues: { okx },
  });
  feeder = new Feeder({ config, log: silentLogger, adapterOptions: { pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, resyncBackoffBaseMs: 20 } });
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

describe("okx: simulator → feeder → multicast → subscriber", { timeout: 40_000 }, () => {
  test("books are equal after every message, every checksum verified", async () => {
    for (let i = 0; i < 40; i++) {
      step(1);
      await waitFor(allEqualAndValid, `message ${i}`, 15_000);
    }
    expect(validChecks).toBeGreaterThan(40);
    expect(violations).toEqual([]);
    expect(feeder.stats().venues.okx!.checksumsVerified).toBeGreaterThan(40);
  });

  const FAULTS: OkxSimFault[] = ["gap", "reset", "malformed", "duplicate", "keepalive", "checksum", "disconnect", "stall"];
  /**
   * Connections replaced (ordinary reconnects) during a fault round. The simulator, the feeder and the subscriber share this one thread:
   * on a loaded machine it can fall more than the 1 s pong timeout behind, and the feeder then rightly replaces its
   * connections. A fault round with such a reconnect tests the reconnect, not the fault (a reset or gap sent into the
   * replaced socket is never read; a book DISCONNECTED meanwhile was not LIVE): that round is done again.
   */
  const ROUNDS_MAX = 3;
  for (const fault of FAULTS) {
    test(`recovers from ${fault} and never shows a differing book as valid`, async () => {
      for (let round = 1; ; round++) {
        statesSeen.clear();
        const before = feeder.stats().venues.okx!;
        const checksBefore = validChecks;
        if (fault === "reset") history.get(TARGET)?.clear();
        sim.inject(fault, fault === "stall" ? undefined : TARGET, { stallMs: STALL_MAX_MS });
        recordHistory();
        step(3);
        const target = TOPICS.find((t) => t.symbol === TARGET)!;
        const sawInvalid = () => [...(statesSeen.get(target.id) ?? [])].some((s) => s !== BookState.LIVE);
        if (fault === "gap" || fault === "malformed" || fault === "stall" || fault === "disconnect" || fault === "checksum") {
          await waitFor(sawInvalid, `status not live after ${fault}`, 20_000, () => step(1));
        }
        if (fault === "stall") sim.inject("stall", undefined, { stallMs: 0 }); // noticed: the server is back
        // A stalled server sends nothing: recovery is only possible once the stall is over.
        if (fault === "stall") await waitFor(() => !sim.stalled, "the stall over", 20_000);
        await waitFor(allEqualAndValid, `recovery from ${fault}`, 20_000, () => step(1));
        for (let i = 0; i < 5; i++) {
          step(1);
          await waitFor(allEqualAndValid, `after ${fault}, message ${i}`, 15_000);
        }
        expect(violations).toEqual([]); // whatever happened meanwhile, no book was valid while it differed
        const after = feeder.stats().venues.okx!;
        if (fault !== "disconnect" && fault !== "stall" && after.reconnects !== before.reconnects) {
          if (round < ROUNDS_MAX) continue;
          throw new Error(`${ROUNDS_MAX} rounds of ${fault}, each with a reconnect (pong timeouts ${after.pongTimeouts}): the fault itself never tested`);
        }
        if (fault === "gap") expect(after.gaps).toBeGreaterThan(before.gaps!);
        if (fault === "reset") expect(after.maintenanceResets).toBe(before.maintenanceResets! + 1);
        if (fault === "keepalive") expect(after.keepalives).toBeGreaterThan(before.keepalives!);
        if (fault === "duplicate") expect(after.duplicates).toBeGreaterThan(before.duplicates!);
        if (fault === "checksum") expect(after.checksumMismatches).toBe(before.checksumMismatches! + 1);
        if (fault === "malformed") expect(after.parseErrors).toBeGreaterThan(before.parseErrors!);
        if (fault === "disconnect") expect(after.reconnects).toBeGreaterThan(before.reconnects!);
        if (fault === "stall") expect(after.staleResyncs! + after.pongTimeouts!).toBeGreaterThan(before.staleResyncs! + before.pongTimeouts!);
        if (fault === "reset" || fault === "keepalive" || fault === "duplicate") expect(sawInvalid()).toBe(false);
        expect(validChecks).toBeGreaterThan(checksBefore);
        statesSeen.clear();
        return;
      }
    }, 40_000 * ROUNDS_MAX);
  }

  test("a 64008 notice (planned reconnect) leaves every book LIVE", async () => {
    // Settled first: every connection open on both sides (a fault test may have left a reconnect in flight).
    await waitFor(() => !sim.stalled && allEqualAndValid() && sim.stats.connections === 3 && feeder.stats().venues.okx!.connectionsOpen === 3, "settled", 20_000, () => step(1));
    statesSeen.clear();
    const before = feeder.stats().venues.okx!;
    sim.inject("notice");
    await waitFor(() => feeder.stats().venues.okx!.plannedReconnects! >= before.plannedReconnects! + before.connections!, "every connection replaced", 20_000, () => step(1));
    for (let i = 0; i < 10; i++) {
      step(1);
      await waitFor(allEqualAndValid, `after the notice, message ${i}`, 15_000);
    }
    for (const t of TOPICS) expect([...(statesSeen.get(t.id) ?? [])]).toEqual([BookState.LIVE]);
    expect(feeder.stats().venues.okx!.reconnects).toBe(before.reconnects);
    expect(violations).toEqual([]);
  });

  test("the subscriber saw no channel gaps and the publisher no send errors", () => {
    expect(subscriber.counters.gaps).toBe(0);
    expect(feeder.publisher.counters.sendErrors).toBe(0);
    expect(feeder.stats().applyErrors).toBe(0);
  });
});
