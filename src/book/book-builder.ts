// HOT PATH: no allocation
/**
 * Builds one instrument's L2 book from a venue's snapshots and deltas (core BookUpdate), and says what changed.
 *
 * States (core BookState): AWAITING_SNAPSHOT → (snapshot) → LIVE → (gap / reset / crossed / disconnect …)
 * → RESYNCING or STALE → (snapshot) → LIVE. HALTED is left only by a snapshot too.
 * The builder never judges sequence numbers: the venue adapter knows its venue's rule and calls `markInvalid`
 * on a gap or reset; the builder only detects what it can see in the book itself, a crossed book.
 *
 * Trust: a BookUpdate comes from core/fixed.ts parsers, which reject malformed, negative and non-integer values,
 * but not a price of 0, which every reader takes as a valid mantissa. So after every apply the builder asks each
 * side whether it now holds a level at price 0 (O(1): Ladder.holdsBidAtZero, and the best ask) and, if so, throws BookInputError
 * naming the side, the level and the value before the update is counted or published: the app contains it as a
 * parse error (book RESYNCING / PARSE_ERROR, not published, resynced alone), as it does a checksum mismatch.
 * Before, a bid at price 0 went LIVE (an ask at 0 was caught only as a crossed book, and not at all with no bids).
 * The check is here, the one place every venue's readers (JS, WebAssembly and JSON paths) pass through; a loop over
 * the message's prices before applying cost ~1.1 ns per level (+28 % on Bybit's 60-level deltas, +34 % on 1000-level
 * snapshots), this ~1 ns per message (bench/experiments/price-check-ab). The hot path does not re-check other values:
 * non-finite prices would corrupt ordering, so adapters must never push unparsed values.
 * A venueSeq or timestamp the wire cannot carry exactly (not an integer in 0 … 2^53 − 1) is refused the same way,
 * before the update changes anything: published, a negative one (or a sequence of 2^53) would have every subscriber
 * refuse its whole datagram (`unsafe_integer`), other books' messages included, and every refresh of the book after;
 * a fraction or NaN would go out rounded or as 0. Each venue's reader refuses such values first; this is the last
 * guard (until 2026-12-07 for the sequence only).
 * @module
 */
import type { BookUpdate } from "../core/book-update.ts";
import type { BookView } from "../core/book-view.ts";
import { ChangeSet } from "../core/change-set.ts";
import { formatFixed, MAX_FIXED_EXP } from "../core/fixed.ts";
import { BookState, type Instrument, StatusReason } from "../core/types.ts";
import { DEFAULT_LADDER_CAPACITY, type Ladder } from "./ladder.ts";
import { LadderBook } from "./ladder-book.ts";

export const ApplyResult = {
  /** The message changed the book (or left it equal) and it is LIVE. Publish `changes` (delta) or the book. */
  APPLIED: 0,
  /** A delta arrived while the book was not LIVE: nothing changed, `changes` is empty. */
  IGNORED_NOT_LIVE: 1,
  /** The message was applied but left best bid ≥ best ask: state is now RESYNCING / CROSSED_BOOK. */
  CROSSED: 2,
} as const;
export type ApplyResult = (typeof ApplyResult)[keyof typeof ApplyResult];

/**
 * An update that put a level at price 0 into the book, or whose venueSeq or a timestamp the wire cannot carry
 * (`level` -1): the app contains it as a parse error. Cold.
 */
export class BookInputError extends Error {
  constructor(
    readonly symbol: string,
    readonly field: "bid price" | "ask price" | MetaField,
    readonly level: number,
    readonly value: number,
  ) {
    const v = Object.is(value, -0) ? "-0" : String(value);
    super(
      field === "venueSeq"
        ? `${symbol}: venueSeq ${v} of the message is not an integer in 0 … 2^53 − 1 (subscribers refuse a datagram carrying it)`
        : field === "bid price" || field === "ask price"
          ? `${symbol}: ${field} ${v} at level ${level} of the message: a price must be > 0`
          : `${symbol}: ${field} ${v} of the message is not an integer in 0 … 2^53 − 1 µs (subscribers refuse a datagram carrying a negative one)`,
    );
    this.name = "BookInputError";
  }
}

/**
 * A snapshot or full book that lists one price twice on one side (`level`: the index of one of those entries, `price`
 * its mantissa; the message shows it at the instrument's decimals, as the venue writes it): refused, as which size the
 * venue holds there is unknown. The app contains it as a parse error. Cold.
 */
export class RepeatedPriceError extends Error {
  constructor(
    instrument: Instrument,
    readonly side: "bid" | "ask",
    readonly level: number,
    readonly price: number,
  ) {
    super(
      `${instrument.venue} ${instrument.market} ${instrument.symbol}: ${side} price ${priceText(price, instrument.priceExp)} is listed twice on one side of a ` +
        `snapshot (again at level ${level}): which size the venue holds there is unknown; refused, the book resyncs`,
    );
    this.name = "RepeatedPriceError";
  }
}

/** A price mantissa as the venue writes the price (cold; the mantissa itself if it cannot be formatted). */
function priceText(mantissa: number, exp: number): string {
  if (!Number.isSafeInteger(mantissa)) return String(mantissa);
  if (exp <= 0) return String(mantissa * 10 ** -exp);
  return exp > MAX_FIXED_EXP ? `${mantissa}e-${exp}` : formatFixed(mantissa, exp);
}

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
   * Levels changed by the last applyDelta, per side in message order, with the new qty (0 = removed); a price the
   * message names twice may appear twice, so the entries must be applied in order. Levels whose qty did not change
   * and deletes of absent levels are left out. A LIVE applyReplace fills it too (replaceSide). Cleared at the start
   * of every apply; left empty by applySnapshot (a snapshot is published as the whole book, read through BookView).
   */
  readonly changes: ChangeSet;
  /**
   * The book was LIVE when markInvalid last made it STALE, and no snapshot was loaded since (one refused after its
   * load leaves the book STALE until the app marks it): only then may resumeStale make it LIVE again.
   */
  private staleFromLive = false;
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
    this.changes.clear(); // first, as every apply: a refusal below leaves no earlier delta's changes in it
    this.staleFromLive = false; // a STALE book's kept levels are gone once a snapshot is loaded, refused or not
    if (!isWireMeta(u)) this.rejectMeta(u);
    const bidRepeat = this.bids.loadSorted(u.bidPx, u.bidQty, u.bidCount);
    const askRepeat = this.asks.loadSorted(u.askPx, u.askQty, u.askCount);
    if (bidRepeat >= 0 || askRepeat >= 0) this.rejectRepeat(u, bidRepeat, askRepeat);
    if (this.bids.holdsBidAtZero() || this.asks.bestPrice() === 0) this.rejectPriceZero(u, false);
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
    if (!isWireMeta(u)) this.rejectMeta(u);
    // An empty side (a third of Binance spot's) costs no call.
    let absentDeletes = u.bidCount === 0 ? 0 : this.bids.applyLevels(u.bidPx, u.bidQty, u.bidCount, changes);
    if (u.askCount !== 0) absentDeletes += this.asks.applyLevels(u.askPx, u.askQty, u.askCount, changes);
    if (this.bids.holdsBidAtZero() || this.asks.bestPrice() === 0) this.rejectPriceZero(u, true);
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
    if (!isWireMeta(u)) this.rejectMeta(u);
    const bidRepeat = replaceSide(this.bids, u.bidPx, u.bidQty, u.bidCount, changes, this.scratch, true);
    if (bidRepeat >= 0) this.rejectRepeat(u, bidRepeat, -1);
    const askRepeat = replaceSide(this.asks, u.askPx, u.askQty, u.askCount, changes, this.scratch, false);
    if (askRepeat >= 0) this.rejectRepeat(u, -1, askRepeat);
    if (this.bids.holdsBidAtZero() || this.asks.bestPrice() === 0) this.rejectPriceZero(u, false);
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
    if (state === BookState.STALE) this.staleFromLive = this.state === BookState.LIVE;
    this.state = state;
    this.reason = reason;
    this.instrSeq++;
    return true;
  }

  /**
   * A book already not valid in `state` whose cause changed (the app: a refused instrument definition on a book
   * resyncing after a gap): the reason becomes `reason`, a status event of its own (instrSeq++). False, nothing
   * changed, when the book is in another state or already has that reason.
   */
  restate(state: BookState, reason: StatusReason): boolean {
    if (state === BookState.LIVE) throw new RangeError("restate: LIVE is entered only by a snapshot");
    if (this.state !== state || this.reason === reason) return false;
    this.reason = reason;
    this.instrSeq++;
    return true;
  }

  /**
   * Replay only: a STALE book whose venue sequence continues exactly at its next message (no message was missed, so
   * the kept levels are the venue's): LIVE again at those levels, reason SNAPSHOT_APPLIED (the caller publishes them
   * whole). False, nothing changed, from any other state, and for a book that was not LIVE when it went STALE (crossed,
   * refused, a gap: its levels are not the venue's whatever follows). Until 2026-12-07 only the venue adapters kept
   * such a book from resuming, and this made a crossed one LIVE (test/book/book-builder.test.ts TC6b). instrSeq++ once.
   */
  resumeStale(): boolean {
    if (this.state !== BookState.STALE || !this.staleFromLive) return false;
    this.state = BookState.LIVE;
    this.reason = StatusReason.SNAPSHOT_APPLIED;
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

  /**
   * Cold: the update put a level at price 0 into the book. Throws BookInputError naming the entry of `u` whose qty
   * that level holds, on the side that holds it (the bids first): a delta's last entry at price 0 (a later one
   * overrides it), a snapshot's or full book's last one with a qty (a qty 0 entry there is no level). The book keeps
   * the update (not counted, not published) until the app marks it invalid. Until 2026-12-06 it named the first
   * entry with a price ≤ 0 of either side, the bids first: often a qty 0 delete at 0, or a bid while the ask held it.
   */
  private rejectPriceZero(u: BookUpdate, delta: boolean): never {
    const sym = this.instrument.symbol;
    const bid = this.bids.holdsBidAtZero();
    const px = bid ? u.bidPx : u.askPx;
    const qty = bid ? u.bidQty : u.askQty;
    let i = bid ? u.bidCount : u.askCount;
    while (--i >= 0 && !(px[i] === 0 && (delta || qty[i] !== 0)));
    throw new BookInputError(sym, bid ? "bid price" : "ask price", i, i >= 0 ? px[i]! : 0);
  }

  /**
   * Cold: a snapshot or full book lists a price twice on one side (`bidRepeat` or `askRepeat` is the index of one such
   * entry, the bids first): which size the venue holds there is unknown, so the book must not go LIVE from it. Throws
   * RepeatedPriceError; the app contains it as a parse error (RESYNCING / PARSE_ERROR, resynced alone). Until
   * 2026-12-08 the last entry was kept and the book went LIVE at that guess.
   */
  private rejectRepeat(u: BookUpdate, bidRepeat: number, askRepeat: number): never {
    const bid = bidRepeat >= 0;
    const level = bid ? bidRepeat : askRepeat;
    throw new RepeatedPriceError(this.instrument, bid ? "bid" : "ask", level, (bid ? u.bidPx : u.askPx)[level]!);
  }

  /** Cold: the update's venueSeq or a timestamp cannot go on the wire (isWireMeta): names the first. Nothing was applied. */
  private rejectMeta(u: BookUpdate): never {
    const field: MetaField = !isWireU53(u.venueSeq)
      ? "venueSeq"
      : !isWireU53(u.tsExchangeUs)
        ? "tsExchangeUs"
        : !isWireU53(u.tsEventUs)
          ? "tsEventUs"
          : "tsRecvUs";
    throw new BookInputError(this.instrument.symbol, field, -1, u[field]);
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

/** The update's fields the builder copies besides its levels. */
type MetaField = "venueSeq" | "tsExchangeUs" | "tsEventUs" | "tsRecvUs";

/**
 * A value the wire carries and every subscriber reads exactly (docs/wire-protocol.md §5.3): venueSeq as a u64, a
 * timestamp (µs; 0 = unknown) as an i64 of ns. Hot: four of these per apply, no allocation.
 */
function isWireU53(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** venueSeq and the three timestamps of u all isWireU53. */
function isWireMeta(u: BookUpdate): boolean {
  return isWireU53(u.venueSeq) && isWireU53(u.tsExchangeUs) && isWireU53(u.tsEventUs) && isWireU53(u.tsRecvUs);
}

/** applyReplace's reusable arrays: the old levels of a side, and the new list without its qty 0 entries. */
interface ReplaceScratch {
  px: Float64Array;
  qty: Float64Array;
  newPx: Float64Array;
  newQty: Float64Array;
}

/**
 * One side of applyReplace in O(old + new): the change set from a merge of the old levels and the new list (both
 * best first), then the side loaded from the list as a snapshot (Ladder.loadSorted). The change set is what
 * applying the list as a delta and then deleting the levels it lacks records: each new level whose qty differs from
 * the old one (absent = 0), in the list's order, then each old level the list lacks (qty 0), best first. Until
 * 2026-12-06 it did just that, through the ladder: every level below the window inserted into or deleted from the
 * sorted overflow shifted the overflow, O(old × new), ~1 s for 50k levels a side, the feed thread held
 * (test/book/replace.test.ts counts the entries moved).
 * The list is read as a snapshot is: a qty 0 entry is no level, and a price listed twice (a qty 0 entry counts) is
 * refused: returns the index of one such entry, before the side or the change set is touched (-1: loaded). A list not
 * strictly best first (never from a venue so far) is sorted into a copy first (cold, allocates, O(n log n)); its
 * change entries keep the list's order (listedChanges).
 */
function replaceSide(
  side: Ladder,
  px: Float64Array,
  qty: Float64Array,
  n: number,
  changes: ChangeSet,
  scratch: ReplaceScratch,
  isBid: boolean,
): number {
  const sign = isBid ? 1 : -1; // best first = descending key
  let zeros = 0;
  let sorted = true;
  let prevKey = Infinity;
  for (let i = 0; i < n; i++) {
    const key = px[i]! * sign;
    if (qty[i] === 0) {
      zeros++;
      if (!Number.isFinite(px[i])) sorted = false; // no level, but no price either: sortedLevels refuses it
    }
    if (!(key < prevKey)) sorted = false; // also a repeat, a NaN price, or a bid's +∞ first
    prevKey = key;
  }
  // The worst level at key −∞ (a bid's −∞, an ask's +∞) is in order too: sortedLevels refuses it before the side changes.
  if (prevKey === -Infinity) sorted = false;
  // The list as given (for the change set's order when it is not best first), then the side's new levels best first.
  const listPx = px;
  const listQty = qty;
  const listN = n;
  if (!sorted) {
    const s = sortedLevels(px, qty, n, sign);
    if (s.repeat >= 0) return s.repeat;
    px = s.px;
    qty = s.qty;
    n = s.n;
  } else if (zeros !== 0) {
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
  const oldQty = scratch.qty;
  if (old > 0) side.copyLevels(0, old, oldPx, oldQty, 0);
  // Room for every change, then the arrays are written directly: at most one per list entry and one per old level.
  let cN = isBid ? changes.bidCount : changes.askCount;
  changes.reserve(isBid, cN + listN + old);
  const cPx = isBid ? changes.bidPx : changes.askPx;
  const cQty = isBid ? changes.bidQty : changes.askQty;
  // New levels whose qty changed or that are new, in the list's order.
  let j = 0;
  if (sorted) {
    for (let i = 0; i < n; i++) {
      const p = px[i]!;
      const key = p * sign;
      while (j < old && oldPx[j]! * sign > key) j++;
      const q = qty[i]!;
      if (j < old && oldPx[j] === p ? oldQty[j] !== q : true) {
        cPx[cN] = p;
        cQty[cN++] = q;
      }
    }
  } else {
    cN = listedChanges(listPx, listQty, listN, px, n, oldPx, oldQty, old, sign, cPx, cQty, cN);
  }
  // Old levels the list lacks, best first.
  j = 0;
  for (let i = 0; i < old; i++) {
    const p = oldPx[i]!;
    const key = p * sign;
    while (j < n && px[j]! * sign > key) j++;
    if (j < n && px[j] === p) continue;
    cPx[cN] = p;
    cQty[cN++] = 0;
  }
  if (isBid) changes.bidCount = cN;
  else changes.askCount = cN;
  side.loadSorted(px, qty, n); // strictly best first, each price once: -1
  return -1;
}

/**
 * Cold: replaceSide's change entries for a list not strictly best first, as applying it level by level records
 * them: each entry (qty 0 entries skipped) whose qty differs from its price's qty at that point (the old book's, or
 * an earlier entry's), in the list's order (each price once: a repeat was refused before). O(list × log(levels)): each
 * entry's price is found by bisection in the side's new levels (`px`, best first, each price once). Returns the new
 * change count.
 */
function listedChanges(
  listPx: Float64Array,
  listQty: Float64Array,
  listN: number,
  px: Float64Array,
  n: number,
  oldPx: Float64Array,
  oldQty: Float64Array,
  old: number,
  sign: number,
  cPx: Float64Array,
  cQty: Float64Array,
  cN: number,
): number {
  // Each new price's current qty, starting from the old book's (0 = absent).
  const cur = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const key = px[i]! * sign;
    while (j < old && oldPx[j]! * sign > key) j++;
    cur[i] = j < old && oldPx[j] === px[i] ? oldQty[j]! : 0;
  }
  for (let i = 0; i < listN; i++) {
    const q = listQty[i]!;
    if (q === 0) continue;
    const p = listPx[i]!;
    const key = p * sign;
    let lo = 0;
    let hi = n - 1; // px holds p: the first index whose key is ≤ p's
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (px[mid]! * sign > key) lo = mid + 1;
      else hi = mid;
    }
    if (cur[lo] === q) continue;
    cur[lo] = q;
    cPx[cN] = p;
    cQty[cN++] = q;
  }
  return cN;
}

/**
 * Cold: replaceSide's list was not strictly best first. A best-first copy of its levels, qty 0 entries dropped, and
 * `repeat`: -1, or the index of an entry whose price another entry lists too (a qty 0 one counts; the copy is then
 * not to be used). Throws RangeError naming the first entry (a qty 0 one too) whose price is NaN or infinite, before
 * the side is touched.
 */
function sortedLevels(px: Float64Array, qty: Float64Array, n: number, sign: number): { px: Float64Array; qty: Float64Array; n: number; repeat: number } {
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(px[i])) throw new RangeError(`BookBuilder.applyReplace: price ${px[i]} at level ${i} is not a finite number`);
    order.push(i); // qty 0 entries too: a price they repeat is a repeat
  }
  // Best first; of entries at one price the later first.
  order.sort((a, b) => px[b]! * sign - px[a]! * sign || b - a);
  const outPx = new Float64Array(order.length);
  const outQty = new Float64Array(order.length);
  let k = 0;
  for (let x = 0; x < order.length; x++) {
    const i = order[x]!;
    if (x !== 0 && px[order[x - 1]!] === px[i]) return { px: outPx, qty: outQty, n: 0, repeat: order[x - 1]! };
    if (qty[i] === 0) continue;
    outPx[k] = px[i]!;
    outQty[k++] = qty[i]!;
  }
  return { px: outPx, qty: outQty, n: k, repeat: -1 };
}
