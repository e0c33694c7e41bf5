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
   * Bytes of diff copies this adapter keeps for REST snapshots and planned reconnects, all streams together (default
   * the config's rest_bridge_buffer_bytes, else 256 MiB, common/rest-bridge.ts DEFAULT_MAX_BUFFERED_BYTES), split by
   * splitBufferBudget: half for the resync bridges (a diff that does not fit drops the buffers of its market's bridges
   * asked for after its stream's, last asked first, else its own stream's; each such book resyncs), a quarter for the
   * depth refreshes of LIVE books (depth-band.ts: the newest give way, their books staying LIVE), and a quarter for the
   * diffs held during a planned reconnect's overlap (overlap-hold.ts: one that does not fit is a break, or goes to the
   * bridge), each of the three split between the markets (market-bridges.ts splitByMarket).
   */
  maxBufferedBytes?: number;
}

/**
 * The adapter's byte budget (maxBufferedBytes) split between its three kinds of kept diffs, adding up to it. Until
 * 2026-12-07 the resync bridges and the refreshes each had the whole of it (twice the configured value in all) and the
 * overlap hold was uncounted (only HOLD_MAX a stream).
 */
export function splitBufferBudget(totalBytes: number): { resyncBytes: number; refreshBytes: number; holdBytes: number } {
  const refreshBytes = Math.floor(totalBytes / 4);
  const holdBytes = Math.floor(totalBytes / 4);
  return { resyncBytes: totalBytes - refreshBytes - holdBytes, refreshBytes, holdBytes };
}
