/**
 * Fresh byte ranges for what the NATS client keeps until it writes it (a payload, a frame): carved in turn from
 * 64 KiB chunks and never written again, so a range handed over stays as it was whenever the client reads it (its
 * outbound buffer holds references until flushed, and while disconnected). A chunk is dropped for a new one when
 * full and collected once the client let go of its ranges. Per range one view (1 cell), against a new Uint8Array,
 * its ArrayBuffer and views per envelope before (docs/performance.md §19). A range can also be written in place
 * before its length is known (room, close: the bridge's PUB frames, pub-frames.ts); no other is taken meanwhile.
 * HOT PATH: one view per range; a chunk per 64 KiB.
 * @module
 */
import { copyRange } from "../core/copy-range.ts";

export const ARENA_CHUNK_BYTES = 64 * 1024;

export class PayloadArena {
  private chunk = new Uint8Array(ARENA_CHUNK_BYTES);
  private used = 0;
  /** A range is being written in place (room): a take() now would overlap it. */
  private open = false;

  /** A new range of `length` bytes no earlier range overlaps (its contents undefined: the caller writes them all). */
  take(length: number): Uint8Array {
    // A caller's bug, never data: the open range's bytes would be overwritten (forward-bridge.ts hands its frames
    // over before it takes a range for an envelope).
    if (this.open) throw new Error("payload arena: take() while a range is written in place (close it first)");
    if (this.used + length > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(ARENA_CHUNK_BYTES, length)); // cold: once per chunk
      this.used = 0;
    }
    const at = this.used;
    this.used = at + length;
    return this.chunk.subarray(at, at + length);
  }

  /**
   * The chunk the open range is written in, with room for `need` bytes from its start (openAt), of which the first
   * `written` are kept: when the chunk is full a new one takes them (cold: once per chunk, or a range over 64 KiB).
   */
  room(written: number, need: number): Uint8Array {
    this.open = true;
    if (this.used + need > this.chunk.length) {
      const next = new Uint8Array(need > ARENA_CHUNK_BYTES ? 2 * need : ARENA_CHUNK_BYTES);
      copyRange(this.chunk, next, 0, this.used, this.used + written);
      this.chunk = next;
      this.used = 0;
    }
    return this.chunk;
  }

  /** Where the open range starts in the chunk room() returned. */
  get openAt(): number {
    return this.used;
  }

  /** Ends the open range at `length` bytes: its view, never written again. */
  close(length: number): Uint8Array {
    this.open = false;
    const at = this.used;
    this.used = at + length;
    return this.chunk.subarray(at, at + length);
  }
}
