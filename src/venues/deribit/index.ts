/**
 * Deribit API v2 public order books. See docs/venues/deribit.md for how the protocol maps onto the adapter.
 * @module
 */
export { DeribitAdapter, defaultStaleAfterMs, type DeribitAdapterOptions } from "./adapter.ts";
export { DeribitScanner, SCAN_RESULT_NAMES } from "./scanner.ts";
export { ChannelTable } from "./channel-table.ts";
export { parseBookObject, parseJsonRaw, isBookObject, RawNumber } from "./parse-json.ts";
export { bookChannel, DERIBIT_DEPTHS } from "./protocol.ts";
export { DERIBIT_VENUE } from "./descriptor.ts";
