/**
 * Subscriber of the feeder wire v3 feed, v2 read too (docs/wire-protocol.md §6): joins multicast groups with node:dgram
 * (SO_REUSEADDR so several subscribers per host, a large SO_RCVBUF), verifies each datagram (CRC-32, and the HMAC
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
import { lookup } from "node:dns";
import { isIPv4 } from "node:net";
import { errorText } from "../core/error-text.ts";
import { LateRounds } from "../core/late-rounds.ts";
import { followWallClock, monoEpochMs, monoEpochUs, shownUs } from "./mono-clock.ts";
import { readAuthKeyFile, DatagramAuth, sha256Option } from "../wire/auth.ts";
import { DECODE_ERROR_NAMES, DecodeErrorCode, PacketReader, WireDecodeError } from "../wire/decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  DEFAULT_MAX_DATAGRAM_BYTES,
  PACKET_HEADER_BYTES,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAG_RETRANSMIT,
  PKT_FLAGS_OFFSET,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "../wire/layout.ts";
import { decodeRetxControl, RETX_KIND_OUT_OF_RANGE, RETX_KIND_THROTTLED, RETX_MAGIC } from "../wire/retransmit.ts";
import { InstrumentBooks } from "./instrument-books.ts";
import { ReportLimit } from "../core/report-limit.ts";
import { DEFAULT_MAX_HELD_DATAGRAMS, DEFAULT_MAX_HELD_DATAGRAMS_TOTAL, DEFAULT_RETRANSMIT_TIMEOUT_MS, Divert, Recovery } from "./recovery.ts";
import { Listeners } from "./listeners.ts";
import { continuesOldLine, isBeatAhead, isBeatCopy, isCopy, raiseHighSend, sendAheadMaxUsOf, sentAfterAllHad, StreamTable, streamKeyOf, type StreamState } from "./streams.ts";
import type { SubscriberBook } from "./subscriber-book.ts";
import type {
  FeedSubscriberEvents,
  FeedSubscriberOptions,
  GroupSpec,
  RetransmitOptions,
  StaleEvent,
  StreamInfo,
  SubscriberCounters,
  UpdateEvent,
} from "./subscriber-types.ts";

export type {
  EvictEvent,
  ExponentEvent,
  FeedSubscriberEvents,
  FeedSubscriberOptions,
  GapEvent,
  GroupSpec,
  RepairEvent,
  RetransmitOptions,
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
/**
 * The longest heartbeat interval a publisher may use (publish.heartbeat_interval_ms ≤ 60 s). A full table gives a
 * stream up only after it has been silent for STALE_HEARTBEAT_INTERVALS of its heartbeat interval (and staleAfterMs):
 * one claiming none (0) or a longer one is taken at this one, so a forged flood claiming 0 holds no table for good.
 */
export const MAX_HEARTBEAT_INTERVAL_MS = 60_000;
/** How often the stale check runs when the limit comes from the heartbeat interval. */
const STALE_CHECK_MS = 100;
/** Replies from an address not asked, and RETRANSMIT datagrams off the request socket: said at most once per this many ms (each one counted). */
const STRANGER_REPLY_REPORT_MS = 5000;
/** Addresses a request was asked at, kept (the newest): a name resolving anew (DNS round robin) gets a few. */
const ASKED_ADDRESSES_MAX = 8;
/** The longest period of the stale check (a quarter of staleAfterMs, at most this). */
const MAX_STALE_CHECK_MS = 60_000;
export const DEFAULT_MAX_BOOKS = 10_000;
export const DEFAULT_MAX_STREAMS = 1024;
export const DEFAULT_MAX_LEVELS_PER_SIDE = 65_535;
export const DEFAULT_MAX_ASSEMBLY_LEVELS = 2_000_000;
export const DEFAULT_MAX_BOOK_LEVELS = 50_000_000;
/**
 * Datagrams listeners may feed to ingest() while one is processed, waiting their turn (copies: ≤ 64 MiB at 64 KiB
 * each). More are dropped (`fedOverCap`) as the network drops them: the stream's next datagram is a gap, its books
 * invalid until recovered (retransmission or the refresh). Unbounded, a listener feeding a backlog from one event
 * held it all in memory at once.
 */
export const MAX_FED_DATAGRAMS = 1024;
/**
 * Fed through ingest() (never started), a datagram's receipt stamp counts for the retransmission timeouts up to
 * max(timeoutMs, this) behind now: the lateness of a feed (a stall of the owner's thread, a batch read at once) the
 * timeouts forgive, and the most a stamp on another clock delays them. So a capture replayed (stamps far behind) is
 * timed on the replay's wall time: fed slower than recorded, an answer in time by its stamps can be timed out.
 */
export const MAX_FEED_LAG_MS = 1000;

function positiveLimit(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** An option's value in an error: a string quoted (so "5000" is not read as the number 5000), anything else as is. */
function shown(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/**
 * The groups, checked as the constructor's other options are: before, a port of 0 bound any free port and start()
 * resolved on a socket nothing is sent to (silent, no error), a unicast address as `group` or an interface that is
 * no address failed only at start() (as a join error), and a missing `groups` threw a TypeError naming nothing (as
 * an entry that is no object did until s-rd30a: "null is not an object").
 */
function checkedGroups(groups: readonly GroupSpec[] | undefined): GroupSpec[] {
  const form = "{ group, port, iface? } or { bind, port }";
  if (!Array.isArray(groups)) throw new RangeError(`groups must be an array of ${form} (may be empty), got ${typeof groups}`);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (typeof g !== "object" || g === null) throw new RangeError(`groups[${i}] must be an object ${form}, got ${shown(g)}`);
    if (!(Number.isInteger(g.port) && g.port > 0 && g.port <= 65535)) throw new RangeError(`groups[${i}].port must be an integer in 1..65535, got ${shown(g.port)}`);
    if (g.group === undefined && g.bind === undefined) throw new RangeError(`groups: port ${g.port} needs a multicast group or a unicast bind address`);
    if (g.group !== undefined && !(isIPv4(g.group) && Number(g.group.split(".")[0]) >= 224 && Number(g.group.split(".")[0]) <= 239)) {
      throw new RangeError(`groups[${i}].group must be an IPv4 multicast address (224.0.0.0–239.255.255.255), got ${JSON.stringify(g.group)}`);
    }
    if (g.iface !== undefined && !isIPv4(g.iface)) throw new RangeError(`groups[${i}].iface must be an IPv4 address of this host, got ${JSON.stringify(g.iface)}`);
    if (g.bind !== undefined && !isIPv4(g.bind)) throw new RangeError(`groups[${i}].bind must be an IPv4 address of this host, got ${JSON.stringify(g.bind)}`);
  }
  return [...groups];
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
    seqLinesBack: 0,
    sendTimesAhead: 0,
    oldSessionDatagrams: 0,
    oldSessionMessages: 0,
    superseded: 0,
    sessionsReverted: 0,
    sharedSourceIds: 0,
    unknownTemplates: 0,
    duplicateEvents: 0,
    instrSeqJumps: 0,
    instrSeqBackwards: 0,
    olderSnapshots: 0,
    staleSnapshots: 0,
    snapshotsAbandoned: 0,
    snapshotsRepeatingPrice: 0,
    partsOutOfOrder: 0,
    partialEventsDiscarded: 0,
    repairs: 0,
    exponentChanges: 0,
    booksOverCap: 0,
    streamsOverCap: 0,
    streamsEvicted: 0,
    booksEvicted: 0,
    levelsOverCap: 0,
    assemblyOverBudget: 0,
    bookLevelsOverCap: 0,
    assembliesExpired: 0,
    listenerErrors: 0,
    retransmitRequests: 0,
    retransmitRecovered: 0,
    retransmitFallbacks: 0,
    retransmitRefused: 0,
    retransmitTimeouts: 0,
    retransmitOverCap: 0,
    retransmitDatagrams: 0,
    retransmitRejected: 0,
    stalledRounds: 0,
    fedOverCap: 0,
  };
  /** Books by instrumentId. */
  readonly books: Map<number, SubscriberBook>;
  private readonly groups: GroupSpec[];
  private readonly recvBufferBytes: number;
  private readonly staleAfterMs: number | undefined;
  /** sendAheadMaxMs in µs (raiseHighSend). */
  private readonly sendAheadMaxUs: number;
  private readonly maxDatagramBytes: number;
  private readonly maxStreams: number;
  private readonly streamTable: StreamTable;
  private readonly streams: Map<number, StreamState>;
  private readonly listeners = new Listeners(this.counters);
  private readonly instrumentBooks: InstrumentBooks;
  private readonly sockets: dgram.Socket[] = [];
  private readonly rxBytes = new Uint8Array(ABS_MAX_DATAGRAM_BYTES + 8);
  private readonly rxView = new DataView(this.rxBytes.buffer);
  private readonly reader: PacketReader;
  /** instrumentBooks.updateEvent: its packet fields are set here, once per packet. */
  private readonly updateEvent: UpdateEvent;
  private staleTimer: ReturnType<typeof setInterval> | undefined;
  /** monoEpochMs() at the last start(): a stream's silence for eviction counts from here (not through a stop()). */
  private listeningSinceMs = -Infinity;
  /** start() was called and stop() not since. */
  private running = false;
  /** Counts start() and stop() calls: a start() that finds it changed after an await was stopped meanwhile. */
  private generation = 0;
  /** A held datagram is being applied (replay): its assemblies are aged from the latest receipt (applyPacket). */
  private replaying = false;
  /** A datagram's packet is being processed: the reader and rxBytes are its own until it is done. */
  private inPacket = false;
  /**
   * Datagrams ingest() got from a listener while a packet was being processed (copied: cold), processed right after
   * it. Processed at once, they overwrote rxBytes and the reader under way: the rest of that packet was lost and the
   * listener's datagram's messages applied again as that packet's stream's (its book moved to the other source).
   */
  private readonly fedMeanwhile: { bytes: Uint8Array; recvTimeUs: number; from: string; afterStop: boolean }[] = [];
  /** The fed datagrams are being processed: one processed from there leaves those its listeners feed to that loop. */
  private drainingFed = false;
  /**
   * stop() is marking the streams stale: what its 'stale' listeners feed to ingest() waits until it is done and is
   * processed stopped, its books stale (before 2026-12-06 ingest() switched the stopped flag off and processed it
   * live: its stream heard again, its books usable, on a subscriber being stopped).
   */
  private stopping = false;
  /** checkRecovery() called from a listener while a packet was processed (−1: not): run right after it, as ingest(). */
  private recoveryDueMs = -1;
  private readonly retransmit: RetransmitOptions | undefined;
  private readonly auth: DatagramAuth | undefined;
  /** SubscriberOptions.onSignedUnverified, and whether it was called (once). */
  private readonly signedUnverified: (() => void) | undefined;
  private signedUnverifiedTold = false;
  private readonly recovery: Recovery | undefined;
  private requestSocket: dgram.Socket | undefined;
  /** The request socket is bound: requests go out (one opened while it binds is sent by start()'s resend, once). */
  private requestSocketBound = false;
  /**
   * The addresses retransmit.host was resolved to for the requests sent (the newest ASKED_ADDRESSES_MAX, oldest first:
   * a name may resolve anew), and
   * 127.0.0.1 beside a loopback one or 0.0.0.0: the request socket takes replies and RETRANSMIT datagrams from these only
   * (before 2026-12-07 from any address: on an unkeyed feed anyone reaching the socket forced fallbacks or filled a
   * gap with datagrams of its own).
   */
  private readonly askedAddresses = new Set<string>();
  /** Replies from an address not asked, said at most once per STRANGER_REPLY_REPORT_MS. */
  private readonly strangerReplies = new ReportLimit(STRANGER_REPLY_REPORT_MS);
  /** RETRANSMIT datagrams on a group or bind socket (never the server's), said as rarely. */
  private readonly offSocketRetransmits = new ReportLimit(STRANGER_REPLY_REPORT_MS);
  private recoveryTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: FeedSubscriberOptions) {
    followWallClock(); // what an update shows as received (recvTimeUs, latencyUs) follows a step of the wall clock
    this.groups = checkedGroups(opts.groups);
    this.recvBufferBytes = opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
    this.staleAfterMs = opts.staleAfterMs;
    if (this.staleAfterMs !== undefined && !(typeof this.staleAfterMs === "number" && this.staleAfterMs >= 0)) throw new RangeError(`staleAfterMs must be a number of ms ≥ 0, got ${shown(this.staleAfterMs)}`);
    this.sendAheadMaxUs = sendAheadMaxUsOf(opts.sendAheadMaxMs);
    this.maxDatagramBytes = opts.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    if (!(Number.isInteger(this.maxDatagramBytes) && this.maxDatagramBytes >= PACKET_HEADER_BYTES && this.maxDatagramBytes <= ABS_MAX_DATAGRAM_BYTES)) {
      // Not an integer, it would accept whatever fits the receive buffer; 0 or negative, nothing: say so now.
      throw new RangeError(`maxDatagramBytes must be an integer in ${PACKET_HEADER_BYTES}..${ABS_MAX_DATAGRAM_BYTES}, got ${opts.maxDatagramBytes}`);
    }
    if (this.recvBufferBytes !== undefined && !(Number.isInteger(this.recvBufferBytes) && this.recvBufferBytes > 0)) {
      throw new RangeError(`recvBufferBytes must be a positive integer, got ${opts.recvBufferBytes}`);
    }
    this.maxStreams = positiveLimit(opts.maxStreams, DEFAULT_MAX_STREAMS, "maxStreams");
    if (opts.authKey !== undefined && opts.authKeyFile !== undefined) throw new RangeError("give authKey or authKeyFile, not both");
    // Bytes only: a string (a key file read as text) was taken char by char as NaN → 0, so every datagram was refused
    // as forged; a number had no length, passed the length check and made the key empty (an HMAC anyone can forge).
    if (opts.authKey !== undefined && !(opts.authKey instanceof Uint8Array)) {
      throw new RangeError(`authKey must be a Uint8Array of the key's bytes (or give authKeyFile), got ${typeof opts.authKey}`);
    }
    const key = opts.authKeyFile !== undefined ? readAuthKeyFile(opts.authKeyFile, "authKeyFile", { fifo: true }) : opts.authKey;
    this.auth = key !== undefined ? new DatagramAuth(key, sha256Option(opts.authSha256)) : undefined;
    this.signedUnverified = opts.onSignedUnverified;
    this.reader = new PacketReader(this.auth);
    const snapshotDepth = opts.snapshotDepth ?? 0;
    if (!(Number.isInteger(snapshotDepth) && snapshotDepth >= 0)) throw new RangeError(`snapshotDepth must be an integer ≥ 0, got ${snapshotDepth}`);
    this.instrumentBooks = new InstrumentBooks(this.counters, this.listeners, {
      snapshotDepth,
      maxBooks: positiveLimit(opts.maxBooks, DEFAULT_MAX_BOOKS, "maxBooks"),
      maxLevelsPerSide: positiveLimit(opts.maxLevelsPerSide, DEFAULT_MAX_LEVELS_PER_SIDE, "maxLevelsPerSide"),
      maxAssemblyLevels: positiveLimit(opts.maxAssemblyLevels, DEFAULT_MAX_ASSEMBLY_LEVELS, "maxAssemblyLevels"),
      maxBookLevels: positiveLimit(opts.maxBookLevels, DEFAULT_MAX_BOOK_LEVELS, "maxBookLevels"),
    });
    this.books = this.instrumentBooks.books;
    this.streamTable = new StreamTable(this.counters, this.listeners, this.instrumentBooks, this.maxStreams);
    this.streams = this.streamTable.streams;
    this.streamTable.onStreamGone = (st) => this.recovery?.forget(st);
    this.updateEvent = this.instrumentBooks.updateEvent;
    // A copy: read at each send and at start(), the caller's object changed later (unchecked) must not move the server.
    this.retransmit = opts.retransmit === undefined ? undefined : Object.freeze({ ...opts.retransmit });
    if (this.retransmit !== undefined) {
      const rt = this.retransmit;
      if (!(Number.isInteger(rt.port) && rt.port > 0 && rt.port <= 65535)) throw new RangeError(`retransmit.port must be 1..65535, got ${rt.port}`);
      // Checked here, not at each gap: before, a fractional or NaN base made every request's send throw (reported per
      // gap, the books held until the timeout), and an empty host sent each one to the local host.
      const base = rt.sourceIdBase ?? 0;
      if (!(Number.isInteger(base) && base >= 0 && base <= 65535)) throw new RangeError(`retransmit.sourceIdBase must be an integer in 0..65535 (publish.source_id), got ${base}`);
      if (typeof rt.host !== "string" || rt.host.trim() === "") throw new RangeError(`retransmit.host must be the request server's address or host name, got ${JSON.stringify(rt.host)}`);
      this.recovery = new Recovery(
        this.counters,
        this.instrumentBooks,
        {
          send: (packet, sourceId) => this.sendRequest(packet, sourceId),
          canAsk: (sourceId) => this.requestPort(sourceId) !== 0,
          replay: (bytes, recvTimeUs) => this.replay(bytes, recvTimeUs),
        },
        this.auth,
        positiveLimit(rt.timeoutMs, DEFAULT_RETRANSMIT_TIMEOUT_MS, "retransmit.timeoutMs"),
        positiveLimit(rt.maxHeldDatagrams, DEFAULT_MAX_HELD_DATAGRAMS, "retransmit.maxHeldDatagrams"),
        positiveLimit(rt.maxHeldDatagramsTotal, DEFAULT_MAX_HELD_DATAGRAMS_TOTAL, "retransmit.maxHeldDatagramsTotal"),
      );
      const rec = this.recovery;
      // A book its held stream carried stays held when another stream of that session carries it meanwhile (§11.4).
      this.instrumentBooks.heldFor = (key, st) => {
        if (rec.active === 0 || !rec.holds(key)) return false;
        const held = this.streams.get(key);
        return held !== undefined && held.sourceId === st.sourceId && held.sessionId === st.sessionId && held.sessionStartUs === st.sessionStartUs;
      };
    }
  }

  /**
   * Adds a listener. on() and off() may be called from inside a listener: the event under way still reaches every
   * listener it started with (one removed meanwhile included) and none added meanwhile.
   */
  on<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    this.listeners.add(event, listener);
    return this;
  }

  off<K extends keyof FeedSubscriberEvents>(event: K, listener: FeedSubscriberEvents[K]): this {
    this.listeners.remove(event, listener);
    return this;
  }

  /**
   * Binds and joins every group (or binds a unicast address). Rejects naming the group (or the request socket) if a
   * socket cannot bind or join, stopped as by stop(): what it opened closed, start() may be called again. Once per stop(): a second start rejects (it would bind every group twice and leave timers and
   * the request socket of the first running after stop()); after stop() it starts again, its books and streams as
   * stop() left them (stale: not usable until their stream's next datagram; what it missed meanwhile is a gap).
   * stop() while it binds makes it reject ("stop() called while start() was under way"), nothing of it left open.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error("subscriber: start() called twice (stop() first)");
    this.running = true;
    this.instrumentBooks.stopped = false;
    this.listeningSinceMs = monoEpochMs();
    for (const st of this.streams.values()) st.silent = false; // it may have spoken while nothing listened
    const gen = ++this.generation;
    try {
      await this.bindAll(gen);
    } catch (err) {
      // Failed part-way (a port held without SO_REUSEADDR, an interface not on this host): stopped as by stop(), what
      // it opened closed and what its sockets heard meanwhile stale. Before, `running` stayed true with no timer, the
      // sockets bound so far stayed open, and every later start() threw "called twice" until a stop().
      if (gen === this.generation) await this.stop();
      throw err;
    }
    if (this.staleAfterMs !== 0) {
      // At most a minute: a period over 2^31 − 1 ms (staleAfterMs ≥ ~99 days, or Infinity) is taken by the runtime as
      // 1 ms (TimeoutOverflowWarning), a scan of every stream a millisecond (until s-rd30a).
      const every = this.staleAfterMs === undefined ? STALE_CHECK_MS : Math.min(MAX_STALE_CHECK_MS, Math.max(10, Math.floor(this.staleAfterMs / 4)));
      // After a stall of this thread the streams' datagrams may sit unread in the sockets: that round calls none stale.
      const rounds = new LateRounds(every);
      this.staleTimer = setInterval(() => {
        if (rounds.judge()) this.checkStale(monoEpochMs());
        else this.counters.stalledRounds++;
      }, every);
      this.staleTimer.unref?.();
    }
  }

  /** start()'s sockets (and the retransmission timer): rejects naming the group or socket that failed. */
  private async bindAll(gen: number): Promise<void> {
    // stop() while a bind is under way closes the sockets opened so far: start() goes no further (before, it bound
    // the groups left, opened the request socket and started both timers after the stop, or never settled).
    const bound = async (socket: dgram.Socket, port: number, address: string | undefined, what: string): Promise<void> => {
      try {
        await bindSocket(socket, port, address);
      } catch (err) {
        if (gen === this.generation) throw new Error(`subscriber: ${what}: ${(err as Error).message}`);
      }
      if (gen !== this.generation) throw new Error("subscriber: stop() called while start() was under way");
    };
    for (let i = 0; i < this.groups.length; i++) {
      const g = this.groups[i]!;
      const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: this.recvBufferBytes });
      this.sockets.push(socket);
      // Binding to the group address (Linux) receives only that group's datagrams on this port.
      const address = g.group ?? g.bind!;
      await bound(socket, g.port, address, `groups[${i}]: cannot bind ${address}:${g.port}`);
      if (g.group !== undefined) {
        const iface = g.iface ?? "127.0.0.1";
        try {
          socket.addMembership(g.group, iface);
        } catch (err) {
          throw new Error(`subscriber: groups[${i}]: cannot join ${g.group} on interface ${iface}: ${(err as Error).message}`);
        }
      }
      socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onSocketMessage(msg, rinfo, i));
      socket.on("error", (err: Error) => this.listeners.reportError(err, ""));
    }
    if (this.recovery !== undefined) {
      // Requests go out and answers come back on one unicast socket of its own (any free port).
      const socket = dgram.createSocket({ type: "udp4", recvBufferSize: this.recvBufferBytes, lookup: this.requestLookup });
      this.requestSocket = socket; // before the bind, so that stop() closes it (also after a failed bind)
      await bound(socket, 0, undefined, "cannot bind the retransmission request socket");
      socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onAnswer(msg, rinfo));
      socket.on("error", (err: Error) => this.listeners.reportError(err, "retransmit"));
      // Requests left open by a stop() (their answers went to the closed socket) or opened while it bound (not sent:
      // before, sent on the binding socket and then again here, the range answered twice).
      this.requestSocketBound = true;
      this.recovery.resend(monoEpochMs());
      const timeoutMs = this.retransmit!.timeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS;
      const everyMs = Math.max(5, Math.min(50, Math.floor(timeoutMs / 4)));
      // After a stall of this thread the answer may sit unread in the request socket: that round times out nothing.
      const rounds = new LateRounds(everyMs);
      this.recoveryTimer = setInterval(() => {
        if (rounds.judge()) this.checkRecovery(monoEpochMs());
        else this.counters.stalledRounds++;
      }, everyMs);
      this.recoveryTimer.unref?.();
    }
  }

  /**
   * Closes the sockets and stops the stale and retransmission timers. Nothing is heard from then on, so no book may
   * show `usable`: every stream not already stale or ended is marked stale, with a 'stale' event (`stopped: true`),
   * and every book with it. After start() a stream's next datagram clears it, as after any silence (what was missed
   * meanwhile is a gap: its books are invalid until their next snapshot). The rest of the datagram under way when a
   * listener calls stop() is still applied (its sequence is taken) but leaves its books stale. A datagram a 'stale'
   * listener feeds to ingest() meanwhile is processed once every stream is marked, stopped (its books stale).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.instrumentBooks.stopped = true; // until start() or ingest(): what the datagram under way still applies stays stale
    this.generation++;
    if (this.staleTimer !== undefined) clearInterval(this.staleTimer);
    this.staleTimer = undefined;
    if (this.recoveryTimer !== undefined) clearInterval(this.recoveryTimer);
    this.recoveryTimer = undefined;
    const nowMs = monoEpochMs();
    this.stopping = true;
    try {
      for (const st of this.streams.values()) if (!st.stale && !st.ended) this.markStale(st, nowMs, true);
      // Books of a stream already stale are so; of an ended stream, invalid; any other (no stream known) made stale too.
      for (const book of this.books.values()) book.stale = true;
    } finally {
      this.stopping = false;
    }
    if (!this.inPacket) this.afterPacket(); // what the 'stale' listeners fed, stopped (from a listener: after the datagram)
    if (this.requestSocket !== undefined) this.sockets.push(this.requestSocket);
    this.requestSocket = undefined;
    this.requestSocketBound = false;
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

  /** Levels in all books together, both sides (what maxBookLevels bounds). */
  get bookLevels(): number {
    return this.instrumentBooks.levelsHeld;
  }

  /** Levels held by unfinished assemblies (the budget maxAssemblyLevels bounds), price and qty counted apart. */
  get assemblyScratchLevels(): number {
    return this.instrumentBooks.budget.used;
  }

  /**
   * Processes one datagram as if received from the network (the socket path calls this; tests and replays may too).
   * Never throws for bad input: it is counted and reported as an 'error' event. `recvTimeUs` is on the subscriber's
   * receipt clock (mono-clock.ts monoEpochUs, what it defaults to): ages are measured on it, and an update shows it
   * moved by the wall clock's steps since start (shownUs; by nothing until the host's clock steps). Called from a
   * listener while a datagram is processed, it takes a copy and processes it right after that one (and the held
   * datagrams that one released); beyond MAX_FED_DATAGRAMS waiting, it is dropped (`fedOverCap`), a loss like any other.
   */
  ingest(bytes: Uint8Array, recvTimeUs: number = monoEpochUs(), from = ""): void {
    if (this.inPacket || this.stopping) {
      // From a listener: after the packet under way (or the stop() under way). Fed after a stop() it restarts as below;
      // fed before one or during it (a 'stale' listener of it), its books stay stale as that stop() left them
      // (processed at once, stop() would have made them so).
      const length = bytes.byteLength;
      if (length > this.rxBytes.length || this.fedMeanwhile.length >= MAX_FED_DATAGRAMS) {
        // Not copied: refused now (reject touches neither rxBytes nor the reader), or lost as on the network.
        this.counters.datagrams++;
        this.counters.bytes += length;
        if (length > this.rxBytes.length) this.reject(DecodeErrorCode.OVERSIZED, length, from, -1);
        else this.counters.fedOverCap++;
        return;
      }
      this.fedMeanwhile.push({ bytes: bytes.slice(), recvTimeUs, from, afterStop: this.instrumentBooks.stopped && !this.stopping });
      return;
    }
    // The caller is the feed here: after stop() too its datagram is processed as by a subscriber never started.
    this.instrumentBooks.stopped = false;
    // Not started (or stopped): no timer times the requests out, so each datagram fed does, before it is processed
    // (before, a request opened here stayed open until maxHeldDatagrams piled up: its books held far past timeoutMs).
    // Started, the timer does it, and not here: after a stall its answer may wait unread in the request socket.
    // As of this datagram's receipt (never past now), as the timer after a stall: an answer received in time but fed
    // late (the owner's thread stalled, or a batch read at once) is applied, not refused by the timeout it beat.
    if (!this.running && this.recovery !== undefined && this.recovery.active > 0) this.checkRecovery(this.fedAtMs(recvTimeUs));
    this.ingestNow(bytes, recvTimeUs, from);
  }

  /**
   * When ingest() judges the timeouts: the fed datagram's receipt (recvTimeUs in ms), never past now, and never more
   * than the feed lag bound (max(timeoutMs, MAX_FEED_LAG_MS)) behind it. A stamp further behind is taken as that far:
   * one on another clock (0, NaN, a capture's stamps, Date.now() after the host's clock stepped back) judged as is
   * timed no request out while it stayed behind, its books held until maxHeldDatagrams piled up.
   */
  private fedAtMs(recvTimeUs: number): number {
    const nowMs = monoEpochMs();
    const recvMs = recvTimeUs / 1000;
    if (recvMs >= nowMs) return nowMs;
    const earliestMs = nowMs - Math.max(this.retransmit!.timeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS, MAX_FEED_LAG_MS);
    return recvMs > earliestMs ? recvMs : earliestMs; // NaN: the earliest
  }

  private ingestNow(bytes: Uint8Array, recvTimeUs: number, from: string): void {
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
   * Runs the stale check as of `nowMs`, epoch ms on the subscriber's monotonic clock (mono-clock.ts; the timer calls
   * it with monoEpochMs(); tests may, with their own time, Date.now() being close). A stream silent for
   * staleAfterMs, or for 3 × its advertised heartbeat interval, is stale and its books are not usable. One silent for
   * staleAfterMs and 3 intervals (0 or over MAX_HEARTBEAT_INTERVAL_MS counted as that), since the last start(), is
   * `silent`: a full table may evict it (streams.ts evictSilent); staleAfterMs 0 judges neither. The timer skips
   * the one round that runs right after a stall of this thread (core/late-rounds.ts); a direct call always judges.
   */
  checkStale(nowMs: number): void {
    if (this.staleAfterMs === 0) return; // no stale detection: no eviction either
    for (const st of this.streams.values()) {
      const hbMs = st.heartbeatIntervalMs;
      const limit = this.staleAfterMs ?? STALE_HEARTBEAT_INTERVALS * hbMs;
      // Silent (a full table may evict it, streams.ts evictSilent; ended ones too): past staleAfterMs and past its
      // next heartbeats (a stream beating less often than staleAfterMs is stale between beats, but still sending),
      // counted from start() (a stop() is no silence of the stream's), a claim of none or over the most capped.
      if (!st.silent) {
        const claimedMs = STALE_HEARTBEAT_INTERVALS * (hbMs === 0 || hbMs > MAX_HEARTBEAT_INTERVAL_MS ? MAX_HEARTBEAT_INTERVAL_MS : hbMs);
        if (nowMs - Math.max(st.lastRecvMs, this.listeningSinceMs) >= Math.max(this.staleAfterMs ?? 0, claimedMs)) {
          st.silent = true;
          this.streamTable.silentEpoch++;
        }
      }
      if (limit <= 0 || nowMs - st.lastRecvMs < limit || st.stale || st.ended) continue;
      this.markStale(st, nowMs, false);
    }
  }

  /** The stream and its books stale (cleared by its next datagram), and the 'stale' event. Cold. */
  private markStale(st: StreamState, nowMs: number, stopped: boolean): void {
    st.stale = true;
    const books = this.instrumentBooks.setStreamStale(st.key, true);
    const e: StaleEvent = { channelId: st.channelId, sourceId: st.sourceId, sessionId: st.sessionId, silentMs: nowMs - st.lastRecvMs, books, stopped };
    for (const l of this.listeners.stale) this.listeners.call(l, e);
  }

  /**
   * A callback of something feeding this subscriber threw (attachNats: the NATS reader's onNatsEvent,
   * onSignedUnverified, onBridgeEvent, onRefused): counted (`listenerErrors`) and reported as an 'error' event, as a
   * listener of the subscriber's own that throws.
   */
  listenerFailed(error: unknown): void {
    this.listeners.failed(error);
  }

  /** Requests in flight (options.retransmit). */
  get retransmitsPending(): number {
    return this.recovery?.active ?? 0;
  }

  /** Datagrams held by the requests in flight (options.retransmit), against retransmit.maxHeldDatagramsTotal. */
  get heldDatagrams(): number {
    return this.recovery?.held ?? 0;
  }

  /**
   * Runs the retransmission timeouts as of nowMs (the timer calls it, except for the one round right after a stall of
   * this thread: core/late-rounds.ts) and replays what they released. Called from a listener while a datagram is
   * processed, it runs right after that one (as ingest()).
   */
  checkRecovery(nowMs: number): void {
    const rec = this.recovery;
    if (rec === undefined) return;
    if (this.inPacket) {
      // From a listener: its replays would overwrite the datagram under way (rxBytes, the reader), as ingest() did.
      this.recoveryDueMs = Math.max(this.recoveryDueMs, nowMs);
      return;
    }
    this.recoverNow(rec, nowMs);
    this.afterPacket();
  }

  /** The timeouts as of nowMs (none: only the replays), as one packet: what the replays' listeners feed waits. */
  private recoverNow(rec: Recovery, nowMs: number | undefined): void {
    this.inPacket = true; // what the replayed datagrams' listeners feed comes after all of them
    try {
      if (nowMs !== undefined) rec.checkTimeouts(nowMs);
      if (rec.hasReady) rec.replayReady();
    } finally {
      this.inPacket = false;
    }
  }

  /** The port of the source's request server (workers: port + sourceId − sourceIdBase), 0 when outside 1..65535. */
  private requestPort(sourceId: number): number {
    const rt = this.retransmit!;
    const port = rt.port + sourceId - (rt.sourceIdBase ?? 0);
    return port >= 1 && port <= 65535 ? port : 0;
  }

  private sendRequest(packet: Uint8Array, sourceId: number): void {
    const port = this.requestPort(sourceId);
    if (this.requestSocket === undefined || !this.requestSocketBound || port === 0) return; // start() sends it, or the timeout falls back
    this.requestSocket.send(Buffer.from(packet), port, this.retransmit!.host);
  }

  /** A held datagram, processed as if just received. */
  private replay(bytes: Uint8Array, recvTimeUs: number): void {
    this.rxBytes.set(bytes);
    // Restored, not cleared: a replay may run inside another's (a held datagram releasing another request's). No
    // reader follows the inner one today (each replay sets the flag anew), so this is robustness, not a fix.
    const outerReplaying = this.replaying;
    this.replaying = true;
    try {
      this.process(bytes.length, recvTimeUs, "held", -1);
    } finally {
      this.replaying = outerReplaying;
    }
  }

  /** The request socket's name lookup (each send's): notes the address the request goes to (askedAddresses). */
  private readonly requestLookup = (host: string, options: object, done: (err: Error | null, address: string, family: number) => void): void => {
    lookup(host, options as { family: 4 }, (err, address, family) => {
      if (err === null && host === this.retransmit?.host) {
        // A server on 0.0.0.0 answers a request to any 127.x.y.z (a host name on 127.0.1.1), or to 0.0.0.0 (this
        // host), from 127.0.0.1, the requester's own address there: taken too (before, every gap fell back). It keeps
        // no one out: any local process may send from any 127/8 address.
        const loopback = address.startsWith("127.") || address === "0.0.0.0";
        this.noteAsked(address);
        if (loopback) this.noteAsked("127.0.0.1");
      }
      done(err, address, family);
    });
  };

  /**
   * Cold (once per request sent): `address` becomes the newest in askedAddresses, a ring of ASKED_ADDRESSES_MAX; the
   * oldest goes at the bound (before, the whole set was cleared: a name resolving anew dropped the reply of a request
   * still open at an older address, and its gap fell back).
   */
  private noteAsked(address: string): void {
    const asked = this.askedAddresses;
    if (!asked.delete(address) && asked.size >= ASKED_ADDRESSES_MAX) asked.delete(asked.values().next().value!);
    asked.add(address);
  }

  /**
   * Request socket: RETRANSMIT datagrams and the server's control replies, from the address the requests went to;
   * nothing else is accepted there (counted in retransmitRejected, no book touched).
   */
  private onAnswer(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.askedAddresses.has(rinfo.address)) {
      this.counters.retransmitRejected++;
      this.strangerReply(rinfo);
      return;
    }
    if (msg.length >= 2 && msg.readUInt16LE(0) === RETX_MAGIC) {
      const c = decodeRetxControl(msg, this.auth);
      if (typeof c === "string" || (c.kind !== RETX_KIND_OUT_OF_RANGE && c.kind !== RETX_KIND_THROTTLED)) {
        // Only a server's "cannot" ends a request early; anything else here (a request reflected back) is refused.
        this.counters.retransmitRejected++;
        const why = typeof c === "string" ? c : `kind ${c.kind} is not a reply`;
        this.listeners.reportError(new Error(`retransmission reply: ${why}`), `${rinfo.address}:${rinfo.port}`);
        return;
      }
      // One for no open request (late: its request ended meanwhile, as a late answer datagram's; or another range) is
      // dropped, counted as that datagram would be (before 2026-12-07 not counted at all).
      if (!this.recovery!.refused(c.channelId, c.sourceId, c.sessionId, c.seqNum, c.count)) this.counters.retransmitRejected++;
      if (this.recovery!.hasReady) {
        this.recoverNow(this.recovery!, undefined); // the replays only: what their listeners feed after all of them
        this.afterPacket();
      }
      return;
    }
    if (msg.length > 3 && (msg[PKT_FLAGS_OFFSET]! & PKT_FLAG_RETRANSMIT) === 0) {
      this.counters.retransmitRejected++; // only retransmissions belong on this socket
      return;
    }
    this.onSocketMessage(msg, rinfo, -1);
  }

  /**
   * Cold: a reply from an address not asked, said in an 'error' at once, then at most one per 5 s with the count since
   * (before, only counted: a server answering from another address, one on 0.0.0.0 of a host of several, made every
   * gap fall back with nothing saying why).
   */
  private strangerReply(rinfo: dgram.RemoteInfo): void {
    const dropped = this.strangerReplies.due(monoEpochMs());
    if (dropped === 0) return;
    const asked = this.askedAddresses.size > 0 ? [...this.askedAddresses].join(", ") : "none yet";
    const from = `${rinfo.address}:${rinfo.port}`;
    this.listeners.reportError(
      new Error(
        `retransmission reply from ${from} dropped: replies are taken only from the address the requests went to ` +
          `(retransmit.host ${this.retransmit!.host}: ${asked}); ${this.strangerReplies.countWords(dropped)}. A server ` +
          "listening on 0.0.0.0 answers from the address its host routes the reply from: ask it at that one",
      ),
      from,
    );
  }

  /** Cold: a RETRANSMIT datagram on a group or bind socket, said at once, then at most one per 5 s with the count since. */
  private offSocketRetransmit(group: number, address: string, port: number): void {
    const dropped = this.offSocketRetransmits.due(monoEpochMs());
    if (dropped === 0) return;
    const g = this.groups[group]!;
    const from = `${address}:${port}`;
    const why =
      this.retransmit === undefined
        ? "this subscriber asks for no retransmission (no retransmit option), and a server answers only a requester's request socket"
        : `a server answers only the request socket, so retransmissions are taken there only (from retransmit.host ${this.retransmit.host})`;
    this.listeners.reportError(
      new Error(`RETRANSMIT datagram from ${from} on groups[${group}] (${g.group ?? g.bind}:${g.port}) dropped: ${why}; ${this.offSocketRetransmits.countWords(dropped)}`),
      from,
    );
  }

  /** `group`: the index of the group or bind socket it came on, −1 for the request socket. */
  private onSocketMessage(msg: Buffer, rinfo: dgram.RemoteInfo, group: number): void {
    const recvTimeUs = monoEpochUs();
    const length = msg.length;
    this.counters.datagrams++;
    this.counters.bytes += length;
    if (length > this.rxBytes.length) {
      this.reject(DecodeErrorCode.OVERSIZED, length, rinfo.address, rinfo.port);
      return;
    }
    msg.copy(this.rxBytes, 0, 0, length);
    this.process(length, recvTimeUs, rinfo.address, rinfo.port, group);
  }

  /**
   * fromPort −1: `from` is already the whole label (ingest); otherwise errors say "address:port", built only then.
   * `group`: the group or bind socket it came on (its index), −1 for the request socket, ingest() and held datagrams.
   */
  private process(length: number, recvTimeUs: number, from: string, fromPort: number, group = -1): void {
    const r = this.reader;
    let rc: DecodeErrorCode;
    try {
      rc = r.wrap(this.rxView, length, this.maxDatagramBytes);
    } catch {
      rc = DecodeErrorCode.TRUNCATED; // defensive: a DataView range error must never escape the receive loop
    }
    if (rc !== DecodeErrorCode.OK) {
      this.reject(rc, length, from, fromPort, true);
      return;
    }
    if (group >= 0 && (r.flags & PKT_FLAG_RETRANSMIT) !== 0) {
      // A server answers only the request socket (§11.3): on a group or bind socket this is no answer, whoever sent
      // it (before 2026-12-07 it filled an open gap: on an unkeyed feed, levels of anyone's on the segment).
      this.counters.retransmitRejected++;
      this.offSocketRetransmit(group, from, fromPort);
      return;
    }
    // Held datagrams replayed from here (released by this one) are inside it too: what their listeners feed comes after
    // all of them (before 2026-12-06 right after the first, the rest still to replay).
    const outerPacket = this.inPacket;
    this.inPacket = true;
    try {
      if (this.auth === undefined && !this.signedUnverifiedTold && r.authenticated) {
        // Cold, once; inside the packet as a listener is (before 2026-12-06 outside it: a datagram the callback fed
        // to ingest() was processed at once over this one, whose messages were lost).
        this.signedUnverifiedTold = true;
        if (this.signedUnverified !== undefined) this.listeners.call(this.signedUnverified, undefined); // one that throws: reported
      }
      this.processPacket(r, recvTimeUs, length);
      if (this.recovery?.hasReady) this.recovery.replayReady();
    } catch (err) {
      // A listener threw, or a bug: report and keep receiving.
      this.listeners.reportError(err instanceof Error ? err : new Error(errorText(err)), fromPort < 0 ? from : `${from}:${fromPort}`);
    } finally {
      this.inPacket = outerPacket;
    }
    if (!outerPacket) this.afterPacket();
  }

  /**
   * Cold but for the check: what listeners fed to ingest() or checkRecovery() while a packet was processed, in order,
   * from one loop (each fed datagram processed from it leaves what its own listeners feed to the loop: before
   * 2026-12-06 each drained the rest itself, a listener feeding one per update nesting one call deeper each).
   */
  private afterPacket(): void {
    const fed = this.fedMeanwhile;
    if ((fed.length === 0 && this.recoveryDueMs < 0) || this.drainingFed) return;
    const replaying = this.replaying; // fed during a held datagram's replay: live all the same (heard)
    this.replaying = false;
    this.drainingFed = true;
    try {
      for (;;) {
        const f = fed.shift();
        if (f !== undefined) {
          if (f.afterStop) this.instrumentBooks.stopped = false;
          this.ingestNow(f.bytes, f.recvTimeUs, f.from);
          continue;
        }
        if (this.recoveryDueMs < 0 || this.recovery === undefined) break;
        const nowMs = this.recoveryDueMs;
        this.recoveryDueMs = -1;
        this.recoverNow(this.recovery, nowMs);
      }
    } finally {
      this.drainingFed = false;
      this.replaying = replaying;
    }
  }

  private processPacket(r: PacketReader, recvTimeUs: number, length: number): void {
    const streams = this.streamTable;
    const recovery = this.recovery;
    if ((r.flags & PKT_FLAG_RETRANSMIT) !== 0) {
      // Only into a gap this subscriber asked for, at its next sequence number (§11.4). None open for its stream: it
      // is refused before the stream is looked up, which made a stream again for a late answer after its eviction
      // (a silent one evicted for it at a full table), or for any answer of a stream never seen.
      // Nor does one go through streamOf: it is a copy of what its stream sent in its session, asked for, no sign of
      // another session (before, one of another session restarted the stream on it), and none of a session the source
      // has left behind since it was asked for is taken (a later-starting dead run's would supersede the live run's books).
      const key = streamKeyOf(r.channelId, r.sourceId);
      const st = streams.streams.get(key);
      if (recovery === undefined || st === undefined || !recovery.holds(key) || st.sessionId !== r.sessionId || st.sessionStartUs !== r.sessionStartUs || streams.leftBehind(st)) {
        this.counters.retransmitRejected++;
        return;
      }
      if (!recovery.accept(st, r.seqNum, r.msgCount)) return;
      // Had: a late live copy of it is no line going back. Capped if sent far ahead (the request server unsigned too).
      const answerAheadUs = r.sendTimeUs - shownUs(recvTimeUs);
      if (answerAheadUs > this.sendAheadMaxUs) this.counters.sendTimesAhead++;
      raiseHighSend(st, r.sendTimeUs, answerAheadUs, this.sendAheadMaxUs);
      this.applyIntoGap(r, st, recvTimeUs, recovery, false, false); // a copy, asked for
      return;
    }
    const st = streams.streamOf(r, recvTimeUs);
    if (st === undefined) return;
    const nowMs = monoEpochMs();
    // Heard when received, held or not; a held one replayed later was heard then (its stream may be silent since). A
    // copy of what the stream already had is no sign of its publisher now: a late or replayed one kept a stream whose
    // publisher had fallen silent from turning stale, its books usable (a bridge replaying history onto the group).
    // So is a heartbeat at the line sent no later than the last datagram heard (isBeatCopy: its last heartbeat replayed).
    // Judged once, before heard() moves what it is judged by (the heartbeat itself would then be its own copy).
    const sendTimeUs = r.sendTimeUs;
    const aheadUs = sendTimeUs - shownUs(recvTimeUs); // on the wall clock, as the publisher's send time
    // Its send time is capped as the mark (heard). Once: a held one replayed was counted when received.
    if (aheadUs > this.sendAheadMaxUs && !this.replaying) this.counters.sendTimesAhead++;
    const beatCopy = isBeatCopy(st, r.seqNum, r.msgCount, sendTimeUs);
    const fresh = !isCopy(st, r.seqNum, r.msgCount) && !beatCopy && !isBeatAhead(st, r.msgCount, aheadUs);
    // Wholly or partly behind the line (no evidence for a pending jump's old line), yet sent after every datagram the
    // stream had: no copy (one was sent no later), the numbering went back. Judged on receipt only (a held one replayed
    // was judged then), against send times of its own session (0: none yet). Not against the last heard: a reordered
    // datagram filling a gap, or a clock step back, takes that back, and a network copy of a later one was a false
    // alarm (books invalid until their next snapshot). HOT: one comparison for a datagram in order.
    if (r.seqNum < st.nextSeq && !this.replaying && sentAfterAllHad(st, sendTimeUs) && !continuesOldLine(st, r.seqNum, r.msgCount)) {
      streams.lineWentBack(st);
    }
    // An END_OF_SESSION sent in the µs of the last datagram heard is the publisher's own (nothing since: a copy of it
    // would change nothing), though a copy by its send time.
    const endTaken = fresh || (beatCopy && sendTimeUs === st.heardSendUs);
    if (!this.replaying && fresh) this.heard(st, nowMs, sendTimeUs, r.msgCount, aheadUs);
    if (recovery !== undefined) {
      const d = recovery.divert(st, r.seqNum, r.msgCount, this.rxBytes, length, recvTimeUs, nowMs);
      if (d === Divert.HELD) return;
      if (d === Divert.FILLS) {
        this.applyIntoGap(r, st, recvTimeUs, recovery, fresh, endTaken); // a live datagram reordered into the gap asked for
        return;
      }
    }
    this.applyPacket(r, st, recvTimeUs, fresh, endTaken);
  }

  /** The next piece of a gap asked for (an answer, or the live datagram itself, late): applied, the books held. */
  private applyIntoGap(r: PacketReader, st: StreamState, recvTimeUs: number, recovery: Recovery, fresh: boolean, endTaken: boolean): void {
    // Its events must not show the books usable: they are behind until the held datagrams follow (replayReady).
    this.instrumentBooks.applyingRetransmit = true;
    try {
      this.applyPacket(r, st, recvTimeUs, fresh, endTaken);
    } finally {
      this.instrumentBooks.applyingRetransmit = false;
    }
    recovery.afterApplied(st);
  }

  /**
   * A live datagram of the stream arrived now: it is alive (lastRecvMs, silent, stale). Only the live path: a
   * RETRANSMIT answer is the request server's, and a held datagram replayed was heard when it was held, so neither
   * makes a stream whose publisher has gone quiet since look alive (before 2026-12-06 both did, and a book showed
   * usable up to another stale limit past its publisher's silence when the answer came after the stale check).
   */
  private heard(st: StreamState, nowMs: number, sendTimeUs: number, msgCount: number, aheadUs: number): void {
    st.lastRecvMs = nowMs;
    // isBeatCopy's window: from the line's datagram, or from a heartbeat sent before it (its clock stepped back: the
    // heartbeats after it are judged from there, so a copy of it is one too).
    if (msgCount > 0 || st.heardSendUs === 0 || sendTimeUs < st.lineSendUs) {
      st.lineSendUs = sendTimeUs;
      st.lineAheadUs = aheadUs;
    }
    st.heardSendUs = sendTimeUs;
    raiseHighSend(st, sendTimeUs, aheadUs, this.sendAheadMaxUs); // capped: one forged far ahead hid every going back
    st.silent = false;
    if (st.stale && !this.instrumentBooks.stopped) {
      st.stale = false;
      // A gap still asked for: the books stay held (behind) until the request ends, which sets them as the stream.
      if (this.recovery === undefined || !this.recovery.holds(st.key)) this.instrumentBooks.setStreamStale(st.key, false);
    }
  }

  /**
   * `fresh`: not a copy of what the stream had (isCopy, isBeatCopy, a retransmitted answer): its session goes on.
   * `endTaken`: an END_OF_SESSION of it ends the stream (fresh, or sent in the µs of the last datagram heard).
   */
  private applyPacket(r: PacketReader, st: StreamState, recvTimeUs: number, fresh: boolean, endTaken: boolean): void {
    const streams = this.streamTable;
    // An answer or a replay is no hearing of the stream: one still silent may take books on without speaking, so
    // what a full table may evict is listed again (streams.ts listSilent; else such a book stayed behind its evicted stream).
    if (st.silent) streams.silentEpoch++;
    st.heartbeatIntervalMs = r.heartbeatIntervalMs;
    // END_OF_SESSION ends a session's last datagram; more of it means that END was bogus: the stream is alive. Not a
    // copy of what it sent before (replayed: no key needed; before 2026-12-06 one reopened the ended stream).
    if (st.ended && fresh && (r.flags & PKT_FLAG_END_OF_SESSION) === 0) st.ended = false;
    const seqNum = r.seqNum;
    const msgCount = r.msgCount;

    if (msgCount === 0) {
      this.counters.heartbeats++;
      streams.sequence(st, seqNum, 0);
      // Not a copy (replayed, no key needed: before 2026-12-06 a replayed END the session went on after ended it
      // again, every book of the stream invalid until its next refresh).
      if ((r.flags & PKT_FLAG_END_OF_SESSION) !== 0 && !st.ended && endTaken) {
        st.ended = true;
        this.instrumentBooks.invalidateStream(st.key);
        streams.emitSession("ended", st, st.sessionId);
      }
      return;
    }
    const skip = streams.sequence(st, seqNum, msgCount);
    if (skip < 0) return;

    const sendTimeUs = r.sendTimeUs;
    const ev = this.updateEvent;
    ev.sendTimeUs = sendTimeUs;
    // Shown and set against the publisher's send time (its wall clock): on the wall clock, not the monotonic one.
    const shownRecvUs = shownUs(recvTimeUs);
    ev.recvTimeUs = shownRecvUs;
    ev.latencyUs = shownRecvUs - sendTimeUs;
    // Ages (assemblies) stay on the receipt clock. A held datagram replayed is touched at the latest receipt, not its
    // own earlier one: its assembly goes to the back of its list, which must stay least recently touched first.
    const books = this.instrumentBooks;
    if (!this.replaying || recvTimeUs > books.recvUs) books.recvUs = recvTimeUs;
    ev.channelId = st.channelId;
    ev.sourceId = st.sourceId;

    for (let more = r.first(); more; more = r.next()) {
      if (r.messageIndex < skip) continue;
      this.counters.messages++;
      const templateId = r.templateId;
      if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_STATUS) {
        books.onBookEvent(r, st, templateId, sendTimeUs);
      } else if (templateId === TEMPLATE_BOOK_SNAPSHOT) {
        books.onSnapshotChunk(r, st, sendTimeUs);
      } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
        books.onDefinition(r, st, sendTimeUs);
      } else {
        this.counters.unknownTemplates++;
      }
    }
  }

  /** `byReader`: the reader refused it, and its rejectDetail() names the field (read only when someone listens). */
  private reject(code: DecodeErrorCode, length: number, from: string, fromPort: number, byReader = false): void {
    this.counters.errors++;
    const name = DECODE_ERROR_NAMES[code] ?? "unknown";
    this.counters.rejected[name] = (this.counters.rejected[name] ?? 0) + 1;
    if (this.listeners.error.length > 0) {
      const detail = byReader ? this.reader.rejectDetail() : "longer than any UDP datagram";
      this.listeners.reportError(new WireDecodeError(code, length, detail), fromPort < 0 ? from : `${from}:${fromPort}`);
    }
  }
}

function bindSocket(socket: dgram.Socket, port: number, address: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    // Closed by stop() while binding: the bind's callback never comes.
    const onClose = () => reject(new Error("socket closed while binding"));
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.bind({ port, address, exclusive: false }, () => {
      socket.off("error", onError);
      socket.off("close", onClose);
      resolve();
    });
  });
}
