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
 * Per code: up to two sockets (generations) that delivered books of the newest stamp, each with a copy of its latest
 * book's levels and whether it came while both sockets were open. A book of a socket that did not overlap the other's
 * latest (that one came before the replacement subscribed, or from a socket closed before this one opened: an
 * unplanned reconnect) is newer: its snapshot followed them. Levels are copied only during an overlap or when a book
 * must be compared, so one socket alone costs a few stores per book. The comparison is exact: the 64-bit hash it
 * replaced (two word-wise FNV-1a) took two books whose sizes differed by 2^31 units in two levels for equal, always,
 * and by 2^30 one time in four (a multiply only carries a difference upward), so the older of two books went LIVE.
 * A slot's copy is allocated the first time it is needed (or outgrown: a book with more levels than any before), as
 * a BookUpdate's arrays are; then every copy reuses it.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";

export class EqualStamps {
  /** By code: two slots' socket generations (-1 empty), overlap flags, copied flags (1: levels holds the slot's book); held (1: not LIVE). */
  private readonly gen: Int32Array;
  private readonly overlap: Uint8Array;
  private readonly copied: Uint8Array;
  private readonly held: Uint8Array;
  /** By slot: the latest book's bid and ask counts, and its levels [bid px, bid qty, ask px, ask qty] packed (null: none yet). */
  private readonly counts: Int32Array;
  private readonly levels: (Float64Array | null)[];
  /** Books held out of LIVE: the other socket's latest of that stamp differs (cold read). */
  holds = 0;

  constructor(codes: number) {
    this.gen = new Int32Array(2 * codes).fill(-1);
    this.overlap = new Uint8Array(2 * codes);
    this.copied = new Uint8Array(2 * codes);
    this.held = new Uint8Array(codes);
    this.counts = new Int32Array(4 * codes);
    this.levels = new Array<Float64Array | null>(2 * codes).fill(null);
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
    const k = this.slotOf(index, socket);
    const o = this.otherOf(index, k);
    if (!this.unordered(o, socket)) {
      this.set(k, socket, inOverlap, u, inOverlap);
      if (o >= 0) this.gen[o] = -1; // it delivered before this socket subscribed: this one's books follow
      this.held[index] = 0;
      return true;
    }
    this.set(k, socket, inOverlap, u, true);
    const agree = this.copied[o] === 1 && this.sameLevels(k, o);
    if (agree) {
      this.held[index] = 0;
      return true;
    }
    if (this.held[index] === 0) this.holds++;
    this.held[index] = 1;
    return false;
  }

  /**
   * Cold: a book of `socket` refused only for a number that does not fit (adapter.ts onMisfitStamp), of a newer stamp
   * than every one before (`newer`) or of the newest: its socket's latest of the stamp, with no levels to compare, so
   * a book of that stamp from the other socket that may precede it is held, as against any book it differs from.
   * Until 2026-12-07 a newer stamp's refused book forgot both slots and one of the newest stamp was not kept: the other
   * socket's book of the stamp (maybe one the refused book followed) was applied and the book went LIVE.
   */
  misfit(index: number, socket: number, inOverlap: boolean, newer: boolean): void {
    const k = newer ? 2 * index : this.slotOf(index, socket);
    const o = newer ? 2 * index + 1 : this.otherOf(index, k);
    if (newer || (o >= 0 && !this.unordered(o, socket))) this.gen[o] = -1; // its books came first: this one follows them
    this.gen[k] = socket;
    this.overlap[k] = inOverlap ? 1 : 0;
    this.copied[k] = 0;
    if (newer) this.held[index] = 0;
  }

  /** `socket`'s slot of code `index`: its own, an empty one, or a third socket's (the older slot's: long gone). HOT PATH. */
  private slotOf(index: number, socket: number): number {
    const k0 = 2 * index;
    const g0 = this.gen[k0]!;
    const g1 = this.gen[k0 + 1]!;
    return g0 === socket ? k0 : g1 === socket ? k0 + 1 : g0 === -1 ? k0 : g1 === -1 ? k0 + 1 : g0 < g1 ? k0 : k0 + 1;
  }

  /** The slot of code `index` other than `k` (-1: empty). HOT PATH. */
  private otherOf(index: number, k: number): number {
    const o = k === 2 * index ? k + 1 : k - 1;
    return this.gen[o] === -1 ? -1 : o;
  }

  /** The other's latest (slot `o`) came while both were open, or its socket is the newer: their order is unknown. HOT PATH. */
  private unordered(o: number, socket: number): boolean {
    return o >= 0 && (this.overlap[o] === 1 || this.gen[o]! > socket);
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

  /**
   * Cold: the socket of generation `from` is `to` now (a planned reconnect gone back to the old socket, which gets a
   * new generation): its latest book stays its own, which its next book of the stamp follows. Before 2026-12-06 it was
   * kept as another socket's that came while both were open: the old socket's next book of that stamp was compared
   * with its own older one and, differing, held the book out of LIVE until a newer stamp or the stale time.
   */
  renamed(index: number, from: number, to: number): void {
    for (let k = 2 * index; k < 2 * index + 2; k++) if (this.gen[k] === from) this.gen[k] = to;
  }

  /** Cold: the stamp forgotten (adapter.ts forgetNewest). */
  forget(index: number): void {
    this.gen[2 * index] = -1;
    this.gen[2 * index + 1] = -1;
    this.held[index] = 0;
  }

  private set(k: number, socket: number, inOverlap: boolean, u: BookUpdate, withLevels: boolean): void {
    this.gen[k] = socket;
    this.overlap[k] = inOverlap ? 1 : 0;
    this.copied[k] = withLevels ? 1 : 0;
    if (withLevels) this.copy(k, u);
  }

  /** Slot k's copy of the book's levels. HOT PATH (no allocation but a first or outgrown copy). */
  private copy(k: number, u: BookUpdate): void {
    const nb = u.bidCount;
    const na = u.askCount;
    const need = 2 * (nb + na);
    let out = this.levels[k];
    if (!out || out.length < need) out = this.levels[k] = new Float64Array(Math.max(need, 2 * 64));
    this.counts[2 * k] = nb;
    this.counts[2 * k + 1] = na;
    let j = 0;
    for (let i = 0; i < nb; i++) out[j++] = u.bidPx[i]!;
    for (let i = 0; i < nb; i++) out[j++] = u.bidQty[i]!;
    for (let i = 0; i < na; i++) out[j++] = u.askPx[i]!;
    for (let i = 0; i < na; i++) out[j++] = u.askQty[i]!;
  }

  /** Slots k and o hold the same book: the same counts, prices and sizes. HOT PATH. */
  private sameLevels(k: number, o: number): boolean {
    if (this.counts[2 * k] !== this.counts[2 * o] || this.counts[2 * k + 1] !== this.counts[2 * o + 1]) return false;
    const a = this.levels[k]!;
    const b = this.levels[o]!;
    const n = 2 * (this.counts[2 * k]! + this.counts[2 * k + 1]!);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
    return true;
  }
}
