/**
 * Watches our own multicast streams for another publisher (docs/operations.md, "Another publisher on our
 * streams"). One node:dgram socket per group:port (SO_REUSEADDR, so it shares the port with local subscribers),
 * joined on the destination's interface. A datagram whose channelId is one of ours on that group and whose
 * sourceId is one of ours, but whose sessionId is not one of our sessions, comes from another publisher: the
 * same stream published twice, which subscribers see as endless session restarts. Different sourceIds on one
 * channel are legitimate (workers, shards) and never counted.
 *
 * Only the header fields needed are read, through the layout constants; wire versions 1, 2 and 3 share those
 * offsets. Our own datagrams loop back to this socket too: each costs one header read and one lookup, on the
 * socket's event, never in the publisher's send path. Anything else (other magic or version, short) is ignored.
 * A datagram that would count (another session) must first pass the framing checks a subscriber makes (length and
 * checksum, wire v2 and v3; v1 has none): a damaged datagram is not another publisher. With publish.auth_key_file
 * it must also be signed with our key (v1 never is): subscribers holding the key drop any other, so it disturbs
 * nothing, and before, one forged datagram could refuse our start or turn /readyz to 503. At most
 * MAX_FOREIGN_SESSIONS sessions are tracked; datagrams of further ones are counted (`untracked`), not stored, so
 * a flood of forged sessions cannot grow the publisher's memory. This socket's events run on the publishing thread:
 * at most MAX_FOREIGN_CHECKS_PER_SECOND other-session datagrams are examined per second, further ones only counted
 * (`unchecked`), so a flood of forged datagrams costs a bounded number of HMACs (`checkAll` lifts that for the start
 * window, nothing published yet, so a flood hides nothing from the start check). The checks are a token bucket refilled
 * continuously, not a window opened by the first datagram: a sender bursting the budget at each window's start (the
 * window began at its own datagram) left none for a real other publisher, never examined. With the budget spent, a
 * datagram naming a session already tracked is still checked once per TRACKED_CHECK_EVERY_MS of that session, so a
 * flood of other datagrams does not hide a live conflict's (judged quiet, over). Unchecked datagrams count for nothing:
 * taken as the session's claim (s-rd2c), a forger's unsigned ones copying its header kept it reported for ever.
 * @module
 */
import dgram from "node:dgram";
import { DatagramAuth } from "../wire/auth.ts";
import { DecodeErrorCode, PacketReader } from "../wire/decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  MAGIC,
  PKT_CHANNEL_ID_OFFSET,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAGS_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
} from "../wire/layout.ts";
import { monoMs } from "../core/clock.ts";

/** Wire versions whose header carries channelId, sessionId and sourceId at the offsets read here. */
export const WATCHED_WIRE_VERSIONS: readonly number[] = [1, 2, 3];
/** Bytes a datagram needs for every field read here. */
const FIELDS_END = Math.max(PKT_MAGIC_OFFSET + 2, PKT_VERSION_OFFSET + 1, PKT_FLAGS_OFFSET + 1, PKT_CHANNEL_ID_OFFSET + 2, PKT_SESSION_ID_OFFSET + 4, PKT_SOURCE_ID_OFFSET + 2);
/** The kernel's default receive buffer is enough: this socket only needs to see some datagrams of a stream. */
const RECV_BUFFER_BYTES = 256 * 1024;
/**
 * Our own sessions remembered per source id (addOwnSession). A source's sessions come one per start of its publisher
 * (the Feeder's, or a worker slot's thread), and at most 1 + BLOCKED_THREADS_MAX (app/supervisor.ts) threads of a slot
 * live at once: a session this many starts back is a thread that ended several restarts ago (each restart waits at
 * least RESTART_BASE_MS, doubling while the restarts fail, and this socket is read meanwhile; its datagrams went out
 * on this host before it ended), so none of its datagrams can still come to be taken for a stranger's. Until
 * 2026-12-07 every session was kept: a crash loop (a restart every 10 s) added ~8,600 a day, for good.
 */
export const OWN_SESSIONS_PER_SOURCE = 8;
/** Foreign sessions tracked at once (each one is a configuration error to fix, and one is enough to name it). */
export const MAX_FOREIGN_SESSIONS = 64;
/**
 * Other-session datagrams checked per second of the clock (framing, and the HMAC with a key), at most this many at
 * once: this runs on the publishing thread, and anyone on the segment can send them, so a flood must not cost one HMAC
 * each. A real other publisher sends steadily (heartbeats at least): the checks spread over time examine its
 * datagrams in proportion to their share, and one is enough to name it.
 */
export const MAX_FOREIGN_CHECKS_PER_SECOND = 1000;
/**
 * With the checks per second spent, a datagram naming a tracked session is still checked if its session had none so
 * checked for this long: at most 100 a second per session (64 sessions, and with a key only a signed datagram makes one).
 */
export const TRACKED_CHECK_EVERY_MS = 10;

export interface WatchedStream {
  readonly group: string;
  readonly port: number;
  /** Local interface address the group is joined on (the destination's interface). */
  readonly iface: string;
  readonly channelId: number;
  /** Where the stream is configured, for error messages (e.g. `publish.destinations[0]`). */
  readonly key: string;
}

/** Another publisher's session seen on one of our streams. */
export interface ForeignSession {
  readonly group: string;
  readonly port: number;
  readonly channelId: number;
  readonly sourceId: number;
  readonly sessionId: number;
  readonly version: number;
  /** Sender's address:port. */
  readonly from: string;
  readonly firstSeenMs: number;
  lastSeenMs: number;
  datagrams: number;
  /** When a datagram naming it was last checked beyond the checks per second (TRACKED_CHECK_EVERY_MS). */
  spareCheckMs: number;
  /**
   * Its last datagram said END_OF_SESSION: it has stopped (a publisher whose sequence ran out sends one on each
   * heartbeat, docs/wire-protocol.md §5.1). A later datagram without it proves that END bogus, as for a subscriber.
   */
  ended: boolean;
}

interface WatchSocket {
  readonly socket: dgram.Socket;
  readonly group: string;
  readonly port: number;
  /** Our channel ids on this group:port. */
  readonly channels: readonly number[];
}

export class StreamWatcher {
  /** Datagrams received on the watched groups (ours included). */
  datagrams = 0;
  /** Datagrams that looked foreign but failed the framing checks (length, checksum): damaged, not counted as a session. */
  damaged = 0;
  /** Datagrams of foreign sessions beyond MAX_FOREIGN_SESSIONS tracked ones: counted, not stored. */
  untracked = 0;
  /** With a key: datagrams that looked foreign but were not signed with it (keyed subscribers drop them), not counted as a session. */
  forged = 0;
  /** Datagrams of other sessions with no check left: counted, not examined (see MAX_FOREIGN_CHECKS_PER_SECOND, TRACKED_CHECK_EVERY_MS). */
  unchecked = 0;
  /**
   * Every other-session datagram is checked (no budget): set by the guard while it listens before our start, when
   * nothing is published yet and a flood costs at most that window (capped, a flood hid a real other publisher from the
   * start check, which then let us publish beside it).
   */
  checkAll = false;
  /** Checks left (at most checksPerSecond, refilled continuously at checksPerSecond a second) as of checksAtMs on `now`. */
  private checksLeft: number;
  private checksAtMs = -Infinity;
  /** Framing checks, and the HMAC trailer with a key (else it is covered by the checksum, not verified). Cold: foreign datagrams only. */
  private readonly reader: PacketReader;
  private readonly keyed: boolean;
  /**
   * A foreign datagram is copied here before its checks: one buffer, so the reader's views are made once and a flood
   * of forged datagrams allocates nothing (a DataView per datagram before; with a key, Bun's reused SHA-256).
   */
  private readonly scratch = new Uint8Array(ABS_MAX_DATAGRAM_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly sockets: WatchSocket[] = [];
  private readonly ownSources: Set<number>;
  /**
   * Our sessions' ids by source id, oldest first (at most OWN_SESSIONS_PER_SOURCE each): isOwn scans ≤ 8 numbers, no
   * allocation, on each of our own datagrams looped back (a Set of source × session keys beside it held the same).
   */
  private readonly ownBySource = new Map<number, number[]>();
  /** Foreign sessions by "group:port/channel/source/session"; entries stay until forget(). */
  private readonly foreign = new Map<string, ForeignSession>();
  /** The same sessions, for the flood's path (spareCheck: an indexed scan of at most MAX_FOREIGN_SESSIONS, no iterator). */
  private readonly tracked: ForeignSession[] = [];

  constructor(
    private readonly streams: readonly WatchedStream[],
    ownSourceIds: readonly number[],
    private readonly now: () => number = monoMs, // its times are compared, never shown: a wall-clock step is no silence
    authKey?: Uint8Array, // publish.auth_key_file's key: only datagrams signed with it can be another publisher
    private readonly checksPerSecond: number = MAX_FOREIGN_CHECKS_PER_SECOND,
  ) {
    this.checksLeft = checksPerSecond;
    this.ownSources = new Set(ownSourceIds);
    this.keyed = authKey !== undefined;
    this.reader = new PacketReader(authKey === undefined ? undefined : new DatagramAuth(authKey, new Bun.CryptoHasher("sha256")));
  }

  /**
   * Declares one of our sessions: its datagrams are never foreign. The source's session declared
   * OWN_SESSIONS_PER_SOURCE before it is forgotten (its thread long ended); one declared again is the newest. Cold.
   */
  addOwnSession(sourceId: number, sessionId: number): void {
    let list = this.ownBySource.get(sourceId);
    if (list === undefined) this.ownBySource.set(sourceId, (list = []));
    const at = list.indexOf(sessionId);
    if (at >= 0) list.splice(at, 1);
    list.push(sessionId);
    if (list.length > OWN_SESSIONS_PER_SOURCE) list.shift();
  }

  /** Own sessions remembered (at most OWN_SESSIONS_PER_SOURCE per source id). */
  get ownSessionsHeld(): number {
    let held = 0;
    for (const list of this.ownBySource.values()) held += list.length;
    return held;
  }

  /** HOT PATH (onDatagram: each of our own datagrams looped back): allocation-free. */
  isOwn(sourceId: number, sessionId: number): boolean {
    const list = this.ownBySource.get(sourceId);
    return list !== undefined && list.includes(sessionId);
  }

  /** Binds and joins every group; rejects naming the stream's config key when one cannot. */
  async start(): Promise<void> {
    const byAddress = new Map<string, { s: WatchedStream; channels: number[] }>();
    for (const s of this.streams) {
      const k = `${s.group}:${s.port}@${s.iface}`;
      const entry = byAddress.get(k);
      if (entry) entry.channels.push(s.channelId);
      else byAddress.set(k, { s, channels: [s.channelId] });
    }
    try {
      for (const { s, channels } of byAddress.values()) {
        const socket = await openWatchSocket(s).catch((err: NodeJS.ErrnoException) => {
          // A local receiver bound to the port without SO_REUSEADDR keeps everyone else off it.
          const hint = err.code === "EADDRINUSE" ? " (a local receiver holds the port without SO_REUSEADDR)" : "";
          throw new Error(`${s.key}: cannot listen on ${s.group}:${s.port} via ${s.iface} for other publishers: ${err.message}${hint}`);
        });
        const ws: WatchSocket = { socket, group: s.group, port: s.port, channels };
        socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onDatagram(ws, msg, rinfo));
        socket.on("error", () => undefined); // a receive error loses a sample, nothing more
        this.sockets.push(ws);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const closing = this.sockets.map((w) => new Promise<void>((resolve) => w.socket.close(() => resolve())));
    this.sockets.length = 0;
    await Promise.all(closing);
  }

  /** Foreign sessions seen so far (live objects: lastSeenMs, datagrams and ended keep changing). */
  sessions(): ForeignSession[] {
    return [...this.foreign.values()];
  }

  /** Drops a foreign session from the list; it is recorded afresh if it sends again. */
  forget(session: ForeignSession): void {
    const key = keyOf(session.group, session.port, session.channelId, session.sourceId, session.sessionId);
    const f = this.foreign.get(key);
    if (f === undefined) return;
    this.foreign.delete(key);
    this.tracked.splice(this.tracked.indexOf(f), 1);
  }

  private onDatagram(ws: WatchSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.datagrams++;
    if (msg.length < FIELDS_END || msg.readUInt16LE(PKT_MAGIC_OFFSET) !== MAGIC) return;
    const version = msg[PKT_VERSION_OFFSET]!;
    if (!WATCHED_WIRE_VERSIONS.includes(version)) return;
    const channelId = msg.readUInt16LE(PKT_CHANNEL_ID_OFFSET);
    if (!ws.channels.includes(channelId)) return;
    const sourceId = msg.readUInt16LE(PKT_SOURCE_ID_OFFSET);
    if (!this.ownSources.has(sourceId)) return;
    const sessionId = msg.readUInt32LE(PKT_SESSION_ID_OFFSET);
    if (this.isOwn(sourceId, sessionId)) return;
    // Cold from here: another publisher's datagram, or one made to look like it. Bounded per second (a flood of forged
    // ones cost the publishing thread one HMAC each before).
    const nowMs = this.now();
    if (nowMs > this.checksAtMs) this.checksLeft = Math.min(this.checksPerSecond, this.checksLeft + ((nowMs - this.checksAtMs) * this.checksPerSecond) / 1000);
    this.checksAtMs = nowMs; // a clock gone back refills nothing
    if (this.checkAll) {
      // not counted against the budget: the window's checks leave the running watcher's intact
    } else if (this.checksLeft >= 1) this.checksLeft--;
    else if (!this.spareCheck(ws, channelId, sourceId, sessionId, nowMs)) {
      this.unchecked++;
      return;
    }
    if (version === 1) {
      if (this.keyed) {
        this.forged++; // v1 carries no signature
        return;
      }
    } else {
      const rc = msg.length > ABS_MAX_DATAGRAM_BYTES ? DecodeErrorCode.OVERSIZED : this.check(msg);
      if (rc === DecodeErrorCode.BAD_AUTH) {
        this.forged++;
        return;
      }
      if (rc !== DecodeErrorCode.OK) {
        this.damaged++;
        return;
      }
    }
    const key = keyOf(ws.group, ws.port, channelId, sourceId, sessionId);
    let f = this.foreign.get(key);
    if (f === undefined) {
      if (this.foreign.size >= MAX_FOREIGN_SESSIONS) {
        this.untracked++;
        return;
      }
      f = { group: ws.group, port: ws.port, channelId, sourceId, sessionId, version, from: `${rinfo.address}:${rinfo.port}`, firstSeenMs: nowMs, lastSeenMs: nowMs, spareCheckMs: -Infinity, datagrams: 0, ended: false };
      this.foreign.set(key, f);
      this.tracked.push(f);
    }
    f.lastSeenMs = nowMs;
    f.datagrams++;
    f.ended = (msg[PKT_FLAGS_OFFSET]! & PKT_FLAG_END_OF_SESSION) !== 0;
  }

  /**
   * The checks per second spent: whether this datagram is checked anyway, naming a tracked session with no such check
   * for TRACKED_CHECK_EVERY_MS (allocation-free: the flood's path).
   */
  private spareCheck(ws: WatchSocket, channelId: number, sourceId: number, sessionId: number, nowMs: number): boolean {
    for (let i = 0; i < this.tracked.length; i++) {
      const f = this.tracked[i]!;
      if (f.sessionId === sessionId && f.sourceId === sourceId && f.channelId === channelId && f.port === ws.port && f.group === ws.group) {
        if (!(nowMs - f.spareCheckMs >= TRACKED_CHECK_EVERY_MS)) return false;
        f.spareCheckMs = nowMs;
        return true;
      }
    }
    return false;
  }

  /** The framing checks (and the signature with a key) on a copy in the scratch buffer. */
  private check(msg: Buffer): DecodeErrorCode {
    this.scratch.set(msg);
    return this.reader.verify(this.scratchView, msg.length, ABS_MAX_DATAGRAM_BYTES);
  }
}

function keyOf(group: string, port: number, channelId: number, sourceId: number, sessionId: number): string {
  return `${group}:${port}/${channelId}/${sourceId}/${sessionId}`;
}

/** Bound to the group address (Linux: only that group's datagrams on this port), joined on the stream's interface. */
function openWatchSocket(s: WatchedStream): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: RECV_BUFFER_BYTES });
  return new Promise<dgram.Socket>((resolve, reject) => {
    const fail = (err: Error) => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      reject(err);
    };
    socket.once("error", fail);
    socket.bind({ port: s.port, address: s.group, exclusive: false }, () => {
      try {
        socket.addMembership(s.group, s.iface);
      } catch (err) {
        return fail(err as Error);
      }
      socket.off("error", fail);
      resolve(socket);
    });
  });
}
