/**
 * How one configuration's instruments are split, by instrument id, so every host and thread computes the same split
 * without coordinating: `shard = "i/n"` takes ids with id mod n = i; within it, `workers = N` splits by other bits of
 * the id (id >>> 12), so both splits stay even. Here, below app/, so the configuration's checks count each share.
 * @module
 */

/** The shard (0 … count − 1) an instrument id belongs to. */
export function shardOfId(instrumentId: number, count: number): number {
  return count <= 1 ? 0 : instrumentId % count;
}

/** The worker (0 … workers − 1) of an instance an instrument id belongs to. */
export function workerOfId(instrumentId: number, workers: number): number {
  return workers <= 1 ? 0 : (instrumentId >>> 12) % workers;
}

/**
 * Each worker's part of a venue's REST-bridge byte budget (venues.okx / venues.binance rest_bridge_buffer_bytes): the
 * key bounds all the venue's books together, and `workers = N` splits the books, each worker's adapter keeping its
 * own buffers, so each takes 1/N of it. Before 2026-12-07 each took the whole value (N times the key in all).
 */
export function restBridgeBytesPerWorker(totalBytes: number, workers: number): number {
  return workers <= 1 ? totalBytes : Math.floor(totalBytes / workers);
}
