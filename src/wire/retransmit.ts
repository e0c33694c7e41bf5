/**
 * Retransmission control packets (docs/wire-protocol.md §11): the request a subscriber sends to a publisher's
 * request server, and the server's "cannot" reply. The retransmitted datagrams themselves are ordinary data
 * datagrams with the RETRANSMIT flag set and their checksum (CRC-32 in v3, CRC-32C in v2) and HMAC trailer recomputed
 * over the flagged bytes (markRetransmit), so a subscriber verifies them exactly as live ones. Control packets keep
 * their version 1 and its CRC-32C (wire v3 changed only the data datagrams' checksum): old and new peers still talk.
 *
 * Control packet (48 bytes, + 16-byte HMAC trailer when AUTHENTICATED), little-endian:
 *   0 u16 magic 0x5246 ("FR")   2 u8 version 1   3 u8 kind (1 request, 2 out of range, 3 throttled)
 *   4 u16 channelId   6 u16 sourceId   8 u32 sessionId   12 u16 flags (0x08 AUTHENTICATED; others reserved, ignored)   14 u16 pktLength
 *   16 u64 seqNum (first wanted)   24 u32 count (messages wanted)   28 u32 crc32c (over [0, pktLength), field 0)
 *   32 u64 firstAvailable   40 u64 nextSeq (replies: what the ring holds, [firstAvailable, nextSeq); requests 0)
 *   (each u64 below 2^53, else the packet is refused: unsafe_integer)
 * Cold path: requests and replies only happen after a loss.
 * @module
 */
import { getU64, setU64 } from "../core/i64.ts";
import type { DatagramAuth } from "./auth.ts";
import { datagramCrc32 } from "./crc32.ts";
import { crc32c } from "./crc32c.ts";
import { AUTH_TRAILER_BYTES, PKT_CHECKSUM_OFFSET, PKT_FLAG_AUTHENTICATED, PKT_FLAG_RETRANSMIT, PKT_FLAGS_OFFSET, PKT_VERSION_OFFSET, WIRE_VERSION_V2 } from "./layout.ts";

/** Bytes 0–1 of a control packet are "FR" (0x46 0x52): u16 0x5246 little-endian. Never equal to a data datagram's "FD". */
export const RETX_MAGIC = 0x5246;
export const RETX_VERSION = 1;
export const RETX_KIND_REQUEST = 1;
/** The range asked for is not (or no longer) in the publisher's ring: fall back to the refresh. */
export const RETX_KIND_OUT_OF_RANGE = 2;
/** The requester exceeded its rate limit: fall back to the refresh. */
export const RETX_KIND_THROTTLED = 3;

export const RETX_MAGIC_OFFSET = 0; // u16
export const RETX_VERSION_OFFSET = 2; // u8
export const RETX_KIND_OFFSET = 3; // u8
export const RETX_CHANNEL_ID_OFFSET = 4; // u16
export const RETX_SOURCE_ID_OFFSET = 6; // u16
export const RETX_SESSION_ID_OFFSET = 8; // u32
export const RETX_FLAGS_OFFSET = 12; // u16
export const RETX_LENGTH_OFFSET = 14; // u16
export const RETX_SEQ_NUM_OFFSET = 16; // u64
export const RETX_COUNT_OFFSET = 24; // u32
export const RETX_CRC32C_OFFSET = 28; // u32
export const RETX_FIRST_AVAILABLE_OFFSET = 32; // u64
export const RETX_NEXT_SEQ_OFFSET = 40; // u64
export const RETX_PACKET_BYTES = 48;
/** Largest count a request may ask for (a subscriber asks for more as separate requests). */
export const RETX_MAX_COUNT = 65_535;

export interface RetxControl {
  kind: number;
  channelId: number;
  sourceId: number;
  sessionId: number;
  seqNum: number;
  count: number;
  firstAvailable: number;
  nextSeq: number;
}

/** Writes a control packet into `out` (≥ 64 bytes) and returns its length; signed when `auth` is given. */
export function encodeRetxControl(out: Uint8Array, c: RetxControl, auth?: DatagramAuth): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const length = RETX_PACKET_BYTES + (auth !== undefined ? AUTH_TRAILER_BYTES : 0);
  out.fill(0, 0, length);
  dv.setUint16(RETX_MAGIC_OFFSET, RETX_MAGIC, true);
  dv.setUint8(RETX_VERSION_OFFSET, RETX_VERSION);
  dv.setUint8(RETX_KIND_OFFSET, c.kind);
  dv.setUint16(RETX_CHANNEL_ID_OFFSET, c.channelId, true);
  dv.setUint16(RETX_SOURCE_ID_OFFSET, c.sourceId, true);
  dv.setUint32(RETX_SESSION_ID_OFFSET, c.sessionId >>> 0, true);
  dv.setUint16(RETX_FLAGS_OFFSET, auth !== undefined ? PKT_FLAG_AUTHENTICATED : 0, true);
  dv.setUint16(RETX_LENGTH_OFFSET, length, true);
  setU64(dv, RETX_SEQ_NUM_OFFSET, c.seqNum);
  dv.setUint32(RETX_COUNT_OFFSET, c.count >>> 0, true);
  setU64(dv, RETX_FIRST_AVAILABLE_OFFSET, c.firstAvailable);
  setU64(dv, RETX_NEXT_SEQ_OFFSET, c.nextSeq);
  if (auth !== undefined) signAt(auth, out, length, RETX_CRC32C_OFFSET);
  dv.setUint32(RETX_CRC32C_OFFSET, crc32c(out, 0, length), true);
  return length;
}

/**
 * Why a control packet is refused, named as the data decoder's refusals (wire/decoder.ts, §7.2) for the same faults and
 * checked in the same order (docs/wire-protocol.md §11.2): `truncated` (under 3 bytes, under 48, pktLength below 48 or
 * beyond the packet, AUTHENTICATED in under 64), `bad_magic`, `unknown_version`, `oversized` (bytes after pktLength,
 * over 48 without the trailer or over 64 with it), `bad_checksum`, `bad_auth`, then `bad_kind` and `unsafe_integer`
 * (seqNum, firstAvailable or nextSeq of 2^53 or more, inexact as a number). Until 2026-12-06 the first three faults
 * were `not_control`, `bad_length` and `bad_version`, and the length was checked before the version.
 */
export type RetxDecodeError = "truncated" | "oversized" | "bad_magic" | "unknown_version" | "bad_kind" | "bad_checksum" | "bad_auth" | "unsafe_integer";

/**
 * Decodes and verifies a control packet; with `auth` an unsigned or forged one is `bad_auth`. Every refusal but
 * `bad_auth` (node:crypto's HMAC) allocates nothing: the request server runs this on each datagram it reads, so a
 * flood of foreign or damaged datagrams costs no garbage (a DataView per datagram before 2026-12-06).
 */
export function decodeRetxControl(bytes: Uint8Array, auth?: DatagramAuth): RetxControl | RetxDecodeError {
  const n = bytes.length;
  if (n < RETX_VERSION_OFFSET + 1) return "truncated";
  if (u16(bytes, RETX_MAGIC_OFFSET) !== RETX_MAGIC) return "bad_magic";
  if (bytes[RETX_VERSION_OFFSET] !== RETX_VERSION) return "unknown_version";
  if (n < RETX_PACKET_BYTES) return "truncated";
  const length = u16(bytes, RETX_LENGTH_OFFSET);
  if (length < RETX_PACKET_BYTES || length > n) return "truncated";
  if (n > length) return "oversized";
  const authenticated = (u16(bytes, RETX_FLAGS_OFFSET) & PKT_FLAG_AUTHENTICATED) !== 0;
  if (authenticated && length < RETX_PACKET_BYTES + AUTH_TRAILER_BYTES) return "truncated";
  if (length > RETX_PACKET_BYTES + (authenticated ? AUTH_TRAILER_BYTES : 0)) return "oversized";
  // The CRC with its field taken as 0: zeroed for the computation, restored after (the caller's buffer is unchanged).
  const c0 = bytes[RETX_CRC32C_OFFSET]!;
  const c1 = bytes[RETX_CRC32C_OFFSET + 1]!;
  const c2 = bytes[RETX_CRC32C_OFFSET + 2]!;
  const c3 = bytes[RETX_CRC32C_OFFSET + 3]!;
  bytes.fill(0, RETX_CRC32C_OFFSET, RETX_CRC32C_OFFSET + 4);
  const crc = crc32c(bytes, 0, length);
  bytes[RETX_CRC32C_OFFSET] = c0;
  bytes[RETX_CRC32C_OFFSET + 1] = c1;
  bytes[RETX_CRC32C_OFFSET + 2] = c2;
  bytes[RETX_CRC32C_OFFSET + 3] = c3;
  if (crc !== (c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)) >>> 0) return "bad_checksum";
  if (auth !== undefined) {
    if (!authenticated || !verifyAt(auth, bytes, length, RETX_CRC32C_OFFSET)) return "bad_auth";
  }
  const kind = bytes[RETX_KIND_OFFSET]!;
  if (kind < RETX_KIND_REQUEST || kind > RETX_KIND_THROTTLED) return "bad_kind";
  // As the data decoder's sequence numbers (unsafe_integer): read as numbers, a forged 2^64 − 1 was taken as 2^64,
  // and a server echoed another seqNum than the request's in its OUT_OF_RANGE reply.
  if (!exactU64(bytes, RETX_SEQ_NUM_OFFSET) || !exactU64(bytes, RETX_FIRST_AVAILABLE_OFFSET) || !exactU64(bytes, RETX_NEXT_SEQ_OFFSET)) return "unsafe_integer";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    kind,
    channelId: dv.getUint16(RETX_CHANNEL_ID_OFFSET, true),
    sourceId: dv.getUint16(RETX_SOURCE_ID_OFFSET, true),
    sessionId: dv.getUint32(RETX_SESSION_ID_OFFSET, true),
    seqNum: getU64(dv, RETX_SEQ_NUM_OFFSET),
    count: dv.getUint32(RETX_COUNT_OFFSET, true),
    firstAvailable: getU64(dv, RETX_FIRST_AVAILABLE_OFFSET),
    nextSeq: getU64(dv, RETX_NEXT_SEQ_OFFSET),
  };
}

/** The little-endian u64 at byte `o` is below 2^53, where a number holds it exactly (its high u32 below 2^21). */
function exactU64(bytes: Uint8Array, o: number): boolean {
  return bytes[o + 7] === 0 && bytes[o + 6]! < 0x20;
}

/** Little-endian u16 at byte `o` (no DataView: see decodeRetxControl). */
function u16(bytes: Uint8Array, o: number): number {
  return bytes[o]! | (bytes[o + 1]! << 8);
}

/**
 * Turns a copy of an original data datagram (bytes[0, pktLength)) into its retransmission: sets RETRANSMIT, then
 * recomputes the HMAC trailer (when AUTHENTICATED; `auth` required then) and the checksum of its version (CRC-32 in
 * v3, CRC-32C in v2) over the flagged bytes, in the order of a live datagram (§3.2–3.3). Everything else, the send time included, is the original's.
 */
export function markRetransmit(bytes: Uint8Array, pktLength: number, auth: DatagramAuth | undefined): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = dv.getUint8(PKT_FLAGS_OFFSET) | PKT_FLAG_RETRANSMIT;
  dv.setUint8(PKT_FLAGS_OFFSET, flags);
  dv.setUint32(PKT_CHECKSUM_OFFSET, 0, true);
  if ((flags & PKT_FLAG_AUTHENTICATED) !== 0) {
    if (auth === undefined) throw new Error("an AUTHENTICATED datagram needs the key to be retransmitted");
    auth.sign(bytes, pktLength);
  }
  const v2 = dv.getUint8(PKT_VERSION_OFFSET) === WIRE_VERSION_V2;
  const exact = bytes.length === pktLength ? bytes : bytes.subarray(0, pktLength);
  dv.setUint32(PKT_CHECKSUM_OFFSET, v2 ? crc32c(exact) : datagramCrc32(exact), true);
}

// Control packets keep their CRC at offset 28 (data datagrams at 44); it is 0 while signing a fresh packet.
function signAt(auth: DatagramAuth, bytes: Uint8Array, length: number, _crcOffset: number): void {
  auth.sign(bytes, length);
}

function verifyAt(auth: DatagramAuth, bytes: Uint8Array, length: number, crcOffset: number): boolean {
  return auth.verify(bytes, length, crcOffset);
}
