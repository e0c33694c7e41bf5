/**
 * Coinbase Advanced Trade public order books (level2). See docs/venues/coinbase.md.
 * @module
 */
import type { VenueConfig } from "../../config/types.ts";
import type { Subscription } from "../venue.ts";
import { CoinbaseAdapter, type CoinbaseAdapterOptions } from "./adapter.ts";

export { CoinbaseAdapter, defaultStaleAfterMs, type CoinbaseAdapterOptions } from "./adapter.ts";
export { CoinbaseScanner, EventPool, CB_L2, CB_HEARTBEAT, CB_NOT_FAST, rfc3339Us } from "./scanner.ts";
export { ProductTable } from "./product-table.ts";
export { parseSlowFrame, CB_CONTROL, CB_ERROR_NAMES } from "./parse-json.ts";
export { COINBASE_VENUE } from "./descriptor.ts";

export function createCoinbaseAdapter(config: VenueConfig, subscriptions: Subscription[], opts: CoinbaseAdapterOptions): CoinbaseAdapter {
  return new CoinbaseAdapter(config, subscriptions, opts);
}
