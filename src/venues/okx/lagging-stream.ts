/**
 * The lagging stream of a planned reconnect (docs/venues/okx.md, "Repeats: the lagging stream"). While two sockets
 * deliver one instId's `books` (make-before-break, notice 64008), the one behind re-delivers messages the book
 * already has. A message that does not chain on the book is such a repeat only when it provably is one: it chains
 * on the lagging stream's own last seqId (`prevSeqId` = `seq[i]`), it goes forward without passing the book
 * (`prevSeqId` < `seqId` ≤ the book's last; or a keepalive, `seqId` = `prevSeqId`, empty sides), or it is that
 * stream's copy of the one maintenance reset the book applied meanwhile (same `prevSeqId` and `seqId`). The stream
 * is known only from its start: the replacement socket's snapshot ignored as older than the book (it starts at
 * that snapshot's seqId), the book's last seqId when a newer snapshot from the other socket replaced it, or (live,
 * no snapshot on `books`, a second socket open) the first message lying inside the book's run of seqIds. It ends
 * when the book leaves LIVE, at a second maintenance reset before it copied the first, once the book applies a
 * message while the connection has one socket (live: nothing else can lag), or after LAG_IDLE_MAX messages applied
 * without a word from it (replay, where captures do not say which socket a frame came from). Anything else that
 * does not chain on the book is a sequence break. Cold, except `open`, read on the hot path.
 * @module
 */

/** Messages the book may apply while the lagging stream says nothing before it is taken as gone (5 s of `books`). */
export const LAG_IDLE_MAX = 50;

export class LaggingStreams {
  /** Per subscription: 1 while a lagging stream may deliver. */
  readonly open: Uint8Array;
  /** The seqId the lagging stream delivered last: its next message has it as prevSeqId. */
  private readonly seq: Float64Array;
  /** Messages the book applied since the lagging stream last delivered one. */
  private readonly idle: Int32Array;
  /** 1: the book applied a maintenance reset (resetFrom → resetTo) that the lagging stream has yet to copy. */
  private readonly resetPending: Uint8Array;
  private readonly resetFrom: Float64Array;
  private readonly resetTo: Float64Array;

  constructor(n: number) {
    this.open = new Uint8Array(n);
    this.seq = new Float64Array(n);
    this.idle = new Int32Array(n);
    this.resetPending = new Uint8Array(n);
    this.resetFrom = new Float64Array(n);
    this.resetTo = new Float64Array(n);
  }

  /** A second stream of the book's seqIds is at `seqId` (and behind the book, or level with it). */
  start(i: number, seqId: number): void {
    this.open[i] = 1;
    this.seq[i] = seqId;
    this.idle[i] = 0;
    this.resetPending[i] = 0;
  }

  /**
   * Live, a second socket open and no snapshot to start from (`books` without one on subscribe): the new socket's
   * first message not chaining on the book starts its stream when it lies inside the book's run of seqIds.
   */
  startInRun(i: number, prev: number, seq: number, keepalive: boolean, runStart: number, last: number): boolean {
    if (prev < runStart || seq > last || prev > seq || (prev === seq && !keepalive)) return false;
    this.start(i, seq);
    return true;
  }

  close(i: number): void {
    this.open[i] = 0;
  }

  /** Whether (prev, seq) is the lagging stream's next message, a repeat of one the book has; if so, the stream moves on. */
  repeat(i: number, prev: number, seq: number, keepalive: boolean, last: number): boolean {
    if (this.open[i] !== 1 || prev !== this.seq[i]) return false;
    const pending = this.resetPending[i] === 1;
    // Before the book's reset the lagging stream goes no further than the reset's prevSeqId; after it, the book's last.
    const bound = pending ? this.resetFrom[i]! : last;
    if (prev < seq ? seq <= bound : prev === seq ? keepalive : pending && prev === this.resetFrom[i] && seq === this.resetTo[i]) {
      if (seq < prev) this.resetPending[i] = 0;
      this.seq[i] = seq;
      this.idle[i] = 0;
      return true;
    }
    return false;
  }

  /**
   * The book applied a message chaining on it (called only while open). `oneSocket`: live, and the connection has
   * a single socket, so this came from the only stream there is. `reset`: it was a maintenance reset from `prev`.
   */
  applied(i: number, oneSocket: boolean, reset: boolean, prev: number, seq: number): void {
    if (oneSocket || ++this.idle[i]! > LAG_IDLE_MAX || (reset && this.resetPending[i] === 1)) {
      this.open[i] = 0;
      return;
    }
    if (reset) {
      this.resetPending[i] = 1;
      this.resetFrom[i] = prev;
      this.resetTo[i] = seq;
    }
  }
}
