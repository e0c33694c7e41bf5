/**
 * Wire protocol v3: every offset, size, template id and flag bit, as named constants (docs/wire-protocol.md).
 * All multi-byte fields are little-endian. Offsets of message fields are relative to the start of the message
 * body (the byte after the 8-byte message header) unless named *_HDR_*.
 * Append only: never change a published value; add fields at the end of a root block and bump its version.
 * @module
 */

// ---------------------------------------------------------------------------------------------------------------
// Packet header (48 B)

/** Bytes 0–1 on the wire are "FD" (0x46 0x44): u16 0x4446 little-endian. Rejects foreign traffic on a shared group. */
export const MAGIC = 0x4446;
/**
 * Packet version written by the packer. v3 = v2 with the checksum computed as CRC-32 instead of CRC-32C (same
 * layout, same field). Decoders also read v2 (a publisher not yet upgraded); v1 (32-byte header, no checksum) and any
 * other version are refused (`unknown_version`).
 */
export const WIRE_VERSION = 3;
/** The previous version, still read: the same datagrams with a CRC-32C checksum (wire/crc32c.ts). */
export const WIRE_VERSION_V2 = 2;
/** The feeder L2 book schema: template ids and their root blocks are interpreted per schemaId. */
export const SCHEMA_ID = 1;

export const PKT_MAGIC_OFFSET = 0; // u16
export const PKT_VERSION_OFFSET = 2; // u8
export const PKT_FLAGS_OFFSET = 3; // u8
export const PKT_CHANNEL_ID_OFFSET = 4; // u16
export const PKT_MSG_COUNT_OFFSET = 6; // u16
export const PKT_SESSION_ID_OFFSET = 8; // u32
export const PKT_LENGTH_OFFSET = 12; // u16, whole datagram: header + messages + auth trailer
export const PKT_SOURCE_ID_OFFSET = 14; // u16
export const PKT_SEQ_NUM_OFFSET = 16; // u64
export const PKT_SEND_TIME_NS_OFFSET = 24; // i64
export const PKT_SESSION_START_NS_OFFSET = 32; // i64, orders sessions: (sessionStartNs, sessionId)
export const PKT_HEARTBEAT_INTERVAL_MS_OFFSET = 40; // u16, the publisher's heartbeat interval (0 = none)
export const PKT_SCHEMA_ID_OFFSET = 42; // u16, SCHEMA_ID
export const PKT_CHECKSUM_OFFSET = 44; // u32, CRC-32 (v3; CRC-32C in v2) over [0, pktLength) with this field taken as 0
export const PACKET_HEADER_BYTES = 48;

/** Packet flag: first datagram of this (channel, source) in this session (informational; may be lost). */
export const PKT_FLAG_SESSION_START = 0x01;
/** Packet flag: the publisher is stopping; no more datagrams in this session. Carried by a heartbeat. */
export const PKT_FLAG_END_OF_SESSION = 0x02;
/** Packet flag: a retransmission answering a request (docs/wire-protocol.md §11; wire/retransmit.ts); never on the live feed. */
export const PKT_FLAG_RETRANSMIT = 0x04;
/** Packet flag: a 16-byte HMAC-SHA256 trailer ends the datagram (AUTH_TRAILER_BYTES). */
export const PKT_FLAG_AUTHENTICATED = 0x08;
export const PKT_FLAGS_KNOWN = PKT_FLAG_SESSION_START | PKT_FLAG_END_OF_SESSION | PKT_FLAG_RETRANSMIT | PKT_FLAG_AUTHENTICATED;

/** AUTHENTICATED trailer: the first 16 bytes of HMAC-SHA256(key, bytes [0, pktLength − 16) with the crc field 0). */
export const AUTH_TRAILER_BYTES = 16;
/** Shortest accepted HMAC key (publish.auth_key_file, subscriber authKey): 128 bits (defined with the key reader). */
export { MIN_AUTH_KEY_BYTES } from "../core/auth-key.ts";

/** Default and absolute datagram limits. 1400 keeps every datagram inside one Ethernet/PPPoE/cloud MTU. */
export const DEFAULT_MAX_DATAGRAM_BYTES = 1400;
/**
 * Smallest datagram a packer builds: a header, an auth trailer and one delta message with several levels. A publisher
 * needs MIN_PUBLISH_DATAGRAM_BYTES (856), so that every InstrumentDefinition fits one datagram.
 */
export const MIN_MAX_DATAGRAM_BYTES = 256;
/** Smallest publish.max_datagram_bytes: the longest InstrumentDefinition (792 bytes) fits, with header and HMAC trailer. */
export { MIN_PUBLISH_DATAGRAM_BYTES } from "../core/symbol-text.ts";
/** The IPv4 UDP payload limit (pktLength is a u16). The packer uses the multiple of 8 at or below the configured maximum. */
export const ABS_MAX_DATAGRAM_BYTES = 65507;

// ---------------------------------------------------------------------------------------------------------------
// Message header (8 B)

export const MSG_LENGTH_OFFSET = 0; // u16, whole message incl. header and padding, multiple of 8
export const MSG_TEMPLATE_ID_OFFSET = 2; // u16
export const MSG_BLOCK_LENGTH_OFFSET = 4; // u16, root block bytes
export const MSG_VERSION_OFFSET = 6; // u8, template version
export const MSG_FLAGS_OFFSET = 7; // u8
export const MESSAGE_HEADER_BYTES = 8;
/** Every message length is a multiple of this, so every i64 stays 8-byte aligned within the datagram. */
export const MESSAGE_ALIGN_BYTES = 8;

/** Message flag: last message of one book event (a delta split over several messages, a snapshot's last chunk). */
export const MSG_FLAG_LAST = 0x80;
/** Message flag: part of a snapshot (BookSnapshot chunks). */
export const MSG_FLAG_SNAPSHOT = 0x20;
/** Message flag: periodic refresh; carries the current instrSeq without incrementing it. */
export const MSG_FLAG_REFRESH = 0x10;
/** Message flag: the publisher's book is not LIVE (state ≠ LIVE); consumers should not trade on it. */
export const MSG_FLAG_MAYBE_BAD_BOOK = 0x04;

// ---------------------------------------------------------------------------------------------------------------
// Template ids (append only)

export const TEMPLATE_BOOK_DELTA = 1;
export const TEMPLATE_BOOK_SNAPSHOT = 2;
export const TEMPLATE_BOOK_STATUS = 3;
export const TEMPLATE_INSTRUMENT_DEFINITION = 10;

/** 2 since wire v2: the root block grew 56 → 64 (partIndex, partCount). The other templates are unchanged. */
export const BOOK_DELTA_VERSION = 2;
export const BOOK_SNAPSHOT_VERSION = 1;
export const BOOK_STATUS_VERSION = 1;
export const INSTRUMENT_DEFINITION_VERSION = 1;

// ---------------------------------------------------------------------------------------------------------------
// Common book root block (48 B): the first 48 bytes of BookDelta, BookSnapshot and BookStatus.

export const BOOK_INSTRUMENT_ID_OFFSET = 0; // u32
export const BOOK_PRICE_EXP_OFFSET = 4; // i8, decimal places: price = mantissa × 10^-priceExp
export const BOOK_QTY_EXP_OFFSET = 5; // i8
export const BOOK_STATE_OFFSET = 6; // u8, BookState
export const BOOK_REASON_OFFSET = 7; // u8, StatusReason
export const BOOK_INSTR_SEQ_OFFSET = 8; // u64
export const BOOK_VENUE_SEQ_OFFSET = 16; // u64 (Bybit `u`)
export const BOOK_TS_EXCHANGE_NS_OFFSET = 24; // i64 (Bybit `ts`)
export const BOOK_TS_EVENT_NS_OFFSET = 32; // i64 (Bybit `cts`)
export const BOOK_TS_RECV_NS_OFFSET = 40; // i64 (feeder WebSocket receive)
export const BOOK_COMMON_BLOCK_BYTES = 48;

// BookDelta root block (64 B) = common + counts + part numbering of a split event.
export const DELTA_BID_COUNT_OFFSET = 48; // u16, bid levels in this message
export const DELTA_ASK_COUNT_OFFSET = 50; // u16
export const DELTA_LEVEL_LENGTH_OFFSET = 52; // u16, bytes per level entry (16)
export const DELTA_PART_INDEX_OFFSET = 54; // u16, 0-based part of a split event
export const DELTA_PART_COUNT_OFFSET = 56; // u16, ≥ 1; LAST is set exactly on partIndex = partCount − 1
export const DELTA_RESERVED_OFFSET = 58; // 6 bytes, 0
export const DELTA_RESERVED_BYTES = 6;
export const BOOK_DELTA_BLOCK_BYTES = 64;

// BookSnapshot root block (64 B) = common + counts + chunking.
export const SNAP_BID_COUNT_OFFSET = 48; // u16, bid levels in this chunk
export const SNAP_ASK_COUNT_OFFSET = 50; // u16
export const SNAP_LEVEL_LENGTH_OFFSET = 52; // u16 (16 in v1)
export const SNAP_CHUNK_INDEX_OFFSET = 54; // u16, 0-based
export const SNAP_CHUNK_COUNT_OFFSET = 56; // u16, ≥ 1
export const SNAP_TOTAL_BID_COUNT_OFFSET = 58; // u16, bid levels in the whole snapshot
export const SNAP_TOTAL_ASK_COUNT_OFFSET = 60; // u16
export const SNAP_CUT_FLAGS_OFFSET = 62; // u16, SNAP_CUT_* bits (reserved, 0, before 2026-12-06)
export const BOOK_SNAPSHOT_BLOCK_BYTES = 64;

/**
 * cutFlags: the publisher marks cuts (set by every publisher since 2026-12-06). Without it (an older publisher
 * wrote 0 here) the other bits mean nothing and a subscriber must guess which sides were cut (docs/wire-protocol.md §6.6).
 */
export const SNAP_CUT_MARKED = 0x8000;
/** cutFlags: the publisher's book has more bid levels than the snapshot holds (publish.snapshot_depth, 65,535). */
export const SNAP_CUT_BIDS = 0x0001;
/** cutFlags: likewise for the asks. */
export const SNAP_CUT_ASKS = 0x0002;
/** cutFlags: the bits with a meaning; the others are reserved, ignored by readers (docs/wire-protocol.md §1, §4.4). */
export const SNAP_CUT_DEFINED = SNAP_CUT_MARKED | SNAP_CUT_BIDS | SNAP_CUT_ASKS;

// BookStatus root block (48 B) = common only.
export const BOOK_STATUS_BLOCK_BYTES = 48;

// Level entry (16 B), after the root block: bids first, then asks.
export const LEVEL_PRICE_OFFSET = 0; // i64 price mantissa
export const LEVEL_QTY_OFFSET = 8; // i64 qty mantissa; in a delta 0 = delete the level
export const LEVEL_BYTES = 16;

/** A snapshot holds at most this many levels per side (u16 totals); deeper levels are not published. */
export const MAX_SNAPSHOT_LEVELS_PER_SIDE = 65535;

// InstrumentDefinition root block (16 B), then var data: symbol, tickSize, lotSize (UTF-8, lengths in bytes), zero-padded to 8.
export const DEF_INSTRUMENT_ID_OFFSET = 0; // u32
export const DEF_VENUE_ID_OFFSET = 4; // u16, VENUE_IDS
export const DEF_MARKET_ID_OFFSET = 6; // u16, MARKET_IDS
export const DEF_PRICE_EXP_OFFSET = 8; // i8
export const DEF_QTY_EXP_OFFSET = 9; // i8
export const DEF_SYMBOL_LENGTH_OFFSET = 10; // u8
export const DEF_TICK_SIZE_LENGTH_OFFSET = 11; // u8
export const DEF_LOT_SIZE_LENGTH_OFFSET = 12; // u8
export const DEF_RESERVED_OFFSET = 13; // u8 + u16, 0
export const INSTRUMENT_DEFINITION_BLOCK_BYTES = 16;
/** Longest symbol, tick or lot string (u8 length); in core, as instruments are refused by it before they reach the wire. */
export { MAX_DEF_STRING_BYTES } from "../core/symbol-text.ts";

/**
 * The shortest root block a known template may declare (blockLength), as the decoder requires it; −1: not a known
 * template (the decoder skips those, the NATS reader refuses to pack them). Shared so the two cannot drift.
 */
export function minRootBlockBytes(templateId: number): number {
  switch (templateId) {
    case TEMPLATE_BOOK_DELTA:
      return BOOK_DELTA_BLOCK_BYTES;
    case TEMPLATE_BOOK_SNAPSHOT:
      return BOOK_SNAPSHOT_BLOCK_BYTES;
    case TEMPLATE_BOOK_STATUS:
      return BOOK_STATUS_BLOCK_BYTES;
    case TEMPLATE_INSTRUMENT_DEFINITION:
      return INSTRUMENT_DEFINITION_BLOCK_BYTES;
    default:
      return -1;
  }
}

/** Rounds a byte count up to the message alignment. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Room for messages in a datagram of maxDatagramBytes (its multiple of 8), with or without the auth trailer. */
export function messageRoomBytes(maxDatagramBytes: number, authenticated: boolean): number {
  return (maxDatagramBytes & ~7) - PACKET_HEADER_BYTES - (authenticated ? AUTH_TRAILER_BYTES : 0);
}

/** Levels that fit in one BookDelta message inside a datagram of maxDatagramBytes (80 for 1400, 79 authenticated). */
export function deltaLevelsPerDatagram(maxDatagramBytes: number, authenticated = false): number {
  return Math.floor((messageRoomBytes(maxDatagramBytes, authenticated) - MESSAGE_HEADER_BYTES - BOOK_DELTA_BLOCK_BYTES) / LEVEL_BYTES);
}

/** Levels that fit in one BookSnapshot chunk inside a datagram of maxDatagramBytes (80 for 1400, 79 authenticated). */
export function snapshotLevelsPerDatagram(maxDatagramBytes: number, authenticated = false): number {
  return Math.floor((messageRoomBytes(maxDatagramBytes, authenticated) - MESSAGE_HEADER_BYTES - BOOK_SNAPSHOT_BLOCK_BYTES) / LEVEL_BYTES);
}
