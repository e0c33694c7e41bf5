// HOT PATH: no allocation (note(), took() and the `behind` compare run per full-book frame; the rest only around a reset)
/**
 * OKX full books (books5, bbo-tbt) during a planned reconnect's overlap: what each of the two sockets delivered, and
 * the socket still behind a maintenance reset the book took from the other (docs/venues/okx.md, "Full books").
 *
 * Both sockets carry the venue's one run of seqIds, so a reset reaches each, one after the other. Once the book took
 * it from one, the other's books of the run before it (seqIds above the reset's) looked newer and were applied: the
 * book LIVE at a state the venue had left, until that socket delivered the reset too. That socket is marked
 * (`behind`) and its books ignored until its own reset shows: one socket delivers seqIds in order, so a seqId below
 * its own last is it. The common mark (common/behind-reset.ts) as Bybit's, with what OKX lacks (no u = 1) read from
 * each socket's own last seqId.
 * @module
 */
import { BookState } from "../../core/types.ts";
import { BehindResetMarks } from "../common/behind-reset.ts";
import type { TopicState } from "../common/connection.ts";

/**
 * The book's seqId as FullBookSockets.ignore takes it: -1 when it has none (not LIVE, or a book without seqIds).
 * OKX's seqId may be 0 after a maintenance reset: until s-seqzero2 0 stood for "not LIVE", so a marked socket's first
 * book above a book LIVE at 0 was taken, its mark cleared (LIVE at a pre-reset book).
 */
export function shownSeq(t: TopicState): number {
  return t.book === BookState.LIVE && t.hasSeq ? t.lastSeq : -1;
}

export class FullBookSockets {
  /** Per subscription: the socket behind a reset the book took (`behind.socket`: its generation, -1 = none; compared per frame). */
  readonly behind: BehindResetMarks;
  /**
   * Per subscription: 1 unless the behind socket is known to be before the reset (`inRun` when it was taken): else
   * its books, none the book took, may as well be of the new run (trails ignored as the lagging socket's; a first book
   * ignored as possibly from before the reset, see ignore).
   */
  readonly unsure: Uint8Array;
  /**
   * Per subscription: 1 when the reset the behind socket has yet to show was stamped earlier than the book before it
   * (the venue's clock went back): its books of the run before, stamped later than the reset, are not ordered by the
   * venue's time but by the mark (ignore), until its own reset shows; left on the socket that carries on at the
   * overlap's end, the book is resubscribed (adapter onOverlapOver: its reset may never drop below its last).
   */
  readonly timeBack: Uint8Array;
  /**
   * Per subscription: how many resets the behind socket has yet to show (one drop each). Two taken during one overlap
   * (a rare double maintenance): before 2026-12-06 its first drop ended the mark, and its books of the run between
   * the two resets were applied, the book LIVE at a run the venue had left.
   */
  private readonly owed: Uint8Array;
  /**
   * Per subscription: the seqId of the latest reset the behind socket has yet to show. A silent socket's first book
   * above it may be from before the reset while the book is not LIVE (a resync during the overlap keeps a mark on the
   * old socket) and has no seqId to compare: before s-okxreset that first book was taken, LIVE at a book the venue left.
   */
  private readonly resetSeq: Float64Array;
  /** Two slots per subscription (2i, 2i + 1), one per socket of an overlap: its generation (-1 = free) … */
  private readonly gen: Int32Array;
  /** … the last seqId it delivered (taken or not; NaN: none) … */
  private readonly seq: Float64Array;
  /** … the venue time (µs) of its last book (0: none, or that book had no seqId) … */
  private readonly tsUs: Float64Array;
  /** … 1 once it delivered a seqId below its own last since the book last began a run (it passed a reset: took) … */
  private readonly dropped: Uint8Array;
  /** … and 1 once the book took a book of it, or its seqId again from it, in the book's run (no drop since). */
  private readonly inRun: Uint8Array;

  constructor(n: number) {
    this.behind = new BehindResetMarks(n);
    this.unsure = new Uint8Array(n);
    this.owed = new Uint8Array(n);
    this.timeBack = new Uint8Array(n);
    this.resetSeq = new Float64Array(n);
    this.gen = new Int32Array(2 * n).fill(-1);
    this.seq = new Float64Array(2 * n);
    this.tsUs = new Float64Array(2 * n);
    this.dropped = new Uint8Array(2 * n);
    this.inRun = new Uint8Array(2 * n);
  }

  /**
   * Socket `gen` delivered a book of subscription `i` at venue time `tsUs`, `seqId` NaN when it had none (hot: a few
   * compares; the older generation's slot is reused).
   */
  note(i: number, gen: number, seqId: number, tsUs: number): void {
    const a = 2 * i;
    const k = this.gen[a] === gen ? a : this.gen[a + 1] === gen ? a + 1 : this.gen[a]! < this.gen[a + 1]! ? a : a + 1;
    if (this.gen[k] !== gen) {
      this.gen[k] = gen;
      this.dropped[k] = 0;
      this.inRun[k] = 0;
      this.seq[k] = NaN;
    } else if (seqId < this.seq[k]!) {
      this.dropped[k] = 1;
      this.inRun[k] = 0;
    }
    const hasSeq = seqId === seqId;
    if (hasSeq) this.seq[k] = seqId;
    this.tsUs[k] = hasSeq ? tsUs : 0;
  }

  /**
   * Whether socket `gen`'s book of subscription `i` at `seqId`, venue time `tsUs`, is below its own last one in both
   * (hot: a few compares): it passed a maintenance reset stamped earlier than the book before it on its own stream
   * (one socket delivers in order), which the venue's time would place before books it left.
   */
  wentBack(i: number, gen: number, seqId: number, tsUs: number): boolean {
    const a = 2 * i;
    const k = this.gen[a] === gen ? a : this.gen[a + 1] === gen ? a + 1 : -1;
    return k >= 0 && seqId < this.seq[k]! && tsUs > 0 && tsUs < this.tsUs[k]!;
  }

  /** Whether socket `gen` delivered any book of subscription `i` (with a seqId or not). */
  delivered(i: number, gen: number): boolean {
    return this.gen[2 * i] === gen || this.gen[2 * i + 1] === gen;
  }

  /**
   * Whether socket `gen`'s last book of subscription `i` has an earlier venue time than the book shown (`shownTsUs`):
   * all its books are older (one socket delivers in order). A last book without a seqId or a time vouches for nothing.
   */
  earlierThan(i: number, gen: number, shownTsUs: number): boolean {
    const a = 2 * i;
    const k = this.gen[a] === gen ? a : this.gen[a + 1] === gen ? a + 1 : -1;
    if (k < 0) return false;
    const ts = this.tsUs[k]!;
    return ts > 0 && ts < shownTsUs;
  }

  /**
   * The book took socket `gen`'s last book of subscription `i` (applied, or its seqId again): it is in the book's run.
   * `startsOver`: that book began a run (a reset, or the first book of a book not LIVE: a resubscribe's, a held
   * book's), so what either socket passed before it says nothing of the next reset: both forget their drops. Before
   * 2026-12-06 only a reset taken during an overlap did (resetTaken): a socket that had seen a reset alone, or a
   * resubscribe answered below its old books, kept its drop for good, was taken as past the next reset the book took
   * during an overlap and never marked, its pre-reset books applied.
   */
  took(i: number, gen: number, startsOver = false): void {
    const a = 2 * i;
    if (startsOver) this.runStarts(a);
    if (this.gen[a] === gen) this.inRun[a] = 1;
    else if (this.gen[a + 1] === gen) this.inRun[a + 1] = 1;
  }

  /** The last seqId socket `gen` delivered of subscription `i` (NaN: none). */
  lastOf(i: number, gen: number): number {
    const a = 2 * i;
    return this.gen[a] === gen ? this.seq[a]! : this.gen[a + 1] === gen ? this.seq[a + 1]! : NaN;
  }

  /**
   * The book took a reset (a seqId below its own) from one socket of an overlap: the `other` one is behind it unless
   * it passed a reset itself since the book last took one (its lower book was ignored as a trail: it is in the new
   * run already). One that has delivered nothing is marked too: its first book may be from before the reset.
   * Known to be before the reset when the book had taken a book of it in the run the reset ends (inRun; else `unsure`).
   * Then the run starts over: only the socket the reset came from is in it (took, next). `stampedBack`: the reset's
   * venue time is earlier than the book's before it (timeBack). `seqId`: the reset's.
   */
  resetTaken(i: number, other: number, stampedBack: boolean, seqId: number): void {
    const a = 2 * i;
    const k = this.gen[a] === other ? a : this.gen[a + 1] === other ? a + 1 : -1;
    if (this.behind.socket[i] === other) {
      // Still behind the one before (no drop since, or fewer than owed): behind this one too, one more drop to show.
      // Its books past the first drop cannot be placed against the book's run: unsure, resubscribed if it carries on.
      if (this.owed[i] < 255) this.owed[i]++;
      this.unsure[i] = 1;
      if (stampedBack) this.timeBack[i] = 1;
    } else {
      this.behind.socket[i] = k >= 0 && this.dropped[k] === 1 ? -1 : other;
      this.unsure[i] = k >= 0 && this.inRun[k] === 1 ? 0 : 1;
      this.owed[i] = 1;
      this.timeBack[i] = stampedBack && this.behind.socket[i] >= 0 ? 1 : 0;
    }
    this.resetSeq[i] = seqId;
    this.runStarts(a);
  }

  /** A run starts (slots `a`, `a + 1`): no socket has passed a reset since, nor is in it yet. */
  private runStarts(a: number): void {
    this.dropped[a] = 0;
    this.dropped[a + 1] = 0;
    this.inRun[a] = 0;
    this.inRun[a + 1] = 0;
  }

  /**
   * A book of subscription `i` from its socket behind a reset, at venue time `tsUs` (recorded as note does, the time
   * too), whose book is now at `bookSeq` (shownSeq; -1: not LIVE, held at an overlap's end): true when it is ignored, a book of
   * the run before the reset. That is while it is not below the socket's own last seqId (its reset) and the book has
   * not reached that seqId (a socket marked at a position of the new run: the other socket passing it shows so). A
   * socket that had delivered nothing: its first book above the book's seqId (the reset's when the book has none: not
   * LIVE) may be from before the reset (a subscribe book overtaken by the other socket's reset): ignored too, its seqId
   * then its position; one not above is
   * of the new run (a copy or a trail: the usual rules). Behind two resets (owed), its first drop is of the run
   * between them: ignored too (the book cannot have reached that run's seqIds, of a run it left: not asked).
   */
  ignore(i: number, socket: number, seqId: number, tsUs: number, bookSeq: number): boolean {
    const last = this.lastOf(i, socket);
    const first = last !== last;
    const drop = !first && seqId < last;
    let behind: boolean;
    if (drop && this.owed[i] > 1) {
      this.owed[i]--;
      behind = true;
    } else {
      behind = first ? seqId > (bookSeq >= 0 ? bookSeq : this.resetSeq[i]!) : seqId >= last && (bookSeq < last || this.owed[i] > 1 || this.timeBack[i] === 1);
      if (!behind) this.clear(i);
    }
    // Recorded with its venue time: a slot holding this seqId with an older frame's time could vouch for the book at
    // an overlap's end (earlierThan) from a time the socket has since left.
    this.note(i, socket, seqId, tsUs);
    // Its drop shows a reset the book took already, not one it passed ahead of the book: before 2026-12-06 it counted
    // so, and the next reset the book took from the other socket left it unmarked, its books of the run before applied.
    if (drop) this.dropped[this.gen[2 * i] === socket ? 2 * i : 2 * i + 1] = 0;
    return behind;
  }

  /** A go-back: socket `from` goes on as `to` (its delivered seqIds follow it; its mark: behind.carriedOn). */
  renamed(i: number, from: number, to: number): void {
    const a = 2 * i;
    if (this.gen[a] === from) this.gen[a] = to;
    else if (this.gen[a + 1] === from) this.gen[a + 1] = to;
  }

  /** The book's stream starts over (a resubscribe, the connection closed): no socket is behind. */
  clear(i: number): void {
    this.behind.socket[i] = -1;
    this.unsure[i] = 0;
    this.owed[i] = 0;
    this.timeBack[i] = 0;
  }
}
