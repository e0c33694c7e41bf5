/**
 * Scratch for the two kinds of multi-message book events a subscriber assembles per instrument: split deltas
 * (parts) and chunked snapshots. The scratch grows only with the levels that actually arrived (never with what a
 * header announces), within a per-side cap and one budget for all books together, so hostile input cannot make
 * it grow without bound. Arrays are kept for reuse (no allocation in steady state) unless larger than
 * RETAIN_LEVELS, which are given back after the assembly ends; an assembly over the budget first takes back what
 * books not assembling keep (InstrumentBooks.append), so kept arrays never refuse a snapshot. The books keeping such
 * scratch, and the assemblies under way (least recently touched first), are on lists: taking scratch back costs what
 * it takes back, not a scan of every book at every datagram over the budget.
 * @module
 */
import type { BookMessageReader } from "../wire/decoder.ts";
import { BookList } from "./book-list.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE, SNAP_CUT_ASKS, SNAP_CUT_BIDS, SNAP_CUT_MARKED } from "../wire/layout.ts";
import { grownLevels, type SubscriberBook } from "./subscriber-book.ts";

/** Scratch arrays up to this many levels stay with their book after an assembly; larger ones are released. */
export const RETAIN_LEVELS = 4096;

export const AppendResult = { OK: 0, OVER_CAP: 1, OVER_BUDGET: 2 } as const;
export type AppendResult = (typeof AppendResult)[keyof typeof AppendResult];

/** Levels held in every book's scratch arrays together, against maxAssemblyLevels. */
export class AssemblyBudget {
  used = 0;
  /** Books that may keep scratch no assembly of theirs uses (linked when an assembly ends, by settle). */
  readonly idle = new BookList();
  /** Books with a split delta, or a snapshot, under way: least recently appended to first (touch). */
  readonly parts = new BookList();
  readonly chunks = new BookList();
  constructor(
    readonly maxLevels: number,
    readonly maxLevelsPerSide: number,
  ) {}

  /** The new length for a scratch array pair to hold `need` levels (doubling, within the cap), or −1 over budget. Cold. */
  private grow(need: number, current: number): number {
    let n = Math.max(64, current);
    while (n < need) n *= 2;
    if (n > this.maxLevelsPerSide) n = this.maxLevelsPerSide;
    const extra = n - current;
    if (this.used + extra * 2 > this.maxLevels) return -1;
    this.used += extra * 2; // price and qty arrays
    return n;
  }

  /** Appends a delta part's levels to the book's pending arrays. */
  appendPart(book: SubscriberBook, m: BookMessageReader): AppendResult {
    const nb = m.bidCount;
    const na = m.askCount;
    const needB = book.pendBidN + nb;
    const needA = book.pendAskN + na;
    if (needB > this.maxLevelsPerSide || needA > this.maxLevelsPerSide) return AppendResult.OVER_CAP;
    if (needB > book.pendBidPx.length) {
      const n = this.grow(needB, book.pendBidPx.length);
      if (n < 0) return AppendResult.OVER_BUDGET;
      book.pendBidPx = grownLevels(book.pendBidPx, book.pendBidN, n);
      book.pendBidQty = grownLevels(book.pendBidQty, book.pendBidN, n);
    }
    if (needA > book.pendAskPx.length) {
      const n = this.grow(needA, book.pendAskPx.length);
      if (n < 0) return AppendResult.OVER_BUDGET;
      book.pendAskPx = grownLevels(book.pendAskPx, book.pendAskN, n);
      book.pendAskQty = grownLevels(book.pendAskQty, book.pendAskN, n);
    }
    const bpx = book.pendBidPx;
    const bq = book.pendBidQty;
    let j = book.pendBidN;
    for (let i = 0; i < nb; i++, j++) {
      bpx[j] = m.priceAt(i);
      bq[j] = m.qtyAt(i);
    }
    book.pendBidN = j;
    const apx = book.pendAskPx;
    const aq = book.pendAskQty;
    j = book.pendAskN;
    for (let i = nb, end = nb + na; i < end; i++, j++) {
      apx[j] = m.priceAt(i);
      aq[j] = m.qtyAt(i);
    }
    book.pendAskN = j;
    return AppendResult.OK;
  }

  /** Appends a snapshot chunk's levels to the book's snapshot arrays. */
  appendChunk(book: SubscriberBook, m: BookMessageReader): AppendResult {
    const nb = m.bidCount;
    const na = m.askCount;
    const needB = book.snapBidN + nb;
    const needA = book.snapAskN + na;
    if (needB > this.maxLevelsPerSide || needA > this.maxLevelsPerSide) return AppendResult.OVER_CAP;
    if (needB > book.snapBidPx.length) {
      const n = this.grow(needB, book.snapBidPx.length);
      if (n < 0) return AppendResult.OVER_BUDGET;
      book.snapBidPx = grownLevels(book.snapBidPx, book.snapBidN, n);
      book.snapBidQty = grownLevels(book.snapBidQty, book.snapBidN, n);
    }
    if (needA > book.snapAskPx.length) {
      const n = this.grow(needA, book.snapAskPx.length);
      if (n < 0) return AppendResult.OVER_BUDGET;
      book.snapAskPx = grownLevels(book.snapAskPx, book.snapAskN, n);
      book.snapAskQty = grownLevels(book.snapAskQty, book.snapAskN, n);
    }
    const bpx = book.snapBidPx;
    const bq = book.snapBidQty;
    let j = book.snapBidN;
    for (let i = 0; i < nb; i++, j++) {
      bpx[j] = m.priceAt(i);
      bq[j] = m.qtyAt(i);
    }
    book.snapBidN = j;
    const apx = book.snapAskPx;
    const aq = book.snapAskQty;
    j = book.snapAskN;
    for (let i = nb, end = nb + na; i < end; i++, j++) {
      apx[j] = m.priceAt(i);
      aq[j] = m.qtyAt(i);
    }
    book.snapAskN = j;
    return AppendResult.OK;
  }

  /** A part (chunk false) or chunk was appended at `nowUs` (receive time): its assembly goes to the back of its list. */
  touch(book: SubscriberBook, chunk: boolean, nowUs: number): void {
    if (chunk) {
      book.snapTouchedUs = nowUs;
      this.chunks.pushBack(book.snapLink);
    } else {
      book.asmTouchedUs = nowUs;
      this.parts.pushBack(book.asmLink);
    }
  }

  /**
   * After an assembly ended: it leaves its list; oversized scratch goes back to the budget (cold, only for books
   * deeper than RETAIN_LEVELS); scratch kept and now idle puts the book on the idle list.
   */
  settle(book: SubscriberBook): void {
    const asmIdle = book.asmSeq < 0;
    const snapIdle = book.snapSeq < 0;
    if (asmIdle) this.parts.remove(book.asmLink);
    if (snapIdle) this.chunks.remove(book.snapLink);
    const pend = book.pendBidPx.length + book.pendAskPx.length;
    const snap = book.snapBidPx.length + book.snapAskPx.length;
    if (book.pendBidPx.length > RETAIN_LEVELS || book.pendAskPx.length > RETAIN_LEVELS || book.snapBidPx.length > RETAIN_LEVELS || book.snapAskPx.length > RETAIN_LEVELS) {
      if (asmIdle && snapIdle) return this.release(book); // else the other assembly is still using its arrays
    }
    if ((asmIdle && pend > 0) || (snapIdle && snap > 0)) this.idle.pushBack(book.idleLink);
  }

  /** Gives back every idle scratch (SubscriberBook.releaseIdleScratch); returns the levels freed. Cold. */
  reclaimIdle(): number {
    let freed = 0;
    for (let l = this.idle.head; l !== null; l = this.idle.head) {
      this.idle.remove(l);
      freed += l.book.releaseIdleScratch();
    }
    this.used -= freed * 2;
    return freed;
  }

  /** Releases all of a book's scratch; it leaves every list. */
  release(book: SubscriberBook): void {
    this.used -= book.scratchLevels * 2;
    book.releaseScratch();
    this.idle.remove(book.idleLink);
    this.parts.remove(book.asmLink);
    this.chunks.remove(book.snapLink);
  }
}

/**
 * Whether a snapshot side of `n` levels was cut (the publisher's book deeper there): as the snapshot's cutFlags say
 * (`bit`, SNAP_CUT_BIDS or SNAP_CUT_ASKS) when its publisher marks cuts (SNAP_CUT_MARKED). From an older publisher
 * (no mark) it may have been: at publish.snapshot_depth (`depth` > 0, when the subscriber was told it) or at the
 * wire's 65,535 levels a side.
 */
export function snapshotCut(n: number, depth: number, cutFlags: number, bit: number): boolean {
  if ((cutFlags & SNAP_CUT_MARKED) !== 0) return (cutFlags & bit) !== 0;
  return n >= MAX_SNAPSHOT_LEVELS_PER_SIDE || (depth > 0 && n >= depth);
}

/**
 * True when the book's levels equal the assembled snapshot's as far as both reach: level for level, except that a
 * book may hold more than a cut side (snapshotCut) and fewer than one it knows only down to its floor (levels removed
 * since its last snapshot, SubscriberBook.bidFloorPx), the snapshot's next level then lying beyond that floor.
 */
export function sameAsSnapshot(book: SubscriberBook, depth: number): boolean {
  const nb = book.snapBidN;
  const na = book.snapAskN;
  const kb = book.bidCount;
  const ka = book.askCount;
  const flags = book.snapCutFlags;
  if (kb > nb && !snapshotCut(nb, depth, flags, SNAP_CUT_BIDS)) return false;
  if (ka > na && !snapshotCut(na, depth, flags, SNAP_CUT_ASKS)) return false;
  if (kb < nb && !(book.snapBidPx[kb]! < book.bidFloorPx)) return false;
  if (ka < na && !(book.snapAskPx[ka]! > book.askCeilPx)) return false;
  const bpx = book.snapBidPx;
  const bq = book.snapBidQty;
  for (let i = 0, n = Math.min(kb, nb); i < n; i++) if (book.bidPriceAt(i) !== bpx[i] || book.bidQtyAt(i) !== bq[i]) return false;
  const apx = book.snapAskPx;
  const aq = book.snapAskQty;
  for (let i = 0, n = Math.min(ka, na); i < n; i++) if (book.askPriceAt(i) !== apx[i] || book.askQtyAt(i) !== aq[i]) return false;
  return true;
}
