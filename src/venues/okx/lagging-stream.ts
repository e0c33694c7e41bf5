/**
 * Which `books` messages that do not chain on the book are repeats (docs/venues/okx.md, "Repeats"). Only provable
 * ones: (1) the message the book applied last, delivered again (same prevSeqId and seqId); (2) during a planned
 * reconnect (make-before-break, notice 64008), when two sockets deliver one instId, the next message of the socket
 * that is behind, which re-delivers what the book has. That lagging stream is known from where it started: the
 * replacement socket's snapshot ignored as older than the book (its seqId), the book's last seqId when a newer
 * snapshot from the other socket replaced the book, or (live, `books` without a snapshot on subscribe) the new
 * socket's first message inside the book's run of seqIds, while the old socket is open or, after it closed, before
 * the book took a message of the new one (the adapter's `overlap`). Its next message must chain on the
 * stream's own last seqId (prevSeqId = `seq[i]`) and go forward without passing the book (prevSeqId < seqId ≤ the
 * book's last; or a keepalive: seqId = prevSeqId, empty sides), or be its copy of the one maintenance reset the book
 * applied meanwhile (before that copy it goes no further than the reset's prevSeqId); until that copy, a message
 * chaining on both the book and the stream cannot be placed (a break). The stream ends: when the book
 * leaves LIVE or takes a fresh snapshot; live, once the book applies a message while the connection has one socket
 * (nothing else can lag); after LAG_IDLE_MAX messages applied without a word from it (replay of a capture that does
 * not record the sockets, and a bound live); at a second reset before it copied the first; at its
 * (LAG_REPEATS_MAX + 1)th repeat in a row while the book applies nothing (a break: it is not catching up). Anything else
 * that does not chain on the book is a sequence break. Cold, except `open` and `lastPrev` (hot path).
 * @module
 */

/** Messages the book may apply while the lagging stream says nothing before it is taken as gone (5 s of `books`). */
export const LAG_IDLE_MAX = 50;
/**
 * Repeats the lagging stream may deliver while the book applies nothing (5 s of `books`). A replacement socket behind
 * the book catches up within the few messages the old one delivered after it subscribed; a replacement whose snapshot
 * came after a maintenance reset the book never saw (the old socket closed first) looks behind by its seqIds, and its
 * messages would keep the book LIVE and frozen until they pass the book's seqId.
 */
export const LAG_REPEATS_MAX = 50;

export class LaggingStreams {
  /** Per subscription: 1 while a lagging stream may deliver. */
  readonly open: Uint8Array;
  /** Per subscription: the prevSeqId of the update the book applied last (NaN after a snapshot); the adapter's. */
  readonly lastPrev: Float64Array;
  /** The seqId the lagging stream delivered last: its next message has it as prevSeqId. */
  private readonly seq: Float64Array;
  /** Messages the book applied since the lagging stream last delivered one. */
  private readonly idle: Int32Array;
  /** Repeats the lagging stream delivered since the book last applied a message. */
  private readonly repeats: Int32Array;
  /** 1: the book applied a maintenance reset (resetFrom → resetTo) that the lagging stream has yet to copy. */
  private readonly resetPending: Uint8Array;
  private readonly resetFrom: Float64Array;
  private readonly resetTo: Float64Array;

  constructor(n: number) {
    this.open = new Uint8Array(n);
    this.lastPrev = new Float64Array(n);
    this.seq = new Float64Array(n);
    this.idle = new Int32Array(n);
    this.repeats = new Int32Array(n);
    this.resetPending = new Uint8Array(n);
    this.resetFrom = new Float64Array(n);
    this.resetTo = new Float64Array(n);
  }

  /** A second stream of the book's seqIds is at `seqId` (and behind the book, or level with it). */
  start(i: number, seqId: number): void {
    this.open[i] = 1;
    this.seq[i] = seqId;
    this.idle[i] = 0;
    this.repeats[i] = 0;
    this.resetPending[i] = 0;
  }

  /**
   * Whether (prev, seq), not chaining on the book at `last`, is provably a message the book has: the lagging stream's
   * next, or the message the book applied last delivered again; or, during a planned reconnect (`overlap`, live) and
   * no lagging stream yet, the new socket's first message inside the book's run of seqIds (from `runStart`).
   */
  isRepeat(i: number, prev: number, seq: number, keepalive: boolean, last: number, overlap: boolean, runStart: number): boolean {
    if (this.open[i] === 1 && this.repeat(i, prev, seq, keepalive, last)) return true;
    if (seq === last && prev === this.lastPrev[i]) return true;
    return this.open[i] === 0 && overlap && this.startInRun(i, prev, seq, keepalive, runStart, last);
  }

  /**
   * Live, a planned reconnect and no snapshot to start from (`books` without one on subscribe): the new socket's
   * first message not chaining on the book starts its stream when it lies inside the book's run of seqIds.
   */
  private startInRun(i: number, prev: number, seq: number, keepalive: boolean, runStart: number, last: number): boolean {
    if (prev < runStart || seq > last || prev > seq || (prev === seq && !keepalive)) return false;
    this.start(i, seq);
    return true;
  }

  close(i: number): void {
    this.open[i] = 0;
  }

  /** Whether (prev, seq) is the lagging stream's next message, one the book has; if so, the stream moves on. */
  private repeat(i: number, prev: number, seq: number, keepalive: boolean, last: number): boolean {
    if (prev !== this.seq[i]) return false; // called only while open (isRepeat)
    const pending = this.resetPending[i] === 1;
    // Before the book's reset the lagging stream goes no further than the reset's prevSeqId; after it, the book's last.
    const bound = pending ? this.resetFrom[i]! : last;
    if (prev < seq ? seq <= bound : prev === seq ? keepalive : pending && prev === this.resetFrom[i] && seq === this.resetTo[i]) {
      if (++this.repeats[i]! > LAG_REPEATS_MAX) return false; // not catching up: not behind the book (LAG_REPEATS_MAX)
      if (seq < prev) this.resetPending[i] = 0;
      this.seq[i] = seq;
      this.idle[i] = 0;
      return true;
    }
    return false;
  }

  /**
   * A message chaining on the book, about to be applied (called only while open): false when it cannot be placed
   * (a sequence break). `oneSocket`: live, and the connection has a single socket, so this came from the only stream
   * there is. `reset`: it is a maintenance reset from `prev`.
   */
  applied(i: number, oneSocket: boolean, reset: boolean, prev: number, seq: number): boolean {
    // After a reset into the run, the book's new seqIds can meet the lagging stream's old ones: a message chaining on
    // both is the book's next or the lagging socket's pre-reset one, and applying the latter would corrupt the book.
    if (this.resetPending[i] === 1 && prev === this.seq[i]) return false;
    this.repeats[i] = 0;
    if (oneSocket || ++this.idle[i]! > LAG_IDLE_MAX || (reset && this.resetPending[i] === 1)) {
      this.open[i] = 0;
      return true;
    }
    if (reset) {
      this.resetPending[i] = 1;
      this.resetFrom[i] = prev;
      this.resetTo[i] = seq;
    }
    return true;
  }
}
