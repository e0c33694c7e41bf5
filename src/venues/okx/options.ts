/**
 * The OKX adapter's options beyond the common ones (tests shorten deadlines and limits through them).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { CommonAdapterOptions } from "../venue.ts";

export interface OkxAdapterOptions extends CommonAdapterOptions {
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
  /** Topics per connection (OKX: fewer than 30); tests lower it to force several connections. */
  maxTopicsPerConnection?: number;
  maxArgsPerRequest?: number;
  /** Subscribe + unsubscribe requests per connection per hour (OKX: 480). */
  requestsPerHour?: number;
  /** The window of requestsPerHour (default 1 hour; tests shorten it). */
  requestWindowMs?: number;
  /** How often instrument reload deadlines are checked against the clock (default 1 s; tests shorten it). */
  instrumentCheckMs?: number;
  /**
   * Bytes of updates buffered for REST snapshots by all this adapter's books together (default the config's
   * rest_bridge_buffer_bytes, else 256 MiB, common/rest-bridge.ts DEFAULT_MAX_BUFFERED_BYTES): an update that does
   * not fit drops the buffers of bridges asked for after its book's (last asked first), else its own book's; each
   * such book resyncs.
   */
  maxBufferedBytes?: number;
}
