/**
 * Bithumb public order books: the Upbit adapter with Bithumb's dialect. See docs/venues/bithumb.md.
 * @module
 */
export { BITHUMB_VENUE } from "./descriptor.ts";
export { BITHUMB_DIALECT } from "../upbit/protocol.ts";
