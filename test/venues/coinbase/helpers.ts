/** Test helpers for Coinbase: config for a simulator, a temp instrument cache. */
import { join } from "node:path";
import { makeTempDir } from "../../support/temp-dirs.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { Subscription } from "../../../src/venues/venue.ts";

export function coinbaseConfig(sim: { wsUrl: string; restUrl: string }, products: string[]): VenueConfig {
  return {
    venue: "coinbase",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("feeder-coinbase-"), "instruments.json"),
    markets: [{ market: "spot", depth: 0, symbols: products }],
    overrides: new Map(),
  };
}

export function subsOf(products: string[]): Subscription[] {
  return products.map((symbol) => ({ market: "spot" as const, symbol, depth: 0 }));
}
