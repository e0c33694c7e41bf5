// HOT PATH: no allocation (EqualStamps.begin, onEqual: called by adapter.ts onBook per book)
/**
 * Books stamped alike on two sockets (docs/venues/upbit.md, "Messages"). A timestamp (Upbit ms) orders books only
 * across stamps: several books of one code can share one, and one socket delivers them in the venue's order, so
 * there the later is the newer. During a planned reconnect's overlap the old and the new socket deliver the same books
 * with different lags: a book of the newest stamp from the other socket may be one the first socket passed already.
 * Applied, the older book would show LIVE until the next; so such a book is compared with the other socket's latest
 * of that stamp and applied only when the two agree (then it is the newest either way). Otherwise the book is held
 * out of LIVE until they agree or a newer stamp arrives.
 *
 * Per code: up to two sockets (generations) that delivered books of the newest stamp, each with its latest book's
 * hash (two FNV-1a over its levels' 32-bit words) and whether it came while both sockets were open. A book of a socket that
 * did not overlap the other's latest (that one came before the replacement subscribed, or from a socket closed before
 * this one opened: an unplanned reconnect) is newer: its snapshot followed them. Hashes are computed only during an
 * overlap or when a book must be compared, so one socket alone costs three stores per book.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";

const TWO_32 = 4294967296;

export class EqualStamps {
  /** By code: two slots' socket generations (-1 empty), hashes (two words a slot), overlap flags; held (1: not LIVE). */
  private readonly gen: Int32Array;
  private readonly hash: Uint32Array;
  private readonly overlap: Uint8Array;
  private readonly held: Uint8Array;
  /** Books held out of LIVE: the other socket's latest of that stamp differs (cold read). */
  holds = 0;

  constructor(codes: number) {
    this.gen = new Int32Array(2 * codes).fill(-1);
    this.hash = new Uint32Array(4 * codes);
    this.overlap = new Uint8Array(2 * codes);
    this.held = new Uint8Array(codes);
  }

  /** A book newer than every one before (a later stamp): its socket is the stamp's only one so far. HOT PATH. */
  begin(index: number, socket: number, inOverlap: boolean, u: BookUpdate): void {
    const k = 2 * index;
    this.set(k, socket, inOverlap, u, inOverlap);
    this.gen[k + 1] = -1;
    this.held[index] = 0;
  }

  /**
   * A book of the newest stamp from `socket`: true = apply it (the newest received), false = hold the book out of
   * LIVE (the other socket's latest of that stamp differs: which is newer cannot be told). HOT PATH.
   */
  onEqual(index: number, socket: number, inOverlap: boolean, u: BookUpdate): boolean {
    const k0 = 2 * index;
    const g0 = this.gen[k0]!;
    const g1 = this.gen[k0 + 1]!;
    // k: this socket's slot (its own, an empty one, or a third socket's: the older slot's socket is long gone); o: the other's (-1: none).
    const k = g0 === socket ? k0 : g1 === socket ? k0 + 1 : g0 === -1 ? k0 : g1 === -1 ? k0 + 1 : g0 < g1 ? k0 : k0 + 1;
    const o = k === k0 ? (g1 === -1 ? -1 : k0 + 1) : g0 === -1 ? -1 : k0;
    // The other's latest came while both were open, or the other is the newer socket: their order is unknown.
    const compare = o >= 0 && (this.overlap[o] === 1 || this.gen[o]! > socket);
    if (!compare) {
      this.set(k, socket, inOverlap, u, inOverlap);
      if (o >= 0) this.gen[o] = -1; // it delivered before this socket subscribed: this one's books follow
      this.held[index] = 0;
      return true;
    }
    this.set(k, socket, inOverlap, u, true);
    const agree = this.hash[2 * k] === this.hash[2 * o] && this.hash[2 * k + 1] === this.hash[2 * o + 1];
    if (agree) {
      this.held[index] = 0;
      return true;
    }
    if (this.held[index] === 0) this.holds++;
    this.held[index] = 1;
    return false;
  }

  isHeld(index: number): boolean {
    return this.held[index] === 1;
  }

  /**
   * Cold: the book went stale. A socket that is neither `current` nor `retiring` delivers no more: its latest is
   * forgotten, so a hold no book of the open socket could end (its snapshot newer than the closed one's latest, at the
   * same stamp) ends with the open socket's next book.
   */
  forgetGone(index: number, current: number, retiring: number): void {
    for (let k = 2 * index; k < 2 * index + 2; k++) {
      const g = this.gen[k]!;
      if (g !== -1 && g !== current && g !== retiring) this.gen[k] = -1;
    }
  }

  /** Cold: the stamp forgotten (adapter.ts forgetNewest). */
  forget(index: number): void {
    this.gen[2 * index] = -1;
    this.gen[2 * index + 1] = -1;
    this.held[index] = 0;
  }

  private set(k: number, socket: number, inOverlap: boolean, u: BookUpdate, withHash: boolean): void {
    this.gen[k] = socket;
    this.overlap[k] = inOverlap ? 1 : 0;
    if (withHash) hashLevels(u, this.hash, 2 * k);
  }
}

/** Two independent FNV-1a hashes (32-bit words, 32-bit state) of the book's levels (counts, prices, sizes: integers below 2^53) → out[at], out[at + 1]. */
function hashLevels(u: BookUpdate, out: Uint32Array, at: number): void {
  let a = 0x811c9dc5 ^ u.bidCount;
  let b = 0x050c5d1f ^ u.askCount;
  for (let s = 0; s < 2; s++) {
    const n = s === 0 ? u.bidCount : u.askCount;
    const px = s === 0 ? u.bidPx : u.askPx;
    const qty = s === 0 ? u.bidQty : u.askQty;
    for (let i = 0; i < n; i++) {
      const p = px[i]!;
      const q = qty[i]!;
      const pLo = p >>> 0;
      const pHi = (p / TWO_32) >>> 0;
      const qLo = q >>> 0;
      const qHi = (q / TWO_32) >>> 0;
      a = Math.imul(Math.imul(Math.imul(Math.imul(a ^ pLo, 0x01000193) ^ pHi, 0x01000193) ^ qLo, 0x01000193) ^ qHi, 0x01000193);
      b = Math.imul(Math.imul(Math.imul(Math.imul(b ^ qHi ^ 0x5bd1e995, 0x01000193) ^ qLo, 0x01000193) ^ pHi ^ 0x27d4eb2d, 0x01000193) ^ pLo, 0x01000193);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xfe, 0x01000193);
  }
  out[at] = a >>> 0;
  out[at + 1] = b >>> 0;
}
