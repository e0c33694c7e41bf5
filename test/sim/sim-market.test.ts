/**
 * The simulator's books look like a market for any run length: driven directly (seeded, no wall clock) through a
 * simulated day, each symbol's spread stays between 1 tick and maxSpreadTicks (mostly its typical width), its mid
 * reverts to the reference price, and its depth stays deep and dense. The demo used to drift apart (BTCUSDT's
 * spread from 11 to ~1,950 ticks in 70 s, SOLUSDT at 100/296).
 */
import { describe, expect, test } from "vitest";
import type { MarketName } from "../../src/core/types.ts";
import { stationaryLogStd } from "../../src/sim/fair-value.ts";
import { Rng } from "../../src/sim/rng.ts";
import { defaultSpec, maxSpreadTicks, SimBook } from "../../src/sim/sim-book.ts";

const DAY_S = 86_400;

interface RunStats {
  spreadsTicks: Map<number, number>;
  /** log(mid / reference) per step. */
  logDevs: Float64Array;
  minLevels: number;
  maxLevels: number;
  /** Widest price range of the top 50 levels of a side, in ticks. */
  maxTop50Ticks: number;
  crossed: number;
}

/** Steps one symbol's book like the simulator does (bursts included), `stepS` seconds of market time per step. */
function run(market: MarketName, symbol: string, seed: number, steps: number, stepS: number): { stats: RunStats; book: SimBook } {
  const rng = new Rng(seed);
  const book = new SimBook(defaultSpec(market, symbol), rng, market === "option" ? 150 : 1200);
  const stats: RunStats = { spreadsTicks: new Map(), logDevs: new Float64Array(steps), minLevels: Infinity, maxLevels: 0, maxTop50Ticks: 0, crossed: 0 };
  for (let i = 0; i < steps; i++) {
    book.mutate(rng.next() < 0.05 ? rng.int(20, 150) : rng.int(1, 5), stepS);
    const bid = book.bids[0]!;
    const ask = book.asks[0]!;
    if (!(bid < ask)) stats.crossed++;
    const spread = Math.round((ask - bid) / book.tickM);
    stats.spreadsTicks.set(spread, (stats.spreadsTicks.get(spread) ?? 0) + 1);
    stats.logDevs[i] = Math.log((bid + ask) / 2 / 10 ** book.priceExp / book.spec.mid);
    stats.minLevels = Math.min(stats.minLevels, book.bids.length, book.asks.length);
    stats.maxLevels = Math.max(stats.maxLevels, book.bids.length, book.asks.length);
    const top = 49;
    stats.maxTop50Ticks = Math.max(stats.maxTop50Ticks, (bid - book.bids[top]!) / book.tickM, (book.asks[top]! - ask) / book.tickM);
  }
  return { stats, book };
}

function meanStd(xs: Float64Array): { mean: number; std: number } {
  let s = 0;
  for (const x of xs) s += x;
  const mean = s / xs.length;
  let v = 0;
  for (const x of xs) v += (x - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length) };
}

describe("simulated market", { timeout: 120_000 }, () => {
  // A day at one step a second (large moves per step), for symbols with one-tick, two-tick and option spreads.
  const symbols: [MarketName, string][] = [
    ["linear", "BTCUSDT"],
    ["linear", "SOLUSDT"],
    ["linear", "XRPUSDT"],
    ["option", "BTC-27MAR26-70000-P"],
  ];
  test.each(symbols)("%s %s over a simulated day: bounded spread, mean-reverting mid, refilled depth", (market, symbol) => {
    const { stats, book } = run(market, symbol, 11, DAY_S, 1);
    const spec = book.spec;
    expect(stats.crossed).toBe(0);
    const spreads = [...stats.spreadsTicks.keys()];
    expect(Math.min(...spreads)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...spreads)).toBeLessThanOrEqual(maxSpreadTicks(spec));
    // Most of the time the spread is the symbol's typical width or narrower.
    let typical = 0;
    for (const [ticks, n] of stats.spreadsTicks) if (ticks <= spec.spreadTicks) typical += n;
    expect(typical / DAY_S).toBeGreaterThan(0.5);
    // The mid moves (a market, not a constant) and stays around the reference: the fair price's stationary
    // deviation, plus up to half the widest spread of quantisation.
    const sd = stationaryLogStd(spec);
    const quantum = (maxSpreadTicks(spec) / 2) * (Number(spec.tickSize) / spec.mid);
    const { mean, std } = meanStd(stats.logDevs);
    expect(std).toBeGreaterThan(0.5 * sd);
    expect(std).toBeLessThan(1.5 * sd + quantum);
    expect(Math.abs(mean)).toBeLessThan(sd + quantum);
    expect(Math.max(...stats.logDevs.map(Math.abs))).toBeLessThan(6 * sd + quantum);
    // Depth: every side keeps its levels (an option's bids stop at price 0) within depthTicks, and the top 50 dense.
    const wantLevels = market === "option" ? 100 : book.levels;
    expect(stats.minLevels).toBeGreaterThanOrEqual(wantLevels);
    expect(stats.maxLevels).toBeLessThanOrEqual(book.levels * 1.25);
    expect(stats.maxTop50Ticks).toBeLessThanOrEqual(50 * 8);
    for (const side of [book.bids, book.asks]) expect(Math.abs(side.at(-1)! - side[0]!) / book.tickM).toBeLessThanOrEqual(book.depthTicks);
  });

  test("at the demo's pace (3 ms of market time a step) the spread stays as tight for 300,000 steps", () => {
    const { stats, book } = run("linear", "BTCUSDT", 5, 300_000, 0.003);
    expect(stats.crossed).toBe(0);
    expect(Math.max(...stats.spreadsTicks.keys())).toBeLessThanOrEqual(maxSpreadTicks(book.spec));
    expect(stats.spreadsTicks.get(1)! / 300_000).toBeGreaterThan(0.5);
    expect(stats.minLevels).toBeGreaterThanOrEqual(book.levels);
  });

  test("the same seed gives the same book", () => {
    const a = run("linear", "ETHUSDT", 3, 2_000, 0.01).book;
    const b = run("linear", "ETHUSDT", 3, 2_000, 0.01).book;
    expect(a.windowLevels(true, 200)).toEqual(b.windowLevels(true, 200));
    expect(a.windowLevels(false, 200)).toEqual(b.windowLevels(false, 200));
  });
});
