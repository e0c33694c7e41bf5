// HOT PATH: no allocation (with an auth key: none under Bun's reused hasher; under Node node:crypto's HMAC allocates)
/**
 * Flyweight decoders of the v3 wire format (and v2, which differs only in its checksum). `PacketReader.wrap()`
 * validates a whole datagram once, in the order of docs/wire-protocol.md §7.2: magic → version → length → checksum
 * (CRC-32 in v3, CRC-32C in v2) → HMAC trailer (when a key is set) → header fields (the last message's number,
 * seqNum + msgCount − 1, below 2^53 too) → every message's structure (lengths, counts, part and chunk numbering,
 * every i64 within ±2^53, no negative quantity). It returns an error code instead of throwing, and names what was wrong
 * in `errorField` (a constant string: a refusal allocates nothing; `rejectDetail()` words it for a log, cold); after a
 * successful wrap every getter reads at a fixed offset without further checks (message fields: message-readers.ts).
 * `verify()` is the framing part alone (magic … HMAC).
 * @module
 */
import type { DatagramAuth } from "./auth.ts";
import { datagramCrc32, datagramCrc32Ts } from "./crc32.ts";
import { crc32cWordsUsable, datagramCrc32c } from "./crc32c.ts";
import { ExactViews } from "./exact-views.ts";
import { getU64, getUsFromNs, isSafeI64 } from "../core/i64.ts";
import {
  AUTH_TRAILER_BYTES,
  BOOK_INSTR_SEQ_OFFSET,
  BOOK_TS_EVENT_NS_OFFSET,
  BOOK_TS_EXCHANGE_NS_OFFSET,
  BOOK_TS_RECV_NS_OFFSET,
  BOOK_VENUE_SEQ_OFFSET,
  DEF_LOT_SIZE_LENGTH_OFFSET,
  DEF_SYMBOL_LENGTH_OFFSET,
  DEF_TICK_SIZE_LENGTH_OFFSET,
  DELTA_ASK_COUNT_OFFSET,
  DELTA_BID_COUNT_OFFSET,
  DELTA_LEVEL_LENGTH_OFFSET,
  DELTA_PART_COUNT_OFFSET,
  DELTA_PART_INDEX_OFFSET,
  LEVEL_BYTES,
  LEVEL_PRICE_OFFSET,
  LEVEL_QTY_OFFSET,
  MAGIC,
  MESSAGE_ALIGN_BYTES,
  MESSAGE_HEADER_BYTES,
  MSG_BLOCK_LENGTH_OFFSET,
  MSG_FLAG_LAST,
  MSG_FLAGS_OFFSET,
  MSG_LENGTH_OFFSET,
  MSG_TEMPLATE_ID_OFFSET,
  MSG_VERSION_OFFSET,
  PACKET_HEADER_BYTES,
  PKT_CHANNEL_ID_OFFSET,
  PKT_CHECKSUM_OFFSET,
  PKT_FLAG_AUTHENTICATED,
  PKT_FLAGS_OFFSET,
  PKT_HEARTBEAT_INTERVAL_MS_OFFSET,
  PKT_LENGTH_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_MSG_COUNT_OFFSET,
  PKT_SCHEMA_ID_OFFSET,
  PKT_SEND_TIME_NS_OFFSET,
  PKT_SEQ_NUM_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SESSION_START_NS_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
  SCHEMA_ID,
  SNAP_ASK_COUNT_OFFSET,
  SNAP_BID_COUNT_OFFSET,
  SNAP_CHUNK_COUNT_OFFSET,
  SNAP_CHUNK_INDEX_OFFSET,
  SNAP_LEVEL_LENGTH_OFFSET,
  SNAP_TOTAL_ASK_COUNT_OFFSET,
  SNAP_TOTAL_BID_COUNT_OFFSET,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
  WIRE_VERSION,
  WIRE_VERSION_V2,
  minRootBlockBytes,
} from "./layout.ts";

/** Why a datagram was rejected. 0 = valid. Values are stable (they appear in counters and logs). */
export const DecodeErrorCode = {
  OK: 0,
  /** Shorter than a packet header (+ trailer when AUTHENTICATED), or shorter than its pktLength. */
  TRUNCATED: 1,
  /** Longer than its pktLength, or longer than the configured maximum. */
  OVERSIZED: 2,
  /** Not our magic: foreign traffic on the group. */
  BAD_MAGIC: 3,
  /** A packet version this decoder does not implement. */
  UNKNOWN_VERSION: 4,
  /** A message header is inconsistent: length not a multiple of 8, beyond the packet, block too short, … */
  BAD_MESSAGE: 5,
  /** msgCount does not match the messages found, or bytes are left over. */
  BAD_COUNT: 6,
  /** An i64 (sequence, price, quantity) is outside ±2^53 and cannot be represented exactly, or a timestamp is negative. */
  UNSAFE_INTEGER: 7,
  /** The checksum (CRC-32; CRC-32C in v2) does not match: the datagram was corrupted (or is not ours). Treated as loss. */
  BAD_CHECKSUM: 8,
  /** A key is configured and the datagram has no AUTHENTICATED trailer, or a wrong one: forged or foreign. */
  BAD_AUTH: 9,
  /** A schemaId this decoder does not implement (templates are interpreted per schema). */
  UNKNOWN_SCHEMA: 10,
  /** A header field outside its domain: sessionId 0. */
  BAD_HEADER: 11,
  /** A value outside its domain inside a valid structure: a negative quantity. */
  BAD_VALUE: 12,
} as const;
export type DecodeErrorCode = (typeof DecodeErrorCode)[keyof typeof DecodeErrorCode];
export const DECODE_ERROR_NAMES: readonly string[] = [
  "ok",
  "truncated",
  "oversized",
  "bad_magic",
  "unknown_version",
  "bad_message",
  "bad_count",
  "unsafe_integer",
  "bad_checksum",
  "bad_auth",
  "unknown_schema",
  "bad_header",
  "bad_value",
];

/** A rejected datagram, as reported to subscribers (built on the cold path, never thrown from a receive loop). */
export class WireDecodeError extends Error {
  override readonly name = "WireDecodeError";
  readonly codeName: string;
  constructor(
    readonly code: DecodeErrorCode,
    readonly datagramBytes: number,
    detail?: string,
  ) {
    super(`${DECODE_ERROR_NAMES[code] ?? "unknown"} datagram (${datagramBytes} B)${detail ? ": " + detail : ""}`);
    this.codeName = DECODE_ERROR_NAMES[code] ?? "unknown";
  }
}

/** Flyweight over one received datagram. */
export class PacketReader {
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** Datagram length in bytes (= pktLength after a successful wrap). */
  length = 0;
  /** Offset of the message the cursor is on (see first()/next()). */
  msgOffset = 0;
  private msgIndex = 0;
  /** Index of the message that failed validation, for diagnostics (−1: the header or the framing failed). */
  errorMessageIndex = -1;
  /**
   * What the last refusal found wrong, naming the field as docs/wire-protocol.md does ("partIndex ≥ partCount",
   * "qtyMantissa negative"); "" after a datagram that passed. A constant string: a refusal allocates nothing.
   */
  errorField = "";
  /** The failing message's templateId, its level entry (0-based, bids first) when a level failed; −1 otherwise. */
  errorTemplateId = -1;
  errorLevelIndex = -1;
  private errorMsgOffset = -1;
  /**
   * HMAC key holder: when set, every datagram must carry a valid AUTHENTICATED trailer (else `bad_auth`); when
   * unset, a trailer is ignored (still covered by the CRC).
   */
  auth: DatagramAuth | undefined;
  /**
   * Byte, word (v2's CRC-32C) and exact-length (v3's native CRC-32) views over the last DataView wrapped, rebuilt
   * only when the DataView changes (cold): a subscriber wraps the same receive buffer every time.
   */
  private bytesView: Uint8Array = new Uint8Array(0);
  /** null: not made yet for this buffer; undefined: the buffer cannot take one (byte path). */
  private wordsView: Int32Array | undefined | null = null;
  /** Created on first need: a DataView over exactly one datagram (the forward bridge's) never needs it. */
  private exactViews: ExactViews | undefined;
  private viewsOf: DataView | undefined;

  constructor(auth?: DatagramAuth) {
    this.auth = auth;
  }

  /**
   * Validates the datagram in dv[0, length) and positions the reader on it. Returns DecodeErrorCode.OK or the
   * reason it must be dropped. maxBytes is the largest datagram accepted (the publisher's configured maximum).
   */
  wrap(dv: DataView, length: number, maxBytes: number): DecodeErrorCode {
    const framing = this.verify(dv, length, maxBytes);
    if (framing !== DecodeErrorCode.OK) return framing;
    const pktLength = length;
    if (dv.getUint16(PKT_SCHEMA_ID_OFFSET, true) !== SCHEMA_ID) return this.fail(DecodeErrorCode.UNKNOWN_SCHEMA, "schemaId not 1");
    if (dv.getUint32(PKT_SESSION_ID_OFFSET, true) === 0) return this.fail(DecodeErrorCode.BAD_HEADER, "sessionId 0");
    if (!isSafeI64(dv, PKT_SEQ_NUM_OFFSET) || dv.getInt32(PKT_SEQ_NUM_OFFSET + 4, true) < 0) {
      return this.fail(DecodeErrorCode.UNSAFE_INTEGER, "seqNum outside 0 … 2^53 − 1");
    }
    // ns timestamps exceed 2^53 and are read as µs (exact); only a negative one is garbage.
    if (dv.getInt32(PKT_SEND_TIME_NS_OFFSET + 4, true) < 0) return this.fail(DecodeErrorCode.UNSAFE_INTEGER, "sendTimeNs negative");
    if (dv.getInt32(PKT_SESSION_START_NS_OFFSET + 4, true) < 0) return this.fail(DecodeErrorCode.UNSAFE_INTEGER, "sessionStartNs negative");
    const msgEnd = (dv.getUint8(PKT_FLAGS_OFFSET) & PKT_FLAG_AUTHENTICATED) !== 0 ? pktLength - AUTH_TRAILER_BYTES : pktLength;
    const msgCount = dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
    // Message i is numbered seqNum + i: the last, seqNum + msgCount − 1, must be below 2^53 too, else it (and the
    // stream's next expected number) is inexact. Only a seqNum within 2^32 of 2^53 (high word 0x1fffff) can fail.
    if (dv.getInt32(PKT_SEQ_NUM_OFFSET + 4, true) === 0x1fffff && msgCount > 0 && dv.getUint32(PKT_SEQ_NUM_OFFSET, true) > 0xffffffff - (msgCount - 1)) {
      return this.fail(DecodeErrorCode.UNSAFE_INTEGER, "seqNum + msgCount − 1 ≥ 2^53");
    }
    let off = PACKET_HEADER_BYTES;
    for (let i = 0; i < msgCount; i++) {
      if (off + MESSAGE_HEADER_BYTES > msgEnd) {
        this.errorMessageIndex = i;
        return this.fail(DecodeErrorCode.BAD_COUNT, "msgCount above the messages found (no room left for a message header)");
      }
      const rc = validateMessage(dv, off, msgEnd);
      if (rc !== DecodeErrorCode.OK) {
        this.errorMessageIndex = i;
        this.errorMsgOffset = off;
        this.errorTemplateId = dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true);
        this.errorLevelIndex = failedLevel;
        return this.fail(rc, failedField);
      }
      off += dv.getUint16(off + MSG_LENGTH_OFFSET, true);
    }
    if (off !== msgEnd) return this.fail(DecodeErrorCode.BAD_COUNT, "msgCount below the messages found (bytes left before the end)");
    this.msgOffset = PACKET_HEADER_BYTES;
    this.msgIndex = 0;
    return DecodeErrorCode.OK;
  }

  /**
   * The framing checks alone, in order: magic → version (3, or 2) → length (header, maxBytes, pktLength = datagram
   * length, room for the trailer) → checksum (CRC-32 in v3, CRC-32C in v2) → HMAC trailer (only with a key). A
   * datagram failing here is not ours, not a version we read, or damaged; nothing in it may be trusted, not even the
   * channel or sequence fields.
   */
  verify(dv: DataView, length: number, maxBytes: number): DecodeErrorCode {
    this.dv = dv;
    this.length = length;
    this.errorMessageIndex = -1;
    this.errorTemplateId = -1;
    this.errorLevelIndex = -1;
    this.errorMsgOffset = -1;
    this.errorField = "";
    if (length < PKT_VERSION_OFFSET + 1) return this.fail(DecodeErrorCode.TRUNCATED, "shorter than 3 bytes (magic, version)");
    if (dv.byteLength < length) return this.fail(DecodeErrorCode.TRUNCATED, "length beyond the buffer");
    if (dv.getUint16(PKT_MAGIC_OFFSET, true) !== MAGIC) return this.fail(DecodeErrorCode.BAD_MAGIC, "magic not 0x4446");
    const version = dv.getUint8(PKT_VERSION_OFFSET);
    if (version !== WIRE_VERSION && version !== WIRE_VERSION_V2) return this.fail(DecodeErrorCode.UNKNOWN_VERSION, "version not 3 or 2");
    if (length < PACKET_HEADER_BYTES) return this.fail(DecodeErrorCode.TRUNCATED, "shorter than the 48-byte packet header");
    if (length > maxBytes) return this.fail(DecodeErrorCode.OVERSIZED, "longer than the maximum datagram accepted (maxDatagramBytes)");
    const pktLength = dv.getUint16(PKT_LENGTH_OFFSET, true);
    if (pktLength > length) return this.fail(DecodeErrorCode.TRUNCATED, "pktLength beyond the datagram");
    if (pktLength < PACKET_HEADER_BYTES) return this.fail(DecodeErrorCode.TRUNCATED, "pktLength below 48");
    if (pktLength < length) return this.fail(DecodeErrorCode.OVERSIZED, "bytes after pktLength");
    const authenticated = (dv.getUint8(PKT_FLAGS_OFFSET) & PKT_FLAG_AUTHENTICATED) !== 0;
    if (authenticated && pktLength < PACKET_HEADER_BYTES + AUTH_TRAILER_BYTES) {
      return this.fail(DecodeErrorCode.TRUNCATED, "pktLength below 64 with AUTHENTICATED (no room for the trailer)");
    }
    if (this.viewsOf !== dv) this.rebuildViews(dv);
    const sum = version === WIRE_VERSION ? this.crc32Of(pktLength) : this.crc32cOf(pktLength);
    if (sum !== dv.getUint32(PKT_CHECKSUM_OFFSET, true)) {
      return this.fail(DecodeErrorCode.BAD_CHECKSUM, version === WIRE_VERSION ? "checksum (CRC-32) does not match" : "checksum (CRC-32C, v2) does not match");
    }
    const auth = this.auth;
    if (auth !== undefined) {
      if (!authenticated) return this.fail(DecodeErrorCode.BAD_AUTH, "flags without AUTHENTICATED (a key is set)");
      if (!auth.verify(this.bytesView, pktLength)) return this.fail(DecodeErrorCode.BAD_AUTH, "HMAC trailer does not match the key");
    }
    return DecodeErrorCode.OK;
  }

  /** A refusal: `field` says what was wrong (a constant: nothing allocated). */
  private fail(code: DecodeErrorCode, field: string): DecodeErrorCode {
    this.errorField = field;
    return code;
  }

  /**
   * The last refusal in words for a log or an error event (cold: builds a string), e.g. "message 2 of 3
   * (BookDelta): partIndex ≥ partCount", "message 1 of 1 (BookSnapshot), ask entry 3 of 5: qtyMantissa negative".
   * Read it before the next wrap() or verify() (it reads the datagram). "" after a datagram that passed.
   */
  rejectDetail(): string {
    const field = this.errorField;
    if (field === "" || this.errorMessageIndex < 0) return field;
    const dv = this.dv;
    let where = `message ${this.errorMessageIndex + 1} of ${dv.getUint16(PKT_MSG_COUNT_OFFSET, true)}`;
    const id = this.errorTemplateId;
    if (id >= 0) where += ` (${TEMPLATE_NAMES[id] ?? `templateId ${id}`})`;
    const level = this.errorLevelIndex;
    if (level >= 0) where += levelWhere(dv, this.errorMsgOffset, id, level);
    return `${where}: ${field}`;
  }

  /** v3's checksum of bytes [0, pktLength): native over an exact-length view (reused), TypeScript for odd lengths. */
  private crc32Of(pktLength: number): number {
    const bytes = this.bytesView;
    if (bytes.length === pktLength) return datagramCrc32(bytes);
    // Publishers' datagrams are multiples of 8 long: one cached view per length. Anything else (foreign or
    // damaged) takes the TypeScript path rather than allocate a view per datagram.
    if ((pktLength & 7) === 0) return datagramCrc32((this.exactViews ??= new ExactViews(bytes)).of(pktLength));
    return datagramCrc32Ts(bytes, pktLength);
  }

  /** v2's checksum (CRC-32C), through a word view of the buffer made on the first v2 datagram it holds. */
  private crc32cOf(pktLength: number): number {
    if (this.wordsView === null) {
      const dv = this.dv;
      const words = (dv.byteOffset & 3) === 0 ? new Int32Array(dv.buffer, dv.byteOffset, dv.byteLength >> 2) : undefined;
      this.wordsView = crc32cWordsUsable(this.bytesView, words) ? words : undefined;
    }
    return datagramCrc32c(this.bytesView, pktLength, this.wordsView);
  }

  // Cold: a new receive buffer. The per-version views are made when first needed (null: not yet).
  private rebuildViews(dv: DataView): void {
    this.viewsOf = dv;
    this.bytesView = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
    this.exactViews = undefined;
    this.wordsView = null;
  }

  get flags(): number {
    return this.dv.getUint8(PKT_FLAGS_OFFSET);
  }
  get channelId(): number {
    return this.dv.getUint16(PKT_CHANNEL_ID_OFFSET, true);
  }
  get msgCount(): number {
    return this.dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
  }
  get sessionId(): number {
    return this.dv.getUint32(PKT_SESSION_ID_OFFSET, true);
  }
  get pktLength(): number {
    return this.dv.getUint16(PKT_LENGTH_OFFSET, true);
  }
  get sourceId(): number {
    return this.dv.getUint16(PKT_SOURCE_ID_OFFSET, true);
  }
  /** Channel sequence number of the first message; for a heartbeat the next expected one. */
  get seqNum(): number {
    return getU64(this.dv, PKT_SEQ_NUM_OFFSET);
  }
  /** Send time in whole µs since the epoch (the wire carries ns). */
  get sendTimeUs(): number {
    return getUsFromNs(this.dv, PKT_SEND_TIME_NS_OFFSET);
  }
  /** When the publisher session started, whole µs since the epoch; sessions order by (sessionStart, sessionId). */
  get sessionStartUs(): number {
    return getUsFromNs(this.dv, PKT_SESSION_START_NS_OFFSET);
  }
  /** The publisher's heartbeat interval in ms (0: it sends none). */
  get heartbeatIntervalMs(): number {
    return this.dv.getUint16(PKT_HEARTBEAT_INTERVAL_MS_OFFSET, true);
  }
  get schemaId(): number {
    return this.dv.getUint16(PKT_SCHEMA_ID_OFFSET, true);
  }
  /** The packet version: 3, or 2 (a publisher not yet upgraded; same layout, CRC-32C checksum). */
  get version(): number {
    return this.dv.getUint8(PKT_VERSION_OFFSET);
  }
  /** The checksum field as stored (CRC-32 in v3, CRC-32C in v2). */
  get checksum(): number {
    return this.dv.getUint32(PKT_CHECKSUM_OFFSET, true);
  }
  /** True when the datagram ends with an HMAC trailer (verified only when `auth` is set). */
  get authenticated(): boolean {
    return (this.dv.getUint8(PKT_FLAGS_OFFSET) & PKT_FLAG_AUTHENTICATED) !== 0;
  }

  /** Positions the cursor on the first message; false for a heartbeat. */
  first(): boolean {
    this.msgOffset = PACKET_HEADER_BYTES;
    this.msgIndex = 0;
    return this.dv.getUint16(PKT_MSG_COUNT_OFFSET, true) > 0;
  }

  /** Advances to the next message; false after the last. */
  next(): boolean {
    if (this.msgIndex + 1 >= this.dv.getUint16(PKT_MSG_COUNT_OFFSET, true)) return false;
    this.msgOffset += this.dv.getUint16(this.msgOffset + MSG_LENGTH_OFFSET, true);
    this.msgIndex++;
    return true;
  }

  /** 0-based index of the message under the cursor (its channel seq is seqNum + index). */
  get messageIndex(): number {
    return this.msgIndex;
  }
  get msgLength(): number {
    return this.dv.getUint16(this.msgOffset + MSG_LENGTH_OFFSET, true);
  }
  get templateId(): number {
    return this.dv.getUint16(this.msgOffset + MSG_TEMPLATE_ID_OFFSET, true);
  }
  get blockLength(): number {
    return this.dv.getUint16(this.msgOffset + MSG_BLOCK_LENGTH_OFFSET, true);
  }
  get msgVersion(): number {
    return this.dv.getUint8(this.msgOffset + MSG_VERSION_OFFSET);
  }
  get msgFlags(): number {
    return this.dv.getUint8(this.msgOffset + MSG_FLAGS_OFFSET);
  }
  /** Offset of the message body (root block) in dv. */
  get bodyOffset(): number {
    return this.msgOffset + MESSAGE_HEADER_BYTES;
  }
}

/** What validateMessage's last refusal found wrong (a constant string) and the level it was in (−1: none). */
let failedField = "";
let failedLevel = -1;

/** A refusal of validateMessage (only refusals store anything: a message that passes costs no store). */
function bad(code: DecodeErrorCode, field: string): DecodeErrorCode {
  failedField = field;
  failedLevel = -1;
  return code;
}

/**
 * Structure of one message at `off`; `msgEnd` is where messages end (pktLength minus any trailer). Exported for the
 * NATS reader (EnvelopeRepacker), which refuses a message a subscriber would refuse before packing it with others.
 */
export function validateMessage(dv: DataView, off: number, msgEnd: number): DecodeErrorCode {
  const msgLength = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
  if (msgLength < MESSAGE_HEADER_BYTES) return bad(DecodeErrorCode.BAD_MESSAGE, "msgLength below 8");
  if (msgLength % MESSAGE_ALIGN_BYTES !== 0) return bad(DecodeErrorCode.BAD_MESSAGE, "msgLength not a multiple of 8");
  if (off + msgLength > msgEnd) return bad(DecodeErrorCode.BAD_MESSAGE, "msgLength beyond the messages' end");
  const templateId = dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true);
  const blockLength = dv.getUint16(off + MSG_BLOCK_LENGTH_OFFSET, true);
  const bodyBytes = msgLength - MESSAGE_HEADER_BYTES;
  if (blockLength > bodyBytes) return bad(DecodeErrorCode.BAD_MESSAGE, "blockLength beyond msgLength");
  if (blockLength < minRootBlockBytes(templateId)) return bad(DecodeErrorCode.BAD_MESSAGE, "blockLength below the template's root block");
  const body = off + MESSAGE_HEADER_BYTES;
  if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_SNAPSHOT || templateId === TEMPLATE_BOOK_STATUS) {
    if (!isSafeI64(dv, body + BOOK_INSTR_SEQ_OFFSET) || dv.getInt32(body + BOOK_INSTR_SEQ_OFFSET + 4, true) < 0) {
      return bad(DecodeErrorCode.UNSAFE_INTEGER, "instrSeq outside 0 … 2^53 − 1");
    }
    if (!isSafeI64(dv, body + BOOK_VENUE_SEQ_OFFSET) || dv.getInt32(body + BOOK_VENUE_SEQ_OFFSET + 4, true) < 0) {
      return bad(DecodeErrorCode.UNSAFE_INTEGER, "venueSeq outside 0 … 2^53 − 1");
    }
    if (dv.getInt32(body + BOOK_TS_EXCHANGE_NS_OFFSET + 4, true) < 0) return bad(DecodeErrorCode.UNSAFE_INTEGER, "tsExchangeNs negative");
    if (dv.getInt32(body + BOOK_TS_EVENT_NS_OFFSET + 4, true) < 0) return bad(DecodeErrorCode.UNSAFE_INTEGER, "tsEventNs negative");
    if (dv.getInt32(body + BOOK_TS_RECV_NS_OFFSET + 4, true) < 0) return bad(DecodeErrorCode.UNSAFE_INTEGER, "tsRecvNs negative");
  }
  if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_SNAPSHOT) {
    const snap = templateId === TEMPLATE_BOOK_SNAPSHOT;
    const bidN = dv.getUint16(body + (snap ? SNAP_BID_COUNT_OFFSET : DELTA_BID_COUNT_OFFSET), true);
    const askN = dv.getUint16(body + (snap ? SNAP_ASK_COUNT_OFFSET : DELTA_ASK_COUNT_OFFSET), true);
    const levelLength = dv.getUint16(body + (snap ? SNAP_LEVEL_LENGTH_OFFSET : DELTA_LEVEL_LENGTH_OFFSET), true);
    if (levelLength < LEVEL_BYTES || levelLength % MESSAGE_ALIGN_BYTES !== 0) {
      return bad(DecodeErrorCode.BAD_MESSAGE, "levelLength below 16 or not a multiple of 8");
    }
    // At most 65,535 + 131,070 × 65,528 (above 2^32): exact in a double.
    if (blockLength + (bidN + askN) * levelLength > bodyBytes) return bad(DecodeErrorCode.BAD_MESSAGE, "bidCount + askCount level entries beyond msgLength");
    const last = (dv.getUint8(off + MSG_FLAGS_OFFSET) & MSG_FLAG_LAST) !== 0;
    // Part / chunk numbering: index < count, and LAST exactly on the final one.
    const index = dv.getUint16(body + (snap ? SNAP_CHUNK_INDEX_OFFSET : DELTA_PART_INDEX_OFFSET), true);
    const count = dv.getUint16(body + (snap ? SNAP_CHUNK_COUNT_OFFSET : DELTA_PART_COUNT_OFFSET), true);
    if (count === 0) return bad(DecodeErrorCode.BAD_MESSAGE, snap ? "chunkCount 0" : "partCount 0");
    if (index >= count) return bad(DecodeErrorCode.BAD_MESSAGE, snap ? "chunkIndex ≥ chunkCount" : "partIndex ≥ partCount");
    if (last !== (index === count - 1)) {
      return bad(DecodeErrorCode.BAD_MESSAGE, snap ? "msgFlags LAST not exactly on chunk chunkCount − 1" : "msgFlags LAST not exactly on part partCount − 1");
    }
    if (snap) {
      if (bidN > dv.getUint16(body + SNAP_TOTAL_BID_COUNT_OFFSET, true)) return bad(DecodeErrorCode.BAD_MESSAGE, "bidCount above totalBidCount");
      if (askN > dv.getUint16(body + SNAP_TOTAL_ASK_COUNT_OFFSET, true)) return bad(DecodeErrorCode.BAD_MESSAGE, "askCount above totalAskCount");
    }
    let lv = body + blockLength;
    for (let i = 0, n = bidN + askN; i < n; i++) {
      if (!isSafeI64(dv, lv + LEVEL_PRICE_OFFSET)) return badLevel(DecodeErrorCode.UNSAFE_INTEGER, "priceMantissa outside −2^53 … 2^53 − 1", i);
      if (!isSafeI64(dv, lv + LEVEL_QTY_OFFSET)) return badLevel(DecodeErrorCode.UNSAFE_INTEGER, "qtyMantissa outside −2^53 … 2^53 − 1", i);
      if (dv.getInt32(lv + LEVEL_QTY_OFFSET + 4, true) < 0) return badLevel(DecodeErrorCode.BAD_VALUE, "qtyMantissa negative", i);
      lv += levelLength;
    }
  } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
    const strBytes =
      dv.getUint8(body + DEF_SYMBOL_LENGTH_OFFSET) + dv.getUint8(body + DEF_TICK_SIZE_LENGTH_OFFSET) + dv.getUint8(body + DEF_LOT_SIZE_LENGTH_OFFSET);
    if (blockLength + strBytes > bodyBytes) return bad(DecodeErrorCode.BAD_MESSAGE, "symbolLength + tickSizeLength + lotSizeLength beyond msgLength");
    // The strings are UTF-8 (a symbol may be 币安人生USDT): one cut inside a character, or bytes no encoder writes,
    // would be read as U+FFFD, another symbol than the publisher's, so the datagram is refused. Each string is checked
    // alone, since a character running from the symbol into the tick size is a cut one too.
    let at = body + blockLength;
    for (let i = 0; i < DEF_STRING_LENGTH_OFFSETS.length; i++) {
      const len = dv.getUint8(body + DEF_STRING_LENGTH_OFFSETS[i]!);
      if (!isUtf8(dv, at, len)) return bad(DecodeErrorCode.BAD_VALUE, DEF_STRING_NOT_UTF8[i]!);
      at += len;
    }
  }
  return DecodeErrorCode.OK;
}

/**
 * validateMessage's last refusal in words for a log (cold), as rejectDetail words a datagram's without the message's
 * place in it, e.g. "BookDelta, bid entry 1 of 1: qtyMantissa negative". dv and off: the message it refused.
 */
export function messageRefusalDetail(dv: DataView, off: number): string {
  const id = dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true);
  const where = (TEMPLATE_NAMES[id] ?? `templateId ${id}`) + (failedLevel >= 0 ? levelWhere(dv, off, id, failedLevel) : "");
  return `${where}: ${failedField}`;
}

/** ", bid entry i of n" or ", ask entry i of n": level `level` (bids first) of the BookDelta or BookSnapshot at off. */
function levelWhere(dv: DataView, off: number, templateId: number, level: number): string {
  const body = off + MESSAGE_HEADER_BYTES;
  const snap = templateId === TEMPLATE_BOOK_SNAPSHOT;
  const bidN = dv.getUint16(body + (snap ? SNAP_BID_COUNT_OFFSET : DELTA_BID_COUNT_OFFSET), true);
  const askN = dv.getUint16(body + (snap ? SNAP_ASK_COUNT_OFFSET : DELTA_ASK_COUNT_OFFSET), true);
  return level < bidN ? `, bid entry ${level + 1} of ${bidN}` : `, ask entry ${level - bidN + 1} of ${askN}`;
}

function badLevel(code: DecodeErrorCode, field: string, level: number): DecodeErrorCode {
  bad(code, field);
  failedLevel = level;
  return code;
}

// The field readers live in message-readers.ts; re-exported so `../wire/decoder.ts` keeps offering them.
export { BookMessageReader, DefinitionReader } from "./message-readers.ts";

const DEF_STRING_LENGTH_OFFSETS = [DEF_SYMBOL_LENGTH_OFFSET, DEF_TICK_SIZE_LENGTH_OFFSET, DEF_LOT_SIZE_LENGTH_OFFSET] as const;
const DEF_STRING_NOT_UTF8 = ["symbol not well-formed UTF-8", "tickSize not well-formed UTF-8", "lotSize not well-formed UTF-8"] as const;

/** Template names as docs/wire-protocol.md §4.1 gives them, for rejectDetail(). */
const TEMPLATE_NAMES: Readonly<Record<number, string>> = {
  [TEMPLATE_BOOK_DELTA]: "BookDelta",
  [TEMPLATE_BOOK_SNAPSHOT]: "BookSnapshot",
  [TEMPLATE_BOOK_STATUS]: "BookStatus",
  [TEMPLATE_INSTRUMENT_DEFINITION]: "InstrumentDefinition",
};

/**
 * True when dv[at, at + len) is well-formed UTF-8 (RFC 3629: no overlong form, no surrogate, nothing above U+10FFFF,
 * no character cut at either end). Allocation-free; definitions only (cold, but a refresh repeats every one).
 */
export function isUtf8(dv: DataView, at: number, len: number): boolean {
  const end = at + len;
  let p = at;
  while (p < end) {
    const b0 = dv.getUint8(p);
    if (b0 < 0x80) {
      p++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) n = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      n = 2;
      if (b0 === 0xe0) lo = 0xa0; // overlong below U+0800
      else if (b0 === 0xed) hi = 0x9f; // U+D800–U+DFFF: surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      n = 3;
      if (b0 === 0xf0) lo = 0x90; // overlong below U+10000
      else if (b0 === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return false;
    if (p + 1 + n > end) return false;
    const b1 = dv.getUint8(p + 1);
    if (b1 < lo || b1 > hi) return false;
    for (let k = 2; k <= n; k++) {
      const b = dv.getUint8(p + k);
      if (b < 0x80 || b > 0xbf) return false;
    }
    p += 1 + n;
  }
  return true;
}
