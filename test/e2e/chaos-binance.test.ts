/**
 * Binance spot and USD-M, randomized fault schedules end to end (test/support/chaos.ts): the Binance simulator (two
 * symbols per market, every book state kept by update id) → the Binance adapter over a real WebSocket (diffs bridged
 * to REST depth snapshots) → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap, duplicate,
 * malformed frame, disconnect, stall, serverShutdown (planned reconnect), REST snapshots refused (429), banned (418),
 * failed (500) or too old to bridge; feed faults: publisher restart, subscriber restart, datagram loss, reordering,
 * corruption, replay, garbage. Every usable book must equal the simulator's book at its update id.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBinanceSimulator, type BinanceRestFault, type BinanceSim } from "../../src/sim/binance-sim.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

type M = "spot" | "linear";
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];

let sims: BinanceSim[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});

async function binanceVenue(seed: number, market: M): Promise<ChaosVenue> {
  const sim = await startBinanceSimulator({ markets: [{ market, symbols: SYMBOLS }], seed, history: true, shutdownGraceMs: 300 });
  sims.push(sim);
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { symbol: string })[] = SYMBOLS.map((symbol) => ({
    symbol,
    id: instrumentIdOf("binance", market, symbol),
    label: `${market}:${symbol}`,
    booksAt: (u: number) => {
      const b = sim.bookAt(market, symbol, u);
      return b ? [b] : [];
    },
    now: () => {
      const b = sim.book(market, symbol);
      return { bids: b.bids, asks: b.asks, seq: b.u };
    },
  }));
  const target = (t: ChaosTopic) => ({ market, symbol: topics.find((x) => x.id === t.id)!.symbol });
  const faults: ChaosFault[] = [
    { name: "gap", weight: 2, inject: (_r, t) => void sim.inject("gap", target(t)) },
    { name: "duplicate", inject: (_r, t) => void sim.inject("duplicate", target(t)) },
    { name: "malformed", weight: 2, inject: (_r, t) => void sim.inject("malformed", target(t)) },
    { name: "disconnect", inject: () => void sim.inject("disconnect") },
    {
      name: "stall",
      weight: 0.3,
      inject: (r) => {
        const stallMs = r.int(200, 1800);
        sim.inject("stall", undefined, { stallMs });
        stalledUntilMs = Date.now() + stallMs;
      },
    },
    { name: "serverShutdown", weight: 0.3, inject: () => void sim.inject("serverShutdown") },
    {
      // The next depth snapshot of the book is refused, banned, fails or is too old; a gap makes the adapter ask.
      name: "restFault",
      weight: 1.5,
      inject: (r, t) => {
        const kinds: BinanceRestFault[] = ["refuse", "ban", "error", "no_bridge"];
        sim.restFault(kinds[r.int(0, kinds.length - 1)]!, target(t));
        sim.inject("gap", target(t));
      },
    },
  ];
  let raw: Record<string, unknown> | undefined;
  const cache = join(tempDir("feeder-chaos-binance-"), "instruments.json");
  return {
    topics,
    faults,
    step: (n) => sim.step(n),
    ready: () => Date.now() >= stalledUntilMs,
    makeFeeder: (dest, dropFilter) => {
      raw ??= {
        log: { level: "warn", format: "json" },
        http: { enabled: false },
        publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "chaos", ...dest, interface: "127.0.0.1", ttl: 1, channel: 9 }] },
        venues: { binance: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, [market]: { depth: 1000, symbols: SYMBOLS } } },
      };
      return new Feeder({
        config: validateConfig(raw),
        log: silentLogger,
        dropFilter,
        adapterOptions: { pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 5, reconnectMaxMs: 20, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 },
      });
    },
  };
}

describe("binance: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const market of ["spot", "linear"] as const) {
    for (const seed of chaosSeeds(market === "spot" ? [301] : [401])) {
      test(`${market}, seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
        const dest = uniqueDestination(market === "spot" ? 92 : 93);
        const r = await runChaos(await binanceVenue(seed, market), { seed, ops: chaosOps(150), ...dest });
        if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
        expect(r.violations, `seed ${seed}: ${r.schedule.join(" ")}`).toEqual([]);
        expect(r.usableChecks).toBeGreaterThan(100);
        expect(r.notUsableSeen).toBeGreaterThan(0);
        expect(r.applyErrors).toBe(0);
      });
    }
  }
});
