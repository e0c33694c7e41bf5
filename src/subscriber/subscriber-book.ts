/**
 * One instrument's book as a subscriber rebuilt it from the feed: a BookView plus `usable` (safe to trade on),
 * the finer states behind it, and the InstrumentDefinition once received.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import { BookState, StatusReason, type Instrument, type MarketName, type VenueName } from "../core/types.ts";
import { LadderBook } from "../book/ladder-book.ts";
import { BookLink } from "./book-list.ts";

/** A definition-less placeholder's venue/market until the InstrumentDefinition arrives. */
export const UNKNOWN_NAME = "unknown";

/** Ladders start small: a subscriber may see thousands of instruments, most of them thin. */
const INITIAL_LADDER_LEVELS = 16;
const NO_LEVELS = new Float64Array(0);

/**
 * A session a book left, by (sourceId, sessionStartUs, sessionId), and its highSeq there (−1: a free entry) with that
 * event's times; leftAt orders the entries (InstrumentBooks.rememberHigh reuses the one left longest ago).
 */
export interface LeftHigh {
  sourceId: number;
  sessionStartUs: number;
  sessionId: number;
  seq: number;
  sendTimeUs: number;
  recvUs: number;
  leftAt: number;
}

export class SubscriberBook extends LadderBook implements BookView {
  readonly instrumentId: number;
  /**
   * Names and the exponents the levels are in: from the definition when one arrived (placeholder venue/market
   * "unknown", symbol "#<id>" until then); the exponents are always those of the book messages the levels came from.
   */
  instrument: Instrument;
  /** Undefined until an InstrumentDefinition for this id arrived. */
  definition: Instrument | undefined = undefined;
  /** The publisher's state of its own book (LIVE = in sync with the venue), from the last event. */
  state: BookState = BookState.AWAITING_SNAPSHOT;
  reason: StatusReason = StatusReason.NONE;
  /** instrSeq of the last applied event; −1 = unknown (new book, publisher restart, bogus sequence). */
  instrSeq = -1;
  venueSeq = 0;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  /**
   * True when the book is believed identical to the publisher's as of instrSeq: set by a complete snapshot,
   * cleared by a channel gap, an instrSeq jump, a publisher restart or end, an exponent change or a cap. Deltas are
   * still applied while invalid (best effort).
   */
  valid = false;
  /**
   * The stream that last carried this book is silent beyond the stale limit, or the subscriber was stopped (cleared
   * when the stream speaks again, or by the book's own next message).
   */
  stale = false;
  /**
   * The definition announces other exponents than the book messages' (a change in flight, or an old definition):
   * the book is not usable until a book message settles which units are current.
   */
  exponentsInDoubt = false;
  /**
   * The worst bid and ask prices down to which the book holds every level of the publisher's: how deep the book is
   * known. The last level of a side its snapshot cut (publish.snapshot_depth, the wire's 65,535 a side: the
   * snapshot's cutFlags say so, or from an older publisher a guess, assembly.ts snapshotCut); −Infinity / Infinity
   * for a side that came whole. Nothing of the levels beyond is known, so deltas there are not applied: once a level
   * above was removed they would show at ranks where the publisher has others. The book is thus always the
   * publisher's top levels exactly, fewer than the snapshot's after removals until the next snapshot (none: not
   * `usable`, bestLevelsKnown).
   */
  bidFloorPx = -Infinity;
  askCeilPx = Infinity;
  /** Times this book was invalidated (gaps, jumps, restarts, exponent changes, caps). */
  invalidations = 0;
  /** Times a snapshot at the book's own instrSeq differed from it and replaced it ('repair' events: a divergence, not a first load). */
  repairs = 0;
  /** Complete events applied (deltas, snapshots, statuses). */
  updates = 0;
  /** Send time of the packet that completed the last event, µs since the epoch. */
  lastSendTimeUs = 0;
  /** Publisher session the book belongs to (sessions order by (sessionStartUs, sessionId)); 0 / −1 = none yet. */
  sessionId = 0;
  sessionStartUs = -1;
  /** sourceId of the publisher process of that session (a newer session of the same source supersedes at once). */
  sourceId = -1;

  // --- subscriber bookkeeping (package-internal) ---
  /**
   * The levels at instrSeq came from a complete snapshot and every event of the book since (none of its own lost):
   * a refresh at instrSeq that differs is then a divergence, a repair. Kept by a channel gap (which only puts the
   * book in doubt); cleared by an instrSeq jump, a lost split delta and whatever forgets or empties the levels. False
   * for a book never loaded (a late joiner's deltas): its first refresh is its first load, no repair.
   */
  chained = false;
  /**
   * The book's session was given by a newer session of its source (InstrumentBooks.supersedeSource) and no message of
   * it has come since (a revert leaves it so). The instrument may have moved to another source at that restart
   * (workers or shards split the ids anew): a message of another source's session, though older than the book's (it
   * may have started a few µs before), is then taken when sent once the book's session began (InstrumentBooks.movedHere).
   */
  walked = false;
  /** (channelId × 65536 + sourceId) of the stream that last carried a book message of it (before any, its definition). */
  streamKey = -1;
  /** The stream whose event set instrSeq: only it can prove the sequence bogus (instrSeq going backwards). */
  seqStreamKey = -1;
  /**
   * The highest instrSeq the book applied in its session (−1: none, or proved bogus) and the send and receive times
   * of the event that set it (its send time trusted only so far ahead: InstrumentBooks.highSentByUs): no snapshot
   * below it is loaded (a book never goes back), also after a delta going backwards on its stream made instrSeq lower
   * (§6.3's jump revert applies a late datagram after the one that overtook it).
   */
  highSeq = -1;
  highSendTimeUs = 0;
  /** highSeq's receipt on the receipt clock (monotonic; never the shown one, which a wall step moves). */
  highRecvUs = 0;
  /**
   * The sessions the book left with a highSeq (superseded, or undone by a revert), the last few
   * (InstrumentBooks.rememberHigh), each with its highSeq then: taken back if the book returns to that session
   * (revertSource, supersede). One remembered (the last left) lost the confirmed session's when two provisional ones
   * in a row brought the book an event (a publisher restarted twice quickly): undone, it went back without it.
   */
  leftHighs: LeftHigh[] | undefined = undefined;
  /**
   * Snapshots refused as older than highSeq: the highSeq they were refused at (−1: none) and, per stream, the latest
   * one's (streamKey, instrSeq) pairs, OLDER_MARKS streams in a ring (allocated at the first refusal). Another from a
   * marked stream, not lower and sent later than the event that set highSeq, proves highSeq bogus.
   */
  olderSnapAtSeq = -1;
  olderMarks: Float64Array | undefined = undefined;
  olderMarkNext = 0;
  /** Split-delta assembly, per instrument (any channel may supply a part): instrSeq, parts expected and next; −1 = none. */
  asmSeq = -1;
  asmPartCount = 0;
  asmNextPart = 0;
  /** The jump mark (StreamState.jumpMark) of the stream whose datagram began the split delta, and of the chunk set's (below); 0: none. */
  asmJumpMark = 0;
  snapJumpMark = 0;
  /** Receive time (µs) of the last part or chunk taken into the split-delta and snapshot assembly (STALE_ASSEMBLY_MS). */
  asmTouchedUs = 0;
  snapTouchedUs = 0;
  pendBidN = 0;
  pendAskN = 0;
  pendBidPx: Float64Array = NO_LEVELS;
  pendBidQty: Float64Array = NO_LEVELS;
  pendAskPx: Float64Array = NO_LEVELS;
  pendAskQty: Float64Array = NO_LEVELS;
  /** Snapshot assembly: instrSeq of the chunk set being collected, −1 when none. */
  snapSeq = -1;
  /**
   * The set under way keeps no older set's chunk 0 out (instrument-books.ts onSnapshotChunk): it kept one out already
   * (it keeps out one), or a datagram of a line since undone as bogus began it (InstrumentBooks.invalidateStream).
   */
  snapKeptOlderOut = false;
  snapNextChunk = 0;
  snapChunkCount = 0;
  snapFlags = 0;
  /** The set's cutFlags (SNAP_CUT_*) and totals, from its chunk 0: every chunk must carry the same (and exponents, below). */
  snapCutFlags = 0;
  snapTotalBidN = 0;
  snapTotalAskN = 0;
  /** The set's exponents, from its chunk 0: a chunk in other units is no part of it (abandoned). */
  snapPriceExp = 0;
  snapQtyExp = 0;
  snapStreamKey = -1;
  /** The set last completed (instrSeq, chunkCount; −1: none since the sequence was forgotten): its copies' late chunks are duplicates. */
  snapDoneSeq = -1;
  snapDoneChunkCount = 0;
  snapBidN = 0;
  snapAskN = 0;
  snapBidPx: Float64Array = NO_LEVELS;
  snapBidQty: Float64Array = NO_LEVELS;
  snapAskPx: Float64Array = NO_LEVELS;
  snapAskQty: Float64Array = NO_LEVELS;
  /** This book on the assembly budget's lists (assembly.ts): idle scratch, split delta and snapshot under way. */
  readonly idleLink: BookLink = new BookLink(this);
  readonly asmLink: BookLink = new BookLink(this);
  readonly snapLink: BookLink = new BookLink(this);
  /** This book on its source's list (InstrumentBooks.sourceBooks, by sourceId): what a supersede or revert walks. */
  readonly sourceLink: BookLink = new BookLink(this);

  constructor(instrumentId: number, priceExp: number, qtyExp: number) {
    super(INITIAL_LADDER_LEVELS);
    this.instrumentId = instrumentId;
    this.instrument = placeholderInstrument(instrumentId, priceExp, qtyExp);
  }

  /**
   * Safe to trade on: identical to the publisher's book (`valid`), the publisher's book is LIVE, the stream is not
   * stale, the exponents are settled and each side shows its best level when the publisher has one: a cut side
   * (bidFloorPx above −Infinity, askCeilPx below Infinity) whose every known level was removed shows none while the publisher may still
   * have levels beyond the floor (bestLevelsKnown). (A superseded book is invalid; an exponent change empties the book.)
   */
  get usable(): boolean {
    return this.valid && this.state === BookState.LIVE && !this.stale && !this.exponentsInDoubt && this.bestLevelsKnown;
  }

  /**
   * Each side shows the publisher's best level, or is empty at the publisher too. False when a cut side lost every
   * level it knew (removed since its snapshot): the publisher's levels beyond the floor are unknown, so the side's
   * "no level" would be a guess. True again once a level from the floor up arrives, or the next snapshot (a refresh
   * that finds the side whole now says so in an 'update' too, though it loads nothing).
   */
  get bestLevelsKnown(): boolean {
    return (this.bidCount > 0 || this.bidFloorPx === -Infinity) && (this.askCount > 0 || this.askCeilPx === Infinity);
  }

  /** Levels the assembly scratch arrays hold (both sides, pending and snapshot): what the assembly budget counts. */
  get scratchLevels(): number {
    return this.pendBidPx.length + this.pendAskPx.length + this.snapBidPx.length + this.snapAskPx.length;
  }

  /** Gives the scratch arrays back (cold: after an oversized assembly, or when the book is dropped). */
  releaseScratch(): void {
    this.pendBidPx = this.pendBidQty = this.pendAskPx = this.pendAskQty = NO_LEVELS;
    this.snapBidPx = this.snapBidQty = this.snapAskPx = this.snapAskQty = NO_LEVELS;
    this.pendBidN = this.pendAskN = this.snapBidN = this.snapAskN = 0;
  }

  /**
   * Gives back the scratch of the assemblies not under way (split delta: asmSeq −1; snapshot: snapSeq −1) and
   * returns how many levels that was (as scratchLevels counts). Cold: another book's assembly is over the budget.
   */
  releaseIdleScratch(): number {
    let freed = 0;
    if (this.asmSeq < 0 && this.pendBidPx.length + this.pendAskPx.length > 0) {
      freed += this.pendBidPx.length + this.pendAskPx.length;
      this.pendBidPx = this.pendBidQty = this.pendAskPx = this.pendAskQty = NO_LEVELS;
      this.pendBidN = this.pendAskN = 0;
    }
    if (this.snapSeq < 0 && this.snapBidPx.length + this.snapAskPx.length > 0) {
      freed += this.snapBidPx.length + this.snapAskPx.length;
      this.snapBidPx = this.snapBidQty = this.snapAskPx = this.snapAskQty = NO_LEVELS;
      this.snapBidN = this.snapAskN = 0;
    }
    return freed;
  }
}

/** A copy of `a` with room for exactly `n` values, its first `used` values kept. Cold. */
export function grownLevels(a: Float64Array, used: number, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a.subarray(0, used));
  return b;
}

export function placeholderInstrument(instrumentId: number, priceExp: number, qtyExp: number): Instrument {
  return {
    instrumentId,
    venue: UNKNOWN_NAME as VenueName,
    market: UNKNOWN_NAME as MarketName,
    symbol: `#${instrumentId}`,
    priceExp,
    qtyExp,
    tickSize: "",
    lotSize: "",
  };
}
