/**
 * Subscriber of the feeder wire v1 feed (docs/wire-protocol.md §6): joins multicast groups with node:dgram
 * (SO_REUSEADDR so several subscribers per host, a large SO_RCVBUF), tracks session and sequence per
 * (channel, source), detects gaps and publisher restarts, rebuilds books from snapshots and deltas and marks a
 * book invalid from a gap until its next snapshot. Garbage datagrams are counted and reported, never thrown.
 *
 * The receive path copies each datagram into one reused buffer and decodes it with flyweights; it allocates only
 * for new streams, new books, definitions and error reports.
 * @module
 */
import dgram from "node:dgram";
import { nowUs } from "../core/clock.ts";
import { BookState, MARKET_IDS, VENUE_IDS, type Instrument, type MarketName, type StatusReason, type VenueName } from "../core/types.ts";
import { BookMessageReader, DecodeErrorCode, DefinitionReader, PacketReader, WireDecodeError } from "../wire/decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  DEFAULT_MAX_DATAGRAM_BYTES,
  MSG_FLAG_LAST,
  MSG_FLAG_REFRESH,
  PKT_FLAG_END_OF_SESSION,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "../wire/layout.ts";
import { SubscriberBook, UNKNOWN_NAME } from "./subscriber-book.ts";

export interface GroupSpec {
  group: string;
  port: number;
  /** Local interface address to join on. Defaults to "127.0.0.1". */
  iface?: string;
}

export interface FeedSubscriberOptions {
  groups: GroupSpec[];
  /** SO_RCVBUF request (the kernel doubles it). Defaults to 8 MiB. */
  recvBufferBytes?: number;
  /** A (channel, source) silent this long is reported stale and its books invalid. Defaults to 3000; 0 disables. */
  staleAfterMs?: number;
  /** Largest datagram accepted; must be ≥ the publisher's maxDatagramBytes. Defaults to 1400. */
  maxDatagramBytes?: number;
}

export type UpdateKind = "delta" | "snapshot" | "status";

/** Passed to 'update' listeners. The object is reused: copy what you keep beyond the callback. */
export interface UpdateEvent {
  kind: UpdateKind;
  instrument: Instrument;
  book: SubscriberBook;
  /** Receive time minus the packet's send time, µs (cross-host: includes clock offset). */
  latencyUs: number;
  sendTimeUs: number;
  recvTimeUs: number;
  channelId: number;
  sourceId: number;
  /** The snapshot was a periodic refresh. */
  refresh: boolean;
}
export interface GapEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  /** Channel sequence number expected next. */
  expected: number;
  /** Sequence number received instead. */
  got: number;
  /** Messages lost (got − expected). */
  lost: number;
  /** Books invalidated by this gap. */
  booksInvalidated: number;
}
export interface SessionEvent {
  kind: "new" | "restarted" | "ended";
  channelId: number;
  sourceId: number;
  sessionId: number;
  previousSessionId: number | undefined;
}
export interface StatusEvent {
  book: SubscriberBook;
  state: BookState;
  reason: StatusReason;
  previousState: BookState;
}
export interface StaleEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  silentMs: number;
}
export interface SubscriberErrorEvent {
  /** A WireDecodeError for a rejected datagram (see its `code`); a plain Error for socket or listener failures. */
  error: WireDecodeError | Error;
  /** "address:port" of the sender when known. */
  from: string;
}

export interface FeedSubscriberEvents {
  update: (e: UpdateEvent) => void;
  gap: (e: GapEvent) => void;
  session: (e: SessionEvent) => void;
  status: (e: StatusEvent) => void;
  stale: (e: StaleEvent) => void;
  definition: (book: SubscriberBook) => void;
  error: (e: SubscriberErrorEvent) => void;
}

export interface SubscriberCounters {
  datagrams: number;
  bytes: number;
  heartbeats: number;
  messages: number;
  /** Datagrams rejected by the decoder. */
  errors: number;
  /** Channel gaps detected (events), and messages lost in them. */
  gaps: number;
  lostMessages: number;
  /** Datagrams or messages received twice (sequence already seen). */
  duplicates: number;
  /** Messages with a template id this subscriber does not know (skipped). */
  unknownTemplates: number;
  /** Per-instrument instrSeq jumps. */
  instrSeqJumps: number;
  /** Snapshot chunk sets abandoned (missing or out-of-order chunk). */
  snapshotsAbandoned: number;
  /** Exceptions thrown by event listeners (caught and reported as 'error'). */
  listenerErrors: number;
}

export interface StreamInfo {
  channelId: number;
  sourceId: number;
  sessionId: number;
  nextSeq: number;
  lastRecvMs: number;
  stale: boolean;
  ended: boolean;
}

const DEFAULT_RECV_BUFFER_BYTES = 8 * 1024 * 1024;
const DEFAULT_STALE_AFTER_MS = 3000;

function streamKeyOf(channelId: number, sourceId: number): number {
  return channelId * 65536 + sourceId;
}

const VENUE_BY_ID = new Map<number, string>(Object.entries(VENUE_IDS).map(([k, v]) => [v, k]));
const MARKET_BY_ID = new Map<number, string>(Object.entries(MARKET_IDS).map(([k, v]) => [v, k]));

export class FeedSubscriber {
  readonly counters: SubscriberCounters = {
    datagrams: 0,
    bytes: 0,
    heartbeats: 0,
    messages: 0,
    errors: 0,
    gaps: 0,
    lostMessages: 0,
    duplicates: 0,
    unknownTemplates: 0,
    instrSeqJumps: 0,
    snapshotsAbandoned: 0,
    listenerErrors: 0,
  };
  /** Books by instrumentId. */
  readonly books: Map<number, SubscriberBook> = new Map();
  private readonly opts: Required<Omit<FeedSubscriberOptions, "groups">> & { groups: GroupSpec[] };
  private readonly streams = new Map<number, StreamInfo>();
  private readonly listeners: { [K in keyof FeedSubscriberEvents]: FeedSubscriberEvents[K][] } = {
    update: [],
    gap: [],
    session: [],
    status: [],
    stale: [],
    definition: [],
    error: [],
  };
  private readonly sockets: dgram.Socket[] = [];
  private readonly rxBytes = new Uint8Array(ABS_MAX_DATAGRAM_BYTES + 8);
  private readonly rxView = new DataView(this.rxBytes.buffer);
  private readonly reader = new PacketReader();
  private readonly bookReader = new BookMessageReader();
  private readonly defReader = new DefinitionReader();
  private readonly updateEvent: UpdateEvent;
  private staleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: FeedSubscriberOptions) {
    this.opts = {
      groups: opts.groups,
      recvBufferBytes: opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES,
      staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      maxDatagramBytes: opts.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES,
    };
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

  on<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    this.listeners[event].push(listener);
    return this;
  }

  off<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    const list = this.listeners[event] as FeedSubscriberEvents[K][];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Binds and joins every group. Rejects if a socket cannot bind or join. */
  async start(): Promise<void> {
    for (const g of this.opts.groups) {
      const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: this.opts.recvBufferBytes });
      this.sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        socket.once("error", onError);
        // Binding to the group address (Linux) receives only that group's datagrams on this port.
        socket.bind({ port: g.port, address: g.group, exclusive: false }, () => {
          socket.off("error", onError);
          resolve();
        });
      });
      socket.addMembership(g.group, g.iface ?? "127.0.0.1");
      socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onSocketMessage(msg, rinfo));
      socket.on("error", (err: Error) => this.reportError(err, ""));
    }
    const staleMs = this.opts.staleAfterMs;
    if (staleMs > 0) {
      this.staleTimer = setInterval(() => this.checkStale(), Math.max(10, Math.floor(staleMs / 4)));
      this.staleTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    if (this.staleTimer !== undefined) clearInterval(this.staleTimer);
    this.staleTimer = undefined;
    const closing = this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    this.sockets.length = 0;
    await Promise.all(closing);
  }

  /** Effective SO_RCVBUF of each socket (the kernel reports double the request). */
  recvBufferSizes(): number[] {
    return this.sockets.map((s) => s.getRecvBufferSize());
  }

  book(instrumentId: number): SubscriberBook | undefined {
    return this.books.get(instrumentId);
  }

  /** Sequencing state per (channel, source). */
  streamInfo(): StreamInfo[] {
    return [...this.streams.values()].map((s) => ({ ...s }));
  }

  /**
   * Processes one datagram as if received from the network (the socket path calls this; tests and replays may too).
   * Never throws for bad input: it is counted and reported as an 'error' event.
   */
  ingest(bytes: Uint8Array, recvTimeUs: number = nowUs(), from = ""): void {
    const length = bytes.byteLength;
    this.counters.datagrams++;
    this.counters.bytes += length;
    if (length > this.rxBytes.length) {
      this.reject(DecodeErrorCode.OVERSIZED, length, from);
      return;
    }
    this.rxBytes.set(bytes);
    this.process(length, recvTimeUs, from);
  }

  private onSocketMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const recvTimeUs = nowUs();
    const length = msg.length;
    this.counters.datagrams++;
    this.counters.bytes += length;
    if (length > this.rxBytes.length) {
      this.reject(DecodeErrorCode.OVERSIZED, length, rinfo.address + ":" + rinfo.port);
      return;
    }
    msg.copy(this.rxBytes, 0, 0, length);
    this.process(length, recvTimeUs, rinfo.address);
  }

  private process(length: number, recvTimeUs: number, from: string): void {
    const r = this.reader;
    let rc: DecodeErrorCode;
    try {
      rc = r.wrap(this.rxView, length, this.opts.maxDatagramBytes);
    } catch {
      rc = DecodeErrorCode.TRUNCATED; // defensive: a DataView range error must never escape the receive loop
    }
    if (rc !== DecodeErrorCode.OK) {
      this.reject(rc, length, from);
      return;
    }
    try {
      this.processPacket(r, recvTimeUs);
    } catch (err) {
      // A listener threw, or a bug: report and keep receiving.
      this.reportError(err instanceof Error ? err : new Error(String(err)), from);
    }
  }

  private processPacket(r: PacketReader, recvTimeUs: number): void {
    const channelId = r.channelId;
    const sourceId = r.sourceId;
    const sessionId = r.sessionId;
    const seqNum = r.seqNum;
    const msgCount = r.msgCount;
    const key = streamKeyOf(channelId, sourceId);
    let st = this.streams.get(key);
    if (st === undefined) {
      st = { channelId, sourceId, sessionId, nextSeq: seqNum, lastRecvMs: Date.now(), stale: false, ended: false };
      this.streams.set(key, st);
      this.emitSession("new", st, undefined);
    } else if (st.sessionId !== sessionId) {
      const previous = st.sessionId;
      st.sessionId = sessionId;
      st.nextSeq = seqNum;
      st.ended = false;
      this.invalidateStream(key, true);
      this.emitSession("restarted", st, previous);
    }
    st.lastRecvMs = Date.now();
    st.stale = false;

    if (msgCount === 0) {
      this.counters.heartbeats++;
      if (seqNum > st.nextSeq) this.gap(st, key, seqNum);
      if (seqNum >= st.nextSeq) st.nextSeq = seqNum;
      if ((r.flags & PKT_FLAG_END_OF_SESSION) !== 0 && !st.ended) {
        st.ended = true;
        this.invalidateStream(key, false);
        this.emitSession("ended", st, sessionId);
      }
      return;
    }

    let skip = 0;
    if (seqNum > st.nextSeq) {
      this.gap(st, key, seqNum);
    } else if (seqNum < st.nextSeq) {
      if (seqNum + msgCount <= st.nextSeq) {
        this.counters.duplicates++;
        return;
      }
      skip = st.nextSeq - seqNum; // partial overlap: only the unseen tail
      this.counters.duplicates++;
    }
    st.nextSeq = seqNum + msgCount;

    const sendTimeUs = r.sendTimeUs;
    const ev = this.updateEvent;
    ev.sendTimeUs = sendTimeUs;
    ev.recvTimeUs = recvTimeUs;
    ev.latencyUs = recvTimeUs - sendTimeUs;
    ev.channelId = channelId;
    ev.sourceId = sourceId;

    for (let more = r.first(); more; more = r.next()) {
      if (r.messageIndex < skip) continue;
      this.counters.messages++;
      const templateId = r.templateId;
      if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_STATUS) {
        this.onBookEvent(r, key, templateId, sendTimeUs);
      } else if (templateId === TEMPLATE_BOOK_SNAPSHOT) {
        this.onSnapshotChunk(r, key, sendTimeUs);
      } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
        this.onDefinition(r);
      } else {
        this.counters.unknownTemplates++;
      }
    }
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
  private onBookEvent(r: PacketReader, key: number, templateId: number, sendTimeUs: number): void {
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
    book.instrSeq = seq;
    book.venueSeq = m.venueSeq;
    book.tsExchangeUs = m.tsExchangeUs;
    book.tsEventUs = m.tsEventUs;
    book.tsRecvUs = m.tsRecvUs;
    const previousState = book.state;
    book.state = m.state as BookState;
    book.reason = m.reason as StatusReason;
    if (previousState !== book.state && this.listeners.status.length > 0) {
      const e: StatusEvent = { book, state: book.state, reason: book.reason, previousState };
      for (const l of this.listeners.status) this.call(l, e);
    }
    this.emitUpdate(isDelta ? "delta" : "status", book, sendTimeUs, false);
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

  private onSnapshotChunk(r: PacketReader, key: number, sendTimeUs: number): void {
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
    book.instrSeq = seq;
    book.venueSeq = m.venueSeq;
    book.tsExchangeUs = m.tsExchangeUs;
    book.tsEventUs = m.tsEventUs;
    book.tsRecvUs = m.tsRecvUs;
    const previousState = book.state;
    book.state = m.state as BookState;
    book.reason = m.reason as StatusReason;
    book.valid = true;
    if (previousState !== book.state && this.listeners.status.length > 0) {
      const e: StatusEvent = { book, state: book.state, reason: book.reason, previousState };
      for (const l of this.listeners.status) this.call(l, e);
    }
    this.emitUpdate("snapshot", book, sendTimeUs, refresh);
  }

  // Cold: definitions arrive on registration and once per refresh cycle.
  private onDefinition(r: PacketReader): void {
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
    for (const l of this.listeners.definition) this.call(l, book);
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
        this.listenerFailed(err);
      }
    }
  }

  private gap(st: StreamInfo, key: number, got: number): void {
    const lost = got - st.nextSeq;
    this.counters.gaps++;
    this.counters.lostMessages += lost;
    const booksInvalidated = this.invalidateStream(key, false);
    const e: GapEvent = {
      channelId: st.channelId,
      sourceId: st.sourceId,
      sessionId: st.sessionId,
      expected: st.nextSeq,
      got,
      lost,
      booksInvalidated,
    };
    for (const l of this.listeners.gap) this.call(l, e);
  }

  private invalidate(book: SubscriberBook): boolean {
    if (!book.valid) return false;
    book.valid = false;
    book.invalidations++;
    return true;
  }

  /** Invalidates every book last updated by the stream; `restart` also forgets their instrSeq (new numbering). */
  private invalidateStream(key: number, restart: boolean): number {
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

  private checkStale(): void {
    const nowMs = Date.now();
    const limit = this.opts.staleAfterMs;
    for (const [key, st] of this.streams) {
      if (st.stale || st.ended || nowMs - st.lastRecvMs < limit) continue;
      st.stale = true;
      this.invalidateStream(key, false);
      const e: StaleEvent = { channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, silentMs: nowMs - st.lastRecvMs };
      for (const l of this.listeners.stale) this.call(l, e);
    }
  }

  private emitSession(kind: SessionEvent["kind"], st: StreamInfo, previousSessionId: number | undefined): void {
    const e: SessionEvent = { kind, channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, previousSessionId };
    for (const l of this.listeners.session) this.call(l, e);
  }

  /** Calls a cold-path listener; a throwing listener is reported and never corrupts sequencing state. */
  private call<T>(listener: (e: T) => void, e: T): void {
    try {
      listener(e);
    } catch (err) {
      this.listenerFailed(err);
    }
  }

  private listenerFailed(err: unknown): void {
    this.counters.listenerErrors++;
    this.reportError(err instanceof Error ? err : new Error(String(err)), "listener");
  }

  private reject(code: DecodeErrorCode, length: number, from: string): void {
    this.counters.errors++;
    if (this.listeners.error.length > 0) this.reportError(new WireDecodeError(code, length), from);
  }

  private reportError(error: WireDecodeError | Error, from: string): void {
    for (const l of this.listeners.error) {
      try {
        l({ error, from });
      } catch {
        // an error listener must not break the receive loop
      }
    }
  }
}
