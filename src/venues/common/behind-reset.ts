// HOT PATH: `socket === marks.socket[i]` runs per frame (a typed-array read; the venues keep the array in a field of their own); everything else here is cold
/**
 * The "behind a venue reset" mark of a planned reconnect's overlap, one per subscription (Bybit, Deribit, OKX full
 * books). Both sockets of a make-before-break carry the venue's one stream, so a venue reset reaches each, one after
 * the other. Once the book took it from one, the other socket's frames are of the run before it until its own copy
 * of the reset arrives: one above the book's sequence would be taken as newer and could make the book LIVE at a state
 * the venue has left (either direction: old → replacement or replacement → old). That socket's generation is marked
 * here and the venue ignores its frames while marked.
 *
 * Common: the per-subscription generation (-1 = none; a venue may keep its own negative values, which match no
 * socket), the other socket of an overlap, and what the mark becomes when the overlap is over (`carriedOn`). Each
 * venue keeps when the mark ends on its own socket, as that is read from the venue's own sequence: Bybit's u = 1, OKX's
 * seqId below the socket's own last (full-book-sockets.ts), Deribit's next subscribe written on the socket (it has
 * neither; so it also ends the mark on a gone-back-to old socket and restarts the book instead of carrying it). A
 * subscribe written on the marked socket (RequestProtocol.requested) starts its stream over, so it ends the mark on each
 * of the three (subscribeWritten; OKX also at a restart, before its requests go).
 * @module
 */
import type { OverlapCarrier } from "./planned-reconnect.ts";

export class BehindResetMarks {
  /** Per subscription: the generation of the socket behind a reset the book took from the other (-1 = none). */
  readonly socket: Int32Array;

  constructor(n: number) {
    this.socket = new Int32Array(n).fill(-1);
  }

  /**
   * The other socket of an overlap than `socket` (a generation; -1: no overlap, or `socket` is neither of its two).
   * `generation` is the connection's socket, `retiringGeneration` the overlap's old one (-1: none).
   */
  static otherSocket(generation: number, retiringGeneration: number, socket: number): number {
    if (retiringGeneration < 0) return -1;
    if (socket === generation) return retiringGeneration;
    return socket === retiringGeneration ? generation : -1;
  }

  /**
   * A subscribe of subscription `i` is written on the socket of `generation` (its connection's: RequestProtocol.requested,
   * live and replay): that socket's stream starts over, so a mark on it ends (one on an overlap's old socket stays, its
   * stream goes on). True when it ended one (OKX then clears the rest of its per-socket state). Cold.
   */
  subscribeWritten(i: number, generation: number): boolean {
    if (this.socket[i] !== generation) return false;
    this.socket[i] = -1;
    return true;
  }

  /**
   * A planned reconnect's overlap is over: a socket behind a reset keeps the mark if it carries on, told by generation
   * (a replacement marked in one overlap is the old socket of the next): gone back to the old socket (`old`), the mark
   * follows it to its new `generation` when it was on `oldGen`; the replacement carrying on keeps its own. Every other
   * mark ends (its socket is closed). True when the mark stays.
   */
  carriedOn(i: number, carrier: OverlapCarrier, oldGen: number | undefined, generation: number): boolean {
    const marked = this.socket[i]!;
    if (marked < 0) return false;
    if (carrier === "old") this.socket[i] = marked === oldGen ? generation : -1;
    else if (carrier !== "replacement" || marked !== generation) this.socket[i] = -1;
    return this.socket[i]! >= 0;
  }
}
