/**
 * Bybit's default silence before a topic is stale (docs/venues/bybit.md, "Staleness").
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { staleAfterFromConfig as commonStaleAfterFromConfig } from "../common/staleness.ts";

/**
 * Default silence before a topic is stale, from the documented cadences (§4.1, §4.2). Level 1 re-pushes its
 * snapshot every 3 s even when nothing changes, so 10 s (three missed re-pushes) is certainly a fault. Deeper
 * topics push only when the book changes (their 20–200 ms push interval bounds batching, not silence), so a quiet
 * book is not necessarily a dead one: 60 s for spot and futures, 300 s for options, whose books are often
 * illiquid. A deployment with busy symbols tightens this per market (`stale_after_ms`, see staleAfterFromConfig).
 */
export function defaultStaleAfterMs(depth: number, market: MarketName): number {
  if (market !== "option" && depth === 1) return 10_000;
  return market === "option" ? 300_000 : 60_000;
}

/** The configured per-market thresholds (`[venues.bybit.<market>] stale_after_ms`, 0 = default), else the defaults. */
export function staleAfterFromConfig(config: VenueConfig): (depth: number, market: MarketName) => number {
  return commonStaleAfterFromConfig(config, defaultStaleAfterMs);
}
