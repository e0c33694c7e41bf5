/**
 * Bybit v5 public order books. See docs/venues/bybit.md for how the protocol maps onto the adapter.
 * @module
 */
import type { VenueConfig } from "../../config/types.ts";
import type { Subscription, VenueAdapter } from "../venue.ts";
import { BybitAdapter, type BybitAdapterOptions } from "./adapter.ts";

export { BybitAdapter, defaultStaleAfterMs, staleAfterFromConfig, type BybitAdapterOptions } from "./adapter.ts";
export { BybitScanner, TopicTable, SCAN_RESULT_NAMES } from "./scanner.ts";
export { isBookObject, parseBookObject } from "./parse-json.ts";
export { BYBIT_DEPTHS, bookTopic } from "./protocol.ts";
export { BYBIT_VENUE } from "./descriptor.ts";

/** The config's per-market `staleAfterMs` reaches the adapter through `config` unless opts.staleAfterMs overrides it. */
export function createBybitAdapter(config: VenueConfig, subscriptions: Subscription[], opts: BybitAdapterOptions): VenueAdapter & BybitAdapter {
  return new BybitAdapter(config, subscriptions, opts);
}
