/**
 * Binance spot and USD-M order books (diff streams bridged to REST snapshots). See docs/venues/binance.md.
 * @module
 */
export { BinanceAdapter, defaultStaleAfterMs, type BinanceAdapterOptions } from "./adapter.ts";
export { BinanceScanner, SCAN_RESULT_NAMES } from "./scanner.ts";
export { StreamTable } from "./topic-table.ts";
export { isDiffObject, parseDiffObject, parseDepthSnapshot, parseFrameJson } from "./parse-json.ts";
export { BINANCE_DEPTHS, depthStream, marketWsUrl, marketRestBase } from "./protocol.ts";
export { parseExchangeInfo } from "./instruments.ts";
export { BINANCE_VENUE } from "./descriptor.ts";
