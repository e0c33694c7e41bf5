/**
 * Subscriber of the feeder wire v2 feed (docs/wire-protocol.md §6): joins multicast groups with node:dgram
 * (SO_REUSEADDR so several subscribers per host, a large SO_RCVBUF), verifies each datagram (CRC-32C, and the HMAC
 * trailer when given a key), orders publisher sessions, tracks the channel sequence per (channel, source), rebuilds
 * books from snapshots and deltas and says which are `usable`. Garbage datagrams are counted and reported, never thrown.
 *
 * The receive path copies each datagram into one reused buffer and decodes it with flyweights; it allocates only
 * for new streams, new books, definitions, bounded scratch growth and cold events. This file holds the sockets and
 * the per-stream sequencing; instrument-books.ts applies the messages to books, listeners.ts calls the listeners,
 * and subscriber-types.ts has the public shapes. Plain Node 20 runs it too: no Bun API here or below.
 * @module
 */
import dgram from "node:dgram";
import { readAuthKeyFile, DatagramAuth } from "../wire/auth.ts";
import { DECODE_ERROR_NAMES, DecodeErrorCode, PacketReader, WireDecodeError } from "../wire/decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  DEFAULT_MAX_DATAGRAM_BYTES,
  PKT_FLAG_END_OF_SESSION,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "../wire/layout.ts";
import { compareSessions, InstrumentBooks } from "./instrument-books.ts";
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
  ExponentEvent,
  FeedSubscriberEvents,
  FeedSubscriberOptions,
  GapEvent,
  GroupSpec,
  RepairEvent,
  SessionEvent,
  StaleEvent,
  StatusEvent,
  StreamInfo,
  SubscriberCounters,
  SubscriberErrorEvent,
  SupersedeEvent,
  UpdateEvent,
  UpdateKind,
} from "./subscriber-types.ts";

const DEFAULT_RECV_BUFFER_BYTES = 8 * 1024 * 1024;
/** Without staleAfterMs, a stream is stale after this many of its advertised heartbeat intervals. */
export const STALE_HEARTBEAT_INTERVALS = 3;
/** How often the stale check runs when the limit comes from the heartbeat interval. */
const STALE_CHECK_MS = 100;
export const DEFAULT_MAX_BOOKS = 10_000;
export const DEFAULT_MAX_STREAMS = 1024;
export const DEFAULT_MAX_LEVELS_PER_SIDE = 65_535;
export const DEFAULT_MAX_ASSEMBLY_LEVELS = 2_000_000;
/**
 * Datagrams that must continue the channel sequence from before a jump, with none continuing it after the jump,
 * before the jump is undone as bogus (one forged or corrupted seqNum can then block a stream for 2 datagrams).
 */
export const SEQ_REVERT_DATAGRAMS = 2;

const ORIGIN_US = performance.timeOrigin * 1000;
/** Wall-clock µs since the epoch (as core/clock.ts, which the subscriber does not import: it must run on plain Node). */
function wallUs(): number {
  return Math.round(ORIGIN_US + performance.now() * 1000);
}

function streamKeyOf(channelId: number, sourceId: number): number {
  return channelId * 65536 + sourceId;
}

/** Per-stream state: the public StreamInfo plus the key, its source and the lines kept to undo bogus jumps. */
interface StreamState extends StreamInfo {
  key: number;
  source: SourceState;
  /** Next seq of the line before the last jump (−1: none pending), and datagrams seen continuing it. */
  altNext: number;
  altCount: number;
  /** The session before the last restart of this stream (sessionStartUs −1: none) and its next seq then. */
  prevSessionId: number;
  prevSessionStartUs: number;
  prevNextSeq: number;
}

/**
 * The newest session of one publisher source (sourceId), and while it is provisional the one it replaced. A newer
 * session supersedes at once, but until SEQ_REVERT_DATAGRAMS of its datagrams arrived it can be undone: as many
 * datagrams of the replaced session first prove it bogus (one forged or corrupted header), and everything goes back.
 */
interface SourceState {
  startUs: number;
  id: number;
  pending: boolean;
  newDatagrams: number;
  prevStartUs: number;
  prevId: number;
  oldDatagrams: number;
}

function positiveLimit(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

export class FeedSubscriber {
  readonly counters: SubscriberCounters = {
    datagrams: 0,
    bytes: 0,
    heartbeats: 0,
    messages: 0,
    errors: 0,
    rejected: Object.fromEntries(DECODE_ERROR_NAMES.slice(1).map((n) => [n, 0])),
    gaps: 0,
    lostMessages: 0,
    duplicates: 0,
    lateDatagrams: 0,
    seqJumpsReverted: 0,
    oldSessionDatagrams: 0,
    oldSessionMessages: 0,
    superseded: 0,
    sessionsReverted: 0,
    unknownTemplates: 0,
    duplicateEvents: 0,
    instrSeqJumps: 0,
    instrSeqBackwards: 0,
    olderSnapshots: 0,
    snapshotsAbandoned: 0,
    partsOutOfOrder: 0,
    partialEventsDiscarded: 0,
    repairs: 0,
    exponentChanges: 0,
    booksOverCap: 0,
    streamsOverCap: 0,
    levelsOverCap: 0,
    assemblyOverBudget: 0,
    listenerErrors: 0,
  };
  /** Books by instrumentId. */
  readonly books: Map<number, SubscriberBook>;
  private readonly groups: GroupSpec[];
  private readonly recvBufferBytes: number;
  private readonly staleAfterMs: number | undefined;
  private readonly maxDatagramBytes: number;
  private readonly maxStreams: number;
  private readonly streams = new Map<number, StreamState>();
  private readonly sources = new Map<number, SourceState>();
  private readonly listeners = new Listeners(this.counters);
  private readonly instrumentBooks: InstrumentBooks;
  private readonly sockets: dgram.Socket[] = [];
  private readonly rxBytes = new Uint8Array(ABS_MAX_DATAGRAM_BYTES + 8);
  private readonly rxView = new DataView(this.rxBytes.buffer);
  private readonly reader: PacketReader;
  /** instrumentBooks.updateEvent: its packet fields are set here, once per packet. */
  private readonly updateEvent: UpdateEvent;
  private staleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: FeedSubscriberOptions) {
    this.groups = opts.groups;
    this.recvBufferBytes = opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
    this.staleAfterMs = opts.staleAfterMs;
    if (this.staleAfterMs !== undefined && !(this.staleAfterMs >= 0)) throw new RangeError(`staleAfterMs must be ≥ 0, got ${this.staleAfterMs}`);
    this.maxDatagramBytes = opts.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    this.maxStreams = positiveLimit(opts.maxStreams, DEFAULT_MAX_STREAMS, "maxStreams");
    if (opts.authKey !== undefined && opts.authKeyFile !== undefined) throw new RangeError("give authKey or authKeyFile, not both");
    const key = opts.authKeyFile !== undefined ? readAuthKeyFile(opts.authKeyFile, "authKeyFile") : opts.authKey;
    this.reader = new PacketReader(key !== undefined ? new DatagramAuth(key) : undefined);
    this.instrumentBooks = new InstrumentBooks(this.counters, this.listeners, {
      maxBooks: positiveLimit(opts.maxBooks, DEFAULT_MAX_BOOKS, "maxBooks"),
      maxLevelsPerSide: positiveLimit(opts.maxLevelsPerSide, DEFAULT_MAX_LEVELS_PER_SIDE, "maxLevelsPerSide"),
      maxAssemblyLevels: positiveLimit(opts.maxAssemblyLevels, DEFAULT_MAX_ASSEMBLY_LEVELS, "maxAssemblyLevels"),
    });
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
    for (const g of this.groups) {
      const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: this.recvBufferBytes });
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
    if (this.staleAfterMs !== 0) {
      const every = this.staleAfterMs === undefined ? STALE_CHECK_MS : Math.max(10, Math.floor(this.staleAfterMs / 4));
      this.staleTimer = setInterval(() => this.checkStale(Date.now()), every);
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
    return [...this.streams.values()].map((s) => ({
      channelId: s.channelId,
      sourceId: s.sourceId,
      sessionId: s.sessionId,
      sessionStartUs: s.sessionStartUs,
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      nextSeq: s.nextSeq,
      lastRecvMs: s.lastRecvMs,
      stale: s.stale,
      ended: s.ended,
    }));
  }

  /** Levels held by unfinished assemblies (the budget maxAssemblyLevels bounds), price and qty counted apart. */
  get assemblyScratchLevels(): number {
    return this.instrumentBooks.budget.used;
  }

  /**
   * Processes one datagram as if received from the network (the socket path calls this; tests and replays may too).
   * Never throws for bad input: it is counted and reported as an 'error' event.
   */
  ingest(bytes: Uint8Array, recvTimeUs: number = wallUs(), from = ""): void {
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

  /**
   * Runs the stale check as of `nowMs` (the timer calls it; tests may, with their own clock). A stream silent for
   * staleAfterMs, or for 3 × its advertised heartbeat interval, is stale and its books are not usable.
   */
  checkStale(nowMs: number): void {
    for (const st of this.streams.values()) {
      if (st.stale || st.ended) continue;
      const limit = this.staleAfterMs ?? STALE_HEARTBEAT_INTERVALS * st.heartbeatIntervalMs;
      if (limit <= 0 || nowMs - st.lastRecvMs < limit) continue;
      st.stale = true;
      const books = this.instrumentBooks.setStreamStale(st.key, true);
      const e: StaleEvent = { channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, silentMs: nowMs - st.lastRecvMs, books };
      for (const l of this.listeners.stale) this.listeners.call(l, e);
    }
  }

  private onSocketMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const recvTimeUs = wallUs();
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
      rc = r.wrap(this.rxView, length, this.maxDatagramBytes);
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
    const st = this.streamOf(r);
    if (st === undefined) return;
    const nowMs = Date.now();
    st.lastRecvMs = nowMs;
    st.heartbeatIntervalMs = r.heartbeatIntervalMs;
    if (st.stale) {
      st.stale = false;
      this.instrumentBooks.setStreamStale(st.key, false);
    }
    const seqNum = r.seqNum;
    const msgCount = r.msgCount;

    if (msgCount === 0) {
      this.counters.heartbeats++;
      this.sequence(st, seqNum, 0);
      if ((r.flags & PKT_FLAG_END_OF_SESSION) !== 0 && !st.ended) {
        st.ended = true;
        this.instrumentBooks.invalidateStream(st.key);
        this.emitSession("ended", st, st.sessionId);
      }
      return;
    }
    const skip = this.sequence(st, seqNum, msgCount);
    if (skip < 0) return;

    const sendTimeUs = r.sendTimeUs;
    const ev = this.updateEvent;
    ev.sendTimeUs = sendTimeUs;
    ev.recvTimeUs = recvTimeUs;
    ev.latencyUs = recvTimeUs - sendTimeUs;
    ev.channelId = st.channelId;
    ev.sourceId = st.sourceId;

    const books = this.instrumentBooks;
    for (let more = r.first(); more; more = r.next()) {
      if (r.messageIndex < skip) continue;
      this.counters.messages++;
      const templateId = r.templateId;
      if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_STATUS) {
        books.onBookEvent(r, st, templateId, sendTimeUs);
      } else if (templateId === TEMPLATE_BOOK_SNAPSHOT) {
        books.onSnapshotChunk(r, st, sendTimeUs);
      } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
        books.onDefinition(r, st);
      } else {
        this.counters.unknownTemplates++;
      }
    }
  }

  /** The datagram's stream, created or moved to a newer session as needed; undefined = drop the datagram. */
  private streamOf(r: PacketReader): StreamState | undefined {
    const channelId = r.channelId;
    const sourceId = r.sourceId;
    const key = streamKeyOf(channelId, sourceId);
    const sessionId = r.sessionId;
    const sessionStartUs = r.sessionStartUs;
    const st = this.streams.get(key);
    if (st !== undefined && st.sessionId === sessionId && st.sessionStartUs === sessionStartUs) {
      return st.source.pending ? this.duringPending(st.source, st, r) : st;
    }
    // Cold from here: a new stream or another session.
    const src = this.sourceOf(sourceId);
    const vsSource = src.startUs < 0 ? 1 : compareSessions(sessionStartUs, sessionId, src.startUs, src.id);
    if (vsSource > 0) {
      if (src.startUs >= 0) {
        // A newer session of this source: adopted at once, provisional until it sends again. The session to go
        // back to is the last confirmed one (a second bogus session must not replace it).
        if (!src.pending) {
          src.prevStartUs = src.startUs;
          src.prevId = src.id;
        }
        src.pending = true;
        src.newDatagrams = 1;
        src.oldDatagrams = 0;
      }
      src.startUs = sessionStartUs;
      src.id = sessionId;
    } else if (vsSource < 0) {
      if (src.pending && compareSessions(sessionStartUs, sessionId, src.prevStartUs, src.prevId) >= 0) return this.duringPending(src, st, r);
      this.counters.oldSessionDatagrams++; // a late datagram of a session already superseded
      return undefined;
    } else if (src.pending && ++src.newDatagrams >= SEQ_REVERT_DATAGRAMS) {
      src.pending = false;
    }
    if (st === undefined) {
      if (this.streams.size >= this.maxStreams) {
        this.counters.streamsOverCap++;
        return undefined;
      }
      const created: StreamState = {
        key,
        channelId,
        sourceId,
        sessionId,
        sessionStartUs,
        heartbeatIntervalMs: r.heartbeatIntervalMs,
        nextSeq: r.seqNum,
        lastRecvMs: Date.now(),
        stale: false,
        ended: false,
        altNext: -1,
        altCount: 0,
        source: src,
        prevSessionId: 0,
        prevSessionStartUs: -1,
        prevNextSeq: 0,
      };
      this.streams.set(key, created);
      this.emitSession("new", created, undefined);
      this.instrumentBooks.supersedeSource(created);
      return created;
    }
    if (compareSessions(sessionStartUs, sessionId, st.sessionStartUs, st.sessionId) < 0) {
      this.counters.oldSessionDatagrams++; // late datagram of a session already superseded on this stream
      return undefined;
    }
    const previous = st.sessionId;
    st.prevSessionId = st.sessionId;
    st.prevSessionStartUs = st.sessionStartUs;
    st.prevNextSeq = st.nextSeq;
    st.sessionId = sessionId;
    st.sessionStartUs = sessionStartUs;
    st.nextSeq = r.seqNum;
    st.altNext = -1;
    st.ended = false;
    this.instrumentBooks.invalidateStream(key);
    this.emitSession("restarted", st, previous);
    this.instrumentBooks.supersedeSource(st);
    return st;
  }

  // Cold: a source's sessions while its newest one is provisional.
  private sourceOf(sourceId: number): SourceState {
    let src = this.sources.get(sourceId);
    if (src === undefined) {
      src = { startUs: -1, id: 0, pending: false, newDatagrams: 0, prevStartUs: -1, prevId: 0, oldDatagrams: 0 };
      this.sources.set(sourceId, src);
    }
    return src;
  }

  /**
   * A datagram of a source whose newest session is provisional: one of the newest session counts toward
   * confirming it; one of an older session (the one it replaced, or a real restart that is older than the bogus
   * one) toward proving it bogus — the second undoes it (every stream and book of the bogus session goes back to
   * the replaced one) and is then processed as if the bogus session had never been seen; the first is dropped.
   */
  private duringPending(src: SourceState, st: StreamState | undefined, r: PacketReader): StreamState | undefined {
    const sessionId = r.sessionId;
    const sessionStartUs = r.sessionStartUs;
    if (sessionId === src.id && sessionStartUs === src.startUs) {
      if (++src.newDatagrams >= SEQ_REVERT_DATAGRAMS) src.pending = false;
      return st; // the stream is on the newest session (the caller only passes one whose session matched)
    }
    if (++src.oldDatagrams < SEQ_REVERT_DATAGRAMS) {
      this.counters.oldSessionDatagrams++;
      return undefined;
    }
    // Back to the last confirmed session: every stream and book of this source on a newer (bogus) one returns to it.
    const toStartUs = src.prevStartUs;
    const toId = src.prevId;
    src.startUs = toStartUs;
    src.id = toId;
    src.pending = false;
    this.counters.sessionsReverted++;
    for (const [key, s] of this.streams) {
      if (s.source !== src || compareSessions(s.sessionStartUs, s.sessionId, toStartUs, toId) <= 0) continue;
      if (s.prevSessionStartUs < 0) {
        this.streams.delete(key); // a stream only a bogus session had
        continue;
      }
      const bogusId = s.sessionId;
      const backToLine = s.prevSessionId === toId && s.prevSessionStartUs === toStartUs;
      s.sessionId = toId;
      s.sessionStartUs = toStartUs;
      s.nextSeq = backToLine ? s.prevNextSeq : -1; // −1: take the next datagram's seqNum as it comes
      s.altNext = -1;
      this.emitSession("reverted", s, bogusId);
    }
    this.instrumentBooks.revertSource(r.sourceId, toStartUs, toId);
    return this.streamOf(r); // src is no longer pending: no deeper recursion
  }

  /**
   * Channel sequence of one datagram (msgCount 0 = heartbeat, whose seqNum is the next expected). Returns how many
   * leading messages were already seen, or −1 to drop the datagram. A jump ahead is a gap at once, but the line
   * from before it is remembered: when the next datagrams (SEQ_REVERT_DATAGRAMS of them, none continuing the new
   * line) keep advancing that old line, the jump was bogus and the stream goes back to it, so no single datagram
   * can block a stream. A second jump while one is pending keeps the older line (the real one is the earliest).
   */
  private sequence(st: StreamState, seqNum: number, msgCount: number): number {
    const next = st.nextSeq;
    if (seqNum === next) {
      st.altNext = -1; // the line after the jump goes on: it was real
      st.nextSeq = seqNum + msgCount;
      return 0;
    }
    if (next < 0) {
      st.nextSeq = seqNum + msgCount; // the line is unknown after a session revert: this datagram starts it
      return 0;
    }
    if (seqNum > next) {
      this.gap(st, seqNum);
      if (st.altNext < 0) {
        st.altNext = next;
        st.altCount = 0;
      }
      st.nextSeq = seqNum + msgCount;
      return 0;
    }
    if (st.altNext >= 0 && seqNum >= st.altNext) {
      st.altNext = seqNum + msgCount;
      if (++st.altCount >= SEQ_REVERT_DATAGRAMS) {
        this.counters.seqJumpsReverted++;
        st.altNext = -1;
        st.nextSeq = seqNum + msgCount;
        return 0;
      }
      this.counters.lateDatagrams++;
      return -1;
    }
    if (seqNum + msgCount <= next) {
      if (msgCount > 0) this.counters.duplicates++;
      return -1;
    }
    this.counters.duplicates++; // partial overlap: only the unseen tail
    st.nextSeq = seqNum + msgCount;
    return next - seqNum;
  }

  private gap(st: StreamState, got: number): void {
    const lost = got - st.nextSeq;
    this.counters.gaps++;
    this.counters.lostMessages += lost;
    const booksInvalidated = this.instrumentBooks.invalidateStream(st.key);
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

  private emitSession(kind: SessionEvent["kind"], st: StreamState, previousSessionId: number | undefined): void {
    const e: SessionEvent = { kind, channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, previousSessionId };
    for (const l of this.listeners.session) this.listeners.call(l, e);
  }

  private reject(code: DecodeErrorCode, length: number, from: string, fromPort: number): void {
    this.counters.errors++;
    const name = DECODE_ERROR_NAMES[code] ?? "unknown";
    this.counters.rejected[name] = (this.counters.rejected[name] ?? 0) + 1;
    if (this.listeners.error.length > 0) this.listeners.reportError(new WireDecodeError(code, length), fromPort < 0 ? from : `${from}:${fromPort}`);
  }
}
