/**
 * Fresh byte ranges for what the NATS client keeps until it writes it (a payload, a frame): carved in turn from
 * 64 KiB chunks and never written again, so a range handed over stays as it was whenever the client reads it (its
 * outbound buffer holds references until flushed, and while disconnected). A chunk is dropped for a new one when
 * full and collected once the client let go of its ranges. Per range one view (1 cell), against a new Uint8Array,
 * its ArrayBuffer and views per envelope before (docs/performance.md §19).
 * HOT PATH: one view per range; a chunk per 64 KiB.
 * @module
 */
export const ARENA_CHUNK_BYTES = 64 * 1024;

export class PayloadArena {
  private chunk = new Uint8Array(ARENA_CHUNK_BYTES);
  private used = 0;

  /** A new range of `length` bytes no earlier range overlaps (its contents undefined: the caller writes them all). */
  take(length: number): Uint8Array {
    if (this.used + length > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(ARENA_CHUNK_BYTES, length)); // cold: once per chunk
      this.used = 0;
    }
    const at = this.used;
    this.used = at + length;
    return this.chunk.subarray(at, at + length);
  }
}
