// HOT PATH: no allocation
/**
 * Packs the messages of one (channel, source) into datagrams of at most maxDatagramBytes, MoldUDP64 style:
 * several messages per datagram, a message never spans datagrams, the packet header carries the channel sequence
 * number of its first message. Buffers are reused; the pool only grows when one event-loop turn produces more
 * datagrams than any turn before (cold, one buffer at a time). `seal()` finishes every pending datagram just before
 * the send: send time, then the HMAC trailer (AUTHENTICATED), then the CRC-32 over everything (docs/wire-protocol.md §3).
 * @module
 */
import { setNsFromUs, setU64 } from "../core/i64.ts";
import type { DatagramAuth } from "./auth.ts";
import { datagramCrc32Zeroed } from "./crc32.ts";
import { ExactViews } from "./exact-views.ts";
import { LITTLE_ENDIAN, nsFromUsWords, u64Words } from "./words.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  AUTH_TRAILER_BYTES,
  MAGIC,
  MESSAGE_HEADER_BYTES,
  MIN_MAX_DATAGRAM_BYTES,
  MSG_BLOCK_LENGTH_OFFSET,
  MSG_FLAGS_OFFSET,
  MSG_LENGTH_OFFSET,
  MSG_TEMPLATE_ID_OFFSET,
  MSG_VERSION_OFFSET,
  PACKET_HEADER_BYTES,
  PKT_CHANNEL_ID_OFFSET,
  PKT_CHECKSUM_OFFSET,
  PKT_FLAG_AUTHENTICATED,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAG_SESSION_START,
  PKT_FLAGS_OFFSET,
  PKT_HEARTBEAT_INTERVAL_MS_OFFSET,
  PKT_LENGTH_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_MSG_COUNT_OFFSET,
  PKT_SEND_TIME_NS_OFFSET,
  PKT_SCHEMA_ID_OFFSET,
  PKT_SEQ_NUM_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SESSION_START_NS_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
  SCHEMA_ID,
  WIRE_VERSION,
} from "./layout.ts";

export interface ChannelPackerOptions {
  /** When this publisher session started, µs since the epoch (sessionStartNs in every header). Default: now. */
  sessionStartUs?: number;
  /** The publisher's heartbeat interval, advertised in every header (u16, 0 = no heartbeats). Default 0. */
  heartbeatIntervalMs?: number;
  /** Sign every datagram (AUTHENTICATED flag + 16-byte HMAC trailer). */
  auth?: DatagramAuth;
}

/**
 * Datagram buffers the constructor makes: one (nearly every packer sends one; `bytes[0]` exists from the start). The
 * rest are made the first time a turn needs them: a NATS reader makes a packer per upstream session, and 16 up front,
 * each with its views, were ~120 heap cells a packer where one is ~17 (test/wire/packer-pool.test.ts).
 */
const INITIAL_POOL_DATAGRAMS = 1;
/** Slots of `lengths` to start with (grown, doubling, as buffers are added). */
const INITIAL_LENGTH_SLOTS = 16;

// The word stores of the packet and message headers pack adjacent fields; they assume this layout.
if (
  PKT_MAGIC_OFFSET !== 0 ||
  PKT_VERSION_OFFSET !== 2 ||
  PKT_FLAGS_OFFSET !== 3 ||
  PKT_CHANNEL_ID_OFFSET !== 4 ||
  PKT_MSG_COUNT_OFFSET !== 6 ||
  PKT_SESSION_ID_OFFSET !== 8 ||
  PKT_LENGTH_OFFSET !== 12 ||
  PKT_SOURCE_ID_OFFSET !== 14 ||
  PKT_SEQ_NUM_OFFSET !== 16 ||
  PKT_SEND_TIME_NS_OFFSET !== 24 ||
  PKT_SESSION_START_NS_OFFSET !== 32 ||
  PKT_HEARTBEAT_INTERVAL_MS_OFFSET !== 40 ||
  PKT_SCHEMA_ID_OFFSET !== 42 ||
  PKT_CHECKSUM_OFFSET !== 44 ||
  PACKET_HEADER_BYTES !== 48 ||
  MSG_LENGTH_OFFSET !== 0 ||
  MSG_TEMPLATE_ID_OFFSET !== 2 ||
  MSG_BLOCK_LENGTH_OFFSET !== 4 ||
  MSG_VERSION_OFFSET !== 6 ||
  MSG_FLAGS_OFFSET !== 7
) {
  throw new Error("wire/packer.ts: the word stores do not match layout.ts");
}
/**
 * No message is numbered 2^53 − 1 or more (docs/wire-protocol.md §5.1): the last is 2^53 − 2, so every message number
 * and the next expected one a heartbeat carries (2^53 − 1 at most) are exact and pass a subscriber's unsafe_integer
 * check. Unreachable in practice (285 years at 10^6 messages/s); a session that gets there is refused every message
 * and its heartbeats carry END_OF_SESSION (appendHeartbeat).
 */
const LAST_SEQ_END = Number.MAX_SAFE_INTEGER;
const SEQ_USED_UP = "channel sequence numbers used up: a message would be numbered 2^53 − 1 or more (restart the publisher: a new session starts at 1)";
/** msgCount is a u16 and 0xFFFF is kept free (MoldUDP64 uses it for end of session). */
const MAX_MESSAGES_PER_DATAGRAM = 0xfffe;

export class ChannelPacker {
  readonly maxDatagramBytes: number;
  readonly channelId: number;
  readonly sourceId: number;
  readonly sessionId: number;
  readonly sessionStartUs: number;
  readonly heartbeatIntervalMs: number;
  readonly auth: DatagramAuth | undefined;
  /** AUTH_TRAILER_BYTES when signing, else 0: reserved at the end of every datagram. */
  readonly trailerBytes: number;
  /** Channel sequence number the next message will get. Starts at 1 in every session. */
  nextSeq = 1;
  /** Closed and open datagrams waiting to be sent, in order. */
  count = 0;
  /** Bytes used in each pending datagram (its pktLength once closed). */
  lengths: Int32Array;
  bytes: Uint8Array[] = [];
  views: DataView[] = [];
  /**
   * Int32Array over each pending datagram's bytes: the encoder stores 8-byte-aligned i64 level fields through it
   * on little-endian hosts (~1.5 ns per level cheaper than DataView.setUint32 pairs, measured for docs/performance.md).
   */
  words: Int32Array[] = [];
  /**
   * Float64Array over each pending datagram's bytes: the encoder stores a level's i64 below 2^32 as the double
   * v + 2^52, whose low 32 bits are v, then 0 into the high word (encoder.ts writeLevels).
   */
  f64s: Float64Array[] = [];
  /** Exact-length views of each pool buffer (the native CRC and sendMany take one): see exactView(). */
  private readonly exact: ExactViews[] = [];
  /** Total messages written (all sessions of this packer). */
  messagesWritten = 0;
  private open = false;
  private pos = 0;
  private msgCount = 0;
  private firstSession = true;
  // mark(): what rewind() restores.
  private markCount = 0;
  private markPos = 0;
  private markMsgCount = 0;
  private markOpen = false;
  private markNextSeq = 1;
  private markWritten = 0;
  private markFirstSession = true;
  private markLength = 0;
  /** sessionStartNs as the two header words (little-endian hosts), computed once. */
  private readonly sessionStartWords = new Int32Array(2);
  /** seal()'s send time as the two header words (scratch). */
  private readonly sendTimeWords = new Int32Array(2);

  constructor(maxDatagramBytes: number, channelId: number, sourceId: number, sessionId: number, opts: ChannelPackerOptions = {}) {
    if (!(maxDatagramBytes >= MIN_MAX_DATAGRAM_BYTES && maxDatagramBytes <= ABS_MAX_DATAGRAM_BYTES)) {
      throw new RangeError(`maxDatagramBytes ${maxDatagramBytes} outside ${MIN_MAX_DATAGRAM_BYTES}..${ABS_MAX_DATAGRAM_BYTES}`);
    }
    this.maxDatagramBytes = maxDatagramBytes & ~7; // keep every datagram a multiple of 8 long
    this.channelId = channelId;
    this.sourceId = sourceId;
    this.sessionId = sessionId >>> 0;
    this.sessionStartUs = opts.sessionStartUs ?? Date.now() * 1000;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 0;
    if (!(Number.isInteger(this.heartbeatIntervalMs) && this.heartbeatIntervalMs >= 0 && this.heartbeatIntervalMs <= 0xffff)) {
      throw new RangeError(`heartbeatIntervalMs ${this.heartbeatIntervalMs} outside 0..65535`);
    }
    this.auth = opts.auth;
    this.trailerBytes = opts.auth !== undefined ? AUTH_TRAILER_BYTES : 0;
    nsFromUsWords(this.sessionStartWords, 0, this.sessionStartUs);
    this.lengths = new Int32Array(INITIAL_LENGTH_SLOTS);
    for (let i = 0; i < INITIAL_POOL_DATAGRAMS; i++) this.addBuffer();
  }

  /** Largest message that fits in an otherwise empty datagram (header and trailer excluded). */
  get maxMessageBytes(): number {
    return this.maxDatagramBytes - PACKET_HEADER_BYTES - this.trailerBytes;
  }

  /**
   * Reserves room for one message of msgBytes (multiple of 8, ≤ maxMessageBytes) and writes its header.
   * Returns the byte offset of the message body in `views[count - 1]`; call `endMessage()` after writing it.
   */
  beginMessage(msgBytes: number, templateId: number, blockLength: number, version: number, msgFlags: number): number {
    const limit = this.maxDatagramBytes - this.trailerBytes;
    if (msgBytes > limit - PACKET_HEADER_BYTES) throw new RangeError("message larger than a datagram");
    if (this.nextSeq >= LAST_SEQ_END) throw new RangeError(SEQ_USED_UP);
    if (!this.open || this.pos + msgBytes > limit || this.msgCount === MAX_MESSAGES_PER_DATAGRAM) {
      this.openDatagram(0);
    }
    const off = this.pos;
    const pos = off + msgBytes;
    const msgCount = this.msgCount + 1;
    const pktLength = pos + this.trailerBytes;
    this.pos = pos;
    this.msgCount = msgCount;
    this.nextSeq++;
    this.messagesWritten++;
    this.lengths[this.count - 1] = pktLength;
    if (LITTLE_ENDIAN && (off & 3) === 0) {
      // Message header, then the packet header's msgCount and pktLength: word stores with their neighbours
      // (channelId, sourceId), the same bytes as the field stores below.
      const w = this.words[this.count - 1];
      const k = off >> 2;
      w[k] = (msgBytes & 0xffff) | (templateId << 16);
      w[k + 1] = (blockLength & 0xffff) | ((version & 0xff) << 16) | (msgFlags << 24);
      w[1] = (this.channelId & 0xffff) | (msgCount << 16);
      w[3] = (pktLength & 0xffff) | (this.sourceId << 16);
    } else {
      const view = this.views[this.count - 1];
      view.setUint16(off + MSG_LENGTH_OFFSET, msgBytes, true);
      view.setUint16(off + MSG_TEMPLATE_ID_OFFSET, templateId, true);
      view.setUint16(off + MSG_BLOCK_LENGTH_OFFSET, blockLength, true);
      view.setUint8(off + MSG_VERSION_OFFSET, version);
      view.setUint8(off + MSG_FLAGS_OFFSET, msgFlags);
      view.setUint16(PKT_MSG_COUNT_OFFSET, msgCount, true);
      view.setUint16(PKT_LENGTH_OFFSET, pktLength, true);
    }
    return off + MESSAGE_HEADER_BYTES;
  }

  /** The view the last `beginMessage()` wrote into. */
  get currentView(): DataView {
    return this.views[this.count - 1];
  }

  /** The Int32Array over the datagram the last `beginMessage()` wrote into. */
  get currentWords(): Int32Array {
    return this.words[this.count - 1];
  }

  /** The Float64Array over the datagram the last `beginMessage()` wrote into. */
  get currentF64(): Float64Array {
    return this.f64s[this.count - 1];
  }

  /** Room left in the open datagram, 0 when none is open. */
  get roomBytes(): number {
    return this.open ? this.maxDatagramBytes - this.trailerBytes - this.pos : 0;
  }

  /** Appends a heartbeat datagram (msgCount 0, seqNum = next expected). Closes the open datagram first. */
  appendHeartbeat(pktFlags: number): void {
    // Sequence used up (LAST_SEQ_END): no change can be sent any more, so the session is over; each heartbeat says
    // so, and subscribers stop trusting the books instead of holding them valid while changes go unsent.
    this.openDatagram(this.nextSeq >= LAST_SEQ_END ? pktFlags | PKT_FLAG_END_OF_SESSION : pktFlags);
    this.open = false; // nothing may be added to a heartbeat
  }

  /** Closes the open datagram so the next message starts a new one. */
  closeDatagram(): void {
    this.open = false;
  }

  /**
   * Finishes every pending datagram once per flush, just before sending: stamps the send time, writes the HMAC
   * trailer when signing (over the datagram with the checksum field 0), then the CRC-32 over the whole datagram.
   * Nothing may be written into a sealed datagram (the next message opens a new one).
   */
  seal(sendTimeUs: number): void {
    const auth = this.auth;
    const count = this.count;
    if (LITTLE_ENDIAN && auth === undefined) {
      // The common case as word stores: the send time converted once per flush, the CRC stored as one word. The
      // checksum field is already 0 (openDatagram writes it so; cleared again only if this datagram was sealed
      // before), so the CRC is one native call over the datagram's exact-length view.
      const st = this.sendTimeWords;
      nsFromUsWords(st, 0, sendTimeUs);
      const lo = st[0];
      const hi = st[1];
      const crcWord = PKT_CHECKSUM_OFFSET >> 2;
      for (let i = 0; i < count; i++) {
        const w = this.words[i];
        w[PKT_SEND_TIME_NS_OFFSET >> 2] = lo;
        w[(PKT_SEND_TIME_NS_OFFSET >> 2) + 1] = hi;
        if (w[crcWord] !== 0) w[crcWord] = 0;
        w[crcWord] = datagramCrc32Zeroed(this.exact[i]!.of(this.lengths[i]!));
      }
      this.open = false;
      return;
    }
    for (let i = 0; i < count; i++) {
      const view = this.views[i];
      const bytes = this.bytes[i];
      const length = this.lengths[i];
      if (LITTLE_ENDIAN) nsFromUsWords(this.words[i], PKT_SEND_TIME_NS_OFFSET >> 2, sendTimeUs);
      else setNsFromUs(view, PKT_SEND_TIME_NS_OFFSET, sendTimeUs);
      view.setUint32(PKT_CHECKSUM_OFFSET, 0, true);
      if (auth !== undefined) auth.sign(bytes, length);
      // The field is 0 here (written above, and what the HMAC covered): the checksum is one native call.
      view.setUint32(PKT_CHECKSUM_OFFSET, datagramCrc32Zeroed(this.exact[i]!.of(length)), true);
    }
    this.open = false;
  }

  /**
   * Pending datagram i as a view of exactly its length (what sendMany takes), reused across flushes: no allocation
   * once this buffer has held a datagram of that length.
   */
  exactView(i: number): Uint8Array {
    return this.exact[i]!.of(this.lengths[i]!);
  }

  /** v1 name of seal() (callers written before wire v2): same behaviour, CRC and trailer included. */
  stampSendTime(sendTimeUs: number): void {
    this.seal(sendTimeUs);
  }

  /**
   * Remembers where the pending datagrams end now, for rewind(): the publisher marks before one book's messages, so a
   * book whose encoding throws halfway leaves nothing of itself behind. Field stores only (the hot path marks).
   */
  mark(): void {
    this.markCount = this.count;
    this.markPos = this.pos;
    this.markMsgCount = this.msgCount;
    this.markOpen = this.open;
    this.markNextSeq = this.nextSeq;
    this.markWritten = this.messagesWritten;
    this.markFirstSession = this.firstSession;
    this.markLength = this.count > 0 ? this.lengths[this.count - 1] : 0;
  }

  /**
   * Drops every message begun since mark() (cold: after an encoder threw). A message begun and not finished would
   * otherwise go out whole, its header written and its body whatever the buffer held before (a CRC over it too):
   * until 2026-12-06 a refresh or publish that threw halfway sent such a message. Datagrams opened since are dropped;
   * the one open at the mark gets its message count and length back. Only valid with no flush since the mark.
   */
  rewind(): void {
    this.count = this.markCount;
    this.pos = this.markPos;
    this.msgCount = this.markMsgCount;
    this.open = this.markOpen;
    this.nextSeq = this.markNextSeq;
    this.messagesWritten = this.markWritten;
    this.firstSession = this.markFirstSession;
    if (this.count === 0) return;
    const i = this.count - 1;
    this.lengths[i] = this.markLength;
    const view = this.views[i];
    view.setUint16(PKT_MSG_COUNT_OFFSET, this.markMsgCount, true);
    view.setUint16(PKT_LENGTH_OFFSET, this.markLength, true);
  }

  /** Forgets all pending datagrams after they were handed to the socket. */
  clear(): void {
    this.count = 0;
    this.open = false;
  }

  private openDatagram(pktFlags: number): void {
    if (this.count === this.bytes.length) this.addBuffer(); // cold: more datagrams in one turn than ever before
    const view = this.views[this.count];
    let flags = this.auth !== undefined ? pktFlags | PKT_FLAG_AUTHENTICATED : pktFlags;
    if (this.firstSession) {
      flags |= PKT_FLAG_SESSION_START;
      this.firstSession = false;
    }
    if (LITTLE_ENDIAN) {
      const w = this.words[this.count];
      w[0] = MAGIC | (WIRE_VERSION << 16) | ((flags & 0xff) << 24);
      w[1] = this.channelId & 0xffff; // channelId, msgCount 0
      w[2] = this.sessionId;
      w[3] = ((PACKET_HEADER_BYTES + this.trailerBytes) & 0xffff) | (this.sourceId << 16);
      u64Words(w, PKT_SEQ_NUM_OFFSET >> 2, this.nextSeq);
      w[6] = 0; // sendTimeNs, stamped by seal()
      w[7] = 0;
      w[8] = this.sessionStartWords[0];
      w[9] = this.sessionStartWords[1];
      w[10] = (this.heartbeatIntervalMs & 0xffff) | (SCHEMA_ID << 16);
      w[11] = 0; // checksum, written by seal()
    } else {
      this.writeHeaderFields(view, flags);
    }
    this.lengths[this.count] = PACKET_HEADER_BYTES + this.trailerBytes;
    this.count++;
    this.open = true;
    this.pos = PACKET_HEADER_BYTES;
    this.msgCount = 0;
  }

  /** The packet header field by field (big-endian hosts). */
  private writeHeaderFields(view: DataView, flags: number): void {
    view.setUint16(PKT_MAGIC_OFFSET, MAGIC, true);
    view.setUint8(PKT_VERSION_OFFSET, WIRE_VERSION);
    view.setUint8(PKT_FLAGS_OFFSET, flags);
    view.setUint16(PKT_CHANNEL_ID_OFFSET, this.channelId, true);
    view.setUint16(PKT_MSG_COUNT_OFFSET, 0, true);
    view.setUint32(PKT_SESSION_ID_OFFSET, this.sessionId, true);
    view.setUint16(PKT_LENGTH_OFFSET, PACKET_HEADER_BYTES + this.trailerBytes, true);
    view.setUint16(PKT_SOURCE_ID_OFFSET, this.sourceId, true);
    setU64(view, PKT_SEQ_NUM_OFFSET, this.nextSeq);
    view.setUint32(PKT_SEND_TIME_NS_OFFSET, 0, true);
    view.setUint32(PKT_SEND_TIME_NS_OFFSET + 4, 0, true);
    setNsFromUs(view, PKT_SESSION_START_NS_OFFSET, this.sessionStartUs);
    view.setUint16(PKT_HEARTBEAT_INTERVAL_MS_OFFSET, this.heartbeatIntervalMs, true);
    view.setUint16(PKT_SCHEMA_ID_OFFSET, SCHEMA_ID, true);
    view.setUint32(PKT_CHECKSUM_OFFSET, 0, true);
  }

  // Cold: in the constructor, then only when a turn produces more datagrams than ever before.
  private addBuffer(): void {
    const n = this.bytes.length;
    if (n === this.lengths.length) {
      const lengths = new Int32Array(n * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    const buf = new ArrayBuffer(this.maxDatagramBytes);
    const bytes = new Uint8Array(buf);
    this.bytes.push(bytes);
    this.exact.push(new ExactViews(bytes));
    this.views.push(new DataView(buf));
    this.words.push(new Int32Array(buf));
    this.f64s.push(new Float64Array(buf, 0, buf.byteLength >> 3)); // maxDatagramBytes is a multiple of 8
  }
}
