/**
 * OKX v5 public order books. See docs/venues/okx.md for how the protocol maps onto the adapter.
 * @module
 */
export { OkxAdapter, type OkxAdapterOptions } from "./adapter.ts";
export { CROSSED_RESYNC_MS, CROSSED_RESYNC_MAX_MS } from "./crossed.ts";
export { OkxScanner, SCAN_RESULT_NAMES } from "./scanner.ts";
export { OkxTopicTable } from "./topic-table.ts";
export { isBookObject, parseBookObject } from "./parse-json.ts";
export { bookChecksum, checksumOfStrings, crc32Signed } from "./checksum.ts";
export { OKX_DEPTHS, channelOf, topicName } from "./protocol.ts";
export { OKX_VENUE } from "./descriptor.ts";
