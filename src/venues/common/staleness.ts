/**
 * Per-market stale thresholds: the config's `stale_after_ms` where set (0 = default), else the venue's default
 * for the depth (registry.ts MarketSpec.staleAfterMs).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";

export type StaleAfter = (depth: number, market: MarketName) => number;

export function staleAfterFromConfig(config: VenueConfig, dflt: StaleAfter): StaleAfter {
  const byMarket = new Map<MarketName, number>();
  for (const m of config.markets) if (m.staleAfterMs !== undefined && m.staleAfterMs > 0) byMarket.set(m.market, m.staleAfterMs);
  if (byMarket.size === 0) return dflt;
  return (depth, market) => byMarket.get(market) ?? dflt(depth, market);
}
