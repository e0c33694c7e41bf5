/**
 * Subscriber of the feeder wire v1 feed (docs/wire-protocol.md §6): joins multicast groups with node:dgram
 * (SO_REUSEADDR so several subscribers per host, a large SO_RCVBUF), tracks session and sequence per
 * (channel, source), detects gaps and publisher restarts, rebuilds books from snapshots and deltas and marks a
 * book invalid from a gap until its next snapshot. Garbage datagrams are counted and reported, never thrown.
 *
 * The receive path copies each datagram into one reused buffer and decodes it with flyweights; it allocates only
 * for new streams, new books, definitions and error reports. This file holds the sockets and the per-stream
 * sequencing; instrument-books.ts applies the messages to books, listeners.ts calls the listeners, and
 * subscriber-types.ts has the public shapes.
 * @module
 */
import dgram from "node:dgram";
import { nowUs } from "../core/clock.ts";
import { DecodeErrorCode, PacketReader, WireDecodeError } from "../wire/decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  DEFAULT_MAX_DATAGRAM_BYTES,
  PKT_FLAG_END_OF_SESSION,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "../wire/layout.ts";
import { InstrumentBooks } from "./instrument-books.ts";
import { Listeners } from "./listeners.ts";
import type { SubscriberBook } from "./subscriber-book.ts";
import type {
  FeedSubscriberEvents,
  FeedSubscriberOptions,
  GapEvent,
  GroupSpec,
  SessionEvent,
  StaleEvent,
  StreamInfo,
  SubscriberCounters,
  UpdateEvent,
} from "./subscriber-types.ts";

export type {
  FeedSubscriberEvents,
  FeedSubscriberOptions,
  GapEvent,
  GroupSpec,
  SessionEvent,
  StaleEvent,
  StatusEvent,
  StreamInfo,
  SubscriberCounters,
  SubscriberErrorEvent,
  UpdateEvent,
  UpdateKind,
} from "./subscriber-types.ts";

const DEFAULT_RECV_BUFFER_BYTES = 8 * 1024 * 1024;
const DEFAULT_STALE_AFTER_MS = 3000;

function streamKeyOf(channelId: number, sourceId: number): number {
  return channelId * 65536 + sourceId;
}

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
  readonly books: Map<number, SubscriberBook>;
  private readonly opts: Required<Omit<FeedSubscriberOptions, "groups">> & { groups: GroupSpec[] };
  private readonly streams = new Map<number, StreamInfo>();
  private readonly listeners = new Listeners(this.counters);
  private readonly instrumentBooks = new InstrumentBooks(this.counters, this.listeners);
  private readonly sockets: dgram.Socket[] = [];
  private readonly rxBytes = new Uint8Array(ABS_MAX_DATAGRAM_BYTES + 8);
  private readonly rxView = new DataView(this.rxBytes.buffer);
  private readonly reader = new PacketReader();
  /** instrumentBooks.updateEvent: its packet fields are set here, once per packet. */
  private readonly updateEvent: UpdateEvent;
  private staleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: FeedSubscriberOptions) {
    this.opts = {
      groups: opts.groups,
      recvBufferBytes: opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES,
      staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      maxDatagramBytes: opts.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES,
    };
    this.books = this.instrumentBooks.books;
    this.updateEvent = this.instrumentBooks.updateEvent;
  }

  on<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    this.listeners.add(event, listener);
    return this;
  }

  off<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    this.listeners.remove(event, listener);
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
      socket.on("error", (err: Error) => this.listeners.reportError(err, ""));
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
      this.reject(DecodeErrorCode.OVERSIZED, length, from, -1);
      return;
    }
    this.rxBytes.set(bytes);
    this.process(length, recvTimeUs, from, -1);
  }

  private onSocketMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const recvTimeUs = nowUs();
    const length = msg.length;
    this.counters.datagrams++;
    this.counters.bytes += length;
    if (length > this.rxBytes.length) {
      this.reject(DecodeErrorCode.OVERSIZED, length, rinfo.address, rinfo.port);
      return;
    }
    msg.copy(this.rxBytes, 0, 0, length);
    this.process(length, recvTimeUs, rinfo.address, rinfo.port);
  }

  /** fromPort −1: `from` is already the whole label (ingest); otherwise errors say "address:port", built only then. */
  private process(length: number, recvTimeUs: number, from: string, fromPort: number): void {
    const r = this.reader;
    let rc: DecodeErrorCode;
    try {
      rc = r.wrap(this.rxView, length, this.opts.maxDatagramBytes);
    } catch {
      rc = DecodeErrorCode.TRUNCATED; // defensive: a DataView range error must never escape the receive loop
    }
    if (rc !== DecodeErrorCode.OK) {
      this.reject(rc, length, from, fromPort);
      return;
    }
    try {
      this.processPacket(r, recvTimeUs);
    } catch (err) {
      // A listener threw, or a bug: report and keep receiving.
      this.listeners.reportError(err instanceof Error ? err : new Error(String(err)), fromPort < 0 ? from : `${from}:${fromPort}`);
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
      this.instrumentBooks.invalidateStream(key, true);
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
        this.instrumentBooks.invalidateStream(key, false);
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

    const books = this.instrumentBooks;
    for (let more = r.first(); more; more = r.next()) {
      if (r.messageIndex < skip) continue;
      this.counters.messages++;
      const templateId = r.templateId;
      if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_STATUS) {
        books.onBookEvent(r, key, templateId, sendTimeUs);
      } else if (templateId === TEMPLATE_BOOK_SNAPSHOT) {
        books.onSnapshotChunk(r, key, sendTimeUs);
      } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
        books.onDefinition(r);
      } else {
        this.counters.unknownTemplates++;
      }
    }
  }

  private gap(st: StreamInfo, key: number, got: number): void {
    const lost = got - st.nextSeq;
    this.counters.gaps++;
    this.counters.lostMessages += lost;
    const booksInvalidated = this.instrumentBooks.invalidateStream(key, false);
    const e: GapEvent = {
      channelId: st.channelId,
      sourceId: st.sourceId,
      sessionId: st.sessionId,
      expected: st.nextSeq,
      got,
      lost,
      booksInvalidated,
    };
    for (const l of this.listeners.gap) this.listeners.call(l, e);
  }

  private checkStale(): void {
    const nowMs = Date.now();
    const limit = this.opts.staleAfterMs;
    for (const [key, st] of this.streams) {
      if (st.stale || st.ended || nowMs - st.lastRecvMs < limit) continue;
      st.stale = true;
      this.instrumentBooks.invalidateStream(key, false);
      const e: StaleEvent = { channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, silentMs: nowMs - st.lastRecvMs };
      for (const l of this.listeners.stale) this.listeners.call(l, e);
    }
  }

  private emitSession(kind: SessionEvent["kind"], st: StreamInfo, previousSessionId: number | undefined): void {
    const e: SessionEvent = { kind, channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, previousSessionId };
    for (const l of this.listeners.session) this.listeners.call(l, e);
  }

  private reject(code: DecodeErrorCode, length: number, from: string, fromPort: number): void {
    this.counters.errors++;
    if (this.listeners.error.length > 0) this.listeners.reportError(new WireDecodeError(code, length), fromPort < 0 ? from : `${from}:${fromPort}`);
  }
}
