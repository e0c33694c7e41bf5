/**
 * The NATS message format of the bridge (docs/nats.md): one wire message per NATS message, its bytes unchanged,
 * behind a 40-byte envelope (32 in version 1) carrying the multicast header fields the far side needs to sequence
 * (channel, source, session, session start, send time) and the forwarding bridge's id. An envelope with no message
 * is an upstream heartbeat.
 *
 * `EnvelopeRepacker` turns received envelopes back into ordinary wire v3 datagrams of its own stream (own channel,
 * source and session), so a subscriber sees a plain feed: the messages keep their instrument sequence numbers,
 * the datagrams get fresh channel sequence numbers. Upstream sessions are ordered per source as a subscriber orders
 * them (docs/wire-protocol.md §3.4): a newer session of a known source starts a new session of the repacker, so
 * subscribers drop the books of the old one (instrSeq restarts with it); a message of an older session than the
 * newest seen for its source (late datagrams of a restarted publisher, on any of its channels) is refused, never
 * repacked into the new session.
 * A bridge with the feed's HMAC key signs every envelope (version 3: a 16-byte trailer), and a repacker given the
 * key refuses every envelope without a valid one and signs the datagrams it makes: anyone who may publish on the
 * subjects could otherwise put books of their own making into every reader (docs/nats.md § Authentication).
 * No Bun API and no NATS client here: the Node subscriber package compiles it.
 * @module
 */
import { errorText } from "../core/error-text.ts";
import { VENUE_IDS, MARKET_IDS } from "../core/types.ts";
import { copyRange } from "../core/copy-range.ts";
import {
  AUTH_TRAILER_BYTES,
  BOOK_INSTR_SEQ_OFFSET,
  BOOK_INSTRUMENT_ID_OFFSET,
  MESSAGE_ALIGN_BYTES,
  MESSAGE_HEADER_BYTES,
  MIN_PUBLISH_DATAGRAM_BYTES,
  MSG_BLOCK_LENGTH_OFFSET,
  MSG_FLAGS_OFFSET,
  MSG_LENGTH_OFFSET,
  MSG_TEMPLATE_ID_OFFSET,
  MSG_VERSION_OFFSET,
  PKT_CHANNEL_ID_OFFSET,
  PKT_FLAG_END_OF_SESSION,
  PKT_SEND_TIME_NS_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SESSION_START_NS_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  minRootBlockBytes,
} from "../wire/layout.ts";
import { DatagramAuth, sha256Option, type ReusableSha256 } from "../wire/auth.ts";
import { ChannelPacker } from "../wire/packer.ts";
import { DecodeErrorCode, messageRefusalDetail, validateMessage } from "../wire/decoder.ts";
import { LeftBehindRuns, RETIRED_SESSIONS } from "./left-behind.ts";
import { SEND_AHEAD_MAX_US, SEQ_REVERT_DATAGRAMS, SEQ_REVERT_WINDOW } from "./streams.ts";
import { monoEpochUs, shownUs } from "./mono-clock.ts";

/** SEND_AHEAD_MAX_US in upstream send-time units (ns). */
const AHEAD_MAX_NS = SEND_AHEAD_MAX_US * 1000;

export const ENV_MAGIC = 0x4e46; // "FN" little-endian
export const ENV_VERSION = 2;
/**
 * Version 2's layout followed by a 16-byte HMAC trailer after the message: the first 16 bytes of HMAC-SHA256(key,
 * every byte before the trailer), as the wire's (docs/wire-protocol.md §3.3) but with no checksum field to zero.
 * Written by a bridge given the feed's key; a reader with the key takes nothing else.
 */
export const ENV_VERSION_SIGNED = 3;
/** Envelopes of a bridge before ENV_BRIDGE_ID_OFFSET: 32 bytes, still read (as bridge id 0). */
export const ENV_VERSION_1 = 1;
export const ENVELOPE_V1_BYTES = 32;
export const ENV_MAGIC_OFFSET = 0; // u16
export const ENV_VERSION_OFFSET = 2; // u8
export const ENV_FLAGS_OFFSET = 3; // u8, the upstream datagram's flags
export const ENV_CHANNEL_ID_OFFSET = 4; // u16, upstream channel
export const ENV_SOURCE_ID_OFFSET = 6; // u16, upstream source
export const ENV_SESSION_ID_OFFSET = 8; // u32, upstream session
export const ENV_HEARTBEAT_INTERVAL_MS_OFFSET = 12; // u16, upstream heartbeat interval
/**
 * u16, the bridge's number of this envelope in its upstream (channel, source) stream: FORWARD_SEQ_PRESENT | (n mod
 * 2^15), n counting the messages forwarded; a heartbeat carries the next n. A number skipped is something the far
 * side did not get (a datagram lost before the bridge, a message lost in NATS, a bridge restart). 0: not numbered
 * (a bridge before this field). The rest of n is in ENV_FORWARD_SEQ_HIGH_OFFSET.
 */
export const ENV_FORWARD_SEQ_OFFSET = 14;
export const FORWARD_SEQ_PRESENT = 0x8000;
export const FORWARD_SEQ_MASK = 0x7fff;
/** 2^15: the low part's range. */
const FORWARD_SEQ_LOW_RANGE = FORWARD_SEQ_MASK + 1;
export const ENV_SESSION_START_NS_OFFSET = 16; // i64, upstream session start
export const ENV_SEND_TIME_NS_OFFSET = 24; // i64, upstream datagram send time
/**
 * u32, the forwarding bridge's random id (never 0; a version 1 envelope reads as 0). Two bridges on one prefix
 * number each upstream stream from their own random start: the reader follows one of them per stream and drops the
 * other's envelopes, so their two numberings are never read as one (EnvelopeRepacker, docs/nats.md).
 */
export const ENV_BRIDGE_ID_OFFSET = 32;
/**
 * u32, FORWARD_SEQ_HIGH_PRESENT | (n >> 15 mod 2^31): the forward number's high bits (46 bits in all, never wrapping),
 * so a loss of exactly 2^15 numbers (a bridge dropping that many datagrams while NATS is down) cannot come back to the
 * number expected, and a number behind it is a copy. 0: the low 15 bits are all there is (a bridge before this
 * field wrote 0 here, reserved: its readers ignore the field).
 */
export const ENV_FORWARD_SEQ_HIGH_OFFSET = 36;
export const FORWARD_SEQ_HIGH_PRESENT = 0x8000_0000;
export const ENVELOPE_BYTES = 40;
/** Subject token of upstream heartbeats: `<prefix>._hb`. */
export const HEARTBEAT_TOKEN = "_hb";

/**
 * The longest subject prefix, in characters (ASCII: one byte each). The longest subject made under it,
 * `<prefix>.<venue>.<market>.<symbol>` (a symbol of up to 255 bytes), is then under 450 bytes: NATS advises short
 * subjects, and nats-server closes a connection whose command line (`PUB <subject> <size>`, `SUB <prefix>.> <sid>`)
 * is over its max_control_line (4 KiB by default): a longer prefix had the reader's and the bridge's connections
 * closed at every SUB or PUB, reconnecting forever. Checked by the CLI (`--prefix`) and where the library takes its
 * options (prefixCheck).
 */
export const MAX_PREFIX_CHARS = 128;

/**
 * Why `prefix` is no subject prefix, naming it as `option` (`--prefix`, or the library's option `prefix`); undefined
 * when it is one: dot-separated NATS subject tokens of letters, digits, `_` and `-` (no space, which made `SUB a b.>`
 * a queue subscription on `a`, nor `*` or `>`, wildcards the server refuses in a PUB or that read other prefixes' feeds,
 * nor an empty token), MAX_PREFIX_CHARS at most. Too long is said first, the prefix not echoed (a value of any length).
 */
export function prefixProblem(prefix: unknown, option: string): string | undefined {
  if (typeof prefix === "string" && prefix.length > MAX_PREFIX_CHARS) {
    return `${option} is at most ${MAX_PREFIX_CHARS} characters (a NATS subject prefix; subjects are kept short), got ${prefix.length}`;
  }
  if (typeof prefix === "string" && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) return undefined;
  return `${option} must be NATS subject tokens such as feeder or site1.md (letters, digits, _ -, dots between), got ${JSON.stringify(prefix)}`;
}

/**
 * The library's check of its `prefix` option (NatsFeedReader, attachNats, ForwardBridge, ReverseBridge; undefined: the
 * default): throws a RangeError. Before 2026-12-06 only its length was checked, the characters by the CLI alone.
 */
export function prefixCheck(prefix: string | undefined): void {
  const why = prefix === undefined ? undefined : prefixProblem(prefix, "prefix");
  if (why !== undefined) throw new RangeError(why);
}

const VENUE_NAMES = invert(VENUE_IDS);
const MARKET_NAMES = invert(MARKET_IDS);
function invert(o: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(o).map(([k, v]) => [v, k]));
}

/**
 * `<prefix>.<venue>.<market>.<symbol>`; characters NATS gives a meaning in subjects (. * > and any space, U+3000 too)
 * and control characters (C0, DEL, C1: nats-server took "X\x1bY" as it was, an ESC sequence in every tool that
 * prints the subject) become `_`, and an empty symbol is `_`: nats-server drops a message whose subject has an empty
 * token, without a word to the client. So do format characters and what is drawn as nothing (a bidi override U+202E
 * reversed the rest of the subject in `nats sub`'s output, a zero-width joiner or U+3164 hid in it: kept until
 * 2026-12-06). Letters beyond ASCII stay (Binance's 币安人生USDT): subjects are UTF-8 to nats-server, which matches
 * them byte for byte.
 */
const SUBJECT_UNSAFE = /[.*>\s\x00-\x1f\x7f-\x9f\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;

export function subjectOf(prefix: string, venueId: number, marketId: number, symbol: string): string {
  const venue = VENUE_NAMES.get(venueId) ?? `venue${venueId}`;
  const market = MARKET_NAMES.get(marketId) ?? `market${marketId}`;
  return `${prefix}.${venue}.${market}.${symbol.replace(SUBJECT_UNSAFE, "_") || "_"}`;
}

/**
 * Writes an envelope for the message at dv[msgOff, msgOff + msgLen) of the datagram in dv into a new Uint8Array
 * (the NATS client keeps the payload until it is flushed, so it cannot be a reused buffer). msgLen 0: heartbeat.
 * `forwardSeq`: the bridge's number of it in its upstream stream (ENV_FORWARD_SEQ_OFFSET); omitted: not numbered.
 * `bridgeId`: the forwarding bridge's id (ENV_BRIDGE_ID_OFFSET). `auth`: signed with it (ENV_VERSION_SIGNED).
 */
export function envelopeOf(src: Uint8Array, hbIntervalMs: number, msgOff: number, msgLen: number, forwardSeq?: number, bridgeId = 0, auth?: DatagramAuth): Uint8Array {
  const out = new Uint8Array(envelopeBytes(msgLen, auth !== undefined));
  writeEnvelope(out, src, hbIntervalMs, msgOff, msgLen, forwardSeq, bridgeId, auth);
  return out;
}

/** Length of the envelope of a msgLen-byte message (0: a heartbeat), with its trailer when signed. */
export function envelopeBytes(msgLen: number, signed: boolean): number {
  return ENVELOPE_BYTES + msgLen + (signed ? AUTH_TRAILER_BYTES : 0);
}

/**
 * envelopeOf's bytes written at out[0, envelopeBytes(msgLen, auth given)) (the forward bridge's reused scratch); the
 * length returned. Allocates nothing (no DataView, no subarray: envelopeOf made 9 cells, 12 signed; a signature's
 * views are made once per buffer and length, wire/auth.ts).
 */
export function writeEnvelope(out: Uint8Array, src: Uint8Array, hbIntervalMs: number, msgOff: number, msgLen: number, forwardSeq: number | undefined, bridgeId: number, auth: DatagramAuth | undefined): number {
  const length = envelopeBytes(msgLen, auth !== undefined);
  putU16(out, ENV_MAGIC_OFFSET, ENV_MAGIC);
  out[ENV_VERSION_OFFSET] = auth === undefined ? ENV_VERSION : ENV_VERSION_SIGNED;
  out[ENV_FLAGS_OFFSET] = src[3]!;
  copyBytes(src, PKT_CHANNEL_ID_OFFSET, out, ENV_CHANNEL_ID_OFFSET, 2);
  copyBytes(src, PKT_SOURCE_ID_OFFSET, out, ENV_SOURCE_ID_OFFSET, 2);
  copyBytes(src, PKT_SESSION_ID_OFFSET, out, ENV_SESSION_ID_OFFSET, 4);
  putU16(out, ENV_HEARTBEAT_INTERVAL_MS_OFFSET, hbIntervalMs);
  if (forwardSeq !== undefined) {
    putU16(out, ENV_FORWARD_SEQ_OFFSET, FORWARD_SEQ_PRESENT | (forwardSeq % FORWARD_SEQ_LOW_RANGE));
    putU32(out, ENV_FORWARD_SEQ_HIGH_OFFSET, (FORWARD_SEQ_HIGH_PRESENT | Math.floor(forwardSeq / FORWARD_SEQ_LOW_RANGE)) >>> 0);
  } else {
    putU16(out, ENV_FORWARD_SEQ_OFFSET, 0);
    putU32(out, ENV_FORWARD_SEQ_HIGH_OFFSET, 0);
  }
  copyBytes(src, PKT_SESSION_START_NS_OFFSET, out, ENV_SESSION_START_NS_OFFSET, 8);
  copyBytes(src, PKT_SEND_TIME_NS_OFFSET, out, ENV_SEND_TIME_NS_OFFSET, 8);
  putU32(out, ENV_BRIDGE_ID_OFFSET, bridgeId >>> 0);
  if (msgLen > 0) copyRange(src, out, ENVELOPE_BYTES, msgOff, msgOff + msgLen);
  auth?.sign(out, length); // writes the whole trailer
  return length;
}

function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
function copyBytes(from: Uint8Array, at: number, to: Uint8Array, toAt: number, n: number): void {
  for (let i = 0; i < n; i++) to[toAt + i] = from[at + i]!;
}

/**
 * Upstream streams whose numbering a reader follows (and a bridge numbers): beyond, a new stream's envelopes go
 * unnumbered (a flood of envelopes or datagrams with made-up channel and source ids cannot grow memory).
 */
export const MAX_NUMBERED_STREAMS = 4096;
/**
 * Instruments whose newest instrSeq a reader keeps (to drop another channel's lagging copies), and instruments a
 * bridge keeps a subject for; beyond, not kept (a flood of made-up instrument ids cannot grow memory).
 */
export const MAX_TRACKED_INSTRUMENTS = 65_536;

/**
 * One upstream (channel, source) stream as the reader follows it: the bridge it takes the stream from, the next
 * forward number expected of that bridge (−1: none yet), and when that bridge last brought something (the upstream
 * send time, ns, and the reader's receive time, ms), to tell when it went silent.
 */
interface StreamLine {
  bridgeId: number;
  /** The next forward number: all 46 bits when `wide` (the bridge sends its high bits), else mod 2^15. */
  next: number;
  wide: boolean;
  /**
   * With `wide`: the line before the last jump ahead (−1: none pending) and the envelopes seen continuing it. As a
   * subscriber does with seqNum (docs/wire-protocol.md §6.3), SEQ_REVERT_DATAGRAMS of them prove the jump bogus (one
   * forged number far ahead): the line goes back, so such an envelope cannot make the real ones look like copies.
   */
  altNext: number;
  altCount: number;
  /** Another bridge's envelopes on this stream were reported (once per stream: a switch keeps it). */
  otherReported: boolean;
  /**
   * Other bridges heard since the followed one's last envelope (`others` of MAX_OTHER_BRIDGES slots): their ids, the
   * upstream send time (ns) of their last envelope, and how much upstream time (ns) past the followed one's last they
   * have brought, each step capped (failoverProgress). Emptied whenever the followed bridge brings something.
   */
  others: number;
  /** Upstream send time (ns) of the followed bridge's last envelope: only time past it counts as progress. */
  lastSendNs: number;
  otherIds: number[];
  otherLastNs: number[];
  otherProgressNs: number[];
  /** The same upstream time with each step at most one heartbeat interval: the followed one's silence by it (replays). */
  otherSilentNs: number[];
  /**
   * Receive time (ms) of the last envelope taken in, and the heartbeat intervals the last two advertised: the stream
   * is alive within UPSTREAM_SILENT_HEARTBEATS of the smaller (one damaged interval field cannot stretch it).
   */
  aliveMs: number;
  hbMs: number;
  prevHbMs: number;
  /**
   * Upstream send time (ns) of the last envelope that made it alive, of the line's start (the last message envelope,
   * the session's first, or a heartbeat since sent before it: its clock stepped back), and that session: a heartbeat
   * of that session sent within [lineSendNs, heardSendNs] is a copy (replayed or duplicated), no sign of upstream now
   * (multicast's isBeatCopy: the bridge forwards no heartbeat behind the upstream line; but see switchFloorNs).
   */
  heardSendNs: number;
  lineSendNs: number;
  /** How far lineSendNs was ahead of the wall clock at its receipt: a heartbeat far further ahead is none (isBeatAhead). */
  lineAheadNs: number;
  /** The latest upstream send time (ns) of the heard session that made it alive (switchFloorNs). */
  heardMaxNs: number;
  /**
   * Set at a switch to another bridge: heardMaxNs then. That bridge's line is unknown here (restarted, it forwards
   * whatever of the stream comes first, and every later line past it as a gap: a replay of a dead publisher's
   * datagrams too), so an envelope of the session sent no later is taken in but is no sign of upstream until one sent
   * after it is (0: none pending).
   */
  switchFloorNs: number;
  heardId: number;
  heardStartLo: number;
  heardStartHi: number;
  /** Went silent since its last envelope (a gap of the reader's stream was made for it: once per silence). */
  silent: boolean;
  /** Its last envelope taken in was an END_OF_SESSION heartbeat: the upstream session ended on this stream. */
  ended: boolean;
}

/**
 * The followed bridge of a stream is gone, and another one's envelopes are taken instead, once it has been silent for
 * FAILOVER_HEARTBEATS upstream heartbeat intervals and at least FAILOVER_MIN_MS: the other bridge brought that much
 * upstream time (by its envelopes' send times, so a replay switches like a live reader) since the followed one's
 * last envelope, or nothing came from the followed one for that long by the reader's clock while it listened. A
 * briefly slow bridge (a GC pause, a loaded host) is not gone: each switch is a gap, and the books are untrusted
 * until their refresh.
 */
export const FAILOVER_HEARTBEATS = 3;
/** Upstream is silent (the reader stops its heartbeats) after this many of its advertised heartbeat intervals. */
export const UPSTREAM_SILENT_HEARTBEATS = 3;
export const FAILOVER_MIN_MS = 5000;
/** Other bridges of one stream whose progress is measured at once (further ids replace the least advanced). */
export const MAX_OTHER_BRIDGES = 4;
/** A heartbeat interval field of 0 (none advertised) counts as this much. */
const DEFAULT_UPSTREAM_HEARTBEAT_MS = 1000;

/**
 * How long a followed stream may bring nothing before it is silent: UPSTREAM_SILENT_HEARTBEATS of its heartbeat
 * interval (the smaller its last two envelopes advertised), at least `floorMs`.
 */
function silentAfterMs(line: StreamLine, floorMs: number): number {
  return UPSTREAM_SILENT_HEARTBEATS * Math.max(Math.min(line.hbMs, line.prevHbMs), floorMs);
}

function hbOrDefault(ms: number): number {
  return ms > 0 ? ms : DEFAULT_UPSTREAM_HEARTBEAT_MS;
}

/**
 * Upstream time (ns) bridge `id` has brought on `line` past the followed bridge's last envelope since then: the sum
 * of the steps between its envelopes' send times (from the followed one's last at least), each at most `capNs`;
 * steps back count 0, so a late bridge's backlog of older copies is no progress. One envelope with a send time far
 * off (forged, damaged with a matching CRC, a publisher's clock stepped) moves it by one cap at most, never to a
 * switch; a bridge first heard counts from its first envelope. Returns the bridge's slot in `line`; its sum with
 * steps of at most `hbNs` (otherSilentNs) tells the followed bridge silent in a replay.
 */
function failoverProgress(line: StreamLine, id: number, sendNs: number, capNs: number, hbNs: number): number {
  let i = 0;
  while (i < line.others && line.otherIds[i] !== id) i++;
  if (i === line.others) {
    if (i < MAX_OTHER_BRIDGES) line.others++;
    else for (let j = (i = 0); j < MAX_OTHER_BRIDGES; j++) if (line.otherProgressNs[j]! < line.otherProgressNs[i]!) i = j;
    line.otherIds[i] = id;
    line.otherLastNs[i] = sendNs;
    line.otherProgressNs[i] = 0;
    line.otherSilentNs[i] = 0;
    return i;
  }
  const stepNs = sendNs - Math.max(line.otherLastNs[i]!, line.lastSendNs);
  line.otherLastNs[i] = sendNs;
  if (stepNs > 0) {
    line.otherProgressNs[i]! += Math.min(stepNs, capNs);
    line.otherSilentNs[i]! += Math.min(stepNs, hbNs);
  }
  return i;
}

/** The forward number of an envelope: all 46 bits when the high part is present, else the low 15. */
function forwardNumber(low: number, high: number): number {
  const lo = low & FORWARD_SEQ_MASK;
  return high === 0 ? lo : (high & ~FORWARD_SEQ_HIGH_PRESENT) * FORWARD_SEQ_LOW_RANGE + lo;
}

/** A second bridge heard on an upstream stream (its envelopes dropped), or the reader switching to it. */
export interface BridgeEvent {
  kind: "second_bridge" | "failover";
  channelId: number;
  sourceId: number;
  /** The bridge followed before the event, and the other one. */
  followed: number;
  other: number;
}

/** The newest book event repacked for one instrument: its instrSeq, the upstream stream and session it came on. */
interface InstrumentLine {
  instrSeq: number;
  streamKey: number;
  sessionId: number;
}

/**
 * What checkForward made of an envelope's number: the next one; taken after a gap (envelopes lost); taken undoing a
 * bogus jump ahead (a gap too); behind the next, refused.
 */
type ForwardStep = "next" | "gap" | "undone" | "refused";

/** Why an envelope was refused (counted by the repacker, never thrown). */
export type EnvelopeRefusal = "short" | "bad_magic" | "unknown_version" | "bad_message" | "old_session" | "bad_auth" | "repeated";

/** An upstream session: ordered by (sessionStartNs, sessionId), unsigned (§3.4). */
interface SessionKey {
  startHi: number;
  startLo: number;
  id: number;
}

/**
 * Upstream datagrams (told apart by their send time) of a newer session before it is confirmed, and of one older
 * session that undo it: as on multicast (docs/wire-protocol.md §6.4), one bogus header must not take a source over.
 */
export const SESSION_CONFIRM_DATAGRAMS = 2;

/**
 * The newest upstream session of one source. A newer one is adopted at once but stays provisional (`pending`) until
 * SESSION_CONFIRM_DATAGRAMS of its datagrams came; before that, as many datagrams of one older session (not older
 * than the last confirmed, `prev`, or one replaced while provisional: `skipped`) prove it bogus and the source goes
 * back to that session.
 */
interface UpstreamSession extends SessionKey {
  pending: boolean;
  prev: SessionKey | undefined;
  newDatagrams: number;
  old: SessionKey;
  oldDatagrams: number;
  /** Send time (two u32 words) of the last datagram counted, so one datagram's envelopes count once. */
  lastSendHi: number;
  lastSendLo: number;
  /** The same for the older session's datagrams counted against a provisional one. */
  lastOldSendHi: number;
  lastOldSendLo: number;
  /**
   * Sessions a confirmed newer one replaced (the last RETIRED_SESSIONS): refused whatever their start time (a dead
   * run's late envelope after every stream went silent a moment is no clock-step restart) unless they keep sending,
   * each watched on its own (EnvelopeRepacker.liveLeftBehind): the multicast subscriber's state and rule
   * (left-behind.ts; keyed by the upstream start's ns words).
   */
  left: LeftBehindRuns;
  /**
   * Provisional sessions a newer one replaced before they were confirmed (the first RETIRED_SESSIONS in a row), as on
   * multicast (streams.ts skipped): each may prove the newest bogus, also one that started before `prev` (a clock-step
   * restart a bogus header replaced); retired with `prev` when a session is confirmed.
   */
  skipped: SessionKey[];
  /** A line of the source the last upstreamOver found alive: tried first (a flood of older envelopes scans no table). */
  alive: StreamLine | undefined;
}

function retire(known: UpstreamSession, k: SessionKey): void {
  known.left.retire(k.startHi, k.startLo, k.id);
}

/**
 * Cold: whether envelopes of this older session may prove the source's provisional newest one bogus: not one left
 * behind, and not older than the last confirmed one unless a newer one replaced it while provisional (skipped).
 */
function mayProve(known: UpstreamSession, startHi: number, startLo: number, id: number): boolean {
  if (known.left.has(startHi, startLo, id)) return false;
  if (known.prev === undefined || compareKey(startHi, startLo, id, known.prev) >= 0) return true;
  return listHas(known.skipped, startHi, startLo, id);
}

/**
 * Cold: two envelopes of (startHi, startLo, id) proved the provisional newest session bogus. Other than the last
 * confirmed one (a restart the bogus session replaced while provisional, one whose clock stepped back too), it is
 * confirmed as by its second envelope: the last confirmed one and the runs replaced before it while provisional are
 * left behind (not so, a dead run's late envelope after a moment of silence passed for a clock-step restart). The
 * runs replaced after it are not: one may be real.
 */
function proved(known: UpstreamSession, startHi: number, startLo: number, id: number): void {
  const skipped = known.skipped.splice(0);
  if (sameKey(startHi, startLo, id, known.prev)) return;
  // Also with none confirmed yet (the first session seen replaced while provisional): as on multicast (streams.ts
  // proved), the runs replaced before it are left behind. Not so before 2026-12-06: such a run's late envelope after
  // a moment of silence passed for a clock-step restart, its books repacked as live.
  if (known.prev !== undefined) retire(known, known.prev);
  const at = skipped.findIndex((k) => sameKey(startHi, startLo, id, k));
  for (let i = 0; i < skipped.length; i++) {
    const k = skipped[i]!;
    if (at >= 0 ? i < at : compareKey(k.startHi, k.startLo, k.id, { startHi, startLo, id }) < 0) retire(known, k);
  }
}

/** The last confirmed session, or one the provisional newest replaced while provisional itself (skipped). */
function replacedWhilePending(known: UpstreamSession, startHi: number, startLo: number, id: number): boolean {
  return sameKey(startHi, startLo, id, known.prev) || listHas(known.skipped, startHi, startLo, id);
}

/** A loop, not some() with a closure: run for every envelope of an older session (a flood allocates nothing each). */
function listHas(list: readonly SessionKey[], startHi: number, startLo: number, id: number): boolean {
  for (let i = 0; i < list.length; i++) if (sameKey(startHi, startLo, id, list[i])) return true;
  return false;
}

function sameKey(aHi: number, aLo: number, aId: number, b: SessionKey | undefined): boolean {
  return b !== undefined && aHi === b.startHi && aLo === b.startLo && aId === b.id;
}

function compareKey(aHi: number, aLo: number, aId: number, b: SessionKey): number {
  if (aHi !== b.startHi) return aHi > b.startHi ? 1 : -1;
  if (aLo !== b.startLo) return aLo > b.startLo ? 1 : -1;
  return aId === b.id ? 0 : aId > b.id ? 1 : -1;
}

export interface RepackerOptions {
  channelId: number;
  sourceId: number;
  /**
   * Largest datagram repacked (default 1400): at least MIN_PUBLISH_DATAGRAM_BYTES (856), as publish.max_datagram_bytes,
   * and at least the upstream publishers' maximum, since a message is repacked whole (a larger one is `bad_message`).
   */
  maxDatagramBytes?: number;
  /** Advertised in every header; the owner sends heartbeats at this interval. */
  heartbeatIntervalMs: number;
  /** Cold: told when a second bridge forwards a followed stream, and at each switch of bridge. */
  onBridgeEvent?: (e: BridgeEvent) => void;
  /**
   * The envelopes are a replay of history (JetStream from its start or a time), coming faster than real time: a
   * followed bridge silent by the upstream time another one brought is a gap even while the reader's clock saw
   * little (switchesTo). Live, a burst after a stall of the reader looks the same and that silence was no loss.
   * Until `caughtUp()`: from then on the envelopes are live.
   */
  replay?: boolean;
  /**
   * The feed's HMAC key: only envelopes signed with it (ENV_VERSION_SIGNED, a valid trailer) are taken, the rest
   * refused as `bad_auth`, and the repacked datagrams are signed with it (AUTHENTICATED), for keyed subscribers.
   */
  authKey?: Uint8Array;
  /**
   * The SHA-256 for authKey's HMAC (as FeedSubscriberOptions.authSha256): Bun's CryptoHasher under Bun by default,
   * createHmac under Node or when null. Each envelope is a new buffer, so each check still makes its view (~3 cells).
   */
  authSha256?: ReusableSha256 | null;
  /**
   * Told of every refused envelope (cold: bad input), after it is counted: the CLI warns of `bad_auth`, which with a
   * key and a bridge without it (or with another key) is every envelope, the books never filled, and of
   * `bad_message`. `detail`: what was wrong, for `bad_message` (e.g. "BookDelta, bid entry 1 of 1: qtyMantissa
   * negative"); undefined for the other reasons.
   */
  onRefused?: (why: EnvelopeRefusal, detail?: string) => void;
  /**
   * Without authKey: told once, at the first signed envelope (ENV_VERSION_SIGNED) read, its trailer unchecked: the
   * bridge holds a key this reader was not given, so the operator believes the feed verified while nothing checks it.
   */
  onSignedUnverified?: () => void;
  /**
   * Told when one of the callbacks above (or the owner's, through `tell`) throws, after it is counted
   * (`listenerErrors`): before 2026-12-06 the throw escaped add() midway, into the NATS client's message callback.
   */
  onListenerError?: (error: Error) => void;
  /**
   * The least silence of a followed bridge before the reader switches to another (switchesTo), ms: default
   * FAILOVER_MIN_MS (5000). Shorter only in tests whose bridges restart often (a chaos run paid 5 s per restart);
   * shorter in production, a slow bridge would lose the stream, and the books a refresh, sooner.
   */
  failoverMinMs?: number;
}

export interface RepackerCounters {
  messages: number;
  heartbeats: number;
  refused: Record<EnvelopeRefusal, number>;
  /** New sessions of the repacker, one per upstream session change or forward jump undone (forwardJumpsReverted). */
  sessions: number;
  /**
   * Upstream sessions undone: a newer session of a source (one datagram of it, forged or damaged with a matching
   * CRC) contradicted by two datagrams of the session it replaced before its own second one came. Each starts a new
   * session of the repacker, so subscribers drop what the bogus one brought.
   */
  sessionsReverted: number;
  /**
   * Numbers the bridge skipped (or that never came) in an upstream stream: something of it was lost on the way.
   * Each one is a gap in the repacker's own stream, so subscribers stop trusting its books until their refresh.
   */
  upstreamGaps: number;
  /**
   * Jumps ahead of a followed bridge's numbering undone: two envelopes continued the line from before it (one forged
   * number far ahead). Each is a gap too; the first of the two is refused as `repeated`.
   */
  forwardJumpsReverted: number;
  /** Numbered envelopes of upstream streams beyond MAX_NUMBERED_STREAMS followed at once: their numbers not checked. */
  unnumbered: number;
  /**
   * Envelopes dropped because another bridge forwards the same upstream stream (two `to-nats` bridges on one prefix)
   * and the reader follows that one: two bridges' numberings are never read as one.
   */
  otherBridge: number;
  /** Switches to another bridge of a stream whose followed bridge went silent: each one a gap of the reader's stream. */
  bridgeFailovers: number;
  /**
   * Followed upstream streams that went silent (UPSTREAM_SILENT_HEARTBEATS of their heartbeat interval) while others
   * were alive, or ended (END_OF_SESSION, at its first however many heartbeats with it follow: endLine): a gap of the
   * reader's stream, so the silent stream's books are not shown usable (markSilent). Also in a replay, a followed bridge silent
   * by the upstream time another bridge brought (switchesTo).
   */
  streamsSilent: number;
  /**
   * Book messages dropped as another upstream channel's copy of an event older than one already repacked (an
   * instrument routed to two channels): in the reader's one stream they would look like instrSeq going backwards.
   */
  olderCopies: number;
  /** The owner's callbacks that threw (onBridgeEvent, onRefused, onSignedUnverified; the reader's onNatsEvent). */
  listenerErrors: number;
}

/** Packs envelopes' messages into datagrams of its own stream. The owner seals and sends `packer`'s datagrams. */
export class EnvelopeRepacker {
  packer: ChannelPacker;
  readonly counters: RepackerCounters = {
    messages: 0,
    heartbeats: 0,
    refused: { short: 0, bad_magic: 0, unknown_version: 0, bad_message: 0, old_session: 0, bad_auth: 0, repeated: 0 },
    sessions: 1,
    sessionsReverted: 0,
    upstreamGaps: 0,
    forwardJumpsReverted: 0,
    unnumbered: 0,
    otherBridge: 0,
    bridgeFailovers: 0,
    streamsSilent: 0,
    olderCopies: 0,
    listenerErrors: 0,
  };
  /** instrumentId → the newest book event repacked for it (bounded by MAX_TRACKED_INSTRUMENTS). */
  private readonly lines = new Map<number, InstrumentLine>();
  /** Upstream (channel << 16 | source) → the bridge it is taken from and that bridge's numbering. */
  private readonly streams = new Map<number, StreamLine>();
  /** Upstream streams whose numbering is followed (bounded by MAX_NUMBERED_STREAMS). */
  get numberedStreams(): number {
    return this.streams.size;
  }
  /** The id of the bridge an upstream stream is taken from (undefined: not followed). */
  followedBridge(channelId: number, sourceId: number): number | undefined {
    return this.streams.get(((channelId << 16) | sourceId) >>> 0)?.bridgeId;
  }
  /** Upstream sourceId → its newest session (a source is one publisher process, whatever channels it sends on). */
  private readonly upstream = new Map<number, UpstreamSession>();
  /** Most recent receive time (ms) of anything taken in from upstream. */
  lastUpstreamMs = 0;
  /** The owner's last checkUpstream (ms), and since when it has run on time: silences are measured within that. */
  private lastCheckMs = 0;
  private listeningSinceMs = 0;
  /**
   * A check on time found every stream silent (or ended) while it listened (the owner's heartbeats stopped:
   * subscribers' books go stale): the next stream heard, but for an END, makes a gap for every other
   * (markSilentAfterOutage), whatever the timer does by then.
   */
  private upstreamDead = false;

  /**
   * Whether upstream is alive: some followed stream brought something within UPSTREAM_SILENT_HEARTBEATS of the
   * heartbeat interval its last envelopes advertised (the smaller of the last two; at least the repacker's own). The
   * owner heartbeats only while it is, so a dead publisher, bridge or NATS link makes the local books stale. Per
   * stream and from its last envelope: the largest interval ever advertised (what this was) let one corrupted or
   * forged envelope claiming 65 s keep the books looking alive for over 3 minutes after every later outage.
   * While upstream is alive, the streams silent meanwhile are a gap (markSilent). Cold: the owner's timer.
   */
  checkUpstream(nowMs: number): boolean {
    const floorMs = this.opts.heartbeatIntervalMs;
    // A late timer (this thread held up, or the first call): silences are measured from now, not from before.
    const late = nowMs - this.lastCheckMs > 2 * floorMs;
    if (late) this.listeningSinceMs = nowMs;
    this.lastCheckMs = nowMs;
    let alive = false;
    let heardWhileListening = false;
    for (const line of this.streams.values()) {
      // An ended stream is no sign of upstream, whatever it still sends: a publisher whose sequence ran out heartbeats
      // with END_OF_SESSION for as long as it runs (docs/wire-protocol.md §5.1).
      if (line.aliveMs > 0 && !line.ended && nowMs - line.aliveMs <= silentAfterMs(line, floorMs)) {
        alive = true;
        break;
      }
      // Nor is one heard while listening: its END heartbeats kept upstreamDead unset (the other streams silent, the
      // reader's heartbeats stopped), and the next stream back with the timer late made no gap for it.
      if (!line.ended && nowMs - Math.max(line.aliveMs, this.listeningSinceMs) <= silentAfterMs(line, floorMs)) heardWhileListening = true;
    }
    if (alive) {
      this.upstreamDead = false;
      this.markSilent(undefined, nowMs);
    } else if (!late && !heardWhileListening) this.upstreamDead = true;
    return alive;
  }

  /**
   * Cold: the first stream heard (`back`) after every stream was silent while the reader listened (upstreamDead): a
   * gap for every other not silent yet, before its envelope is packed, as markSilent but whether or not the timer is on
   * time now. That envelope is the reader stream's first datagram since its heartbeats stopped, which makes every
   * stale book usable again: when this thread was held up just then (the timer late), markSilent took no stream for
   * silent and the dead streams' books came back usable, frozen (rev24 'both silent' under load). One whose envelope
   * waited behind `back`'s is a gap too: its books need their refresh, the safe side.
   */
  private markSilentAfterOutage(back: StreamLine): void {
    this.upstreamDead = false;
    let n = 0;
    for (const line of this.streams.values()) {
      if (line === back || line.aliveMs === 0 || line.silent) continue;
      line.silent = true;
      n++;
    }
    if (n === 0) return;
    this.counters.streamsSilent += n;
    this.skipSeq();
  }

  /**
   * Cold: a gap of the reader's stream for the followed streams silent now or ended (END_OF_SESSION: over at once,
   * however many END heartbeats follow, docs/wire-protocol.md §5.1), but `except`, whose silence has none yet,
   * counted in `streamsSilent`. Called while some stream is alive: by the timer, and when a stream comes back
   * after a silence (before its envelope is packed, so no datagram of it shows the others' books live). The reader's
   * one stream carries every upstream stream's books, and its heartbeats, kept going by the others, made the books of
   * a dead publisher (or of the dead bridge of its groups) look live for good where a multicast subscriber sees that
   * stream stale. Now subscribers stop trusting the books until their refresh, which the silent stream's do not get
   * until it is back. When every stream is silent, the reader's own silence makes the books stale: no gap then.
   * Silence counts only while the reader was listening (its timer on time): after this thread was held up, the
   * envelopes that came meanwhile wait behind the first one taken, and their streams are not silent.
   */
  private markSilent(except: StreamLine | undefined, nowMs: number): void {
    const floorMs = this.opts.heartbeatIntervalMs;
    if (nowMs - this.lastCheckMs > 2 * floorMs) return; // the timer is late (or not run by an owner): not listening
    const fromMs = this.listeningSinceMs;
    let n = 0;
    for (const line of this.streams.values()) {
      if (line === except || line.aliveMs === 0 || line.silent || (!line.ended && nowMs - Math.max(line.aliveMs, fromMs) <= silentAfterMs(line, floorMs))) continue;
      line.silent = true;
      n++;
    }
    if (n === 0) return;
    this.counters.streamsSilent += n;
    this.skipSeq();
  }
  /**
   * Cold: the stream's END_OF_SESSION, a gap at once unless it had one (silent) or ended before: at the timer's next
   * round (markSilent), another stream's datagram packed meanwhile showed its books usable where multicast ends them
   * at that END. More ENDs make no other gap.
   */
  private endLine(line: StreamLine): void {
    if (!line.ended && !line.silent) {
      line.silent = true;
      this.counters.streamsSilent++;
      this.skipSeq();
    }
    line.ended = true;
  }
  private readonly opts: RepackerOptions;
  /** With RepackerOptions.authKey: checks every envelope's trailer and signs the repacked datagrams. */
  private readonly auth: DatagramAuth | undefined;
  /** RepackerOptions.onSignedUnverified was called (once per repacker). */
  private signedUnverifiedTold = false;

  constructor(opts: RepackerOptions) {
    // As FeedPublisher's: the repacker publishes every definition it takes in (from-nats onto multicast). Before
    // 2026-12-06 the packer's own floor (256) was the only one, and a long definition was refused as bad_message.
    const maxDatagramBytes = opts.maxDatagramBytes ?? 1400;
    if (!(maxDatagramBytes >= MIN_PUBLISH_DATAGRAM_BYTES)) {
      throw new RangeError(`maxDatagramBytes ${maxDatagramBytes} is below ${MIN_PUBLISH_DATAGRAM_BYTES}, the smallest datagram that holds every instrument definition`);
    }
    if (opts.failoverMinMs !== undefined && !(Number.isFinite(opts.failoverMinMs) && opts.failoverMinMs >= 0)) {
      throw new RangeError(`failoverMinMs ${opts.failoverMinMs} is not a finite number of ms ≥ 0`);
    }
    this.opts = { ...opts };
    this.auth = opts.authKey === undefined ? undefined : new DatagramAuth(opts.authKey, sha256Option(opts.authSha256));
    this.packer = this.newPacker();
  }

  /** Still judging envelopes as a replay of history (RepackerOptions.replay, until caughtUp). */
  get replaying(): boolean {
    return this.opts.replay === true;
  }

  /**
   * A replay reached the stream's live end (JetStream: nothing pending): from here envelopes come as they are sent,
   * faster only in a burst after a stall of the reader, which the replay rule would make a needless gap. Cold.
   */
  caughtUp(): void {
    this.opts.replay = false;
  }

  /**
   * Cold: what was read may not be what the source holds now (a JetStream stream that lost its tail): a gap of the
   * reader's stream, so subscribers stop trusting every book it carries until their next snapshot. The owner flushes.
   */
  discontinuity(): void {
    this.skipSeq();
  }

  /** Start (µs) of the repacker's latest session: each new one starts strictly later. */
  private lastStartUs = 0;

  // Subscribers order sessions by (start, id): a new session started in the same millisecond as the last (a replay
  // running through restarts in one burst) must not be ordered by its random id alone, or half of them look older.
  private newPacker(): ChannelPacker {
    const sessionId = (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;
    // On the clock of the datagrams' send times (nats-source.ts: mono-clock.ts shownUs), so none is before its start.
    const sessionStartUs = Math.max(shownUs(monoEpochUs()), this.lastStartUs + 1);
    this.lastStartUs = sessionStartUs;
    return new ChannelPacker(this.opts.maxDatagramBytes ?? 1400, this.opts.channelId, this.opts.sourceId, sessionId, {
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      sessionStartUs,
      auth: this.auth,
    });
  }

  /**
   * Adds one envelope. Returns "new_session" when the repacker started a new session: the owner must send what the
   * old packer held first (`pendingOld`), then the new packer's datagrams, before the next add (another new session
   * replaces pendingOld); "other_bridge" when it was dropped as
   * another bridge's copy of a stream taken from one bridge (`switchesTo`).
   */
  add(env: Uint8Array, nowMs: number): EnvelopeRefusal | "ok" | "new_session" | "other_bridge" {
    if (env.length < ENVELOPE_V1_BYTES) return this.refuse("short");
    // Fields are read from env's bytes (u16, u32): a DataView over each envelope (a new NATS payload each time) was
    // ~64 B of heap per envelope, which the JIT did not remove.
    if (u16(env, ENV_MAGIC_OFFSET) !== ENV_MAGIC) return this.refuse("bad_magic");
    const version = env[ENV_VERSION_OFFSET];
    const hdr = version === ENV_VERSION || version === ENV_VERSION_SIGNED ? ENVELOPE_BYTES : version === ENV_VERSION_1 ? ENVELOPE_V1_BYTES : 0;
    if (hdr === 0) return this.refuse("unknown_version");
    const trailer = version === ENV_VERSION_SIGNED ? AUTH_TRAILER_BYTES : 0;
    if (env.length < hdr + trailer) return this.refuse("short");
    // Keyed: before anything is looked at, so nothing unsigned moves a stream's numbering, liveness or session.
    // Without a key a signed envelope is read as before, its trailer unchecked.
    if (this.auth !== undefined && (trailer === 0 || !this.auth.verifyTrailer(env, env.length))) return this.refuse("bad_auth");
    if (trailer !== 0 && this.auth === undefined && !this.signedUnverifiedTold) {
      this.signedUnverifiedTold = true;
      this.tell(this.opts.onSignedUnverified, undefined);
    }
    const msgLen = env.length - hdr - trailer;
    if (msgLen > 0 && !plausibleMessage(env, hdr, msgLen, this.packer.maxMessageBytes)) return this.refuse("bad_message", FRAMING_REFUSED);
    const source = u16(env, ENV_SOURCE_ID_OFFSET);
    const streamKey = ((u16(env, ENV_CHANNEL_ID_OFFSET) << 16) | source) >>> 0;
    const sendHi = u32(env, ENV_SEND_TIME_NS_OFFSET + 4);
    const sendLo = u32(env, ENV_SEND_TIME_NS_OFFSET);
    const hb = u16(env, ENV_HEARTBEAT_INTERVAL_MS_OFFSET);
    const forward = u16(env, ENV_FORWARD_SEQ_OFFSET);
    const high = hdr === ENVELOPE_BYTES ? u32(env, ENV_FORWARD_SEQ_HIGH_OFFSET) : 0;
    const bridgeId = hdr === ENVELOPE_BYTES ? u32(env, ENV_BRIDGE_ID_OFFSET) : 0;
    const line = this.lineOf(streamKey, bridgeId);
    let lineMoved = false;
    /** A forward jump undone by this envelope: a new session of ours (below) drops what the bogus line began. */
    let lineUndone = false;
    if (line !== undefined) {
      const sendNs = sendHi * 0x1_0000_0000 + sendLo; // ~256 ns steps: plenty to compare heartbeat intervals
      if (line.bridgeId !== bridgeId && !this.switchesTo(line, bridgeId, streamKey, sendNs, hb, nowMs)) {
        this.counters.otherBridge++;
        return "other_bridge";
      }
      // A number behind the next is refused before anything of it is taken (checkForward).
      const step: ForwardStep = (forward & FORWARD_SEQ_PRESENT) !== 0 ? this.checkForward(line, forwardNumber(forward, high), high !== 0, msgLen > 0) : "next";
      if (step === "refused") return this.refuse("repeated");
      lineUndone = step === "undone";
      // Messages were lost before it (upstream, or at the bridge): the upstream line moved where this reader did not
      // see, so a heartbeat now is no copy of one of the line it knows (as multicast hears one past nextSeq).
      lineMoved = step !== "next";
      line.others = 0; // the followed bridge speaks: it is not silent
      line.lastSendNs = sendNs;
    } else if ((forward & FORWARD_SEQ_PRESENT) !== 0) this.counters.unnumbered++;
    const id = u32(env, ENV_SESSION_ID_OFFSET);
    const startHi = u32(env, ENV_SESSION_START_NS_OFFSET + 4);
    const startLo = u32(env, ENV_SESSION_START_NS_OFFSET);
    const known = this.upstream.get(source);
    let result: "ok" | "new_session" = "ok";
    if (known === undefined) {
      // The first session seen may itself be the bogus datagram: provisional, with nothing to go back to.
      const old = { startHi: 0, startLo: 0, id: 0 };
      this.upstream.set(source, { startHi, startLo, id, pending: true, prev: undefined, newDatagrams: 1, old, oldDatagrams: 0, lastSendHi: sendHi, lastSendLo: sendLo, lastOldSendHi: -1, lastOldSendLo: 0, left: new LeftBehindRuns(), skipped: [], alive: undefined });
    } else if (known.id !== id || known.startLo !== startLo || known.startHi !== startHi) {
      // Cold: another session of a known source. An older one is a restarted publisher's late datagram: its
      // messages must never reach the new session's books (unless it proves the newer session bogus); a newer one
      // is the restart.
      // An older one once every stream of the newest has ended or gone silent is a restart whose host clock
      // stepped back (its start earlier than the dead run's): taken as a newer one. Refused, it was for good.
      // Never one left behind (retired), nor while a restart is provisional the one it replaced, which counts against
      // it as an older one's would even when it starts later (the run a clock-step restart replaced), nor one it replaced
      // while that was provisional (skipped: taken as newer, two envelopes of it confirmed it and left behind every run
      // it had replaced while provisional, the live restart and itself among them, before 2026-12-06). While the
      // newest is provisional, one that may not count against it (older than the last confirmed one, not replaced
      // while provisional: mayProve) is such a restart too once upstream is over: refused whenever provisional, one
      // bogus header after the dead run (never confirmed) kept the clock-step restart refused for good.
      // A run left behind that keeps sending once upstream is over: a live restart a later-starting run's late
      // envelopes were confirmed over (liveLeftBehind), taken again as a clock-step restart.
      const retired = known.left.has(startHi, startLo, id);
      // Taken back, it is a clock-step restart (adopted at once, as on multicast), not evidence against a provisional one.
      const back = retired && this.liveLeftBehind(known, source, startHi, startLo, id, sendHi * 0x1_0000_0000 + sendLo, hb, nowMs);
      const older = !back && (retired || compareKey(startHi, startLo, id, known) < 0 || (known.pending && replacedWhilePending(known, startHi, startLo, id)));
      const evidence = older && !retired && known.pending && mayProve(known, startHi, startLo, id);
      if (evidence && this.provesBogus(known, startHi, startLo, id, sendHi, sendLo)) {
        this.counters.sessionsReverted++;
        proved(known, startHi, startLo, id);
      } else if (older && (retired || evidence || !this.upstreamOver(known, source, nowMs))) return this.refuse("old_session");
      else {
        if (!known.pending) known.prev = { startHi: known.startHi, startLo: known.startLo, id: known.id };
        else if (known.skipped.length < RETIRED_SESSIONS) known.skipped.push({ startHi: known.startHi, startLo: known.startLo, id: known.id });
        known.pending = true;
        known.newDatagrams = 1;
        known.oldDatagrams = 0;
        known.lastOldSendHi = -1;
      }
      known.startHi = startHi;
      known.startLo = startLo;
      known.id = id;
      known.lastSendHi = sendHi;
      known.lastSendLo = sendLo;
      this.newSession();
      result = "new_session";
    } else if (known.pending && (sendHi !== known.lastSendHi || sendLo !== known.lastSendLo)) {
      known.lastSendHi = sendHi;
      known.lastSendLo = sendLo;
      if (++known.newDatagrams >= SESSION_CONFIRM_DATAGRAMS) {
        known.pending = false;
        // The runs it replaced while provisional too: never retired, one's late envelope once the newest was silent
        // passed for a clock-step restart.
        if (known.prev !== undefined) retire(known, known.prev);
        for (const k of known.skipped.splice(0)) retire(known, k);
      }
    }
    // Cold: a forward jump undone (checkForward). Its gap alone was a real jump to subscribers (our numbers go on
    // from it): an assembly the bogus envelope began at an instrSeq forged far ahead (a split delta's part 0, a
    // snapshot's chunk 0) stayed, and kept every real split delta of its book out as an older event's (for good) or
    // the next real refresh as an older set's, until 2026-12-07. A new session's supersede drops it at subscribers, as
    // a multicast subscriber drops what an undone jump began (docs/wire-protocol.md §6.3); its books were invalid
    // until their next snapshot by the gap anyway. One session change of upstream in this envelope is that already.
    if (lineUndone && result !== "new_session") {
      this.newSession();
      result = "new_session";
    }
    // A copy of a heartbeat the stream already brought (same session, sent within the line's window, below): taken in
    // as before but no sign of upstream now. Before 2026-12-06 it made the stream alive: a dead publisher's last
    // heartbeat replayed (no key needed; the bridge forwards it at the stream's next number) kept the reader
    // heartbeating, its books usable.
    const sendNs = sendHi * 0x1_0000_0000 + sendLo;
    const sameSession = line !== undefined && id === line.heardId && startLo === line.heardStartLo && startHi === line.heardStartHi;
    // One sent far ahead of its receipt, and of the line's start, is none either (multicast's isBeatAhead).
    const aheadNs = sendNs - shownUs(nowMs * 1000) * 1000;
    // Through a bridge switched to (restarted: its line forgotten), one sent no later than upstream's latest heard is
    // no sign either, whatever its number says (multicast drops such a replay by its seqNum; before 2026-12-06 each
    // made a dead publisher alive: one sent before the line's start as a clock step, a later line's as a forward gap).
    const beforeFloor = sameSession && line.switchFloorNs !== 0 && sendNs !== 0 && sendNs <= line.switchFloorNs;
    if (msgLen === 0 && sameSession && (beforeFloor || (!lineMoved && sendNs !== 0 && sendNs <= line.heardSendNs && sendNs >= line.lineSendNs) || (aheadNs > AHEAD_MAX_NS && aheadNs - line.lineAheadNs > AHEAD_MAX_NS))) {
      // An END_OF_SESSION sent in the ns of the last envelope heard is upstream's own (as multicast): the stream ended.
      if (sendNs === line.heardSendNs && (env[ENV_FLAGS_OFFSET]! & PKT_FLAG_END_OF_SESSION) !== 0) this.endLine(line);
      this.counters.heartbeats++;
      return result;
    }
    if (!beforeFloor) this.lastUpstreamMs = nowMs;
    if (line !== undefined && !beforeFloor) {
      // As multicast's FeedSubscriber.heard: the window starts at the line's last message (or the session's first),
      // or at a heartbeat heard since that was sent before it (its clock stepped back: a copy of it is one then), and
      // ends at the last heard. The bridge forwards no heartbeat behind its upstream line once it has one (a
      // restarted one has none: beforeFloor above), so every one here is at the line, as multicast's isBeatCopy
      // judges it (for a while on 2026-12-06 the bridge forwarded an earlier line's at the next number, and the
      // window had to only widen: a clock stepped back left the stream silent).
      if (msgLen > 0 || !sameSession || sendNs < line.lineSendNs) {
        line.lineSendNs = sendNs;
        line.lineAheadNs = aheadNs;
      }
      line.heardSendNs = sendNs;
      if (!sameSession || sendNs > line.heardMaxNs) line.heardMaxNs = sendNs;
      line.switchFloorNs = 0;
      line.heardId = id;
      line.heardStartLo = startLo;
      line.heardStartHi = startHi;
      const ends = msgLen === 0 && (env[ENV_FLAGS_OFFSET]! & PKT_FLAG_END_OF_SESSION) !== 0;
      // Cold when taken: the stream is back after a silence (others may be silent still, unmarked while none was alive).
      // An END is none (endLine is its own gap): upstreamDead stays for the first stream really back.
      if (this.upstreamDead) {
        if (!ends) this.markSilentAfterOutage(line);
      } else if (line.aliveMs > 0 && nowMs - line.aliveMs > silentAfterMs(line, this.opts.heartbeatIntervalMs)) this.markSilent(line, nowMs);
      line.prevHbMs = line.aliveMs > 0 ? line.hbMs : hb;
      line.hbMs = hb;
      line.aliveMs = nowMs;
      if (ends) this.endLine(line);
      else {
        line.silent = false;
        line.ended = false;
      }
    }
    if (msgLen === 0) {
      this.counters.heartbeats++;
      return result;
    }
    const p = this.packer;
    const off = hdr;
    p.mark();
    const body = p.beginMessage(msgLen, u16(env, off + MSG_TEMPLATE_ID_OFFSET), u16(env, off + MSG_BLOCK_LENGTH_OFFSET), env[off + MSG_VERSION_OFFSET]!, env[off + MSG_FLAGS_OFFSET]!);
    // Buffer's copy takes a range: a subarray of env (and a Uint8Array over the packer's buffer) was ~64 B each.
    copyRange(env, p.bytes[p.count - 1]!, body, off + MESSAGE_HEADER_BYTES, off + msgLen);
    // The decoder's own check of the message (§7.2), on its copy (a DataView over env would be a cell an envelope).
    // Before 2026-12-07 only its framing was checked: a negative quantity, a definition's bad UTF-8, … made the
    // subscriber refuse the whole repacked datagram, the good messages in it lost with it. Refused alone, the messages
    // around it are packed and applied; but its book (or definition) lacks an event of the publisher from here, so a
    // gap of our stream (cold) stops subscribers trusting every book at once, as multicast's loss of it would: no
    // message of the wire makes one book invalid without forging an instrSeq (a BookStatus sets the state only, and
    // an in-sequence message after it would make the book usable again), and the refused message's instrSeq may be the
    // bad field. A new session (the owner flushes the old one) ends every book of the old one anyway.
    const start = body - MESSAGE_HEADER_BYTES;
    if (validateMessage(p.views[p.count - 1]!, start, start + msgLen) !== DecodeErrorCode.OK) {
      // Named (cold), as the subscriber's error named it when it refused the repacked datagram (until 2026-12-07).
      const detail = messageRefusalDetail(p.views[p.count - 1]!, start);
      p.rewind();
      const why = this.refuse("bad_message", detail);
      if (result === "new_session") return result;
      this.skipSeq();
      return why;
    }
    // After the check: a refused message's instrSeq (one beyond 2^53) must not become the line others are judged by.
    if (this.olderCopy(env, hdr, streamKey, id)) {
      p.rewind();
      this.counters.olderCopies++;
      return result;
    }
    this.counters.messages++;
    return result;
  }

  /**
   * The bridge's numbering of one upstream stream (every numbered envelope, old sessions' included, so the numbers
   * stay in step): a number other than the next one means envelopes were lost. The repacker's own stream then skips
   * a sequence number — subscribers see a gap and stop trusting every book it carries until their next snapshot,
   * exactly what a multicast subscriber does on the upstream gap itself (docs/wire-protocol.md §6.3). Returns what it
   * made of n (ForwardStep).
   */
  private checkForward(line: StreamLine, n: number, wide: boolean, isMessage: boolean): ForwardStep {
    const after = isMessage ? n + 1 : n;
    if (line.next < 0 || !wide || !line.wide) {
      // The first envelope, or numbers of 15 bits (a bridge before forwardSeqHigh): any other number is a loss.
      const lost = line.next >= 0 && (n !== line.next || wide !== line.wide);
      if (lost) this.forwardGap();
      line.wide = wide;
      line.next = wide ? after : after & FORWARD_SEQ_MASK;
      line.altNext = -1;
      return lost ? "gap" : "next";
    }
    if (n === line.next) {
      line.altNext = -1; // the line after a jump goes on: the jump was real
      line.next = after;
      return "next";
    }
    if (n > line.next) {
      this.forwardGap();
      if (line.altNext < 0) {
        line.altNext = line.next;
        line.altCount = 0;
      }
      line.next = after;
      return "gap";
    }
    // Behind the next: a copy of an envelope already taken (published again by someone who recorded the subjects,
    // or delivered twice), refused. Before, it was a gap and then taken in: a copy of an old snapshot showed that
    // book usable at its old state until the next envelope. Or, close after the line a jump ahead left, the real
    // line back after one forged number far ahead: the second such envelope undoes the jump (a gap: what the bogus
    // line brought is not trusted) and is taken.
    if (line.altNext < 0 || n < line.altNext || n - line.altNext > SEQ_REVERT_WINDOW) return "refused";
    line.altNext = after;
    if (++line.altCount < SEQ_REVERT_DATAGRAMS) return "refused";
    this.counters.forwardJumpsReverted++;
    this.forwardGap();
    line.next = after;
    line.altNext = -1;
    return "undone";
  }

  /**
   * Cold: a new session of the repacker (an upstream session change, a bogus forward jump undone). A gap of the old
   * session (envelopes lost before this one) is sent in it, before the new session's first datagram (which ends every
   * book of the old one at subscribers anyway). The new session is sent at this flush, as a gap is (carryGap):
   * subscribers end the old one's books at its first datagram, where multicast ends them at the restart's. Before
   * 2026-12-06 a restart whose first envelope was a heartbeat (no message to pack) left the far side's books of the
   * ended run usable until the reader's next one.
   */
  private newSession(): void {
    this.carryGap();
    this.pendingOld = this.packer;
    this.packer = this.newPacker();
    this.gapAtCount = 0;
    this.counters.sessions++;
  }

  /** Cold: envelopes of an upstream stream were lost (or a bogus jump undone): a gap of the reader's stream. */
  private forwardGap(): void {
    this.counters.upstreamGaps++;
    this.skipSeq();
  }

  /** A gap in our stream: the open datagram is closed so the next message skips a number. */
  private skipSeq(): void {
    this.packer.closeDatagram();
    this.packer.nextSeq++;
    this.gapAtCount = this.packer.count;
  }

  /**
   * The packer's datagrams when the last gap was made (skipSeq; 0 for a new session's packer), -1 if none waits: seen
   * at the next one opened.
   */
  private gapAtCount = -1;

  /**
   * Before the owner seals the packer's datagrams (each flush): a gap that no datagram after it carries gets a
   * heartbeat of its own. With no upstream stream alive the owner sends no heartbeats, so a gap made then (a lone
   * publisher's END_OF_SESSION, envelopes lost before it) reached subscribers with nothing: before 2026-12-06 the
   * ended stream's books stayed usable until their stale limit, where multicast ends them at that END. The gap makes
   * every book of the reader's stream untrusted until its refresh, so this heartbeat brings no stale book back.
   */
  carryGap(): void {
    if (this.gapAtCount < 0) return;
    if (this.packer.count <= this.gapAtCount) this.packer.appendHeartbeat(0); // cold: a gap nothing else carries
    this.gapAtCount = -1;
  }

  /** The line of an upstream stream; the first bridge heard on it is followed. Undefined beyond MAX_NUMBERED_STREAMS. */
  private lineOf(key: number, bridgeId: number): StreamLine | undefined {
    const line = this.streams.get(key);
    if (line !== undefined || this.streams.size >= MAX_NUMBERED_STREAMS) return line;
    const created = { bridgeId, next: -1, wide: false, altNext: -1, altCount: 0, otherReported: false, others: 0, lastSendNs: 0, otherIds: [0, 0, 0, 0], otherLastNs: [0, 0, 0, 0], otherProgressNs: [0, 0, 0, 0], otherSilentNs: [0, 0, 0, 0], aliveMs: 0, hbMs: 0, prevHbMs: 0, heardSendNs: 0, lineSendNs: 0, lineAheadNs: 0, heardMaxNs: 0, switchFloorNs: 0, heardId: 0, heardStartLo: 0, heardStartHi: 0, silent: false, ended: false };
    this.streams.set(key, created);
    return created;
  }

  /**
   * An envelope of another bridge than the one the stream is taken from (two bridges on one prefix, or the followed
   * one restarted): hot while two bridges run, every message comes twice. Each bridge numbers the stream from its
   * own random start, so the two can never be read as one: the other's envelopes are dropped while the followed
   * bridge is alive, and once it is gone (FAILOVER_HEARTBEATS, FAILOVER_MIN_MS) the reader switches to the other with
   * a gap of its own stream — what the followed bridge did not forward before it stopped is unknown, so subscribers
   * stop trusting the books until their refresh. Before, the other's send time leading the followed one's last by 3
   * heartbeat intervals was enough: a bridge held up for that long (300 ms at 100 ms heartbeats) lost the stream,
   * each switch a gap; so did one envelope with a send time far ahead (forged, a publisher's clock stepped forward)
   * or a followed one's far behind.
   */
  private switchesTo(line: StreamLine, bridgeId: number, key: number, sendNs: number, hbMs: number, nowMs: number): boolean {
    const hb = Math.min(hbOrDefault(line.hbMs), hbOrDefault(line.prevHbMs), hbOrDefault(hbMs));
    const windowMs = Math.max(FAILOVER_HEARTBEATS * hb, this.opts.failoverMinMs ?? FAILOVER_MIN_MS);
    const slot = failoverProgress(line, bridgeId, sendNs, Math.max(2 * hb, windowMs / 4) * 1e6, hb * 1e6);
    const progressNs = line.otherProgressNs[slot]!;
    // The reader's clock counts only while it listens (its timer on time): held up, it would take every bridge for
    // silent whose envelopes wait behind another's.
    const listening = nowMs - this.lastCheckMs <= 2 * this.opts.heartbeatIntervalMs;
    const heardAgoMs = nowMs - Math.max(line.aliveMs, this.listeningSinceMs);
    const followed = line.bridgeId;
    if (progressNs < windowMs * 1e6 && !(listening && heardAgoMs > windowMs)) {
      // Cold when taken: the followed bridge silent for longer than its stream may be, by the upstream time the
      // other one brought, while the reader's clock saw much less: envelopes coming faster than real time (a replay
      // of the stream), where that clock cannot make the books stale. A gap once, as markSilent makes live; before,
      // the books stayed usable, the other's copies dropped, for the whole failover window (5 s of history).
      // Replays only: live, envelopes come that fast only in a burst after a stall of this thread (or of delivery),
      // whose silence of the followed bridge lost nothing (its numbering says so); before, that was a needless gap,
      // every book untrusted until its refresh.
      const silentNs = line.otherSilentNs[slot]!;
      if (this.opts.replay === true && !line.silent && silentNs > silentAfterMs(line, this.opts.heartbeatIntervalMs) * 1e6 && 2 * (nowMs - line.aliveMs) * 1e6 < silentNs) {
        line.silent = true;
        this.counters.streamsSilent++;
        this.skipSeq();
      }
      if (!line.otherReported) {
        // Cold: the followed bridge may have just stopped (the other one its restart): what it did not forward
        // before is unknown, so this is a gap at once, not only at the switch.
        line.otherReported = true;
        this.skipSeq();
        this.tell(this.opts.onBridgeEvent, { kind: "second_bridge", channelId: key >>> 16, sourceId: key & 0xffff, followed, other: bridgeId });
      }
      return false;
    }
    // Cold: the switch.
    this.counters.bridgeFailovers++;
    this.skipSeq();
    line.bridgeId = bridgeId;
    line.next = -1;
    line.altNext = -1;
    line.switchFloorNs = line.heardMaxNs;
    // The bridge left behind is known (reported before the switch): its late copies are dropped, no new report and
    // no new gap. Before, its first one was reported again and made a gap at once, as a restart would: the books
    // rebuilt after the switch were untrusted again until the next refresh, at every switch.
    line.otherReported = true;
    this.tell(this.opts.onBridgeEvent, { kind: "failover", channelId: key >>> 16, sourceId: key & 0xffff, followed, other: bridgeId });
    return true;
  }

  /**
   * A book message (delta, snapshot chunk, status) of an instrument whose newer event another upstream stream already
   * brought: the other channel's lagging copy. A subscriber of two channels ignores it as that channel's
   * (docs/wire-protocol.md §6.5); in the reader's one stream it would come from "the stream that set" the newer
   * instrSeq and look like a bogus one (§6.5 item 2): the book made invalid at every such copy. So it is dropped here.
   * A lower instrSeq from the stream that set the newer one still goes through: there it does prove the newer one
   * bogus, for the subscriber to see.
   */
  private olderCopy(env: Uint8Array, hdr: number, streamKey: number, sessionId: number): boolean {
    const templateId = u16(env, hdr + MSG_TEMPLATE_ID_OFFSET);
    if (templateId !== TEMPLATE_BOOK_DELTA && templateId !== TEMPLATE_BOOK_SNAPSHOT && templateId !== TEMPLATE_BOOK_STATUS) return false;
    const body = hdr + MESSAGE_HEADER_BYTES;
    const instrumentId = u32(env, body + BOOK_INSTRUMENT_ID_OFFSET);
    const instrSeq = u32(env, body + BOOK_INSTR_SEQ_OFFSET) + u32(env, body + BOOK_INSTR_SEQ_OFFSET + 4) * 0x1_0000_0000;
    const line = this.lines.get(instrumentId);
    if (line === undefined) {
      if (this.lines.size < MAX_TRACKED_INSTRUMENTS) this.lines.set(instrumentId, { instrSeq, streamKey, sessionId });
      return false;
    }
    if (line.sessionId === sessionId && line.streamKey !== streamKey) {
      if (instrSeq < line.instrSeq) return true;
      if (instrSeq === line.instrSeq) return false;
    }
    line.instrSeq = instrSeq; // newer, or the line's own stream (even lower: the subscriber judges), or a new session
    line.streamKey = streamKey;
    line.sessionId = sessionId;
    return false;
  }

  /**
   * Cold: an envelope of a session older than its source's newest, which is provisional, that may prove it bogus
   * (mayProve, the caller's check): datagrams of one such session count against it; the second undoes it: the
   * source goes back to that session (the caller starts a new session of the repacker, so subscribers drop what
   * the bogus one brought, and `proved` retires what it replaced).
   */
  private provesBogus(known: UpstreamSession, startHi: number, startLo: number, id: number, sendHi: number, sendLo: number): boolean {
    const old = known.old;
    if (old.startHi !== startHi || old.startLo !== startLo || old.id !== id) {
      old.startHi = startHi; // evidence must come from one session (another bogus one must not count)
      old.startLo = startLo;
      old.id = id;
      known.oldDatagrams = 0;
      known.lastOldSendHi = -1;
    }
    if (sendHi === known.lastOldSendHi && sendLo === known.lastOldSendLo) return false; // the same datagram's next message
    known.lastOldSendHi = sendHi;
    known.lastOldSendLo = sendLo;
    if (++known.oldDatagrams < SESSION_CONFIRM_DATAGRAMS) return false;
    known.pending = false;
    return true;
  }

  /**
   * Cold: no upstream stream of `source` is alive, each ended (END_OF_SESSION) or silent by the reader's clock (in a
   * replay, whose clock runs ahead of upstream time, an END_OF_SESSION alone tells). The line found alive last is
   * tried first: each older envelope scanned every line (up to MAX_NUMBERED_STREAMS), so a flood of them cost that
   * much per envelope while the source was alive.
   */
  private upstreamOver(known: UpstreamSession, source: number, nowMs: number): boolean {
    if (known.alive !== undefined && this.lineAlive(known.alive, nowMs)) return false;
    for (const [key, line] of this.streams) {
      if ((key & 0xffff) !== source || !this.lineAlive(line, nowMs)) continue;
      known.alive = line;
      return false;
    }
    known.alive = undefined;
    return true;
  }

  /**
   * Cold: an envelope of a run the source left behind (retired), also while a newer one is provisional. Whether that
   * run is alive, a restart whose host clock stepped back that two late envelopes of a later-starting run were
   * confirmed over (nothing tells those from a real restart; refused for good before 2026-12-06): taken again (true: no
   * longer retired) once its envelopes kept coming long enough by the reader's clock and its own send times
   * (LeftBehindRuns.spanned) and upstream is then over; else the watch starts again. The multicast subscriber's rule
   * (streams.ts liveLeftBehind, left-behind.ts). In a replay (its clock running ahead of the reader's) the reader's
   * time comes once it is live.
   */
  private liveLeftBehind(known: UpstreamSession, source: number, startHi: number, startLo: number, id: number, sendNs: number, hbMs: number, nowMs: number): boolean {
    const left = known.left;
    const recvUs = nowMs * 1000;
    const sendUs = sendNs / 1000;
    const w = left.spanned(startHi, startLo, id, recvUs, sendUs, hbMs);
    if (w === undefined) return false;
    if (!this.upstreamOver(known, source, nowMs)) {
      left.watchAgain(w, recvUs, sendUs);
      return false;
    }
    left.takeBack(w);
    return true;
  }

  private lineAlive(line: StreamLine, nowMs: number): boolean {
    return !line.ended && (this.opts.replay === true || nowMs - line.aliveMs <= silentAfterMs(line, this.opts.heartbeatIntervalMs));
  }

  /** The packer replaced by the last "new_session" (its datagrams are to be sent before the new packer's). */
  pendingOld: ChannelPacker | undefined;

  private refuse(why: EnvelopeRefusal, detail?: string): EnvelopeRefusal {
    this.counters.refused[why]++;
    this.tell(this.opts.onRefused, why, detail);
    return why;
  }

  /**
   * Calls an owner's callback (cold). One that throws is counted (`listenerErrors`) and handed to onListenerError
   * (itself guarded): the state under way is finished, and nothing escapes into the NATS client's callback.
   */
  tell<T, D = undefined>(fn: ((e: T, detail?: D) => void) | undefined, e: T, detail?: D): void {
    if (fn === undefined) return;
    try {
      fn(e, detail);
    } catch (err) {
      this.counters.listenerErrors++;
      try {
        this.opts.onListenerError?.(err instanceof Error ? err : new Error(errorText(err)));
      } catch {
        // the report of a throw must not throw either
      }
    }
  }
}

/** onRefused's detail of a message plausibleMessage refuses. */
const FRAMING_REFUSED = "message framing: msgLength not the envelope's payload, not a multiple of 8 or beyond a datagram, an unknown template, or a root block shorter than the decoder's or beyond the message";

/**
 * The framing a message must have to be looked at at all: its length field equals the payload, a multiple of 8, fits
 * a datagram, a known template whose root block fits and is as long as the subscriber's decoder requires. The rest
 * of the decoder's check (validateMessage) runs on the message's copy in the packer (add). Before 2026-12-06 a shorter root block passed: a header-only
 * book message made add() throw (olderCopy read past the envelope: the JetStream read loop ended on it, without a
 * word), and a longer one was packed, the subscriber then dropping the whole repacked datagram (BAD_MESSAGE), the
 * good messages packed with it too.
 */
function plausibleMessage(env: Uint8Array, off: number, msgLen: number, maxMessageBytes: number): boolean {
  if (msgLen < MESSAGE_HEADER_BYTES || msgLen % MESSAGE_ALIGN_BYTES !== 0 || msgLen > maxMessageBytes) return false;
  if (u16(env, off + MSG_LENGTH_OFFSET) !== msgLen) return false;
  const minBlock = minRootBlockBytes(u16(env, off + MSG_TEMPLATE_ID_OFFSET));
  const blockBytes = u16(env, off + MSG_BLOCK_LENGTH_OFFSET);
  return minBlock >= 0 && blockBytes >= minBlock && MESSAGE_HEADER_BYTES + blockBytes <= msgLen;
}

/** Little-endian u16 / u32 at off (the caller has checked the length). */
function u16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}
function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
