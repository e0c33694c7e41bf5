/**
 * Per-instrument book state of the subscriber: applies BookDelta, BookStatus, BookSnapshot chunks and
 * InstrumentDefinition messages to SubscriberBooks, checks each instrument's instrSeq, and marks books invalid
 * (from a lost event until their next snapshot). Stream-level sequencing is in feed-subscriber.ts.
 *
 * HOT PATH: onBookEvent and onSnapshotChunk run per message; they read the packet through flyweights and allocate
 * only for new books and status events.
 * @module
 */
import { BookState, MARKET_IDS, VENUE_IDS, type Instrument, type MarketName, type StatusReason, type VenueName } from "../core/types.ts";
import { BookMessageReader, DefinitionReader, type PacketReader } from "../wire/decoder.ts";
import { MSG_FLAG_LAST, MSG_FLAG_REFRESH, TEMPLATE_BOOK_DELTA } from "../wire/layout.ts";
import type { Listeners } from "./listeners.ts";
import { SubscriberBook, UNKNOWN_NAME } from "./subscriber-book.ts";
import type { StatusEvent, SubscriberCounters, UpdateEvent, UpdateKind } from "./subscriber-types.ts";

/** What both book-message readers carry for the event as a whole. */
interface EventHeader {
  readonly venueSeq: number;
  readonly tsExchangeUs: number;
  readonly tsEventUs: number;
  readonly tsRecvUs: number;
  readonly state: number;
  readonly reason: number;
}

const VENUE_BY_ID = new Map<number, string>(Object.entries(VENUE_IDS).map(([k, v]) => [v, k]));
const MARKET_BY_ID = new Map<number, string>(Object.entries(MARKET_IDS).map(([k, v]) => [v, k]));

export class InstrumentBooks {
  /** Books by instrumentId. */
  readonly books: Map<number, SubscriberBook> = new Map();
  /**
   * The one 'update' event object, reused for every update. The caller sets the packet fields (times, channel,
   * source) once per packet; emitUpdate sets the rest.
   */
  readonly updateEvent: UpdateEvent;
  private readonly bookReader = new BookMessageReader();
  private readonly defReader = new DefinitionReader();

  constructor(
    private readonly counters: SubscriberCounters,
    private readonly listeners: Listeners,
  ) {
    const placeholder = new SubscriberBook(0, 0, 0);
    this.updateEvent = {
      kind: "delta",
      instrument: placeholder.instrument,
      book: placeholder,
      latencyUs: 0,
      sendTimeUs: 0,
      recvTimeUs: 0,
      channelId: 0,
      sourceId: 0,
      refresh: false,
    };
  }

  private bookFor(m: BookMessageReader): SubscriberBook {
    const id = m.instrumentId;
    let book = this.books.get(id);
    if (book === undefined) {
      book = new SubscriberBook(id, m.priceExp, m.qtyExp);
      this.books.set(id, book);
    }
    return book;
  }

  /**
   * BookDelta and BookStatus: both advance instrSeq by one per event. The parts of a split delta (same instrSeq,
   * LAST on the final one) are buffered and applied together at LAST, so a book never shows half an event and
   * `valid` always means "identical to the publisher's book at instrSeq".
   */
  onBookEvent(r: PacketReader, key: number, templateId: number, sendTimeUs: number): void {
    const m = this.bookReader.wrap(r);
    const book = this.bookFor(m);
    if (m.priceExp !== book.instrument.priceExp || m.qtyExp !== book.instrument.qtyExp) {
      // The instrument was redefined: the mantissas held so far are in the old units.
      this.invalidate(book);
      this.setExponents(book, m.priceExp, m.qtyExp);
    }
    const seq = m.instrSeq;
    const last = (r.msgFlags & MSG_FLAG_LAST) !== 0;
    const isDelta = templateId === TEMPLATE_BOOK_DELTA;
    let continuation = false;
    let abandoned = false;
    if (book.eventOpen) {
      if (isDelta && seq === book.openSeq) {
        continuation = true;
      } else {
        // The open split delta never got its LAST part: that event is lost for this book.
        book.eventOpen = false;
        book.pendBidN = 0;
        book.pendAskN = 0;
        this.counters.instrSeqJumps++;
        this.invalidate(book);
        abandoned = true;
      }
    }
    const known = book.instrSeq;
    if (!continuation && known >= 0) {
      // A BookStatus may share the instrSeq of the event it qualifies (e.g. a crossed delta): apply its state.
      const sameEventStatus = !isDelta && seq === known;
      if (!sameEventStatus) {
        if (seq <= known) {
          this.counters.duplicates++; // already applied (duplicate stream or re-sent refresh)
          return;
        }
        if (seq !== known + 1 && !abandoned) {
          this.counters.instrSeqJumps++; // lost events of this instrument: the book is no longer exact
          this.invalidate(book);
        }
      }
    }
    book.streamKey = key;
    if (isDelta && !last) {
      if (!continuation) {
        book.eventOpen = true;
        book.openSeq = seq;
        book.pendBidN = 0;
        book.pendAskN = 0;
      }
      this.bufferLevels(book, m);
      return;
    }
    if (isDelta) {
      const bids = book.bids;
      const asks = book.asks;
      if (continuation) {
        for (let i = 0, n = book.pendBidN; i < n; i++) bids.set(book.pendBidPx[i], book.pendBidQty[i]);
        for (let i = 0, n = book.pendAskN; i < n; i++) asks.set(book.pendAskPx[i], book.pendAskQty[i]);
        book.pendBidN = 0;
        book.pendAskN = 0;
        book.eventOpen = false;
      }
      const nb = m.bidCount;
      const na = m.askCount;
      for (let i = 0; i < nb; i++) bids.set(m.priceAt(i), m.qtyAt(i));
      for (let i = nb, end = nb + na; i < end; i++) asks.set(m.priceAt(i), m.qtyAt(i));
    }
    this.applyEventHeader(book, m, seq, false);
    this.emitUpdate(isDelta ? "delta" : "status", book, sendTimeUs, false);
  }

  /** The event's sequences, times and state onto the book (valid from a snapshot on); "status" hears a change. */
  private applyEventHeader(book: SubscriberBook, m: EventHeader, seq: number, snapshot: boolean): void {
    book.instrSeq = seq;
    book.venueSeq = m.venueSeq;
    book.tsExchangeUs = m.tsExchangeUs;
    book.tsEventUs = m.tsEventUs;
    book.tsRecvUs = m.tsRecvUs;
    const previousState = book.state;
    book.state = m.state as BookState;
    book.reason = m.reason as StatusReason;
    if (snapshot) book.valid = true;
    if (previousState !== book.state && this.listeners.status.length > 0) {
      const e: StatusEvent = { book, state: book.state, reason: book.reason, previousState };
      for (const l of this.listeners.status) this.listeners.call(l, e);
    }
  }

  /** Copies the levels of a non-final delta part into the book's pending buffers (rx buffer is reused). */
  private bufferLevels(book: SubscriberBook, m: BookMessageReader): void {
    const nb = m.bidCount;
    const na = m.askCount;
    book.ensurePendingCapacity(book.pendBidN + nb, book.pendAskN + na);
    for (let i = 0; i < nb; i++) {
      book.pendBidPx[book.pendBidN] = m.priceAt(i);
      book.pendBidQty[book.pendBidN++] = m.qtyAt(i);
    }
    for (let i = nb, end = nb + na; i < end; i++) {
      book.pendAskPx[book.pendAskN] = m.priceAt(i);
      book.pendAskQty[book.pendAskN++] = m.qtyAt(i);
    }
  }

  onSnapshotChunk(r: PacketReader, key: number, sendTimeUs: number): void {
    const m = this.bookReader.wrap(r);
    const book = this.bookFor(m);
    const seq = m.instrSeq;
    const chunkIndex = m.chunkIndex;
    const chunkCount = m.chunkCount;
    if (chunkIndex === 0) {
      if (book.snapSeq >= 0) this.counters.snapshotsAbandoned++;
      book.snapSeq = seq;
      book.snapNextChunk = 0;
      book.snapChunkCount = chunkCount;
      book.snapFlags = r.msgFlags;
      book.snapBidN = 0;
      book.snapAskN = 0;
      book.ensureSnapshotCapacity(m.totalBidCount, m.totalAskCount);
    } else if (book.snapSeq !== seq || book.snapNextChunk !== chunkIndex || book.snapChunkCount !== chunkCount) {
      // Missing or reordered chunk: drop the set; the next snapshot (refresh) completes instead.
      if (book.snapSeq >= 0) this.counters.snapshotsAbandoned++;
      book.snapSeq = -1;
      return;
    }
    const nb = m.bidCount;
    const na = m.askCount;
    if (book.snapBidN + nb > book.snapBidPx.length || book.snapAskN + na > book.snapAskPx.length) {
      this.counters.snapshotsAbandoned++; // chunks disagree with the totals of chunk 0
      book.snapSeq = -1;
      return;
    }
    for (let i = 0; i < nb; i++) {
      book.snapBidPx[book.snapBidN] = m.priceAt(i);
      book.snapBidQty[book.snapBidN++] = m.qtyAt(i);
    }
    for (let i = nb, end = nb + na; i < end; i++) {
      book.snapAskPx[book.snapAskN] = m.priceAt(i);
      book.snapAskQty[book.snapAskN++] = m.qtyAt(i);
    }
    book.snapNextChunk++;
    if (book.snapNextChunk < book.snapChunkCount) return;

    // Complete set.
    book.snapSeq = -1;
    if (book.eventOpen) {
      // A snapshot after an unfinished split delta: that delta's tail was lost.
      book.eventOpen = false;
      book.pendBidN = 0;
      book.pendAskN = 0;
      this.invalidate(book);
    }
    const refresh = (book.snapFlags & MSG_FLAG_REFRESH) !== 0;
    const known = book.instrSeq;
    if (book.valid && known >= 0 && seq <= known) return; // already exact at `known`: nothing to add
    if (!refresh && known >= 0 && seq !== known + 1 && book.valid) this.counters.instrSeqJumps++;
    if (m.priceExp !== book.instrument.priceExp || m.qtyExp !== book.instrument.qtyExp) this.setExponents(book, m.priceExp, m.qtyExp);
    book.bids.loadSorted(book.snapBidPx, book.snapBidQty, book.snapBidN);
    book.asks.loadSorted(book.snapAskPx, book.snapAskQty, book.snapAskN);
    book.streamKey = key;
    this.applyEventHeader(book, m, seq, true);
    this.emitUpdate("snapshot", book, sendTimeUs, refresh);
  }

  // Cold: definitions arrive on registration and once per refresh cycle.
  onDefinition(r: PacketReader): void {
    const d = this.defReader.wrap(r);
    const id = d.instrumentId;
    let book = this.books.get(id);
    if (book === undefined) {
      book = new SubscriberBook(id, d.priceExp, d.qtyExp);
      this.books.set(id, book);
    }
    const symbol = d.symbol;
    const prev = book.definition;
    const venue = VENUE_BY_ID.get(d.venueId) ?? UNKNOWN_NAME;
    const market = MARKET_BY_ID.get(d.marketId) ?? UNKNOWN_NAME;
    if (
      prev !== undefined &&
      prev.symbol === symbol &&
      prev.venue === venue &&
      prev.market === market &&
      prev.priceExp === d.priceExp &&
      prev.qtyExp === d.qtyExp &&
      prev.tickSize === d.tickSize &&
      prev.lotSize === d.lotSize
    ) {
      return;
    }
    if (book.instrument.priceExp !== d.priceExp || book.instrument.qtyExp !== d.qtyExp) this.invalidate(book); // old units
    const def: Instrument = {
      instrumentId: id,
      venue: venue as VenueName,
      market: market as MarketName,
      symbol,
      priceExp: d.priceExp,
      qtyExp: d.qtyExp,
      tickSize: d.tickSize,
      lotSize: d.lotSize,
    };
    book.definition = def;
    book.instrument = def;
    for (const l of this.listeners.definition) this.listeners.call(l, book);
  }

  // Cold: exponents change only when a venue redefines an instrument.
  private setExponents(book: SubscriberBook, priceExp: number, qtyExp: number): void {
    book.instrument = { ...book.instrument, priceExp, qtyExp };
    if (book.definition !== undefined) book.definition = book.instrument;
  }

  private emitUpdate(kind: UpdateKind, book: SubscriberBook, sendTimeUs: number, refresh: boolean): void {
    book.updates++;
    book.lastSendTimeUs = sendTimeUs;
    const listeners = this.listeners.update;
    if (listeners.length === 0) return;
    const ev = this.updateEvent;
    ev.kind = kind;
    ev.book = book;
    ev.instrument = book.instrument;
    ev.refresh = refresh;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](ev);
      } catch (err) {
        this.listeners.failed(err);
      }
    }
  }

  private invalidate(book: SubscriberBook): boolean {
    if (!book.valid) return false;
    book.valid = false;
    book.invalidations++;
    return true;
  }

  /** Invalidates every book last updated by the stream; `restart` also forgets their instrSeq (new numbering). */
  invalidateStream(key: number, restart: boolean): number {
    let n = 0;
    for (const book of this.books.values()) {
      if (book.streamKey !== key) continue;
      if (this.invalidate(book)) n++;
      if (restart) {
        book.instrSeq = -1;
        book.eventOpen = false;
        book.pendBidN = 0;
        book.pendAskN = 0;
        book.snapSeq = -1;
      }
    }
    return n;
  }
}
