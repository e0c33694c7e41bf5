/**
 * Multicast → NATS (docs/nats.md). One more subscriber of the feed, in its own process: it joins the groups,
 * verifies every datagram like any subscriber (checksum, optional HMAC, framing), splits it into its messages and
 * publishes each, bytes unchanged, behind a 40-byte envelope, to `<prefix>.<venue>.<market>.<symbol>` (the
 * instrument's definition names it; the publisher's periodic refresh carries definitions and snapshots, so the
 * far side recovers from any loss). Upstream heartbeats go to `<prefix>._hb`. With `jetstream`, a stream on
 * `<prefix>.>` with retention by age and size keeps the history (the bridge's core publishes land in it).
 * Every envelope is numbered per upstream (channel, source) stream (nats-envelope.ts ENV_FORWARD_SEQ_OFFSET); a
 * datagram lost before the bridge (a gap in the upstream sequence) skips a number, and a restarted bridge starts
 * from a random one, so the far side knows when it missed something, as a multicast subscriber does from the gap.
 * A jump ahead that two datagrams of the line before it contradict is undone, as a subscriber does (§6.3), and so is
 * a stream's or session's first line (unproven: a first datagram forged far ahead dropped every real one after it).
 * With a key (authKey) every datagram must carry a valid HMAC trailer and every envelope is signed with that key
 * (nats-envelope.ts ENV_VERSION_SIGNED), so a reader with the key takes nothing anyone else put on the subjects.
 * What NATS cannot take (client disconnected, its backlog over maxPendingBytes, a message it refuses) is dropped,
 * counted, and skips a number too: memory stays bounded and every reader sees the loss. The first two are read from
 * the client's internals; a client without them is warned about at start (nothing is dropped for them then).
 * Hot path: nothing allocated per datagram but one range the client keeps (payload-arena.ts): the datagram is judged
 * in a reused buffer, its envelopes' PUB frames written by the bridge (pub-frames.ts) and queued as one command on the
 * client's connection (its internals too; without them, or for an envelope the client would refuse, its publish).
 * @module
 */
import dgram from "node:dgram";
import { monoMs, nowUs } from "../core/clock.ts";
import { RateLimitedLog, type Logger } from "../core/log.ts";
import { DECODE_ERROR_NAMES, DecodeErrorCode, PacketReader } from "../wire/decoder.ts";
import { utf8Exact } from "../wire/message-readers.ts";
import { DatagramAuth, sha256Option, type ReusableSha256 } from "../wire/auth.ts";
import {
  DEF_MARKET_ID_OFFSET,
  DEF_SYMBOL_LENGTH_OFFSET,
  DEF_VENUE_ID_OFFSET,
  MESSAGE_HEADER_BYTES,
  MSG_BLOCK_LENGTH_OFFSET,
  MSG_LENGTH_OFFSET,
  MSG_TEMPLATE_ID_OFFSET,
  PACKET_HEADER_BYTES,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAG_RETRANSMIT,
  PKT_HEARTBEAT_INTERVAL_MS_OFFSET,
  PKT_MSG_COUNT_OFFSET,
  TEMPLATE_INSTRUMENT_DEFINITION,
  ABS_MAX_DATAGRAM_BYTES,
} from "../wire/layout.ts";
import { HEARTBEAT_TOKEN, MAX_NUMBERED_STREAMS, MAX_TRACKED_INSTRUMENTS, envelopeBytes, prefixCheck, subjectOf, writeEnvelope } from "../subscriber/nats-envelope.ts";
import { RECONNECT_TIMEOUT_MS, connectNats, connectWithin, isRequestTimeout } from "../subscriber/nats-source.ts";
import { describeCredentials, isAuthError, type NatsCredentials, type NatsTls } from "../subscriber/nats-auth.ts";
import { SEND_AHEAD_MAX_US, SEQ_REVERT_DATAGRAMS, compareSessions, continuesOldLine, raiseHighSend, sendAheadMaxUsOf, sentAfterAllHad } from "../subscriber/streams.ts";
import { ReportLimit } from "../core/report-limit.ts";
import { StreamWatch, type StreamManager, type StreamWatchCounters } from "./stream-watch.ts";
import { PayloadArena } from "./payload-arena.ts";
import { PubFrames, framable } from "./pub-frames.ts";
import { copyRange } from "../core/copy-range.ts";

export interface JetStreamOptions {
  stream: string;
  /** Retention by age, ms (0 = none). */
  maxAgeMs: number;
  /** Retention by size, bytes (-1 = none). */
  maxBytes: number;
  /** How often what the stream stores is checked (stream-watch.ts). Default STREAM_CHECK_INTERVAL_MS. */
  checkIntervalMs?: number;
}

/**
 * A stream's first forward number is random below this (2^44): the 46-bit numbers (nats-envelope.ts
 * ENV_FORWARD_SEQ_HIGH_OFFSET) then never wrap, 3/4 of their range ahead (10^13 messages), while the low 15 bits
 * that readers before the high part compare are as random as before.
 */
const FORWARD_START_RANGE = 2 ** 44;

/** The stream's duplicate window at most (nats-server's default): within max_age, as the server requires. */
const DUPLICATE_WINDOW_MS = 120_000;

/** Default of JetStreamOptions.checkIntervalMs. */
export const STREAM_CHECK_INTERVAL_MS = 5000;

export interface ForwardBridgeOptions {
  groups: { group: string; port: number; iface?: string }[];
  servers: string | string[];
  prefix: string;
  jetstream?: JetStreamOptions;
  authKey?: Uint8Array;
  /**
   * The SHA-256 for authKey's HMAC (as FeedSubscriberOptions.authSha256): Bun's CryptoHasher under Bun by default,
   * createHmac when null (tests' control). Datagrams are checked in the bridge's reused receive buffer and envelopes
   * signed in a reused scratch: no cell (createHmac ~6 a MAC).
   */
  authSha256?: ReusableSha256 | null;
  maxDatagramBytes?: number;
  /**
   * Bytes the NATS client may hold unwritten (its buffer and its socket's) before the bridge drops datagrams instead
   * of publishing them (counted, a number skipped). Default DEFAULT_MAX_PENDING_BYTES.
   */
  maxPendingBytes?: number;
  /** How long after the client closed its connection for good the bridge connects again. Default RECONNECT_AFTER_CLOSE_MS. */
  reconnectAfterCloseMs?: number;
  /**
   * A datagram sent more than this ahead of the bridge's clock raises the highest send time of its stream (seqLinesBack
   * is judged by it) to that clock plus this only (`sendTimesAhead`), as FeedSubscriberOptions.sendAheadMaxMs.
   * Default DEFAULT_SEND_AHEAD_MAX_MS (5000).
   */
  sendAheadMaxMs?: number;
  /** Credentials for the server (never logged). Without: none, as before. */
  credentials?: NatsCredentials;
  /** TLS required (with a private CA, a client certificate); also with a `tls://` server URL. Without: TLS if offered. */
  tls?: NatsTls;
  log: Logger;
}

/**
 * The `rejected` reason of a RETRANSMIT datagram read on a group: a request server answers only the requester's request
 * socket (docs/wire-protocol.md §11.4), so one on a group is no answer, and forwarded it would be live data to readers.
 */
export const REJECTED_RETRANSMIT = "retransmit";

/** A RETRANSMIT datagram on a group is logged at once, then at most once per this, with the count since. */
const RETRANSMIT_REPORT_MS = 5000;

/**
 * Default of ForwardBridgeOptions.reconnectAfterCloseMs. The client reconnects by itself (connectNats), except after
 * two authorization errors in a row (a server restarted requiring credentials), when it closes for good.
 */
export const RECONNECT_AFTER_CLOSE_MS = 2000;

/** Default of ForwardBridgeOptions.maxPendingBytes: a few seconds of a busy feed, far from a memory problem. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface ForwardBridgeCounters extends StreamWatchCounters {
  /** Datagrams read from the groups that passed the checks (the others: `rejected`, by reason). */
  datagrams: number;
  /**
   * Bytes of those datagrams, and of the rejected ones: the pairs read alike (before, receivedBytes took the rejected
   * ones too while `datagrams` did not, so bytes per datagram read wrong under a flood of garbage).
   */
  receivedBytes: number;
  rejectedBytes: number;
  /** Upstream heartbeats published (counted once the client took them: a refused one is logged, not counted). */
  heartbeats: number;
  /** Messages published to NATS. */
  published: number;
  /** Envelope bytes handed to the NATS client (messages and heartbeats). */
  publishedBytes: number;
  /** Messages of instruments whose definition was not seen yet (dropped: the next refresh brings it). */
  undefinedInstrument: number;
  /** Gaps in an upstream stream's sequence (datagrams lost before the bridge): each skips a forward number. */
  upstreamGaps: number;
  /**
   * Datagrams of a followed stream wholly behind its sequence (copies, or later than what came after them; a heartbeat
   * below the next seqNum too), and heartbeats at it sent within what the line brought (Upstream.heardSendUs): dropped,
   * as a subscriber drops them or calls them copies; forwarded, a copy of a snapshot rolled the far side's book back,
   * and an old heartbeat could not be told from the publisher now (after a gap of the reader's, not by its send time).
   */
  duplicates: number;
  /** Jumps ahead undone: two datagrams continued the line from before the jump (one bogus seqNum). */
  seqJumpsReverted: number;
  /**
   * A stream's numbering went back within its session: a datagram (partly) behind the line sent after every one the
   * bridge heard of its session (Upstream.highSendUs: no copy of one it had). A number was skipped, so the readers stop trusting its books as at a gap (once until
   * the line moves on); what lay behind the line was dropped (`duplicates`), as a subscriber drops it (seqLinesBack).
   */
  seqLinesBack: number;
  /**
   * Datagrams that were news (not duplicates) sent more than sendAheadMaxMs ahead of the bridge's clock (a forged send
   * time, no key, or a publisher clock ahead of this host's): the mark seqLinesBack is judged by rose to the bridge's
   * clock plus sendAheadMaxMs only.
   */
  sendTimesAhead: number;
  /**
   * Messages not handed to NATS (each dropped datagram skips a number, so readers see the loss): while the client
   * is disconnected (its buffer would be discarded at the next connect attempt; also while a connection made again after
   * a close for good sets up its JetStream stream, which may not be there yet, and after the client's own reconnect
   * until the stream is read on the new connection: recheckStream), and while it holds more than
   * maxPendingBytes unwritten (NATS or the link slower than the feed: the bridge's memory would grow without bound).
   */
  droppedDisconnected: number;
  droppedBacklog: number;
  /**
   * Wire messages the client refused to publish (e.g. larger than the server's max_payload): counted, a number
   * skipped. Not heartbeats: a refused heartbeat carries no message (before, it was counted here and as published).
   */
  publishErrors: number;
  /**
   * Definitions of further instruments once MAX_TRACKED_INSTRUMENTS have a subject: not kept (their messages count
   * as undefinedInstrument), so a flood of made-up instrument ids cannot grow the bridge's memory.
   */
  instrumentsOverCap: number;
  /**
   * Times the client closed its connection for good (two authorization errors in a row): the bridge connects again
   * (every reconnectAfterCloseMs until it can). Before, it stayed up dropping every datagram for good, even once
   * the server took it again.
   */
  natsClosed: number;
  /**
   * Errors the NATS server reported (its -ERR; e.g. a publish the bridge's permissions do not allow, which the server
   * drops: readers see the loss as a gap, or nothing if it refuses them all). Before, not logged nor counted: a
   * bridge without publish rights on the prefix looked healthy, everything counted as published. Not the refusals of
   * the credentials: natsAuthErrors (before, counted here too).
   */
  natsErrors: number;
  /**
   * Times the server refused the bridge's credentials (its -ERR 'Authorization Violation' while the client
   * reconnects, and each connect made again that it refused): logged once per run of them, tried again every
   * reconnectAfterCloseMs; meanwhile datagrams are dropped and numbered as lost.
   */
  natsAuthErrors: number;
  /**
   * Connections made again: the client's own reconnects after a drop and the bridge's after the client closed for
   * good. Counted on the bridge, never read from the client's statistics (a new client after a close starts those at
   * 0), so no count goes down or is counted twice across reconnects.
   */
  natsReconnects: number;
  /**
   * Datagrams dropped, by reason: the decoder's (DECODE_ERROR_NAMES) and REJECTED_RETRANSMIT (a RETRANSMIT datagram,
   * which a request server sends only to a requester's request socket; before 2026-12-07 forwarded as live data).
   */
  rejected: Record<string, number>;
}

interface Publisher {
  publish(subject: string, data: Uint8Array): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the connection is closed for good (by close(), or by the client itself), with the client's reason. */
  closed?(): Promise<void | Error>;
  /** The client's events (connects, disconnects, the server's errors); ends when the connection is closed. */
  status?(): AsyncIterable<{ type: string; error?: Error }>;
  /**
   * The client's protocol handler (@nats-io/nats-core 3.x internals, no public API for it): whether it is connected,
   * its outbound buffer and its socket. Absent in another client: then nothing is checked.
   */
  protocol?: NatsProtocol;
}
interface NatsProtocol {
  connected?: boolean;
  outbound?: { size(): number };
  transport?: { socket?: { writableLength?: number } };
  /** Queues protocol bytes (what its `publish` calls with the frame it built): the bridge's own frames (pub-frames.ts). */
  sendCommand?(cmd: Uint8Array): void;
  /** The server's INFO: the largest payload it takes (the client's publish throws above it). */
  info?: { max_payload?: number };
  /** The client's statistics (nc.stats()), kept as its publish keeps them. */
  outMsgs?: number;
  outBytes?: number;
}

const textEncoder = new TextEncoder();

interface Upstream {
  sessionId: number;
  sessionStartUs: number;
  nextSeq: number;
  forward: number;
  /**
   * The line before the last jump ahead (−1: none pending) and datagrams seen continuing it: as a subscriber does
   * (docs/wire-protocol.md §6.3), SEQ_REVERT_DATAGRAMS of them prove the jump bogus (one forged or damaged seqNum)
   * and the stream goes back to that line, so one datagram cannot end the bridge's loss detection for good. A
   * stream's or session's first line is unproven as a subscriber's is (altNext 0, altCount −1 until its first
   * datagram, then 0; `lineFrom` its first seqNum): datagrams wholly before it are evidence of another line, two undo
   * it. Before, the first datagram was the line for good: one forged far ahead as a stream's first (no key; or after
   * its session's line was dropped, SAVED_SESSION_LINES) made every real datagram after it a duplicate, dropped: no
   * data and no heartbeat of the live publisher reached NATS, its readers judged it dead.
   */
  altNext: number;
  altCount: number;
  lineFrom: number;
  /**
   * The current session's heartbeat window, as a subscriber keeps it (streams.ts isBeatCopy, FeedSubscriber.heard):
   * the send time (µs) of the last datagram heard (0: none since the session came), of the line's start (its last
   * datagram with messages, or a heartbeat since sent before it: the clock stepped back) and how far that was ahead of
   * its receipt. A heartbeat at the line sent within [lineSendUs, heardSendUs] is a copy, dropped; kept up to date
   * also while NATS is down, so a copy of a heartbeat dropped then is no news to the reader after that gap.
   */
  heardSendUs: number;
  lineSendUs: number;
  lineAheadUs: number;
  /**
   * The highest send time (µs) of a datagram heard in the current session (0: none yet), as a subscriber's
   * StreamState.highSendUs: a copy of any of them was sent no later (lineWentBack). Not heardSendUs, which goes back in
   * normal operation (a publisher's clock stepped back, a late datagram continuing a pending jump's old line).
   */
  highSendUs: number;
  /**
   * The numbering went back (lineWentBack): a number was skipped for it; the line moving on ends it (messages past it,
   * or a gap). Not a heartbeat at it, as a subscriber's StreamState.lineBack ends: no book can be refreshed meanwhile,
   * and the skip makes the reader hear the envelope that carries it (nats-envelope.ts lineMoved), so replays after a
   * clock step back (behind the line, sent later) between heartbeats at the line kept a dead publisher alive there. Not
   * kept per session: a switch ends it (at worst one more skip, the safe side).
   */
  lineBack: boolean;
  /**
   * The lines of other sessions seen on this stream (SAVED_SESSION_LINES; sessionStartUs −1: free), taken up again
   * when one comes back. Before, a datagram of another session reset the one line: a late one of the session a
   * restart replaced (or a recorded signed one sent again) reset it to that session, the new session's next datagram
   * reset it back unchecked, and a loss of the new session right then, or a copy of its snapshot, went by as news.
   * One line kept for the session before (s-bridge) still lost the current one after two other sessions' in a row
   * (s-rev65); keeping the newest session's and the least recently left others (s-rev65) still lost a live run whose
   * clock stepped back (older than the dead run it replaced) to three old sessions' recorded datagrams (until 2026-12-06): the
   * oldest session's line is the one dropped now.
   */
  saved: SessionLine[];
}
/** A session's sequence line and heartbeat window while another session's datagrams are read (Upstream.saved). */
interface SessionLine {
  sessionId: number;
  sessionStartUs: number;
  nextSeq: number;
  altNext: number;
  altCount: number;
  lineFrom: number;
  heardSendUs: number;
  lineSendUs: number;
  lineAheadUs: number;
  highSendUs: number;
}
/**
 * Lines of other sessions kept per stream: the sessions of a publisher that restarted a few times in a row, whose late
 * datagrams may interleave. More sessions than this drop the line of the oldest session (by session order, the
 * current one's included): what comes of a dropped session starts a line anew, unproven (Upstream.altNext; the reader
 * refuses old sessions' messages), but datagrams of older sessions (late, or recorded ones sent again) can never end
 * the checks of a newer one's, the live run's among them also when its host clock stepped back (it starts before the dead run it replaced):
 * only SAVED_SESSION_LINES + 1 sessions that started after it can (with a key, a replay has only the real ones: runs
 * that started within the step, docs/nats.md).
 */
export const SAVED_SESSION_LINES = 3;
/** Scratch state of streams beyond MAX_NUMBERED_STREAMS: never published as numbered. */
const UNNUMBERED: Upstream = { sessionId: 0, sessionStartUs: -1, nextSeq: 0, forward: 0, altNext: -1, altCount: 0, lineFrom: 0, heardSendUs: 0, lineSendUs: 0, lineAheadUs: 0, highSendUs: 0, lineBack: false, saved: [] };

/**
 * Cold: the slot of `up.saved` the current line goes to: a free one, else the oldest session's (by start time, then
 * id, as sessions are ordered: docs/wire-protocol.md §3.4); −1 when the current line is older than every saved one
 * (it is the one dropped). Least recently left (s-rev65) was churned by replays: datagrams of three old sessions in a
 * row pushed out a live session's line unless it was the newest by order, which one whose clock stepped back is not.
 */
function slotToSave(up: Upstream): number {
  const saved = up.saved;
  let oldest = -1;
  for (let i = 0; i < saved.length; i++) {
    const l = saved[i]!;
    if (l.sessionStartUs === -1) return i;
    if (oldest < 0 || compareSessions(l.sessionStartUs, l.sessionId, saved[oldest]!.sessionStartUs, saved[oldest]!.sessionId) < 0) oldest = i;
  }
  const o = saved[oldest]!;
  return compareSessions(up.sessionStartUs, up.sessionId, o.sessionStartUs, o.sessionId) < 0 ? -1 : oldest;
}

/** A definition's naming fields as bytes: venue id and market id (u16 each), then the symbol's bytes. Cold. */
function nameOf(venueId: number, marketId: number, src: Uint8Array, start: number, symLen: number): Uint8Array {
  const out = new Uint8Array(4 + symLen);
  out[0] = venueId & 0xff;
  out[1] = venueId >>> 8;
  out[2] = marketId & 0xff;
  out[3] = marketId >>> 8;
  for (let i = 0; i < symLen; i++) out[4 + i] = src[start + i]!;
  return out;
}

/** Whether a definition names what `named` (nameOf) holds. */
function sameName(named: Uint8Array, venueId: number, marketId: number, src: Uint8Array, start: number, symLen: number): boolean {
  if (named.length !== 4 + symLen || named[0] !== (venueId & 0xff) || named[1] !== venueId >>> 8 || named[2] !== (marketId & 0xff) || named[3] !== marketId >>> 8) return false;
  for (let i = 0; i < symLen; i++) if (named[4 + i] !== src[start + i]) return false;
  return true;
}

/**
 * One socket per group and port, joined on each of its interfaces. Two sockets bound to one group and port each get
 * every datagram of it (Linux hands a group's datagrams to every socket bound to it, whatever interface joined):
 * before, a group given twice (two `--config` destinations sharing it with other channels, or `--group` too) had
 * every datagram read twice, its heartbeats forwarded twice and its messages counted as the network's duplicates.
 */
function socketsOf(groups: ForwardBridgeOptions["groups"]): { group: string; port: number; ifaces: string[] }[] {
  const byKey = new Map<string, { group: string; port: number; ifaces: string[] }>();
  for (const g of groups) {
    const key = `${g.group}:${g.port}`;
    const iface = g.iface ?? "127.0.0.1";
    const s = byKey.get(key);
    if (s === undefined) byKey.set(key, { group: g.group, port: g.port, ifaces: [iface] });
    else if (!s.ifaces.includes(iface)) s.ifaces.push(iface);
  }
  return [...byKey.values()];
}

export class ForwardBridge {
  readonly counters: ForwardBridgeCounters = {
    datagrams: 0,
    receivedBytes: 0,
    rejectedBytes: 0,
    heartbeats: 0,
    published: 0,
    publishedBytes: 0,
    undefinedInstrument: 0,
    upstreamGaps: 0,
    duplicates: 0,
    seqJumpsReverted: 0,
    seqLinesBack: 0,
    sendTimesAhead: 0,
    droppedDisconnected: 0,
    droppedBacklog: 0,
    publishErrors: 0,
    instrumentsOverCap: 0,
    natsClosed: 0,
    natsErrors: 0,
    natsAuthErrors: 0,
    natsReconnects: 0,
    streamNotStored: 0,
    streamMissing: 0,
    streamCheckFailures: 0,
    rejected: {},
  };
  /** Envelopes handed to the client (messages and heartbeats): what the JetStream stream should store. */
  private sent = 0;
  private streamTimer: ReturnType<typeof setInterval> | undefined;
  /** The next connect after the client closed for good (connectAgain). */
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectFailures = 0;
  /** Of reconnectFailures, those not a refusal of the credentials (logged the first and every 30th). */
  private otherReconnectFailures = 0;
  /**
   * connectAgain is under way: a connection it opened and closes again is not a new close to answer; and datagrams are
   * dropped (counted, numbered as lost) until it is done, its JetStream set-up too (attach), as at start, where no
   * group is joined until then.
   */
  private reconnecting = false;
  /** Per upstream stream (channel << 16 | source): its session, the next upstream seqNum expected, the next forward number. */
  private readonly upstream = new Map<number, Upstream>();
  private readonly opts: ForwardBridgeOptions;
  private readonly reader: PacketReader;
  /** Signs every envelope (with authKey): the key covers the feed from publisher to the far side's books. */
  private readonly auth: DatagramAuth | undefined;
  /** Without a key, a signed datagram was warned of (once: the publisher has a key this bridge was not given). */
  private signedUnverifiedTold = false;
  private readonly maxBytes: number;
  /** The datagram being judged, copied out of the socket's buffer (onDatagram), and its one DataView. */
  private readonly rxBytes = new Uint8Array(ABS_MAX_DATAGRAM_BYTES);
  private readonly rxView = new DataView(this.rxBytes.buffer);
  /** Where envelopes go: ranges the client may keep until it writes them (never written again). */
  private readonly payloads = new PayloadArena();
  /** A signed envelope is built here first: the signature's exact-length views are made once per length, not per envelope. */
  private readonly signScratch = new Uint8Array(envelopeBytes(ABS_MAX_DATAGRAM_BYTES, true));
  private readonly sockets: dgram.Socket[] = [];
  /** Instrument id → subject, from definitions (cold: once per instrument and name change); MAX_TRACKED_INSTRUMENTS at most. */
  private readonly subjects = new Map<number, string>();
  /** What named each subject: its definition's venue id, market id and symbol bytes (nameOf), to see a repeat cheaply. */
  private readonly namedBy = new Map<number, Uint8Array>();
  /** The same subjects' bytes for the bridge's own frames; absent for one the client would refuse (framable). */
  private readonly subjectBytes = new Map<number, Uint8Array>();
  private readonly heartbeatSubject: string;
  private readonly heartbeatSubjectBytes: Uint8Array | undefined;
  /**
   * The datagram's PUB frames, written by the bridge (pub-frames.ts) when the client's protocol handler takes a command
   * (@nats-io/nats-core 3.x internals, as the backlog; undefined: the client's publish per envelope).
   */
  private frames: PubFrames | undefined;
  private nc: Publisher | undefined;
  private protocol: NatsProtocol | undefined;
  private readonly maxPendingBytes: number;
  /** sendAheadMaxMs in µs (raiseHighSend). */
  private readonly sendAheadMaxUs: number;
  /** The JetStream stream's watch (with `jetstream`), read by `health`. */
  private watch: StreamWatch | undefined;
  /** The JetStream manager of the connection published through (with `jetstream`): the stream read again on it. */
  private jsm: StreamManager | undefined;
  /**
   * With `jetstream`: the client's transport (one per connection it makes, @nats-io/nats-core 3.x internals) on which
   * the stream was last read. A connection the client made again by itself gets nothing until the stream is read on
   * it (recheckStream): a server restarted without the stream (a fresh one, no persistence) took everything published
   * into it until the next watch check, lost yet counted as published, and never as streamNotStored (that check starts
   * counting afresh from the stream it makes again). One comparison per datagram, nothing allocated.
   */
  private checkedTransport: unknown;
  /** recheckStream is under way. */
  private rechecking = false;
  /** recheckStream's read under way: the connection it is for, and what ends its wait (another connection made). */
  private reading: { transport: unknown; again: () => void } | undefined;
  /** Datagrams are being dropped (logged when it starts and ends, not per datagram). */
  private dropping = false;
  private lastPublishError = "";
  /** The server's errors: the first at once, then at most one line per 5 s with the count. */
  private readonly serverErrors: RateLimitedLog;
  /** RETRANSMIT datagrams on a group: logged at once, then at most one line per 5 s with the count since. */
  private readonly retransmitReports = new ReportLimit(RETRANSMIT_REPORT_MS);
  /** The server refuses the credentials: logged once until a connection is made again. */
  private authRefusing = false;
  /** stop() was called: a start still under way goes no further. */
  private stopped = false;
  /** start() was called and stop() not since. */
  private running = false;
  /** Starts so far: a failed start undoes what it opened only if no stop() (and start()) came since. */
  private starts = 0;
  /**
   * Written into every envelope (ENV_BRIDGE_ID_OFFSET): a reader hearing two bridges on one prefix follows one of
   * them per upstream stream, since their numberings cannot be read as one (docs/nats.md). Random per process.
   */
  readonly bridgeId = (Math.floor(Math.random() * 0xffff_ffff) + 1) >>> 0;

  constructor(opts: ForwardBridgeOptions) {
    prefixCheck(opts.prefix); // before, only --prefix was held to it (length and characters)
    this.opts = opts;
    this.auth = opts.authKey ? new DatagramAuth(opts.authKey, sha256Option(opts.authSha256)) : undefined;
    this.reader = new PacketReader(this.auth);
    this.maxBytes = opts.maxDatagramBytes ?? ABS_MAX_DATAGRAM_BYTES;
    this.heartbeatSubject = `${opts.prefix}.${HEARTBEAT_TOKEN}`;
    this.heartbeatSubjectBytes = framable(this.heartbeatSubject) ? textEncoder.encode(this.heartbeatSubject) : undefined;
    this.maxPendingBytes = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.sendAheadMaxUs = sendAheadMaxUsOf(opts.sendAheadMaxMs);
    this.serverErrors = new RateLimitedLog(opts.log, "warn", "the NATS server reported an error (a publish it refuses is dropped: readers see the loss, or nothing if it refuses all)");
  }

  /** Bytes the NATS client holds unwritten: its outbound buffer and its socket's (0 if the client hides them). */
  get pendingBytes(): number {
    const p = this.protocol;
    if (p === undefined) return 0;
    return (p.outbound?.size() ?? 0) + (p.transport?.socket?.writableLength ?? 0);
  }

  /**
   * Whether the client's connection state and backlog can be read (@nats-io/nats-core 3.x internals). False: nothing
   * is dropped for a disconnected or slow NATS (the client buffers it), and start() said so in a warning.
   */
  get backlogChecked(): boolean {
    return this.protocol !== undefined;
  }

  /**
   * What /readyz and the connection gauge read (cold: once per scrape), all as they are now, so a silent feed reads
   * ready once NATS is back: connected to NATS (the client's own state when its internals show it; not while the
   * bridge waits to connect again after a close for good), the server refusing the credentials, the client holding
   * more than maxPendingBytes unwritten (the next datagram would be dropped: NATS slower than the feed), and with a
   * stream whether its last read found it there and storing (undefined without a stream, and while the bridge has not
   * read it yet: unknown, not storing). Not the `dropping` flag: that ends only when a datagram is published again (before, /readyz read
   * it and stayed 503 after NATS came back until the feed sent something).
   */
  get health(): { natsConnected: boolean; authRefused: boolean; overMaxPending: boolean; streamStoring: boolean | undefined } {
    const p = this.protocol;
    const attached = this.nc !== undefined && this.running && this.reconnectTimer === undefined && !this.reconnecting && !this.streamUnchecked(p);
    return {
      natsConnected: attached && (p === undefined || p.connected === true),
      authRefused: this.authRefusing,
      overMaxPending: p !== undefined && this.pendingBytes > this.maxPendingBytes,
      streamStoring: this.watch?.storing,
    };
  }

  /** The bridge's NATS connection (a seam: a test gives a client of another shape). */
  protected async connect(): Promise<unknown> {
    return connectNats(this.opts.servers, "feeder-bridge", undefined, { credentials: this.opts.credentials, tls: this.opts.tls });
  }

  /**
   * The JetStream manager of a connection (a seam: a test gives one that does not answer). A literal import: `bun
   * build --compile` bundles it.
   */
  protected async streamManager(nc: Publisher): Promise<StreamManager> {
    const { jetstreamManager } = (await import("@nats-io/jetstream")) as unknown as { jetstreamManager: (nc: unknown) => Promise<StreamManager> };
    return jetstreamManager(nc);
  }

  /**
   * Once per stop(): a second start would leave the first connection and sockets open, forwarding every datagram twice.
   * Rejects for what retrying cannot fix (no server reached, credentials or the stream refused, a group that cannot be
   * joined), closing what it opened; a JetStream request at the stream's set-up that gets no answer (the connection
   * dropped under it, a server too busy) resolves it, the connection made again later (startAgainLater).
   */
  async start(): Promise<void> {
    if (this.running) throw new Error("bridge: start() called twice (stop() first)");
    this.running = true;
    const run = ++this.starts;
    // stop() meanwhile, or stop() and start() again: this start goes no further. Before, only `stopped` was looked
    // at, cleared again by the later start: this one went on, its connection and sockets beside the new run's.
    const gone = () => this.stopped || this.starts !== run;
    this.stopped = false;
    this.authRefusing = false; // a refusal logged before a stop() is not this run's: the next one is logged again
    const nc = (await this.connect().catch((err: unknown) => {
      if (this.starts === run) this.running = false; // nothing opened: the caller may start again (before: "start() called twice")
      // Refused at start: said by the server's words and the kind of credentials (never them).
      if (!isAuthError(err)) throw err;
      this.counters.natsAuthErrors++;
      throw new Error(`the NATS server refused the bridge's credentials (${describeCredentials(this.opts.credentials)}): ${(err as Error).message}`);
    })) as Publisher;
    // stop() while it connected (a signal during start-up) found no connection to close: this one is closed here
    // and no group is joined (before, it was kept and the bridge forwarded after the stop).
    if (gone()) return void (await nc.close().catch(() => undefined));
    try {
      await this.attach(nc).catch((err: unknown) => {
        if (gone() || !isRequestTimeout(err)) throw err;
        this.startAgainLater(nc, err as Error);
      });
      if (gone()) return; // stop() closed the connection while the stream was made
      for (const g of socketsOf(this.opts.groups)) {
        const socket = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 * 1024 * 1024 });
        this.sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          // Closed by stop() mid-bind, the socket never calls back: before, start() never settled. The check
          // below returns.
          const onClose = () => resolve();
          socket.once("error", reject);
          socket.once("close", onClose);
          socket.bind({ port: g.port, address: g.group, exclusive: false }, () => {
            socket.off("error", reject);
            socket.off("close", onClose);
            resolve();
          });
        });
        if (gone()) return; // stop() closed the connection and the sockets opened so far
        for (const iface of g.ifaces) socket.addMembership(g.group, iface);
        const label = `${g.group}:${g.port}`; // named in a report, built once
        socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onDatagram(msg, rinfo, label));
        socket.on("error", (err: Error) => this.opts.log.warn("bridge socket error", { error: err.message }));
      }
    } catch (err) {
      // Before, the connection (reconnecting forever), its stream check and the sockets joined so far stayed open, the
      // bridge `running`: a library caller that handled the rejection kept them, its start again refused as "called
      // twice" until stop(). A stop() meanwhile closed them (and a start since is not this one's to undo).
      if (this.starts === run && !this.stopped) await this.undoStart();
      throw err;
    }
  }

  /**
   * Cold: the start's JetStream set-up got no answer (the connection dropped under a request, a server too busy):
   * what a connection made again fixes, as from-nats and listen --nats do. Before, the start rejected as for a stream
   * refused: `bridge to-nats --stream` exited 1 when NATS flapped as it started. The connection is closed and one
   * made again every reconnectAfterCloseMs (connectAgain: the stream set up on it); meanwhile the bridge is not ready
   * and what it reads is dropped and numbered as lost, as after a close for good.
   */
  private startAgainLater(nc: Publisher, err: Error): void {
    if (this.streamTimer !== undefined) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    this.watch?.connectionLost();
    const afterMs = this.opts.reconnectAfterCloseMs ?? RECONNECT_AFTER_CLOSE_MS;
    this.opts.log.warn(`no answer from NATS setting up the JetStream stream ${this.opts.jetstream?.stream}: datagrams are dropped (readers see the loss); connecting again`, { error: err.message, afterMs });
    // Before the close: closedByClient then sees a connect again scheduled, not a close for good to answer.
    this.reconnectTimer = setTimeout(() => void this.connectAgain(), afterMs);
    void nc.close().catch(() => undefined); // this.nc stays it, closed: datagrams are dropped and numbered as lost
  }

  /** A failed start's cleanup: what stop() closes, without flushing (nothing of this start is to be kept). */
  private async undoStart(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.streamTimer !== undefined) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sockets.length = 0;
    const nc = this.nc;
    this.nc = undefined;
    await nc?.close().catch(() => undefined);
  }

  /** Publishes through this connection from now on: its internals, the stream and its watch, its closing watched. */
  private async attach(nc: Publisher): Promise<void> {
    this.nc = nc;
    const p = nc.protocol;
    // Both parts or neither: a client without `connected` would otherwise look disconnected for good.
    this.protocol = p !== undefined && typeof p.connected === "boolean" && typeof p.outbound?.size === "function" ? p : undefined;
    this.frames = this.protocol !== undefined && typeof this.protocol.sendCommand === "function" ? new PubFrames(this.payloads) : undefined;
    if (this.protocol === undefined) {
      // Cold: another client version (the internals are not API). The bridge still forwards, but cannot bound the
      // client's buffer nor number what it loses while disconnected: the operator must know.
      this.opts.log.warn("the NATS client does not show its connection state and backlog (@nats-io/nats-core 3.x internals): --max-pending is not enforced and nothing is dropped or numbered as lost while NATS is down or slow", {
        maxPendingBytes: this.maxPendingBytes,
      });
    }
    void nc.closed?.().then((why) => this.closedByClient(nc, why), () => undefined);
    const events = nc.status?.();
    if (events !== undefined) void this.watchServerErrors(events).catch(() => undefined);
    const js = this.opts.jetstream;
    if (js) {
      // The connection the stream is set up on: the client may make another meanwhile (then read again, below).
      const transport = this.protocol?.transport;
      this.jsm = undefined;
      const jsm = await this.ensureStream(nc, js);
      if (this.stopped || this.nc !== nc) return; // closed meanwhile: a start since has its own watch
      const watch = new StreamWatch(js.stream, this.opts.log, async () => void (await this.ensureStream(nc, js)), () => this.sent);
      this.watch = watch;
      await watch.baseline(jsm, this.counters);
      if (this.stopped || this.nc !== nc) return;
      this.jsm = jsm;
      this.checkedTransport = transport;
      this.streamTimer = setInterval(() => void watch.check(jsm, this.sent, this.counters).catch(() => undefined), js.checkIntervalMs ?? STREAM_CHECK_INTERVAL_MS);
      this.streamTimer.unref?.();
      void this.recheckStream();
    }
  }

  /** With a stream, the client's connection now is not one the stream was read on (checkedTransport). */
  private streamUnchecked(p: NatsProtocol | undefined): boolean {
    return this.opts.jetstream !== undefined && p !== undefined && p.transport !== this.checkedTransport;
  }

  /**
   * Cold: the client connected again by itself (its reconnect, not connectAgain): the stream is read on the new
   * connection before anything is published into it (StreamWatch.verify: made again if gone, logged and counted as
   * streamMissing; a stream that cannot be read is counted and logged as by a check, and publishing goes on, live
   * readers served as before). Meanwhile datagrams are dropped and numbered as lost, as while disconnected. A
   * connection made again during the read is read at once: the read under way, whose request may have gone out on the
   * connection dropped, is not waited for (until 2026-12-07 it was, the client's 5 s request timeout, and counted as
   * a check failure: a flapping server cost 5 s of datagrams a drop); the next read abandons it (StreamWatch.verify).
   */
  private async recheckStream(): Promise<void> {
    const nc = this.nc;
    const p = this.protocol;
    const watch = this.watch;
    const jsm = this.jsm;
    if (this.rechecking || nc === undefined || p === undefined || watch === undefined || jsm === undefined) return;
    this.rechecking = true;
    try {
      while (!this.stopped && this.nc === nc && this.watch === watch && p.connected === true && this.streamUnchecked(p) && this.reconnectTimer === undefined && !this.reconnecting) {
        const transport = p.transport;
        const reconnected = new Promise<void>((again) => (this.reading = { transport, again }));
        await Promise.race([watch.verify(jsm, () => this.sent, this.counters), reconnected]);
        this.reading = undefined;
        if (this.nc === nc && p.connected === true && p.transport === transport) this.checkedTransport = transport;
      }
    } finally {
      this.rechecking = false;
      this.reading = undefined;
    }
  }

  // Cold: once per server error (a refused publish's -ERR comes once per message: counted, logged rate-limited).
  private async watchServerErrors(events: AsyncIterable<{ type: string; error?: Error }>): Promise<void> {
    for await (const e of events) {
      if (e.type === "reconnect") {
        this.counters.natsReconnects++;
        this.authAccepted();
        if (this.reading !== undefined && this.reading.transport !== this.protocol?.transport) this.reading.again(); // read this one
        void this.recheckStream(); // the server may have lost the stream (a datagram meanwhile starts it too)
      }
      if (e.type !== "error") continue;
      if (isAuthError(e.error)) this.authRefused((e.error as Error).message);
      else {
        this.counters.natsErrors++;
        this.serverErrors.hit(e.error?.message ?? "unknown");
      }
    }
  }

  // Cold: every refusal of the credentials counted, logged once per run of them (the client closes after two in a
  // row; the bridge then connects again every reconnectAfterCloseMs: a server that refuses is not hammered).
  private authRefused(reason: string): void {
    this.counters.natsAuthErrors++;
    if (this.authRefusing) return;
    this.authRefusing = true;
    this.opts.log.error("the NATS server refused the bridge's credentials: datagrams are dropped (readers see the loss); trying again", {
      reason,
      credentials: describeCredentials(this.opts.credentials),
    });
  }

  private authAccepted(): void {
    if (!this.authRefusing) return;
    this.authRefusing = false;
    this.opts.log.info("the NATS server took the bridge's credentials again");
  }

  /**
   * Cold: the client closed the connection for good without stop() (two authorization errors in a row, e.g. a server
   * restarted requiring credentials). It would never connect again: the bridge does, every reconnectAfterCloseMs;
   * meanwhile datagrams are dropped and numbered as lost (the closed client shows itself disconnected).
   */
  private closedByClient(nc: Publisher, why: void | Error): void {
    if (this.stopped || this.nc !== nc || this.reconnecting || this.reconnectTimer !== undefined) return;
    this.counters.natsClosed++;
    if (this.streamTimer !== undefined) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    this.watch?.connectionLost(); // no check runs until the stream is read again: not storing, never its last state
    this.reconnectFailures = 0;
    this.otherReconnectFailures = 0;
    const afterMs = this.opts.reconnectAfterCloseMs ?? RECONNECT_AFTER_CLOSE_MS;
    this.opts.log.error("the NATS client closed its connection for good: datagrams are dropped (readers see the loss); connecting again", { error: why instanceof Error ? why.message : "closed", afterMs });
    this.reconnectTimer = setTimeout(() => void this.connectAgain(), afterMs);
  }

  // Cold: one attempt to connect after the client closed for good; on failure the next is scheduled.
  private async connectAgain(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    // stop() and start() again while it connected: the new run has its own connection. Before, only `stopped` was
    // looked at, cleared again by that start: this one took the run's place, which was left open (reconnecting for ever).
    const run = this.starts;
    const gone = () => this.stopped || this.starts !== run;
    this.reconnecting = true;
    let nc: Publisher | undefined;
    try {
      // Bounded: a connect made while the server went down or came up could hang (past 15 s), and no try came after it.
      nc = await connectWithin(this.connect() as Promise<Publisher>, RECONNECT_TIMEOUT_MS);
      if (gone()) return void (await nc.close().catch(() => undefined));
      await this.attach(nc);
      if (gone()) return; // stop() closed it meanwhile
      this.counters.natsReconnects++;
      this.opts.log.info("connected to NATS again", { attempts: this.reconnectFailures + 1 });
      this.authAccepted();
    } catch (err) {
      // A refusal of the credentials is logged once per run of them; other failures the first and every 30th (one
      // a minute at the default interval).
      this.reconnectFailures++;
      if (isAuthError(err)) this.authRefused((err as Error).message);
      else if (this.otherReconnectFailures++ % 30 === 0) this.opts.log.warn("connecting to NATS again failed: trying again", { error: (err as Error).message, failures: this.reconnectFailures });
      if (nc !== undefined) await nc.close().catch(() => undefined); // what comes meanwhile is dropped (reconnecting)
      if (gone()) return;
      this.reconnectTimer = setTimeout(() => void this.connectAgain(), this.opts.reconnectAfterCloseMs ?? RECONNECT_AFTER_CLOSE_MS);
    } finally {
      this.reconnecting = false;
    }
    // The client's own reconnect during the set-up: its read of the stream (recheckStream) waited for this one, and
    // nothing asked again until a datagram came (until 2026-12-07: a silent feed kept /readyz 503 with NATS back).
    void this.recheckStream();
  }

  /**
   * Creates the stream, or updates its retention (subjects `<prefix>.>`, limits retention, file storage, oldest
   * discarded). A stream of that name that keeps other subjects (another prefix's history), removes messages once
   * consumed (interest, work-queue retention: no history), is sealed, or that the server cannot update to this
   * configuration (a memory stream) is left alone: the bridge does not start, the error naming the stream.
   */
  private async ensureStream(nc: Publisher, js: JetStreamOptions): Promise<StreamManager> {
    const jsm = await this.streamManager(nc);
    const subject = `${this.opts.prefix}.>`;
    // The duplicate window set within max_age: the update keeps the stream's own (2 min when made with a longer
    // max_age), which the server refuses above max_age, so a restart with a shorter --max-age failed to start. The
    // bridge sends no message ids: the window dedups nothing it publishes.
    const dupWindowMs = js.maxAgeMs > 0 ? Math.min(js.maxAgeMs, DUPLICATE_WINDOW_MS) : DUPLICATE_WINDOW_MS;
    // No limit on the message count, per subject nor on a message's size: the update keeps the stream's own
    // (Object.assign over its config), and a few messages, one per subject, or a size under the envelopes', kept next
    // to none of the history while its last sequence grew as the watch checks it (before 2026-12-07: reported storing,
    // a replay all gaps or empty; max_msgs until 2026-12-07). Nor `discard_new_per_subject`, which the server refuses
    // with `discard old` (the bridge did not start on such a stream).
    const config = { subjects: [subject], retention: "limits", max_age: js.maxAgeMs * 1e6, max_bytes: js.maxBytes, max_msgs: -1, max_msgs_per_subject: -1, max_msg_size: -1, storage: "file", discard: "old", discard_new_per_subject: false, duplicate_window: dupWindowMs * 1e6 };
    try {
      await jsm.streams.add({ name: js.stream, ...config });
    } catch (err) {
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
      // Cold: the update replaces the subjects, so another prefix's stream would silently stop keeping its own.
      const kept = (await jsm.streams.info(js.stream)).config;
      const subjects = kept.subjects ?? [];
      if (subjects.length !== 1 || subjects[0] !== subject) {
        throw new Error(`JetStream stream ${js.stream} keeps ${subjects.join(", ") || "no subjects"}, not ${subject}: give this prefix a stream of its own (--stream)`);
      }
      // The server cannot change a stream's retention policy; one that removes what its consumers have read keeps no
      // history while its last sequence grows, so the watch saw it storing (before, taken without a word).
      if (kept.retention !== undefined && kept.retention !== "limits") {
        throw new Error(`JetStream stream ${js.stream} has ${kept.retention} retention, not limits: it removes messages once consumed and keeps no history; give the bridge a stream of its own (--stream) or delete this one`);
      }
      // A sealed stream takes no message nor unsealing: the bridge's publishes all dropped (before 2026-12-07 taken
      // without a word, the update keeping it sealed, and reported storing until the watch's second check).
      if (kept.sealed === true) {
        throw new Error(`JetStream stream ${js.stream} is sealed: it stores nothing more and cannot be unsealed; give the bridge a stream of its own (--stream) or delete this one`);
      }
      // The server's refusal (a memory stream: storage cannot change) named the stream nor what to do (until
      // 2026-12-07: "bridge could not start", the server's words alone). An unanswered request stays itself (start).
      await jsm.streams.update(js.stream, config).catch((err: unknown) => {
        if (isRequestTimeout(err)) throw err;
        throw new Error(`JetStream stream ${js.stream} cannot take the bridge's configuration (file storage, limits retention, --max-age, --max-bytes): ${(err as Error).message}; give the bridge a stream of its own (--stream) or delete this one`, { cause: err });
      });
    }
    return jsm;
  }

  /**
   * Cold, once: the publisher signs its datagrams and this bridge has no key, so it takes them unchecked and
   * publishes its envelopes unsigned; keyless readers then have nothing to tell them the feed is not verified.
   */
  private signedUnverified(): void {
    this.signedUnverifiedTold = true;
    this.opts.log.warn("multicast datagrams are signed but this bridge has no key: forwarded without verifying them, its envelopes unsigned (give --auth-key-file F, or a -c file whose publish.auth_key_file is the publisher's key)");
  }

  /**
   * Cold: a RETRANSMIT datagram on a group, logged at once, then at most once per 5 s with the count since (a flood is
   * a few lines; strings built only then).
   */
  private retransmitOnGroup(from: dgram.RemoteInfo | undefined, group: string): void {
    const count = this.retransmitReports.due(monoMs());
    if (count === 0) return;
    // The first line has no earlier one to count from (it said "count: since the last such line" until 2026-12-07).
    const words = this.retransmitReports.countWords(count);
    this.opts.log.warn(`RETRANSMIT datagram on a group dropped, not forwarded: a request server answers only the requester's request socket, never a group (${words})`, {
      from: from === undefined ? "unknown" : `${from.address}:${from.port}`,
      group,
      count,
      counted: this.retransmitReports.countWords(count), // the first says so: no last line to count from
      total: this.counters.rejected[REJECTED_RETRANSMIT],
    });
  }

  /**
   * Verifies one datagram and publishes its messages (the bridge's hot path). `from`, `group`: its sender and the
   * group:port it came on, named if it is dropped with a report (a caller's own datagram: none).
   */
  onDatagram(datagram: Uint8Array, from?: dgram.RemoteInfo, group = "none"): void {
    const c = this.counters;
    const length = datagram.byteLength;
    // Read in the reused receive buffer, as a subscriber reads (FeedSubscriber.onSocketMessage): a DataView over each
    // new buffer made the reader's views of it anew, 2 cells a datagram, 5 with a key (the HMAC's views per buffer).
    let bytes: Uint8Array = this.rxBytes;
    let dv: DataView = this.rxView;
    if (length <= bytes.length) bytes.set(datagram);
    else {
      bytes = datagram; // cold: longer than any UDP datagram (a caller's own buffer): judged where it is
      dv = new DataView(datagram.buffer, datagram.byteOffset, length);
    }
    const rc = this.reader.wrap(dv, length, this.maxBytes);
    if (rc !== DecodeErrorCode.OK) {
      const name = DECODE_ERROR_NAMES[rc] ?? "unknown";
      c.rejected[name] = (c.rejected[name] ?? 0) + 1;
      c.rejectedBytes += length;
      return;
    }
    if ((this.reader.flags & PKT_FLAG_RETRANSMIT) !== 0) {
      // No answer (a server sends one only to the requester's request socket, §11.4), whoever sent it: forwarded, it
      // was live data to every reader (the envelope carries the messages, not the flag), a forged one's levels applied.
      c.rejected[REJECTED_RETRANSMIT] = (c.rejected[REJECTED_RETRANSMIT] ?? 0) + 1;
      c.rejectedBytes += length;
      this.retransmitOnGroup(from, group);
      return;
    }
    c.datagrams++;
    c.receivedBytes += length;
    if (this.auth === undefined && !this.signedUnverifiedTold && this.reader.authenticated) this.signedUnverified();
    const nc = this.nc;
    if (nc === undefined) return;
    const hbMs = dv.getUint16(PKT_HEARTBEAT_INTERVAL_MS_OFFSET, true);
    const count = dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
    const r = this.reader;
    const up = this.upstreamOf((r.channelId << 16) | r.sourceId);
    const seqNum = r.seqNum;
    // Cold: a stream's first datagram, or another session (the reader orders sessions): its own line, below.
    if (up !== UNNUMBERED && (r.sessionId !== up.sessionId || r.sessionStartUs !== up.sessionStartUs)) this.switchSession(up, r.sessionId, r.sessionStartUs, seqNum);
    // A heartbeat at the line sent within what the line brought: a copy (judged before the sequence moves, as a
    // subscriber does). Forwarded (before 2026-12-06), the reader judged it by its own window, but after a gap (the
    // bridge dropping while NATS was down, NATS losing envelopes) it takes one as past the line: a dead publisher's
    // last heartbeat replayed onto the group made it alive again. An END_OF_SESSION sent in the µs of the last heard
    // still goes (the publisher's own, sealed with its last data: the reader takes it as multicast does).
    const sendUs = r.sendTimeUs;
    const beatCopy = up !== UNNUMBERED && count === 0 && seqNum <= up.nextSeq && (seqNum === up.nextSeq || up.altNext <= 0 || seqNum <= up.altNext) && sendUs !== 0 && sendUs <= up.heardSendUs && sendUs >= up.lineSendUs;
    if (up === UNNUMBERED) {
      // Streams beyond MAX_NUMBERED_STREAMS (made-up channel and source ids): forwarded unnumbered, not followed.
    } else if (seqNum > up.nextSeq) {
      // Cold: datagrams of this stream were lost before the bridge. Skipping a number tells the far side. The line
      // before the jump is kept (the older one if a jump is pending: the real line is the earliest).
      c.upstreamGaps++;
      up.forward++;
      if (up.altNext < 0 || (up.altNext === 0 && up.altCount === 0)) {
        up.altNext = up.nextSeq;
        up.altCount = 0;
      }
    } else if (seqNum === up.nextSeq) {
      // The line after the jump goes on: it was real. A new line's first datagram: still unproven (altCount 0).
      if (up.altCount < 0) up.altCount = 0;
      else up.altNext = -1;
    } else if (continuesOldLine(up, seqNum, count)) {
      this.continuesOldLine(up, seqNum, count);
    } else {
      // Cold: wholly or partly behind the line. Sent after every datagram heard of its session, it is no copy: the
      // numbering went back (lineWentBack skips a number; a subscriber's rule, §6.3). A wholly behind one is dropped
      // below; a partly behind one goes whole, its head too (the numbering's own events, after the gap; a repeat of one
      // a reader had is dropped or invalidates its book by instrSeq), where a subscriber applies the tail. Not after
      // the last heard: a clock step back takes that back, and a network copy of a datagram sent before the step
      // skipped a number for nothing (every reader's books invalid until their refresh).
      if (sentAfterAllHad(up, sendUs)) this.lineWentBack(up);
      if (seqNum + count <= up.nextSeq) {
        // A copy (the network duplicating a datagram, or a recorded signed one sent again) or one later than what
        // came after it, dropped as a subscriber drops it (docs/wire-protocol.md §6.3). Before, it went on under a
        // fresh number: the far side could not tell it from news, and a copy of a snapshot after a later delta rolled
        // the book back to that snapshot, usable. A heartbeat behind the line too (an earlier line's, replayed or
        // late): before 2026-12-06 forwarded at the next number, where a reader, with no upstream seqNum to place it
        // by, could not tell it from its publisher now. One at the line (the next seqNum) still goes.
        c.duplicates++;
        return;
      }
    }
    if (seqNum + count > up.nextSeq) {
      up.nextSeq = seqNum + count; // a duplicate or late one never moves it back
      up.lineBack = false; // the line moved on (a refresh may have come in what moved it): another going back is news
    }
    if (beatCopy) {
      if ((r.flags & PKT_FLAG_END_OF_SESSION) === 0 || sendUs !== up.heardSendUs) {
        c.duplicates++;
        return;
      }
    } else if (up !== UNNUMBERED) this.heard(up, count, sendUs);
    const p = this.protocol;
    // A connection the bridge closed to connect again (startAgainLater) shows itself connected until its socket's
    // close is seen: before 2026-12-06 what came meanwhile went into it, lost yet counted as published, no drop logged.
    // Nor is one connectAgain has not finished with: while its JetStream set-up runs the stream may not be there yet
    // (a server that lost it), and what went in was not stored, a hole in the history yet counted as published, before
    // the watch's baseline (until 2026-12-06); and one it closes after the set-up failed shows itself connected too.
    // Nor one the client made again by itself until the stream is read on it (checkedTransport).
    const connected = p !== undefined && p.connected === true && this.reconnectTimer === undefined && !this.reconnecting && !this.streamUnchecked(p);
    if (p !== undefined && (!connected || this.pendingBytes > this.maxPendingBytes)) {
      this.drop(up, count, connected);
      return;
    }
    if (this.dropping) this.resumed();
    const forward = up === UNNUMBERED ? undefined : up.forward;
    const frames = this.frames;
    // The client's publish throws above the server's max_payload: such an envelope goes through it (refused as before).
    const maxPayload = p?.info?.max_payload ?? Infinity;
    if (count === 0) {
      // Counted once the client took it; one it refuses is logged only (no wire message lost, no number skipped).
      const subject = this.heartbeatSubjectBytes;
      if (frames !== undefined && subject !== undefined && envelopeBytes(0, this.auth !== undefined) <= maxPayload) {
        this.frame(frames, subject, bytes, hbMs, 0, 0, forward, false);
        this.sendFrames(frames, p!);
      } else if (this.publish(nc, this.heartbeatSubject, this.envelope(bytes, hbMs, 0, 0, forward), false)) c.heartbeats++;
      return;
    }
    let off = PACKET_HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      const body = off + MESSAGE_HEADER_BYTES;
      const id = dv.getUint32(body, true); // instrument id: offset 0 of every root block
      if (dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true) === TEMPLATE_INSTRUMENT_DEFINITION) this.define(bytes, dv, body, id);
      const subject = this.subjects.get(id);
      if (subject === undefined) c.undefinedInstrument++;
      else {
        const seq = forward === undefined ? undefined : up.forward;
        const subjectBytes = frames === undefined ? undefined : this.subjectBytes.get(id);
        if (subjectBytes !== undefined && envelopeBytes(len, this.auth !== undefined) <= maxPayload) this.frame(frames!, subjectBytes, bytes, hbMs, off, len, seq, true);
        else {
          if (frames !== undefined) this.sendFrames(frames, p!); // in order: the frames before it go first
          // A message the client refuses still takes its number: the readers see it lost.
          if (this.publish(nc, subject, this.envelope(bytes, hbMs, off, len, seq), true)) c.published++;
        }
        up.forward++;
      }
      off += len;
    }
    if (frames !== undefined) this.sendFrames(frames, p!);
  }

  /** The envelope of the message at src[off, off + len) (len 0: a heartbeat) framed for `subject` (pub-frames.ts). */
  private frame(frames: PubFrames, subject: Uint8Array, src: Uint8Array, hbMs: number, off: number, len: number, forward: number | undefined, message: boolean): void {
    const n = writeEnvelope(this.signScratch, src, hbMs, off, len, forward, this.bridgeId, this.auth);
    frames.add(subject, this.signScratch, n, message);
  }

  /**
   * Hands the datagram's frames to the client as one command and counts them as its publish would have. A throw
   * (none is known: the command is only queued) drops them as refused messages, never thrown into the socket.
   */
  private sendFrames(frames: PubFrames, p: NatsProtocol): void {
    const envelopes = frames.envelopes;
    const messages = frames.messages;
    const envelopeBytes = frames.envelopeBytes;
    const cmd = frames.take();
    if (cmd === undefined) return;
    try {
      p.sendCommand!(cmd);
    } catch (err) {
      this.publishFailed(messages > 0 ? "(frames)" : this.heartbeatSubject, err as Error, messages);
      return;
    }
    const c = this.counters;
    this.sent += envelopes;
    c.publishedBytes += envelopeBytes;
    c.published += messages;
    c.heartbeats += envelopes - messages;
    if (typeof p.outMsgs === "number") p.outMsgs += envelopes;
    if (typeof p.outBytes === "number") p.outBytes += envelopeBytes;
  }

  /**
   * The envelope of the message at src[off, off + len) (len 0: a heartbeat), in a range of its own that the client
   * may keep (nats-envelope.ts envelopeOf's bytes): one view, where a new buffer, its ArrayBuffer and views were 9
   * cells (12 signed).
   */
  private envelope(src: Uint8Array, hbMs: number, off: number, len: number, forward: number | undefined): Uint8Array {
    const auth = this.auth;
    const payload = this.payloads.take(envelopeBytes(len, auth !== undefined));
    if (auth === undefined) writeEnvelope(payload, src, hbMs, off, len, forward, this.bridgeId, undefined);
    else {
      const n = writeEnvelope(this.signScratch, src, hbMs, off, len, forward, this.bridgeId, auth);
      copyRange(this.signScratch, payload, 0, 0, n);
    }
    return payload;
  }

  /**
   * Publishes one envelope; a refusal of the client (it throws) is logged, never thrown into the socket, and counted
   * as a dropped wire message when it carries one (`message`; a heartbeat carries none).
   */
  private publish(nc: Publisher, subject: string, env: Uint8Array, message: boolean): boolean {
    try {
      nc.publish(subject, env);
      this.sent++;
      this.counters.publishedBytes += env.byteLength;
      return true;
    } catch (err) {
      this.publishFailed(subject, err as Error, message ? 1 : 0);
      return false;
    }
  }

  // Cold: logged when the reason changes; wire messages (`messages` of them; 0: a heartbeat) counted always.
  private publishFailed(subject: string, err: Error, messages: number): void {
    this.counters.publishErrors += messages;
    if (err.message === this.lastPublishError) return;
    this.lastPublishError = err.message;
    this.opts.log.warn(messages > 0 ? "NATS refused a message: dropped, its number skipped (readers see the loss)" : "NATS refused a heartbeat: dropped", { subject, error: err.message });
  }

  // Cold: a datagram NATS cannot take now (disconnected, or the client's backlog over maxPendingBytes). Dropped and
  // counted; its number is skipped, so every reader sees the loss as a gap (a heartbeat loses nothing).
  private drop(up: Upstream, count: number, connected: boolean): void {
    if (!connected && !this.rechecking && this.protocol?.connected === true) void this.recheckStream(); // before the reconnect event
    if (connected) this.counters.droppedBacklog += count;
    else this.counters.droppedDisconnected += count;
    if (count > 0 && up !== UNNUMBERED) up.forward++;
    if (this.dropping) return;
    this.dropping = true;
    this.opts.log.warn(connected ? "NATS is slower than the feed: dropping datagrams (readers see the loss)" : "NATS is disconnected: dropping datagrams (readers see the loss)", {
      pendingBytes: this.pendingBytes,
      maxPendingBytes: this.maxPendingBytes,
    });
  }

  // Cold: publishing again after drops.
  private resumed(): void {
    this.dropping = false;
    const c = this.counters;
    this.opts.log.info("publishing to NATS again", { droppedDisconnected: c.droppedDisconnected, droppedBacklog: c.droppedBacklog });
  }

  // Cold: a datagram of another session than the last one's. A session with a saved line comes back to it (a gap, a
  // copy behind it are seen as on any line, a pending jump still pending); any other starts a line at this datagram.
  // The current line is saved in the slot freed, a free one, or the oldest session's (dropped when it is the oldest).
  private switchSession(up: Upstream, sessionId: number, startUs: number, seqNum: number): void {
    const saved = up.saved;
    let back = -1;
    for (let i = 0; i < saved.length; i++) if (saved[i]!.sessionStartUs === startUs && saved[i]!.sessionId === sessionId) back = i;
    // A line new here is unproven (Upstream.altNext), as a subscriber's new stream or session.
    let next = seqNum;
    let altNext = 0;
    let altCount = -1;
    let lineFrom = seqNum;
    // A session with no saved line: its next datagram judged by its own, as a subscriber judges a session's first.
    let heardSendUs = 0;
    let lineSendUs = 0;
    let lineAheadUs = 0;
    let highSendUs = 0;
    if (back >= 0) {
      const l = saved[back]!;
      next = l.nextSeq;
      altNext = l.altNext;
      altCount = l.altCount;
      lineFrom = l.lineFrom;
      heardSendUs = l.heardSendUs;
      lineSendUs = l.lineSendUs;
      lineAheadUs = l.lineAheadUs;
      highSendUs = l.highSendUs;
      l.sessionStartUs = -1;
    }
    const slot = up.sessionStartUs === -1 ? -1 : back >= 0 ? back : slotToSave(up);
    if (slot >= 0) {
      const l = saved[slot]!;
      l.sessionId = up.sessionId;
      l.sessionStartUs = up.sessionStartUs;
      l.nextSeq = up.nextSeq;
      l.altNext = up.altNext;
      l.altCount = up.altCount;
      l.lineFrom = up.lineFrom;
      l.heardSendUs = up.heardSendUs;
      l.lineSendUs = up.lineSendUs;
      l.lineAheadUs = up.lineAheadUs;
      l.highSendUs = up.highSendUs;
    }
    up.sessionId = sessionId;
    up.sessionStartUs = startUs;
    up.nextSeq = next;
    up.altNext = altNext;
    up.altCount = altCount;
    up.lineFrom = lineFrom;
    up.heardSendUs = heardSendUs;
    up.lineSendUs = lineSendUs;
    up.lineAheadUs = lineAheadUs;
    up.highSendUs = highSendUs;
    up.lineBack = false;
  }

  /**
   * A datagram that is news (not a duplicate nor a heartbeat copy) moves the heartbeat window, as FeedSubscriber.heard:
   * from the line's datagram, or from a heartbeat sent before it (the clock stepped back). Not one sent more than
   * SEND_AHEAD_MAX_US further ahead of its receipt than the line's start was (forged, or a clock stepped far ahead):
   * kept, it made the real heartbeats after it copies. Judged by that difference alone (the receipt clock's origin
   * cancels): one the subscriber hears the bridge may leave out of its window, the safe side (forwarded, the reader judges).
   * The clock is read here, once per datagram that is news (~37 ns): the bridge has no receipt time to reuse (node:dgram's
   * `message` gives none), and one read per turn would judge later datagrams of the turn by an earlier time, another
   * answer for a heartbeat at the SEND_AHEAD_MAX_US bound (and a hook per turn to clear it costs more at one datagram a turn).
   * The same read caps the highest send time (raiseHighSend, sendAheadMaxMs): before 2026-12-07 one datagram forged
   * far ahead (no key) raised it for the session, and every real going back after it was dropped with no number skipped.
   */
  private heard(up: Upstream, count: number, sendUs: number): void {
    const aheadUs = sendUs - nowUs();
    if (aheadUs > this.sendAheadMaxUs) this.counters.sendTimesAhead++;
    if (count === 0 && up.heardSendUs !== 0 && aheadUs - up.lineAheadUs > SEND_AHEAD_MAX_US) return;
    if (count > 0 || up.heardSendUs === 0 || sendUs < up.lineSendUs) {
      up.lineSendUs = sendUs;
      up.lineAheadUs = aheadUs;
    }
    up.heardSendUs = sendUs;
    raiseHighSend(up, sendUs, aheadUs, this.sendAheadMaxUs); // capped: one forged far ahead hid every going back
  }

  /**
   * Cold: a datagram wholly or partly behind the line (no evidence for a pending jump's old line) sent after every
   * datagram heard of its session (highSendUs), as a subscriber judges it (streams.ts lineWentBack): a copy (duplicated,
   * reordered, replayed) was sent no later, so the stream's numbering went back within its session (a publisher bug, a
   * wrap, a forger). What lies behind the line was lost to a subscriber (it drops it; the bridge drops a wholly behind
   * one), so a number is skipped: every reader sees a gap at the stream's next envelope and stops trusting its books
   * until their refresh, once until the line moves on (Upstream.lineBack). A wholly behind one is not forwarded, even
   * as a heartbeat: a gap's envelope is heard by the reader (nats-envelope.ts lineMoved), where multicast hears no
   * datagram behind the line, so replays sent onto the group after a clock step back would keep a dead publisher alive
   * there (test/subscriber/rd3sub-sessions.test.ts).
   * Before 2026-12-07 they were dropped as duplicates and nothing else: NATS readers saw no gap, and once the numbering
   * passed the old line a book whose events had come in the dropped stretch stayed usable, wrong, where a multicast
   * subscriber invalidated it. On 2026-12-07 judged against the last datagram heard, the rule the subscriber had just
   * left: after a publisher's clock stepped back, a network copy of a datagram sent before the step skipped a number,
   * every reader's books of the stream invalid until their refresh for nothing (natsline-line-back.test.ts).
   */
  private lineWentBack(up: Upstream): void {
    up.lineBack = true;
    up.forward++;
    this.counters.seqLinesBack++;
  }

  // Cold: a datagram continuing the line from before a pending jump (a loss on it is a gap too; the first behind an
  // unproven line, altNext 0, is always one: what that line brought is not trusted); the second undoes the jump, so
  // the losses after it are seen again.
  private continuesOldLine(up: Upstream, seqNum: number, count: number): void {
    if (seqNum > up.altNext) {
      this.counters.upstreamGaps++;
      up.forward++;
    }
    up.altNext = seqNum + count;
    if (++up.altCount < SEQ_REVERT_DATAGRAMS) return;
    this.counters.seqJumpsReverted++;
    up.nextSeq = up.altNext;
    up.altNext = -1;
  }

  // Cold: a stream seen for the first time. Its numbers start at a random point, so a restarted bridge does not
  // continue where the last one stopped (the far side then sees a jump: it missed what went by meanwhile).
  private upstreamOf(key: number): Upstream {
    let up = this.upstream.get(key);
    if (up === undefined) {
      if (this.upstream.size >= MAX_NUMBERED_STREAMS) return UNNUMBERED;
      const saved: SessionLine[] = [];
      for (let i = 0; i < SAVED_SESSION_LINES; i++) saved.push({ sessionId: 0, sessionStartUs: -1, nextSeq: 0, altNext: -1, altCount: 0, lineFrom: 0, heardSendUs: 0, lineSendUs: 0, lineAheadUs: 0, highSendUs: 0 });
      up = { sessionId: 0, sessionStartUs: -1, nextSeq: 0, forward: Math.floor(Math.random() * FORWARD_START_RANGE), altNext: -1, altCount: 0, lineFrom: 0, heardSendUs: 0, lineSendUs: 0, lineAheadUs: 0, highSendUs: 0, lineBack: false, saved };
      this.upstream.set(key, up);
    }
    return up;
  }

  // Cold: a definition names the instrument's subject (the same definition repeats every refresh).
  private define(bytes: Uint8Array, dv: DataView, body: number, id: number): void {
    const symLen = dv.getUint8(body + DEF_SYMBOL_LENGTH_OFFSET);
    // After the root block as the message says it is (a later template version appends fields to it, wire-protocol
    // §7): at today's fixed block size, a longer block's new fields were read as the symbol, the subject made up.
    const start = body + dv.getUint16(body - MESSAGE_HEADER_BYTES + MSG_BLOCK_LENGTH_OFFSET, true);
    const venueId = dv.getUint16(body + DEF_VENUE_ID_OFFSET, true);
    const marketId = dv.getUint16(body + DEF_MARKET_ID_OFFSET, true);
    // The same definition every refresh: compared by its bytes, the subject is not made again (its symbol string, the
    // subject's template and replace were ~5 cells a definition, every refresh).
    const named = this.namedBy.get(id);
    if (named !== undefined && sameName(named, venueId, marketId, bytes, start, symLen)) return;
    const known = this.subjects.get(id);
    if (known === undefined && this.subjects.size >= MAX_TRACKED_INSTRUMENTS) {
      this.counters.instrumentsOverCap++; // made-up ids (forged definitions) cannot grow the bridge's memory
      return;
    }
    const subject = subjectOf(this.opts.prefix, venueId, marketId, utf8Exact(bytes.subarray(start, start + symLen)));
    this.namedBy.set(id, nameOf(venueId, marketId, bytes, start, symLen));
    if (known === subject) return;
    this.subjects.set(id, subject);
    if (framable(subject)) this.subjectBytes.set(id, textEncoder.encode(subject));
    else this.subjectBytes.delete(id); // the client's publish refuses it, as before (pub-frames.ts)
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.streamTimer !== undefined) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sockets.length = 0;
    const nc = this.nc;
    this.nc = undefined;
    if (nc) {
      await nc.flush().catch(() => undefined);
      await nc.close().catch(() => undefined); // closed already by the client itself (natsClosed)
    }
  }
}
