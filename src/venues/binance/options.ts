/**
 * The Binance adapter's options (beyond the common ones) and its default staleness.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { CommonAdapterOptions } from "../venue.ts";

/** Default silence before a subscribed stream is stale: diffs come only when the book changes. */
export function defaultStaleAfterMs(): number {
  return 60_000;
}

export interface BinanceAdapterOptions extends CommonAdapterOptions {
  /** How often instrument reload deadlines are checked against the clock (default 1 s; tests shorten it). */
  instrumentCheckMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  ackTimeoutMs?: number;
  staleAfterMs?: (depth: number, market: MarketName) => number;
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  reconnectResetAfterMs?: number;
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  resyncBackoffResetMs?: number;
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Streams per connection (default 200; at most 1024). */
  maxStreamsPerConnection?: number;
  maxArgsPerRequest?: number;
  /**
   * A side bounded by its snapshot's depth is refreshed (a new snapshot bridged while the book stays LIVE) once it
   * holds at most ⌈limit × this⌉ levels (default 0.25, depth-band.ts; 0: never, only the resync when it is empty).
   */
  depthRefreshFraction?: number;
  /**
   * Bytes of diffs buffered by the REST bridges of all this adapter's streams together (default the config's
   * rest_bridge_buffer_bytes, else 256 MiB, common/rest-bridge.ts DEFAULT_MAX_BUFFERED_BYTES): a diff that does not
   * fit drops the buffers of bridges asked for after its stream's (last asked first), else its own stream's; each
   * such book resyncs. The depth refreshes of LIVE books (depth-band.ts) have a budget of their own, this large.
   */
  maxBufferedBytes?: number;
}
