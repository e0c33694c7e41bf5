/**
 * Upbit public order books (and, through its dialect, Bithumb's Upbit-compatible v1 feed). See docs/venues/upbit.md.
 * @module
 */
export { UpbitAdapter, type UpbitAdapterOptions } from "./adapter.ts";
export { CodeTable, UpbitScanner, SCAN_RESULT_NAMES } from "./scanner.ts";
export { UPBIT_DEPTHS, UPBIT_DIALECT, BITHUMB_DIALECT, type VenueDialect } from "./protocol.ts";
export { UPBIT_VENUE } from "./descriptor.ts";
