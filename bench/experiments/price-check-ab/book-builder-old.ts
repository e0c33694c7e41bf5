// The BookBuilder before the price check (git show 5c10efd:src/book/book-builder.ts), for the A/B in ab.ts only.
// HOT PATH: no allocation
/**
 * Builds one instrument's L2 book from a venue's snapshots and deltas (core BookUpdate), and says what changed.
 *
 * States (core BookState): AWAITING_SNAPSHOT → (snapshot) → LIVE → (gap / reset / crossed / disconnect …)
 * → RESYNCING or STALE → (snapshot) → LIVE. HALTED is left only by a snapshot too.
 * The builder never judges sequence numbers: the venue adapter knows its venue's rule and calls `markInvalid`
 * on a gap or reset; the builder only detects what it can see in the book itself, a crossed book.
 *
 * Trust: a BookUpdate comes from core/fixed.ts parsers, which reject malformed, negative and non-integer values.
 * The builder does not re-check every value on the hot path; non-finite prices would corrupt ordering, so
 * adapters must never push unparsed values.
 * @module
 */
import type { BookUpdate } from "../../../src/core/book-update.ts";
import type { BookView } from "../../../src/core/book-view.ts";
import { ChangeSet } from "../../../src/core/change-set.ts";
import { BookState, type Instrument, StatusReason } from "../../../src/core/types.ts";
import { DEFAULT_LADDER_CAPACITY, type Ladder } from "../../../src/book/ladder.ts";
import { LadderBook } from "../../../src/book/ladder-book.ts";

export const ApplyResult = {
  /** The message changed the book (or left it equal) and it is LIVE. Publish `changes` (delta) or the book. */
  APPLIED: 0,
  /** A delta arrived while the book was not LIVE: nothing changed, `changes` is empty. */
  IGNORED_NOT_LIVE: 1,
  /** The message was applied but left best bid ≥ best ask: state is now RESYNCING / CROSSED_BOOK. */
  CROSSED: 2,
} as const;
export type ApplyResult = (typeof ApplyResult)[keyof typeof ApplyResult];

export interface BookCounters {
  snapshots: number;
  deltas: number;
  ignoredNotLive: number;
  /** Levels a delta deleted (qty 0) that were not in the book: harmless, but a sign of a desynced book. */
  deletesOfAbsent: number;
  crossed: number;
  /** Full books applied as "replace" while LIVE (published as deltas). */
  replaces: number;
}

export interface BookBuilderOptions {
  /** Initial overflow capacity of each side in levels (grows by doubling). Defaults to DEFAULT_LADDER_CAPACITY. */
  initialLevels?: number;
  /**
   * Change set to fill. Builders applied one after another on one thread (one connection) may share one,
   * because the encoder consumes it right after each apply; that saves 8 KiB per instrument. Defaults to a
   * new ChangeSet per builder.
   */
  changes?: ChangeSet;
}

export class BookBuilder extends LadderBook implements BookView {
  readonly instrument: Instrument;
  state: BookState = BookState.AWAITING_SNAPSHOT;
  reason: StatusReason = StatusReason.STARTUP;
  /** Incremented once per published event: applied snapshot, applied delta, status change. */
  instrSeq = 0;
  venueSeq = 0;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  /**
   * Levels changed by the last applyDelta, per side in message order, with the new qty (0 = removed). Levels
   * whose qty did not change and deletes of absent levels are left out. Cleared at the start of every apply;
   * left empty by applySnapshot (a snapshot is published as the whole book, read through BookView).
   */
  readonly changes: ChangeSet;
  /** applyReplace's copy of a side's old levels (grown on demand, kept). */
  private readonly scratch: ReplaceScratch = { px: new Float64Array(0), qty: new Float64Array(0), newPx: new Float64Array(0), newQty: new Float64Array(0) };
  readonly counters: BookCounters = { snapshots: 0, deltas: 0, ignoredNotLive: 0, deletesOfAbsent: 0, crossed: 0, replaces: 0 };

  constructor(instrument: Instrument, opts?: BookBuilderOptions) {
    super(opts?.initialLevels ?? DEFAULT_LADDER_CAPACITY);
    this.instrument = instrument;
    this.changes = opts?.changes ?? new ChangeSet();
  }

  /** Replaces the book. → LIVE (reason SNAPSHOT_APPLIED) unless crossed; instrSeq++ once either way. */
  applySnapshot(u: BookUpdate): ApplyResult {
    this.changes.clear();
    this.bids.loadSorted(u.bidPx, u.bidQty, u.bidCount);
    this.asks.loadSorted(u.askPx, u.askQty, u.askCount);
    this.counters.snapshots++;
    this.copyMeta(u);
    this.instrSeq++;
    if (this.isCrossed()) return this.enterCrossed();
    this.state = BookState.LIVE;
    this.reason = StatusReason.SNAPSHOT_APPLIED;
    return ApplyResult.APPLIED;
  }

  /**
   * Applies absolute sizes (qty 0 deletes) when LIVE; otherwise counts and ignores the message.
   * instrSeq++ once when applied — also when the result is CROSSED: the applied event is still published (its
   * state then says RESYNCING / crossed_book), so subscribers' books stay the publisher's.
   */
  applyDelta(u: BookUpdate): ApplyResult {
    const changes = this.changes;
    changes.clear();
    if (this.state !== BookState.LIVE) {
      this.counters.ignoredNotLive++;
      return ApplyResult.IGNORED_NOT_LIVE;
    }
    // An empty side (a third of Binance spot's) costs no call.
    let absentDeletes = u.bidCount === 0 ? 0 : this.bids.applyLevels(u.bidPx, u.bidQty, u.bidCount, changes);
    if (u.askCount !== 0) absentDeletes += this.asks.applyLevels(u.askPx, u.askQty, u.askCount, changes);
    const counters = this.counters;
    counters.deltas++;
    counters.deletesOfAbsent += absentDeletes;
    this.copyMeta(u);
    this.instrSeq++;
    if (this.isCrossed()) return this.enterCrossed();
    return ApplyResult.APPLIED;
  }

  /**
   * A full book (BookUpdate.replace): the book becomes exactly u's levels. Not LIVE: applied as a snapshot (and
   * published as one; the caller checks the state before). LIVE: the change set gets every level whose qty changed,
   * was added (new qty) or is gone (qty 0), so the publisher sends it as a delta. instrSeq++ once.
   */
  applyReplace(u: BookUpdate): ApplyResult {
    if (this.state !== BookState.LIVE) return this.applySnapshot(u);
    const changes = this.changes;
    changes.clear();
    replaceSide(this.bids, u.bidPx, u.bidQty, u.bidCount, changes, this.scratch, true);
    replaceSide(this.asks, u.askPx, u.askQty, u.askCount, changes, this.scratch, false);
    this.counters.replaces++;
    this.copyMeta(u);
    this.instrSeq++;
    if (this.isCrossed()) return this.enterCrossed();
    return ApplyResult.APPLIED;
  }

  /**
   * The venue adapter or the app says the book can no longer be trusted (gap, reset, disconnect, stale,
   * shutdown). The content is kept (for inspection) but is not valid. Returns true if the state changed, and
   * only then updates the reason and increments instrSeq: a second cause while already RESYNCING is not news.
   */
  markInvalid(state: BookState, reason: StatusReason): boolean {
    if (state === BookState.LIVE) throw new RangeError("markInvalid: LIVE is entered only by a snapshot");
    if (state === this.state) return false;
    this.state = state;
    this.reason = reason;
    this.instrSeq++;
    return true;
  }

  /** True when both sides have levels and best bid ≥ best ask. */
  isCrossed(): boolean {
    return this.bids.count !== 0 && this.asks.count !== 0 && this.bids.bestPrice() >= this.asks.bestPrice();
  }


  /** Bytes held by both ladders' level arrays (not the change set, which may be shared). */
  bytesAllocated(): number {
    return this.bids.bytesAllocated() + this.asks.bytesAllocated();
  }

  private enterCrossed(): ApplyResult {
    this.state = BookState.RESYNCING;
    this.reason = StatusReason.CROSSED_BOOK;
    this.counters.crossed++;
    return ApplyResult.CROSSED;
  }

  private copyMeta(u: BookUpdate): void {
    this.venueSeq = u.venueSeq;
    this.tsExchangeUs = u.tsExchangeUs;
    this.tsEventUs = u.tsEventUs;
    this.tsRecvUs = u.tsRecvUs;
  }
}


/** applyReplace's reusable arrays: the old levels of a side, and the new list without its qty 0 entries. */
interface ReplaceScratch {
  px: Float64Array;
  qty: Float64Array;
  newPx: Float64Array;
  newQty: Float64Array;
}

/**
 * One side of applyReplace: remembers the old levels, applies the new ones as a delta (recording real changes),
 * then deletes every old price the new book lacks. New levels sorted best-first (as venues send them) are merged
 * in O(old + new); otherwise each old price is looked up in the new list (O(old · new), small snapshot-only books).
 * The new list is read as a snapshot is (Ladder.loadSorted): a qty 0 entry is no level, and a price listed twice
 * takes its last non-zero qty. So a full book gives the same book whether it arrives LIVE (here) or not (as a
 * snapshot); before, a price listed with a qty and then with 0 was kept by one path and deleted by the other.
 */
function replaceSide(
  side: Ladder,
  px: Float64Array,
  qty: Float64Array,
  n: number,
  changes: ChangeSet,
  scratch: ReplaceScratch,
  isBid: boolean,
): void {
  let zeros = 0;
  for (let i = 0; i < n; i++) if (qty[i] === 0) zeros++;
  if (zeros !== 0) {
    // Cold (real full books carry no qty 0 level): continue on the list without them.
    if (scratch.newPx.length < n) {
      scratch.newPx = new Float64Array(Math.max(n, 64));
      scratch.newQty = new Float64Array(scratch.newPx.length);
    }
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (qty[i] === 0) continue;
      scratch.newPx[k] = px[i]!;
      scratch.newQty[k++] = qty[i]!;
    }
    px = scratch.newPx;
    qty = scratch.newQty;
    n = k;
  }
  const old = side.count;
  if (scratch.px.length < old) {
    scratch.px = new Float64Array(Math.max(old, scratch.px.length * 2, 64));
    scratch.qty = new Float64Array(scratch.px.length);
  }
  const oldPx = scratch.px;
  if (old > 0) side.copyLevels(0, old, oldPx, scratch.qty, 0);
  side.applyLevels(px, qty, n, changes);
  const sign = isBid ? 1 : -1; // best-first = descending key
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = px[i - 1]! * sign > px[i]! * sign;
  let j = 0;
  for (let i = 0; i < old; i++) {
    const p = oldPx[i]!;
    let present = false;
    if (sorted) {
      while (j < n && px[j]! * sign > p * sign) j++;
      present = j < n && px[j] === p && qty[j] !== 0;
    } else {
      for (let k = n - 1; k >= 0; k--) {
        if (px[k] === p) {
          present = qty[k] !== 0; // the last occurrence wins, as in applyLevels
          break;
        }
      }
    }
    if (present) continue;
    if (side.set(p, 0) !== 0) {
      if (isBid) changes.addBid(p, 0);
      else changes.addAsk(p, 0);
    }
  }
}
