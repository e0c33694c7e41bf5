/** Binance spot books at depth 100 on a simulator, as the instrument-closed and late-join tests configure them. */
import { join } from "node:path";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

/**
 * `symbols` as spot subscriptions at depth 100 and their venue config on `sim`: a fresh instrument cache (under a
 * temp folder named by `tempTag`), no periodic instrument reload.
 */
export function spotDepth100(sim: { wsUrl: string; restUrl: string }, symbols: string[], tempTag: string): { subs: Subscription[]; config: VenueConfig } {
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 100 }));
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir(tempTag), "i.json"),
    markets: [{ market: "spot", depth: 100, symbols }],
    overrides: new Map(),
    instrumentReloadMs: 0,
  };
  return { subs, config };
}
