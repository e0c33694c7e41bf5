/**
 * What the simulator knows about a symbol: what its REST endpoint tells (tick, lot), how its WebSocket prints
 * numbers, and how its market moves (reference price, volatility, reversion, typical spread). Defaults per symbol.
 * @module
 */
import { exponentOf } from "../core/fixed.ts";
import type { MarketName } from "../core/types.ts";
import type { FairValueSpec } from "./fair-value.ts";

/** What the REST endpoint tells about a symbol, how the WebSocket prints its numbers, and how its market moves. */
export interface SymbolSpec extends FairValueSpec {
  readonly tickSize: string;
  readonly lotSize: string;
  /** Decimals printed for prices: linear prints priceScale decimals ("16493.50" at tick 0.10, docs/venues/bybit.md §4.5). */
  readonly priceDecimals: number;
  /** Typical quantity of a level, in lots. */
  readonly typicalLots: number;
  /** Reference price: the book starts there and its fair price reverts to it. */
  readonly mid: number;
  /** Typical spread in ticks: where liquidity providers quote around the fair price (at most maxSpreadTicks). */
  readonly spreadTicks: number;
}

/** Market time one book step stands for when the caller gives none (manual steps, tests). */
export const DEFAULT_STEP_S = 0.01;

/** Mean-reversion time of every default symbol's fair price: 15 minutes. */
export const REVERSION_S = 900;

/**
 * Realistic defaults for common symbols (ticks from docs/venues/bybit.md §1.3 examples where given). Spreads:
 * the majors' perpetuals trade one tick wide most of the time, spot and smaller names a few ticks. Volatility per
 * √s: BTC ≈ 1e-4 (≈ 56 % a year), ETH and alts more, options much more (in relative terms).
 */
export function defaultSpec(market: MarketName, symbol: string): SymbolSpec {
  const s = symbol.toUpperCase();
  const m = { reversionS: REVERSION_S };
  if (market === "option") return { ...m, tickSize: "5", lotSize: "0.01", priceDecimals: 0, typicalLots: 500, mid: 1500, spreadTicks: 4, volPerSqrtS: 4e-4 };
  if (s.startsWith("BTC")) {
    const btc = { ...m, mid: 95_000, volPerSqrtS: 1e-4 };
    if (market === "spot") return { ...btc, tickSize: "0.1", lotSize: "0.000001", priceDecimals: 1, typicalLots: 50_000, spreadTicks: 2 };
    if (market === "inverse") return { ...btc, tickSize: "0.50", lotSize: "1", priceDecimals: 2, typicalLots: 5_000, spreadTicks: 1 };
    return { ...btc, tickSize: "0.10", lotSize: "0.001", priceDecimals: 2, typicalLots: 500, spreadTicks: 1 };
  }
  if (s.startsWith("ETH")) {
    const eth = { ...m, mid: 3_500, volPerSqrtS: 1.3e-4 };
    if (market === "spot") return { ...eth, tickSize: "0.01", lotSize: "0.00001", priceDecimals: 2, typicalLots: 200_000, spreadTicks: 2 };
    if (market === "inverse") return { ...eth, tickSize: "0.05", lotSize: "1", priceDecimals: 2, typicalLots: 3_000, spreadTicks: 1 };
    return { ...eth, tickSize: "0.01", lotSize: "0.01", priceDecimals: 2, typicalLots: 200, spreadTicks: 1 };
  }
  if (s.startsWith("XRP")) {
    return { ...m, tickSize: "0.0001", lotSize: market === "spot" ? "0.01" : "1", priceDecimals: 4, typicalLots: market === "spot" ? 1_000_000 : 10_000, mid: 1.95, spreadTicks: 1, volPerSqrtS: 1.6e-4 };
  }
  if (s.startsWith("SOL")) return { ...m, tickSize: "0.01", lotSize: market === "spot" ? "0.001" : "0.1", priceDecimals: 2, typicalLots: 100, mid: 200, spreadTicks: 2, volPerSqrtS: 1.8e-4 };
  // Anything else: a deterministic price level from the name.
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  const mid = [0.5, 5, 50, 500][h % 4]!;
  const tick = ["0.0001", "0.001", "0.01", "0.1"][h % 4]!;
  return { ...m, tickSize: tick, lotSize: "0.1", priceDecimals: exponentOf(tick), typicalLots: 100, mid, spreadTicks: 3, volPerSqrtS: 2e-4 };
}

/** The widest spread a book shows after a step, in ticks: liquidity always steps in beyond it. */
export function maxSpreadTicks(spec: SymbolSpec): number {
  return 2 * Math.max(1, spec.spreadTicks) + 4;
}

