/**
 * Per-instrument book state of the subscriber (docs/wire-protocol.md §6, steps 5–7): sessions per instrument,
 * instrSeq checks, split-delta and snapshot assembly per instrument (any channel may supply a part or chunk),
 * refresh repair, exponent changes and the memory caps. Stream-level sequencing is in feed-subscriber.ts.
 *
 * HOT PATH: onBookEvent and onSnapshotChunk run per message; they read the packet through flyweights and allocate
 * only for new books, scratch growth (bounded, see assembly.ts) and cold events (status, repair, supersede, …).
 * @module
 */
import type { Ladder } from "../book/ladder.ts";
import { ReportLimit } from "../core/report-limit.ts";
import { BookState, type StatusReason } from "../core/types.ts";
import { BookMessageReader, DefinitionReader, type PacketReader } from "../wire/decoder.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE, MSG_FLAG_REFRESH, SNAP_CUT_ASKS, SNAP_CUT_BIDS, SNAP_CUT_DEFINED, TEMPLATE_BOOK_DELTA } from "../wire/layout.ts";
import { AppendResult, AssemblyBudget, sameAsSnapshot, snapshotCut } from "./assembly.ts";
import { BookList } from "./book-list.ts";
import { applyDefinition } from "./definitions.ts";
import type { Listeners } from "./listeners.ts";
import { compareSessions, SEND_AHEAD_MAX_US, type StreamRef, type StreamTable, undoneBy } from "./streams.ts";
import { type LeftHigh, SubscriberBook } from "./subscriber-book.ts";
import type { EvictEvent, StatusEvent, SubscriberCounters, UpdateEvent, UpdateKind } from "./subscriber-types.ts";

const NO_LEVELS = new Float64Array(0);
/**
 * An unfinished assembly no part or chunk reached for this long (receive time) is dead — a real chunk set or split
 * delta arrives in one burst — and is dropped when another one needs its room in maxAssemblyLevels.
 */
export const STALE_ASSEMBLY_MS = 10_000;
// SEND_AHEAD_MAX_US (streams.ts): a send time further ahead than this of what the receive clock makes plausible is
// not trusted as an order (a forged one far ahead, no key): the event that set a book's highSeq counts as sent at its
// receive time + this + how far the snapshot weighed against it is sent ahead of its own receipt (refuseOlder).
export { SEND_AHEAD_MAX_US };
/** Streams whose refused older snapshots a book remembers at once (SubscriberBook.olderMarks). */
const OLDER_MARKS = 4;
/**
 * Sessions left whose highSeq a book remembers (SubscriberBook.leftHighs): the confirmed one and the provisional ones
 * a revert may go back to (a publisher restarted twice quickly, a bogus header after that); a forger cycling more
 * sessions, each with an event of the book, pushes the oldest out.
 */
const LEFT_HIGHS = 4;
/** Snapshots refused for a repeated price are said in an 'error' at once, then at most once per this (with the count since). */
const REPEAT_REPORT_MS = 5000;

export interface BookLimits {
  /** The publisher's publish.snapshot_depth (0: snapshots carry whole books). */
  snapshotDepth: number;
  maxBooks: number;
  maxLevelsPerSide: number;
  maxAssemblyLevels: number;
  maxBookLevels: number;
}

/** What both book-message readers carry for the event as a whole. */
interface EventHeader {
  readonly venueSeq: number;
  readonly tsExchangeUs: number;
  readonly tsEventUs: number;
  readonly tsRecvUs: number;
  readonly state: number;
  readonly reason: number;
}

export class InstrumentBooks {
  /** Books by instrumentId. */
  readonly books: Map<number, SubscriberBook> = new Map();
  /**
   * The one 'update' event object, reused for every update. The caller sets the packet fields (times, channel,
   * source) once per packet; emitUpdate sets the rest.
   */
  readonly updateEvent: UpdateEvent;
  readonly budget: AssemblyBudget;
  private readonly bookReader = new BookMessageReader();
  private readonly defReader = new DefinitionReader();
  /**
   * The packet being applied is a retransmitted piece of a gap still asked for (recovery.ts): the books it touches
   * stay held (stale, not usable) until the whole range and the datagrams held behind it are applied.
   */
  applyingRetransmit = false;
  /**
   * The stream (its key) has a retransmission request open and is of `st`'s session (recovery.ts; set by
   * FeedSubscriber): a book it carries stays its, held, when `st` (another channel) carries it meanwhile.
   */
  heldFor: ((key: number, st: StreamRef) => boolean) | undefined = undefined;
  /**
   * stop() was called, and neither start() nor ingest() since: nothing watches the books, so a message still applied
   * (the rest of the datagram under way when a listener called stop(), held ones replayed) leaves its book stale.
   */
  stopped = false;
  /**
   * The receipt of the datagram being applied on the subscriber's receipt clock (mono-clock.ts monoEpochUs; set by
   * FeedSubscriber per datagram; for a held one replayed, the latest receipt): what assemblies are aged by. Not updateEvent.recvTimeUs: that is shown, on the wall
   * clock, which a step moves (an hour forward dropped every assembly under way as untouched for an hour).
   */
  recvUs = 0;
  /** Levels in all books together, both sides (against limits.maxBookLevels). */
  levelsHeld = 0;
  /** The streams (set by StreamTable): whose books may be evicted when the book table is full (evictSilentBook). */
  streamTable: Pick<StreamTable, "streams" | "silentEpoch" | "sessionAlive"> | undefined;
  /**
   * The books a full table may evict (stream gone first, then silent longest), listed once per StreamTable.silentEpoch
   * a full table needs room in, then taken in order: a scan per new id cost O(books) per datagram of a flood.
   */
  private readonly silentBooks: SubscriberBook[] = [];
  private silentNext = 0;
  private silentListed = -1;
  /**
   * The books of each source (SubscriberBook.sourceId; none listed for −1), exact at every change of it (setSource)
   * and eviction: a new session of a source walks its own books, not the table. A scan of every book per new session
   * let a LAN sender cycling session ids for one real source id (no key) cost O(books) per datagram.
   */
  private readonly sourceBooks = new Map<number, BookList>();
  /** Orders the sessions books left (LeftHigh.leftAt): the entry left longest ago is the one reused. */
  private leftTick = 0;
  /** Snapshots refused for listing a price twice, said at most once per REPEAT_REPORT_MS (repeatedPrice). */
  private readonly repeatReports = new ReportLimit(REPEAT_REPORT_MS);

  constructor(
    private readonly counters: SubscriberCounters,
    private readonly listeners: Listeners,
    private readonly limits: BookLimits,
  ) {
    this.budget = new AssemblyBudget(limits.maxAssemblyLevels, limits.maxLevelsPerSide);
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

  private bookFor(id: number, priceExp: number, qtyExp: number): SubscriberBook | undefined {
    const book = this.books.get(id);
    if (book !== undefined) return book;
    if (this.books.size >= this.limits.maxBooks && !this.evictSilentBook()) {
      this.counters.booksOverCap++; // forged or unexpected ids cannot grow the heap without bound
      return undefined;
    }
    const created = new SubscriberBook(id, priceExp, qtyExp);
    this.books.set(id, created);
    return created;
  }

  /**
   * Cold (the book table is full and a new id came): the book whose stream has been silent longest leaves the table
   * — one whose stream left it (or never had one) first, then one whose stream the stale check found silent; false
   * when every book's stream is live (the new id is then refused). Without this, ids forged once (no HMAC key) held
   * the table for good: a new instrument of a real publisher was never taken.
   */
  private evictSilentBook(): boolean {
    const table = this.streamTable;
    if (table === undefined) return false;
    const order = this.silentBooks;
    if (this.silentListed !== table.silentEpoch) {
      this.silentListed = table.silentEpoch;
      this.silentNext = order.length = 0;
      for (const book of this.books.values()) if (silentSinceMs(table, book) < Infinity) order.push(book);
      order.sort((a, b) => silentSinceMs(table, a) - silentSinceMs(table, b) || 0); // stable; −∞ − −∞ is NaN
    }
    while (this.silentNext < order.length) {
      const book = order[this.silentNext++]!;
      if (this.books.get(book.instrumentId) !== book || silentSinceMs(table, book) === Infinity) continue; // gone, or its stream spoke
      this.evictBook(book, table.streams.get(book.streamKey)?.channelId ?? -1, book.sourceId);
      return true;
    }
    return false;
  }

  /**
   * Cold: a stream left the table (StreamTable.evictSilent): every book it carried last goes with it — of `books`, the
   * ones it carried when listed silent (none can have come since).
   */
  evictStream(st: StreamRef, books: Iterable<SubscriberBook>): void {
    for (const book of books) {
      if (book.streamKey === st.key && this.books.get(book.instrumentId) === book) this.evictBook(book, st.channelId, st.sourceId);
    }
  }

  /**
   * Cold: the book leaves the table (a new one may take its id later). Whoever holds it sees it emptied, invalid and
   * stale, never usable again: nothing reaches it any more. 'evict' event, `booksEvicted`.
   */
  private evictBook(book: SubscriberBook, channelId: number, sourceId: number): void {
    this.books.delete(book.instrumentId);
    this.leaveSource(book); // its sourceId stays what it was: the holder may still read it
    this.counters.booksEvicted++;
    this.invalidate(book);
    book.stale = true;
    this.levelsHeld -= book.bidCount + book.askCount;
    book.bids.loadSorted(NO_LEVELS, NO_LEVELS, 0); // gives back a deep side's overflow arrays too
    book.asks.loadSorted(NO_LEVELS, NO_LEVELS, 0);
    book.asmSeq = -1;
    book.snapSeq = -1;
    this.budget.release(book);
    const e: EvictEvent = { book, channelId, sourceId };
    for (const l of this.listeners.evict) this.listeners.call(l, e);
  }

  /**
   * The instrument's session: a message of an older session than the book's is dropped; a newer one supersedes
   * the book at once (whatever channel it came on). False = drop the message. `sendTimeUs`: its datagram's (movedHere).
   */
  private admitSession(book: SubscriberBook, st: StreamRef, sendTimeUs: number): boolean {
    // The source too: another source's equal (start, id) left the book off that source's list, and undoing that
    // source's session (revertSource walks its list) then missed it, usable with its stream gone. Such a book is
    // superseded below (moved to the source that carries it, invalid until its snapshot).
    if (book.sessionId === st.sessionId && book.sessionStartUs === st.sessionStartUs && book.sourceId === st.sourceId) {
      book.walked = false;
      return true;
    }
    if (book.sessionStartUs < 0) {
      book.sessionId = st.sessionId;
      book.sessionStartUs = st.sessionStartUs;
      this.setSource(book, st.sourceId);
      return true;
    }
    if (compareSessions(st.sessionStartUs, st.sessionId, book.sessionStartUs, book.sessionId) < 0 && !this.movedHere(book, st, sendTimeUs) && !this.ownerGone(book, st)) {
      this.counters.oldSessionMessages++;
      return false;
    }
    this.supersede(book, st);
    book.walked = false;
    return true;
  }

  /**
   * Cold: a message of another source's session older than the book's, which a restart of the book's source gave it
   * without a message of it (walked): the instrument moved to this source at that restart (workers or shards split the
   * ids anew), when the message was sent once the book's current session had begun. Each worker draws its session at
   * its own start, so the new owner's may precede the old owner's new one by µs: before 2026-12-06 every message of the
   * book from its new source was dropped as an older session's, the book never usable again. A run over by then (a
   * dead run's late datagrams, a run between held on the way past a restart) sent it earlier, so is still dropped.
   * The send time alone is asked: for a while the session also had to be newer than the last one that sent the book,
   * which says nothing across a clock step back (every run after it starts earlier) nor across hosts whose clocks
   * differ (a new owner behind the old one's clock was dropped until its own next restart); on one clock it adds
   * nothing, a run alive past the book's restart being no run over.
   */
  private movedHere(book: SubscriberBook, st: StreamRef, sendTimeUs: number): boolean {
    return book.walked && st.sourceId !== book.sourceId && sendTimeUs >= book.sessionStartUs;
  }

  /**
   * Cold: a message of another source's session older than the book's, whose own session is over here (no stream of it
   * alive: each ended or stale, or its source on another session since): the instrument moved away from a source whose
   * restart never comes (a shard removed, workers reduced) to one whose session starts earlier by its clock (another
   * host's, or every clock stepped back between the runs). Before 2026-12-06 its every message was dropped as an older
   * session's, the book never usable again. Nothing usable is taken away: a book of a session over is stale or ended.
   */
  private ownerGone(book: SubscriberBook, st: StreamRef): boolean {
    const table = this.streamTable;
    return st.sourceId !== book.sourceId && table !== undefined && !table.sessionAlive(book.sourceId, book.sessionStartUs, book.sessionId);
  }

  // Cold: a publisher restart.
  private supersede(book: SubscriberBook, st: StreamRef): void {
    const previousSessionId = book.sessionId;
    // Kept for a revert (revertSource): the newer session may be bogus, the book then back in this one.
    this.rememberHigh(book);
    book.sessionId = st.sessionId;
    book.sessionStartUs = st.sessionStartUs;
    this.setSource(book, st.sourceId);
    this.counters.superseded++;
    this.invalidate(book);
    this.forgetSequence(book);
    // A session a revert undid, taken again (it was real, the older one's datagrams late): the book applied that much of it.
    this.recallHigh(book, st.sourceId, st.sessionStartUs, st.sessionId);
    const e = { book, previousSessionId, sessionId: st.sessionId, channelId: st.channelId, sourceId: st.sourceId };
    for (const l of this.listeners.supersede) this.listeners.call(l, e);
  }

  /**
   * A stream saw a newer session of its source: every book of another (older) session of that source is superseded
   * now, not when (or if) its own next message arrives (it may have moved to another channel, or gone). Another:
   * a restart whose clock stepped back is older by start time than the dead session it replaces (streams.ts).
   */
  supersedeSource(st: StreamRef): void {
    for (let l = this.sourceBooks.get(st.sourceId)?.head ?? null; l !== null; ) {
      const book = l.book;
      l = l.next; // taken first: nothing moves a book off this source's list here (supersede keeps the source)
      if (book.sessionStartUs < 0) continue;
      if (compareSessions(st.sessionStartUs, st.sessionId, book.sessionStartUs, book.sessionId) === 0) continue;
      book.walked = true; // no message of st's session yet: the book may have moved to another source (movedHere)
      this.supersede(book, st);
    }
  }

  /**
   * The source's books last carried by stream `st` are invalid (the stream restarted): as invalidateStream, walking
   * the source's books instead of the table (a restart per datagram of a forged session flood). A book the stream
   * carried is on this source's list: an equal session of another source supersedes it too (admitSession).
   */
  invalidateSourceStream(st: StreamRef): void {
    for (let l = this.sourceBooks.get(st.sourceId)?.head ?? null; l !== null; l = l.next) {
      if (l.book.streamKey === st.key) this.invalidate(l.book);
    }
  }

  /** Cold: the book's source changes (its first session, a supersede from another source). */
  private setSource(book: SubscriberBook, sourceId: number): void {
    if (book.sourceId === sourceId) return;
    this.leaveSource(book);
    book.sourceId = sourceId;
    let to = this.sourceBooks.get(sourceId);
    if (to === undefined) this.sourceBooks.set(sourceId, (to = new BookList()));
    to.pushBack(book.sourceLink);
  }

  /** Cold: off its source's list (a new source, or the table); an emptied list goes (forged ids leave none behind). */
  private leaveSource(book: SubscriberBook): void {
    const from = this.sourceBooks.get(book.sourceId);
    if (from === undefined) return;
    from.remove(book.sourceLink);
    if (from.head === null) this.sourceBooks.delete(book.sourceId);
  }

  /**
   * Newer sessions of a source proved bogus (streams.ts): its books on a session the revert undoes (newer than the
   * one that proved it, or a run adopted after it that starts earlier, a clock-step one: undoneBy) go back to that one (invalid, sequence forgotten, until their next snapshot at or above the highest instrSeq a
   * book had applied in it, which comes back with it: forgotten with the bogus session, a lagging channel's older
   * refresh loaded the book behind what it had applied, valid and usable). Cold.
   */
  revertSource(sourceId: number, startUs: number, id: number, undone: readonly number[]): void {
    for (let l = this.sourceBooks.get(sourceId)?.head ?? null; l !== null; l = l.next) {
      const book = l.book;
      if (!undoneBy(book.sessionStartUs, book.sessionId, startUs, id, undone)) continue;
      // The undone session's too: if its datagrams come again (it was real, the older one's late), supersede takes it
      // back; forgotten, a snapshot of it sent earlier loaded the book behind what it had shown usable.
      this.rememberHigh(book);
      book.sessionId = id;
      book.sessionStartUs = startUs;
      // A walk stays on: the session gone back to is mostly a dead run whose late datagrams undid the real restart, and
      // the book's new owner may take it from there before that restart's next datagram redoes it (movedHere).
      this.invalidate(book);
      this.forgetSequence(book);
      this.recallHigh(book, sourceId, startUs, id);
    }
  }

  /**
   * Cold: the book leaves its session (supersede, revert) with a highSeq: kept, the last LEFT_HIGHS sessions so, for
   * a return to it. A session left with none (a bogus one's) keeps nothing and pushes out nothing. The entries are
   * the book's own, reused (a free one, else the one left longest ago): a forger cycling sessions, each with an
   * event of the book, allocates nothing per session change (recalled entries were spliced out and new ones made).
   */
  private rememberHigh(book: SubscriberBook): void {
    if (book.highSeq < 0) return;
    const list = (book.leftHighs ??= []);
    let e: LeftHigh | undefined;
    for (let i = 0; i < list.length && e === undefined; i++) {
      const h = list[i]!;
      if (h.seq >= 0 && h.sourceId === book.sourceId && h.sessionStartUs === book.sessionStartUs && h.sessionId === book.sessionId) e = h;
    }
    if (e === undefined && list.length < LEFT_HIGHS) list.push((e = { sourceId: -1, sessionStartUs: -1, sessionId: 0, seq: -1, sendTimeUs: 0, recvUs: 0, leftAt: 0 }));
    if (e === undefined) {
      e = list[0]!; // free (seq −1: leftAt reset to 0) or left longest ago
      for (let i = 1; i < list.length; i++) if (list[i]!.leftAt < e.leftAt) e = list[i]!;
    }
    e.sourceId = book.sourceId;
    e.sessionStartUs = book.sessionStartUs;
    e.sessionId = book.sessionId;
    e.seq = book.highSeq;
    e.sendTimeUs = book.highSendTimeUs;
    e.recvUs = book.highRecvUs;
    e.leftAt = ++this.leftTick;
  }

  /**
   * Cold: the book (its sequence forgotten) is in that session again: the highSeq it applied there comes back. Its
   * entry is freed: from here it is the book's own (proved bogus, it is forgotten, and no stale copy comes back later).
   */
  private recallHigh(book: SubscriberBook, sourceId: number, startUs: number, id: number): void {
    const list = book.leftHighs;
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const h = list[i]!;
      if (h.seq < 0 || h.sourceId !== sourceId || h.sessionStartUs !== startUs || h.sessionId !== id) continue;
      book.highSeq = h.seq;
      book.highSendTimeUs = h.sendTimeUs;
      book.highRecvUs = h.recvUs;
      h.seq = -1;
      h.leftAt = 0; // taken first for the next session left
      return;
    }
  }

  /**
   * BookDelta and BookStatus: both advance instrSeq by one per event. The parts of a split delta (same instrSeq,
   * partIndex/partCount) are assembled per instrument and applied together at the last, so a book never shows
   * half an event.
   */
  onBookEvent(r: PacketReader, st: StreamRef, templateId: number, sendTimeUs: number): void {
    const m = this.bookReader.wrap(r);
    const book = this.bookFor(m.instrumentId, m.priceExp, m.qtyExp);
    if (book === undefined || !this.admitSession(book, st, sendTimeUs)) return;
    this.carriedBy(book, st);
    const seq = m.instrSeq;
    if (book.instrSeq >= 0 && seq < book.instrSeq && book.seqStreamKey === st.key) this.sequenceBogus(book);
    const known = book.instrSeq;
    if (m.priceExp !== book.instrument.priceExp || m.qtyExp !== book.instrument.qtyExp || book.exponentsInDoubt) {
      // An old message in other units must never flip the exponents back.
      if (known >= 0 && seq <= known) {
        this.counters.duplicateEvents++;
        return;
      }
      this.exponentsFromBookMessage(book, m.priceExp, m.qtyExp);
    }
    const isDelta = templateId === TEMPLATE_BOOK_DELTA;
    const split = isDelta && m.partCount > 1;
    if (split) {
      if (!this.onPart(book, m, seq, known, st.jumpMark)) return;
    } else if (book.asmSeq >= 0 && seq > book.asmSeq) {
      this.discardAssembly(book); // that split delta will never complete: a later event is here
    }
    if (known >= 0) {
      if (seq === known && !isDelta) {
        // A BookStatus sharing the instrSeq of the event it qualifies (e.g. a crossed delta): its state only.
        this.applyEventHeader(book, m, seq, st.key, sendTimeUs);
        this.emitUpdate("status", book, sendTimeUs, false);
        return;
      }
      if (seq <= known) {
        this.counters.duplicateEvents++; // already applied (the same event on another channel, or a repeat)
        if (split) book.pendBidN = book.pendAskN = 0;
        return;
      }
      if (seq !== known + 1) {
        this.counters.instrSeqJumps++; // lost events of this instrument: the book is no longer exact
        this.invalidate(book);
      }
    }
    if (isDelta) {
      const bids = book.bids;
      const asks = book.asks;
      const before = bids.count + asks.count;
      // Levels beyond a cut snapshot's last are unknown here: not applied (SubscriberBook.bidFloorPx).
      const floor = book.bidFloorPx;
      const ceil = book.askCeilPx;
      if (split) {
        for (let i = 0, n = book.pendBidN; i < n; i++) if (book.pendBidPx[i]! >= floor) bids.set(book.pendBidPx[i]!, book.pendBidQty[i]!);
        for (let i = 0, n = book.pendAskN; i < n; i++) if (book.pendAskPx[i]! <= ceil) asks.set(book.pendAskPx[i]!, book.pendAskQty[i]!);
        book.pendBidN = book.pendAskN = 0;
        this.budget.settle(book);
      } else {
        const nb = m.bidCount;
        const na = m.askCount;
        for (let i = 0; i < nb; i++) {
          const px = m.priceAt(i);
          if (px >= floor) bids.set(px, m.qtyAt(i));
        }
        for (let i = nb, end = nb + na; i < end; i++) {
          const px = m.priceAt(i);
          if (px <= ceil) asks.set(px, m.qtyAt(i));
        }
      }
      const cap = this.limits.maxLevelsPerSide;
      if (bids.count > cap || asks.count > cap) this.overCap(book);
      const grown = bids.count + asks.count - before;
      this.levelsHeld += grown;
      if (grown > 0 && this.levelsHeld > this.limits.maxBookLevels) this.overTotal(book);
    }
    this.applyEventHeader(book, m, seq, st.key, sendTimeUs);
    this.emitUpdate(isDelta ? "delta" : "status", book, sendTimeUs, false);
  }

  /** One part of a split delta; true when it completed the event (all levels are then in the pending arrays). */
  private onPart(book: SubscriberBook, m: BookMessageReader, seq: number, known: number, jumpMark: number): boolean {
    if (known >= 0 && seq <= known) {
      this.counters.duplicateEvents++;
      return false;
    }
    const partIndex = m.partIndex;
    const partCount = m.partCount;
    if (book.asmSeq !== seq) {
      if (book.asmSeq >= 0) {
        // An older event's part while a newer one is open: dropped, unless it is the part 0 of the book's next event,
        // which replaces it: the open one could only be applied after a gap (its book invalid, this event then dropped
        // as applied). Until 2026-12-07 always dropped: a part 0 at an instrSeq forged far ahead (no key, at the
        // stream's next seqNum: no jump to undo) kept every real split delta of its book out for good.
        if (seq < book.asmSeq && (partIndex !== 0 || known < 0 || seq !== known + 1)) {
          this.counters.partsOutOfOrder++;
          return false;
        }
        this.discardAssembly(book);
      }
      if (partIndex !== 0) {
        this.counters.partsOutOfOrder++; // its start was lost on this channel; another channel may still bring it
        return false;
      }
      book.asmSeq = seq;
      book.asmJumpMark = jumpMark;
      book.asmPartCount = partCount;
      book.asmNextPart = 0;
      book.pendBidN = book.pendAskN = 0;
    } else if (partIndex !== book.asmNextPart || partCount !== book.asmPartCount) {
      if (partIndex < book.asmNextPart && partCount === book.asmPartCount) this.counters.duplicateEvents++; // the other channel's copy
      else this.counters.partsOutOfOrder++;
      return false;
    }
    const rc = this.append(book, m, false);
    if (rc !== AppendResult.OK) {
      if (rc === AppendResult.OVER_CAP) this.counters.levelsOverCap++;
      else this.counters.assemblyOverBudget++;
      this.discardAssembly(book);
      this.invalidate(book); // the event is lost for this book
      return false;
    }
    if (++book.asmNextPart < book.asmPartCount) return false;
    book.asmSeq = -1;
    return true;
  }

  onSnapshotChunk(r: PacketReader, st: StreamRef, sendTimeUs: number): void {
    const m = this.bookReader.wrap(r);
    const book = this.bookFor(m.instrumentId, m.priceExp, m.qtyExp);
    if (book === undefined || !this.admitSession(book, st, sendTimeUs)) return;
    this.carriedBy(book, st);
    const seq = m.instrSeq;
    const chunkIndex = m.chunkIndex;
    const chunkCount = m.chunkCount;
    if (book.snapSeq === seq && book.snapChunkCount === chunkCount && chunkIndex !== book.snapNextChunk) {
      // The set being assembled, out of turn: an earlier chunk is a copy (the other channel, or a repeat); a later
      // one waits, as another channel may still bring the missing chunk. Chunk 0 again from the stream that
      // started the set is a new snapshot (that stream lost part of the previous one).
      if (chunkIndex > book.snapNextChunk) {
        this.counters.partsOutOfOrder++;
        return;
      }
      if (chunkIndex !== 0 || st.key !== book.snapStreamKey) {
        this.counters.duplicateEvents++;
        return;
      }
    }
    if (chunkIndex === 0) {
      if (book.snapSeq >= 0 && seq < book.snapSeq && !book.snapKeptOlderOut && this.recvUs - book.snapTouchedUs < STALE_ASSEMBLY_MS * 1000) {
        // An older snapshot's start (a lagging channel) while a newer set is under way: dropped, its set with it (its
        // later chunks are dropped as a set whose start was lost). Until 2026-12-07 it replaced the newer set, whose
        // next chunk then ended it in turn: neither completed, the book waited for the next refresh. A set untouched
        // for STALE_ASSEMBLY_MS is dead: it no longer keeps older ones out. Nor does a set that kept one out already:
        // a lagging channel interleaves one older set with it, and a forged chunk 0 far ahead (no key), sent again
        // every few seconds, kept every real snapshot out for as long as it was sent (the book never usable again).
        book.snapKeptOlderOut = true;
        // A copy of the set completed last (the lagging channel's: the other brought it whole) is a duplicate.
        if (seq === book.snapDoneSeq && chunkCount === book.snapDoneChunkCount) this.counters.duplicateEvents++;
        else this.counters.snapshotsAbandoned++;
        return;
      }
      if (book.snapSeq >= 0) this.counters.snapshotsAbandoned++; // a new set replaces the unfinished one
      if (m.totalBidCount > this.limits.maxLevelsPerSide || m.totalAskCount > this.limits.maxLevelsPerSide) {
        this.counters.levelsOverCap++; // refused before any scratch is taken for it
        this.endSnapshot(book);
        return;
      }
      book.snapSeq = seq;
      book.snapKeptOlderOut = false;
      book.snapStreamKey = st.key;
      book.snapJumpMark = st.jumpMark;
      book.snapNextChunk = 0;
      book.snapChunkCount = chunkCount;
      book.snapFlags = r.msgFlags;
      book.snapCutFlags = m.cutFlags;
      book.snapPriceExp = m.priceExp;
      book.snapQtyExp = m.qtyExp;
      book.snapTotalBidN = m.totalBidCount;
      book.snapTotalAskN = m.totalAskCount;
      book.snapBidN = book.snapAskN = 0;
    } else if (book.snapSeq !== seq || book.snapChunkCount !== chunkCount) {
      if ((book.snapSeq < 0 || seq < book.snapSeq) && seq === book.snapDoneSeq && chunkCount === book.snapDoneChunkCount) {
        // The other channel's copy of the set just completed (its chunks interleaved with the copy that completed it,
        // or with the next set: a lagging channel; before 2026-12-07 those counted as sets abandoned).
        this.counters.duplicateEvents++;
        return;
      }
      // A chunk of another snapshot whose start was lost: dropped; a newer one ends the set being assembled.
      this.counters.snapshotsAbandoned++;
      if (book.snapSeq >= 0 && seq > book.snapSeq) this.endSnapshot(book);
      return;
    } else if (
      ((m.cutFlags ^ book.snapCutFlags) & SNAP_CUT_DEFINED) !== 0 ||
      m.totalBidCount !== book.snapTotalBidN ||
      m.totalAskCount !== book.snapTotalAskN ||
      m.priceExp !== book.snapPriceExp ||
      m.qtyExp !== book.snapQtyExp
    ) {
      // Chunks disagree on the totals, on which sides were cut (reserved cutFlags bits ignored, §1; until 2026-12-07
      // compared too) or on the units (one instrSeq has one set of exponents, §5.8; loaded, the last chunk's exponents
      // were shown over chunk 0's mantissas, valid): not one snapshot.
      this.counters.snapshotsAbandoned++;
      this.endSnapshot(book);
      return;
    }
    const rc = this.append(book, m, true);
    if (rc !== AppendResult.OK) {
      if (rc === AppendResult.OVER_CAP) this.counters.levelsOverCap++;
      else this.counters.assemblyOverBudget++;
      this.counters.snapshotsAbandoned++;
      this.endSnapshot(book);
      return;
    }
    if (++book.snapNextChunk < book.snapChunkCount) return;
    if (book.snapBidN !== book.snapTotalBidN || book.snapAskN !== book.snapTotalAskN) {
      this.counters.snapshotsAbandoned++; // chunks disagree with the announced totals
      this.endSnapshot(book);
      return;
    }
    book.snapDoneSeq = seq;
    book.snapDoneChunkCount = chunkCount;
    this.onCompleteSnapshot(book, m, st, sendTimeUs);
    this.endSnapshot(book);
  }

  /**
   * A split-delta part (chunk false) or snapshot chunk onto the book's scratch. Over the budget, the assemblies no
   * part or chunk reached for STALE_ASSEMBLY_MS are dropped and the scratch books keep between their assemblies (this
   * one's too) is taken back first (cold): counted against the budget for good, it refused every snapshot of the
   * books beyond the first ~7,800 of a publisher with 10,000, each keeping 64 levels a side, so those were never
   * usable. Only what assemblies under way hold can refuse one now. Both come off the budget's lists (assembly.ts),
   * costing what they give back: a scan of every book here made each datagram of a flood over the budget O(books).
   */
  private append(book: SubscriberBook, m: BookMessageReader, chunk: boolean): AppendResult {
    const budget = this.budget;
    const nowUs = this.recvUs;
    let rc = chunk ? budget.appendChunk(book, m) : budget.appendPart(book, m);
    if (rc === AppendResult.OVER_BUDGET) {
      const used = budget.used;
      this.dropStaleAssemblies(book, nowUs, false);
      this.dropStaleAssemblies(book, nowUs, true);
      budget.reclaimIdle();
      if (budget.used < used) rc = chunk ? budget.appendChunk(book, m) : budget.appendPart(book, m);
    }
    if (rc === AppendResult.OK) budget.touch(book, chunk, nowUs);
    return rc;
  }

  /**
   * Cold (over the budget): the split deltas (chunk false) or snapshots untouched for STALE_ASSEMBLY_MS are dropped,
   * counted in `assembliesExpired`, oldest first off the budget's list, but the one of `book` (appended to, under way).
   * Parts or chunks that never came (a forged part 1 of N, a publisher gone mid-snapshot) held their scratch until
   * the instrument's next event, for a dead or forged id never, and enough of them refused every other book's
   * snapshot. A dropped split delta is an event lost: its book is invalid until its next snapshot.
   */
  private dropStaleAssemblies(book: SubscriberBook, nowUs: number, chunk: boolean): void {
    const beforeUs = nowUs - STALE_ASSEMBLY_MS * 1000;
    let l = (chunk ? this.budget.chunks : this.budget.parts).head;
    while (l !== null) {
      const other = l.book;
      l = l.next; // before the drop takes other off the list
      if ((chunk ? other.snapTouchedUs : other.asmTouchedUs) > beforeUs) break; // the rest were touched later
      if (other === book) continue;
      this.counters.assembliesExpired++;
      if (chunk) {
        this.counters.snapshotsAbandoned++;
        this.endSnapshot(other);
      } else {
        this.discardAssembly(other);
        this.invalidate(other);
      }
    }
  }

  private onCompleteSnapshot(book: SubscriberBook, m: BookMessageReader, st: StreamRef, sendTimeUs: number): void {
    const seq = m.instrSeq;
    const refresh = (book.snapFlags & MSG_FLAG_REFRESH) !== 0;
    if (seq < book.highSeq && this.refuseOlder(book, seq, st.key, sendTimeUs)) return;
    const known = book.instrSeq;
    if (book.asmSeq >= 0 && seq >= book.asmSeq) this.discardAssembly(book);
    // Not older than the book (refused above): its exponents are current.
    if (m.priceExp !== book.instrument.priceExp || m.qtyExp !== book.instrument.qtyExp || book.exponentsInDoubt) {
      this.exponentsFromBookMessage(book, m.priceExp, m.qtyExp, true);
    }
    let repaired = false;
    let levelsDiffered = false;
    if (known >= 0 && seq === known) {
      levelsDiffered = !sameAsSnapshot(book, this.limits.snapshotDepth);
      const stateDiffered = book.state !== m.state || book.reason !== m.reason;
      // Exact at `known`: nothing to add. Only a valid book the same size: levels a valid book holds below a cut
      // side's last were never compared (a forged delta may have set one), and an invalid one may have lost a delta
      // there; either would show, usable, at a rank the publisher has otherwise once a level above is removed.
      if (!levelsDiffered && !stateDiffered && book.valid && book.bidCount === book.snapBidN && book.askCount === book.snapAskN) {
        const floor = book.bidFloorPx;
        const ceil = book.askCeilPx;
        this.takeFloors(book); // the book is the snapshot: a side no longer cut takes the deltas below it again
        // A floor it changed is news (a cut side emptied may be whole now, so the book usable): said in an update.
        if (book.bidFloorPx !== floor || book.askCeilPx !== ceil) this.emitUpdate("snapshot", book, sendTimeUs, refresh);
        return;
      }
      // Otherwise the snapshot is loaded: a book that is its top levels (a cut side thinned by removals) takes its
      // depth back, one deeper is cut back to it, an invalid one identical after all becomes valid: no repair. A book
      // never loaded (a late joiner's deltas) or that lost events of its own is loaded as well: recovery, no repair.
      // A state alone differing on a book in doubt (invalid by a channel gap) is no divergence: the gap may have lost
      // a BookStatus at this instrSeq (before 2026-12-07 it counted a repair). Levels it cannot have lost there.
      repaired = book.chained && (levelsDiffered || (stateDiffered && book.valid)); // a book must never stay wrong past one refresh
    } else if (!refresh && known >= 0 && seq !== known + 1 && book.valid) {
      this.counters.instrSeqJumps++;
    }
    const before = book.bidCount + book.askCount;
    const bidRepeat = book.bids.loadSorted(book.snapBidPx, book.snapBidQty, book.snapBidN);
    const askRepeat = book.asks.loadSorted(book.snapAskPx, book.snapAskQty, book.snapAskN);
    const grown = book.bidCount + book.askCount - before;
    this.levelsHeld += grown;
    if (bidRepeat >= 0 || askRepeat >= 0) {
      this.repeatedPrice(book, seq, st, bidRepeat, askRepeat, sendTimeUs, refresh);
      return;
    }
    if (grown > 0 && this.levelsHeld > this.limits.maxBookLevels) {
      // As a delta over it: the header taken and an update, so listeners see the book emptied and invalid now
      // (without one the last usable top of book they copied stood until the instrument's next event).
      this.overTotal(book);
      this.applyEventHeader(book, m, seq, st.key, sendTimeUs);
      this.emitUpdate("snapshot", book, sendTimeUs, refresh);
      return;
    }
    this.takeFloors(book);
    this.applyEventHeader(book, m, seq, st.key, sendTimeUs);
    book.valid = true;
    book.chained = true;
    if (repaired) {
      this.counters.repairs++;
      book.repairs++;
      const e = { book, instrSeq: seq, refresh, levelsDiffered, channelId: st.channelId, sourceId: st.sourceId };
      for (const l of this.listeners.repair) this.listeners.call(l, e);
    }
    this.emitUpdate("snapshot", book, sendTimeUs, refresh);
  }

  /**
   * Cold: the assembled snapshot lists a price twice on a side (`bidAt`/`askAt`: Ladder.loadSorted's answer, the index
   * of a repeated entry or −1), which no publisher sends (§4.4): a corrupt or forged datagram (no key). Loaded, the side
   * held the last entry's size, a guess; until 2026-12-08 it was, valid and usable. The book is emptied and invalid
   * until its next good snapshot (a refresh), as a book over a cap is; its header is not taken (its instrSeq is no
   * more to be trusted than its levels). Counted (`snapshotsRepeatingPrice`), an update telling listeners at once, and
   * said in an 'error' at once, then at most one per REPEAT_REPORT_MS with the count since.
   */
  private repeatedPrice(book: SubscriberBook, seq: number, st: StreamRef, bidAt: number, askAt: number, sendTimeUs: number, refresh: boolean): void {
    this.counters.snapshotsRepeatingPrice++;
    const side = bidAt >= 0 ? "bids" : "asks";
    const px = bidAt >= 0 ? book.snapBidPx[bidAt]! : book.snapAskPx[askAt]!;
    this.emptyInvalid(book);
    this.emitUpdate("snapshot", book, sendTimeUs, refresh);
    const n = this.repeatReports.due(this.recvUs / 1000);
    if (n === 0 || this.listeners.error.length === 0) return;
    this.listeners.reportError(
      new Error(
        `snapshot of instrument ${book.instrumentId} at instrSeq ${seq} refused: its ${side} list price ${px} ` +
          `(mantissa, priceExp ${book.instrument.priceExp}) twice, which no publisher sends (a corrupt or forged datagram); ` +
          `the book is empty and not usable until its next snapshot; ${this.repeatReports.countWords(n, "refused")}`,
      ),
      `channel ${st.channelId} source ${st.sourceId}`,
    );
  }

  /**
   * Cold: a complete snapshot older than the highest instrSeq `h` the book applied (SubscriberBook.highSeq). Within a
   * session a book never goes back: loaded, it showed the book valid (usable) behind what it had already applied, so
   * behind the publisher (a lagging second channel, a reordered or late refresh). It is refused (`olderSnapshots` on
   * a valid book, `staleSnapshots` on an invalid one, which stays invalid until a snapshot at `h` or later). Only
   * another from a stream one was refused from at this `h`, not lower than that stream's latest refused one and sent
   * later than the event that set `h` (a real snapshot below `h` was sent before the publisher reached `h`, however
   * far its channel lags), proves `h` bogus (a forged instrSeq far ahead, which no real snapshot reaches): it is then
   * forgotten and the snapshot loaded (false). Copies of one refresh on other lagging channels are no proof. The
   * streams are remembered in a ring of OLDER_MARKS, each with its latest refused instrSeq: with one mark, the first
   * refused (a forged one on a stream that never sends again, or one far ahead on the real stream) froze the book
   * for good; with one that moved, two channels alternating never brought two from one.
   */
  private refuseOlder(book: SubscriberBook, seq: number, streamKey: number, sendTimeUs: number): boolean {
    const marks = (book.olderMarks ??= new Float64Array(2 * OLDER_MARKS));
    if (book.olderSnapAtSeq !== book.highSeq) {
      marks.fill(-1);
      book.olderSnapAtSeq = book.highSeq;
      book.olderMarkNext = 0;
    }
    let i = 0;
    while (i < marks.length && marks[i] !== streamKey) i += 2;
    if (i === marks.length) {
      i = 2 * book.olderMarkNext;
      book.olderMarkNext = (book.olderMarkNext + 1) % OLDER_MARKS;
      marks[i] = streamKey;
    } else if (seq >= marks[i + 1]! && sendTimeUs > this.highSentByUs(book, sendTimeUs)) {
      this.sequenceBogus(book);
      this.forgetHigh(book);
      return false;
    }
    marks[i + 1] = seq;
    if (book.valid) this.counters.olderSnapshots++;
    else this.counters.staleSnapshots++;
    return true;
  }

  /**
   * The latest the event that set highSeq can have been sent, on the publisher's clock: its send time, but at most
   * its receive time + SEND_AHEAD_MAX_US + how far this snapshot (sent at `sendTimeUs`, received now) is ahead of the
   * receive clock. A forged send time far ahead then delays the proof by 60 s at most; a receive clock behind the
   * publisher's (the monotonic clock as of the process's start: a host clock set later, a suspend) no longer makes
   * every real refresh look sent after it: with receive time + 60 s alone, two older refreshes from one stream (a
   * quiet book's, lagging or answered into a gap) proved a real highSeq bogus and the book went back.
   */
  private highSentByUs(book: SubscriberBook, sendTimeUs: number): number {
    const aheadUs = sendTimeUs - this.recvUs; // receipt clock, as highRecvUs: a wall step between them is no time passed
    const latestUs = book.highRecvUs + SEND_AHEAD_MAX_US + (aheadUs > 0 ? aheadUs : 0);
    return book.highSendTimeUs < latestUs ? book.highSendTimeUs : latestUs;
  }

  /** highSeq proved bogus or its session over: forgotten with the refused snapshots' marks. */
  private forgetHigh(book: SubscriberBook): void {
    book.highSeq = -1;
    book.olderSnapAtSeq = -1;
  }

  /** A cut side of the assembled snapshot is known down to its last level (none: nothing of it); a whole side all the way. */
  private takeFloors(book: SubscriberBook): void {
    const depth = this.limits.snapshotDepth;
    const nb = book.snapBidN;
    const na = book.snapAskN;
    const cut = book.snapCutFlags;
    book.bidFloorPx = !snapshotCut(nb, depth, cut, SNAP_CUT_BIDS) ? -Infinity : nb > 0 ? book.snapBidPx[nb - 1]! : Infinity;
    book.askCeilPx = !snapshotCut(na, depth, cut, SNAP_CUT_ASKS) ? Infinity : na > 0 ? book.snapAskPx[na - 1]! : -Infinity;
  }

  private endSnapshot(book: SubscriberBook): void {
    book.snapSeq = -1;
    book.snapNextChunk = 0;
    book.snapBidN = book.snapAskN = 0;
    this.budget.settle(book);
  }

  private discardAssembly(book: SubscriberBook): void {
    this.counters.partialEventsDiscarded++;
    book.asmSeq = -1;
    book.pendBidN = book.pendAskN = 0;
    this.budget.settle(book);
  }

  /** The event's sequences, times and state onto the book; "status" listeners hear a change of state or reason. */
  private applyEventHeader(book: SubscriberBook, m: EventHeader, seq: number, streamKey: number, sendTimeUs: number): void {
    book.instrSeq = seq;
    if (seq > book.highSeq) {
      book.highSeq = seq;
      book.highSendTimeUs = sendTimeUs; // trusted only so far ahead of highRecvUs (highSentByUs)
      book.highRecvUs = this.recvUs; // not the shown clock: a wall step after it made a real highSeq look sent long ago
    }
    book.seqStreamKey = streamKey;
    book.venueSeq = m.venueSeq;
    book.tsExchangeUs = m.tsExchangeUs;
    book.tsEventUs = m.tsEventUs;
    book.tsRecvUs = m.tsRecvUs;
    const previousState = book.state;
    const previousReason = book.reason;
    book.state = m.state as BookState;
    book.reason = m.reason as StatusReason;
    // A new reason in the same state is news too (a book refused for good, then closed by its listing: HALTED
    // subscribe_rejected → HALTED instrument_closed); until 2026-12-07 only a state change was heard.
    if ((previousState !== book.state || previousReason !== book.reason) && this.listeners.status.length > 0) {
      const e: StatusEvent = { book, state: book.state, reason: book.reason, previousState, previousReason };
      for (const l of this.listeners.status) this.listeners.call(l, e);
    }
  }

  // Cold: definitions arrive on registration and once per refresh cycle (unchanged ones return early).
  onDefinition(r: PacketReader, st: StreamRef, sendTimeUs: number): void {
    const d = this.defReader.wrap(r);
    const id = d.instrumentId;
    const book = this.bookFor(id, d.priceExp, d.qtyExp);
    if (book === undefined) return;
    const sourceBefore = book.sourceId;
    if (!this.admitSession(book, st, sendTimeUs)) return;
    // A book only defined yet is this stream's (not moved off the one carrying its levels): with no stream, a full
    // table took it first for a new id while its stream was live (evictSilentBook), and its definition with it. So is
    // one this definition moved to its source (superseded): left on a stream of its old source, that stream's restart
    // walked the old source's list for it (invalidateSourceStream), and its silence evicted it with the new one live.
    if (book.streamKey < 0 || book.sourceId !== sourceBefore) book.streamKey = st.key;
    if (!applyDefinition(book, d, id)) return; // definitions.ts
    for (const l of this.listeners.definition) this.listeners.call(l, book);
  }

  // Cold: exponents change only when a venue redefines an instrument. `completing`: the message is the snapshot just
  // assembled (in the new units), whose levels are loaded next: its assembly is kept.
  private exponentsFromBookMessage(book: SubscriberBook, priceExp: number, qtyExp: number, completing = false): void {
    book.exponentsInDoubt = false;
    const prev = book.instrument;
    const def = book.definition;
    if (prev.priceExp === priceExp && prev.qtyExp === qtyExp) return;
    book.instrument = def !== undefined && def.priceExp === priceExp && def.qtyExp === qtyExp ? def : { ...prev, priceExp, qtyExp };
    if (book.bidCount === 0 && book.askCount === 0 && book.instrSeq < 0) return; // nothing held in the old units
    // Old mantissas are never shown under the new exponents: the book is emptied until a snapshot in the new units.
    this.counters.exponentChanges++;
    this.levelsHeld -= book.bidCount + book.askCount;
    book.bids.clear();
    book.asks.clear();
    book.bidFloorPx = -Infinity;
    book.askCeilPx = Infinity;
    this.invalidate(book);
    if (book.asmSeq >= 0) this.discardAssembly(book);
    if (book.snapSeq >= 0 && !completing) this.endSnapshot(book);
    const e = { book, previousPriceExp: prev.priceExp, previousQtyExp: prev.qtyExp, priceExp, qtyExp };
    for (const l of this.listeners.exponent) this.listeners.call(l, e);
  }

  /**
   * instrSeq went backwards on the stream that set it: impossible within a session but for §6.3's jump revert, so the
   * known one was bogus. highSeq stays (forgetHigh): after a revert it was real, and a snapshot below it is refused.
   */
  private sequenceBogus(book: SubscriberBook): void {
    this.counters.instrSeqBackwards++;
    this.invalidate(book);
    book.instrSeq = -1;
    book.seqStreamKey = -1;
    book.snapDoneSeq = -1;
  }

  /**
   * Cold: a book over maxLevelsPerSide is not kept growing. With a cap of the wire's 65,535 or more (the default),
   * which every snapshot side fits, a side over it keeps its best `cap` levels, known down to the last of them (a
   * floor, as a cut snapshot side's): still the publisher's top levels exactly, and each refresh still checks it. A
   * publisher's book deeper than 65,535 reaches the cap at every level added above the floor. A smaller cap, which
   * a refresh may not fit (so that it could never check the book), empties the book instead, invalid.
   */
  private overCap(book: SubscriberBook): void {
    const cap = this.limits.maxLevelsPerSide;
    if (cap < MAX_SNAPSHOT_LEVELS_PER_SIDE) {
      this.counters.levelsOverCap++;
      book.bids.clear();
      book.asks.clear();
      this.invalidate(book);
      return;
    }
    if (book.bids.count > cap) {
      this.counters.levelsOverCap++;
      book.bidFloorPx = keepBest(book.bids, cap);
    }
    if (book.asks.count > cap) {
      this.counters.levelsOverCap++;
      book.askCeilPx = keepBest(book.asks, cap);
    }
  }

  /**
   * Cold: the book grew all books together past maxBookLevels. It is emptied and invalid (never usable), counted in
   * `bookLevelsOverCap`; its next snapshot loads it again if the others have shrunk meanwhile. Without this cap every
   * one of maxBooks books could grow to maxLevelsPerSide a side: 10,000 × 131,070 levels, over 20 GB.
   */
  private overTotal(book: SubscriberBook): void {
    this.counters.bookLevelsOverCap++;
    this.emptyInvalid(book);
  }

  /** Cold: the book holds no level and is invalid (its events lost) until its next snapshot. */
  private emptyInvalid(book: SubscriberBook): void {
    this.levelsHeld -= book.bidCount + book.askCount;
    // Loading nothing (not clear()) also gives back a deep side's overflow arrays.
    book.bids.loadSorted(NO_LEVELS, NO_LEVELS, 0);
    book.asks.loadSorted(NO_LEVELS, NO_LEVELS, 0);
    book.bidFloorPx = -Infinity;
    book.askCeilPx = Infinity;
    this.invalidate(book);
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

  /** `eventsLost` false: the book is only in doubt (a channel gap), its own chain from a snapshot may be whole. */
  private invalidate(book: SubscriberBook, eventsLost = true): boolean {
    if (eventsLost) book.chained = false;
    if (!book.valid) return false;
    book.valid = false;
    book.invalidations++;
    return true;
  }

  /** The sequence and assemblies of a book are meaningless (new session): forget them; the levels stay, invalid. */
  private forgetSequence(book: SubscriberBook): void {
    book.instrSeq = -1;
    book.seqStreamKey = -1;
    book.snapDoneSeq = -1; // a set of the session forgotten: a later session's chunk at that instrSeq is no copy of it
    this.forgetHigh(book); // the high-water mark resets with the session
    if (book.asmSeq >= 0) this.discardAssembly(book);
    if (book.snapSeq >= 0) this.endSnapshot(book);
  }

  /**
   * Invalidates every book last carried by the stream (gap, end of session). Returns how many were valid.
   * `bogusMark` (a jump undone: StreamState.jumpMark of the line undone; 0: none): what that line began, whatever
   * stream carries its later chunks or parts, is no longer trusted. A split delta is discarded (its book is invalid
   * until its next snapshot anyway, so a real event lost there costs nothing more). A chunk set keeps no older set
   * out (snapKeptOlderOut): the next chunk 0 replaces it, while a real set (a jump that was datagrams reordered, undone
   * by the late ones) still completes with its later chunks, and loads its book.
   */
  invalidateStream(key: number, bogusMark = 0): number {
    let n = 0;
    for (const book of this.books.values()) {
      if (book.streamKey === key && this.invalidate(book, false)) n++;
      if (bogusMark === 0) continue;
      if (book.snapSeq >= 0 && book.snapJumpMark === bogusMark) book.snapKeptOlderOut = true;
      if (book.asmSeq >= 0 && book.asmJumpMark === bogusMark) this.discardAssembly(book);
    }
    return n;
  }

  /**
   * HOT: `st` carries the book now (stale as it is), unless the book's stream is held by a retransmission request
   * (§11.4): then the book stays that stream's, held until the request ends, and a fallback's gap invalidates it.
   * Before 2026-12-07 a message of the other channel of an A/B pair (a lagging copy of an event it had, too) took it,
   * usable with the gap still asked for, and a fallback's gap missed it (usable where without retransmission it was not).
   */
  private carriedBy(book: SubscriberBook, st: StreamRef): void {
    const from = book.streamKey;
    if (from !== st.key && from >= 0 && this.heldFor !== undefined && this.heldFor(from, st)) return;
    book.streamKey = st.key;
    book.stale = this.applyingRetransmit || this.stopped || st.stale;
  }

  /** Marks the stream's books stale (true) or not (false); returns how many books it carries. Cold. */
  setStreamStale(key: number, stale: boolean): number {
    let n = 0;
    for (const book of this.books.values()) {
      if (book.streamKey !== key) continue;
      book.stale = stale;
      n++;
    }
    return n;
  }
}

/** Since when the book's stream has been silent (−∞: it has none in the table; +∞: it is live). Cold. */
function silentSinceMs(table: Pick<StreamTable, "streams">, book: SubscriberBook): number {
  const st = table.streams.get(book.streamKey);
  return st === undefined ? -Infinity : st.silent ? st.lastRecvMs : Infinity;
}

/**
 * Drops the side's levels beyond its best `keep` (cold); returns the last kept price. Ladder.dropWorst takes them off
 * the overflow's front in O(1): deleted one by one through set(), each was a shift of the whole overflow (the worst
 * level is its first entry), ~35–100 µs per level added above the floor of a side ~57k levels into the overflow.
 */
function keepBest(side: Ladder, keep: number): number {
  side.dropWorst(side.count - keep); // at most the levels of the delta that went over
  return side.priceAt(keep - 1);
}
