/**
 * The Binance venue of the chaos runs (test/support/chaos.ts): the Binance simulator (one market, two symbols,
 * every book state kept by update id) with its faults, as a ChaosVenue for an in-process Feeder. Used by
 * test/e2e/chaos-binance.test.ts (spot and USD-M) and chaos-binance-instruments.test.ts (`instruments`: tick and
 * step changes both ways found by the periodic exchangeInfo reload, and a symbol delisted and listed again).
 * @module
 */
import { join } from "node:path";
import type { FeederConfig } from "../../src/config/types.ts";
import { exponentOf, formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBinanceSimulator, type BinanceRestFault, type BinanceSim } from "../../src/sim/binance-sim.ts";
import type { Rng } from "../../src/sim/rng.ts";
import { defaultSpec } from "../../src/sim/sim-book.ts";
import { tempDir } from "../e2e/harness.ts";
import type { ChaosFault, ChaosTopic, ChaosVenue } from "./chaos.ts";
import { chaosFeeder, simulatorsOfEachTest } from "./chaos-venue.ts";

export type BinanceChaosMarket = "spot" | "linear";
export const BINANCE_SYMBOLS = ["BTCUSDT", "ETHUSDT"];

const sims = simulatorsOfEachTest<BinanceSim>();

export interface BinanceChaosOptions {
  /**
   * Instrument changes while running: exchangeInfo reloaded every `reloadMs` (venues.binance.instrument_reload_ms,
   * below the configurable minimum here), the faults tickChange and stepChange (ten times coarser or finer; the
   * simulator re-prices the book and sends the move as a diff, update ids going on) and delistRelist (status BREAK
   * for 0.1–2 s: the stream silent, REST depth refused; a publisher restart meanwhile leaves the symbol out until
   * it is listed again), and instrumentsDown (exchangeInfo answering 503 for a while: a reload fails and is retried).
   */
  instruments?: { reloadMs: number };
}

export async function binanceVenue(seed: number, market: BinanceChaosMarket, opts: BinanceChaosOptions = {}): Promise<ChaosVenue & { sim: BinanceSim; instrumentChanges: string[] }> {
  const symbols = BINANCE_SYMBOLS;
  // Reloads spend exchangeInfo weight (20 on spot) several times a second: a budget that never refuses for that.
  const sim = await startBinanceSimulator({ markets: [{ market, symbols }], seed, history: true, shutdownGraceMs: 300, ...(opts.instruments ? { restWeightPerMinute: 1_000_000 } : {}) });
  sims.push(sim);
  let stalledUntilMs = 0;
  /** Symbols halted or delisted now: the venue cannot converge until they are listed again. */
  const delisted = new Set<string>();
  const topics: (ChaosTopic & { symbol: string })[] = symbols.map((symbol) => ({
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
  /** Each symbol's listed tick and step now. */
  const steps = new Map(topics.map((t) => [t.id, { tickSize: defaultSpec(market, t.symbol).tickSize, stepSize: defaultSpec(market, t.symbol).lotSize }]));
  /** The changes made ("SYMBOL tickSize 0.1 → 1"), for the run's report. */
  const instrumentChanges: string[] = [];
  if (opts.instruments) faults.push(...instrumentFaults());
  function instrumentFaults(): ChaosFault[] {
    let changes = 0;
    // At most 4 a run: each finer step makes the mantissas ten times larger.
    const change = (field: "tickSize" | "stepSize") => (r: Rng, t: ChaosTopic) => {
      const { symbol } = target(t);
      if (changes >= 4 || delisted.has(symbol)) return;
      const cur = steps.get(t.id)!;
      const e = exponentOf(cur[field]);
      const coarser = e > 0 && r.next() < 0.5;
      const next = formatFixed(parseFixed(cur[field], e), coarser ? e - 1 : e + 1); // the same digits one place over
      try {
        sim.changeInstrument(market, symbol, { [field]: next });
      } catch {
        return; // a step the simulated book cannot take (a tick above the price): no change
      }
      changes++;
      steps.set(t.id, { ...cur, [field]: next });
      instrumentChanges.push(`${symbol} ${field} ${cur[field]} → ${next}`);
    };
    return [
      { name: "tickChange", weight: 0.5, inject: change("tickSize") },
      { name: "stepChange", weight: 0.5, inject: change("stepSize") },
      {
        name: "delistRelist",
        weight: 0.4,
        inject: (r, t) => {
          const { symbol } = target(t);
          if (delisted.size > 0) return; // one at a time: the market keeps a listed symbol to start with
          delisted.add(symbol);
          sim.setTrading(market, symbol, false);
          setTimeout(() => {
            sim.setTrading(market, symbol, true);
            delisted.delete(symbol);
          }, r.int(100, 2000));
        },
      },
      {
        name: "instrumentsDown",
        weight: 0.3,
        inject: (r) => {
          sim.setInstrumentsAvailable(false);
          setTimeout(() => sim.setInstrumentsAvailable(true), r.int(50, 1500));
        },
      },
    ];
  }
  const cache = join(tempDir("feeder-chaos-binance-"), "instruments.json");
  return {
    sim,
    instrumentChanges,
    topics,
    faults,
    step: (n) => sim.step(n),
    ready: () => Date.now() >= stalledUntilMs && delisted.size === 0,
    ...(opts.instruments ? { exponentsNow: (id: number) => [exponentOf(steps.get(id)!.tickSize), exponentOf(steps.get(id)!.stepSize)] as [number, number] } : {}),
    makeFeeder: chaosFeeder(
      () => ({ binance: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, [market]: { depth: 1000, symbols } } }),
      {
        ...{ pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 5, reconnectMaxMs: 20, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 },
        // Reload deadlines checked every 20 ms; a symbol left out (delisted at a restart) is looked for again within 200 ms.
        ...(opts.instruments ? { instrumentCheckMs: 20, lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 200, lateCheckMs: 20 } : {}),
      },
      // instrument_reload_ms below its configurable minimum (1 minute), as a test may.
      { ...(opts.instruments ? { patch: (c: FeederConfig) => ({ ...c, venues: c.venues.map((v) => ({ ...v, instrumentReloadMs: opts.instruments!.reloadMs })) }) } : {}) },
    ),
  };
}
