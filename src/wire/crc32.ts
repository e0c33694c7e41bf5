// HOT PATH: no allocation
/**
 * CRC-32 (ISO-HDLC: the CRC of Ethernet, zlib, gzip and PNG; reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF, check value 0xCBF43926), the checksum of every wire v3 datagram (docs/wire-protocol.md §3.2).
 * - Native: node:zlib `crc32`, built into Bun and into Node since 20.15 / 22.2. Why this CRC and not v2's CRC-32C:
 *   no runtime has a native CRC-32C, and the TypeScript one cost 64 ns per 160-byte datagram and 459 ns per 1400 B
 *   against 22 / 45 ns for this one (docs/performance.md §3.4), on the publisher and again on every subscriber.
 * - TypeScript (slicing-by-8): the same CRC where the runtime has none, and for spans that are not a whole view
 *   (the native call takes a view, and a subarray per datagram would allocate).
 * @module
 */
import * as zlib from "node:zlib";
import { crcUpdateBytes, slicingTables } from "./crc-tables.ts";
import { PACKET_HEADER_BYTES, PKT_CHECKSUM_OFFSET } from "./layout.ts";

type Crc32Fn = (data: Uint8Array, value?: number) => number;
const zlibCrc32 = (zlib as unknown as { crc32?: Crc32Fn }).crc32;
/** The runtime's native CRC-32 over a whole view, or undefined (Node < 20.15). */
export const NATIVE_CRC32: Crc32Fn | undefined = typeof zlibCrc32 === "function" ? zlibCrc32 : undefined;

/** Slicing-by-8 tables of the reflected polynomial 0xEDB88320. */
const T = slicingTables(0xedb88320, 8);

/**
 * Continues a CRC-32 register over bytes[start, end) in TypeScript (slicing-by-8). Start with -1 (0xFFFFFFFF) and
 * finish with `~crc >>> 0`. Returns the register as an int32.
 */
export function crc32Update(crc: number, bytes: Uint8Array, start: number, end: number): number {
  return crcUpdateBytes(T, crc, bytes, start, end);
}

/** CRC-32 of bytes[start, end), unsigned. Native when the span is the whole view, TypeScript otherwise. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (NATIVE_CRC32 !== undefined && start === 0 && end === bytes.length) return NATIVE_CRC32(bytes) >>> 0;
  return ~crc32Update(-1, bytes, start, end) >>> 0;
}

/**
 * The v3 datagram checksum in TypeScript: CRC-32 over bytes[0, pktLength) with the checksum field (offset 44,
 * 4 bytes) taken as 0, in spans so the field need not be cleared. Any runtime, any view.
 */
export function datagramCrc32Ts(bytes: Uint8Array, pktLength: number): number {
  if (pktLength < PACKET_HEADER_BYTES) {
    // Not a datagram the packer makes (shorter than a header): the field is taken as 0 where it exists.
    let c = crc32Update(-1, bytes, 0, Math.min(pktLength, PKT_CHECKSUM_OFFSET));
    for (let i = PKT_CHECKSUM_OFFSET; i < pktLength; i++) c = T[c & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  }
  let c = crc32Update(-1, bytes, 0, PKT_CHECKSUM_OFFSET);
  c = T[c & 0xff]! ^ (c >>> 8); // the field's four bytes as zeros
  c = T[c & 0xff]! ^ (c >>> 8);
  c = T[c & 0xff]! ^ (c >>> 8);
  c = T[c & 0xff]! ^ (c >>> 8);
  return ~crc32Update(c, bytes, PKT_CHECKSUM_OFFSET + 4, pktLength) >>> 0;
}

/**
 * The v3 datagram checksum of a whole view whose checksum field already holds 0 (the packer writes it so before
 * signing): one native call. Zeroing and restoring the field around the call (datagramCrc32) costs ~12 ns more here,
 * most likely the byte stores stalling the native code's wide loads (measured 21.6 against 34.4 ns at 160 B).
 */
export function datagramCrc32Zeroed(exact: Uint8Array): number {
  if (NATIVE_CRC32 === undefined) return datagramCrc32Ts(exact, exact.length);
  return NATIVE_CRC32(exact) >>> 0;
}

/**
 * The v3 datagram checksum of a whole view (`exact` = the datagram, exact.length = pktLength): CRC-32 with the
 * checksum field taken as 0. Native: the field is zeroed for the call and restored after (so a received datagram
 * is left as it came); TypeScript where the runtime has no native CRC-32.
 */
export function datagramCrc32(exact: Uint8Array): number {
  const n = exact.length;
  if (NATIVE_CRC32 === undefined || n < PACKET_HEADER_BYTES) return datagramCrc32Ts(exact, n);
  const o = PKT_CHECKSUM_OFFSET;
  const b0 = exact[o]!;
  const b1 = exact[o + 1]!;
  const b2 = exact[o + 2]!;
  const b3 = exact[o + 3]!;
  exact[o] = 0;
  exact[o + 1] = 0;
  exact[o + 2] = 0;
  exact[o + 3] = 0;
  const c = NATIVE_CRC32(exact) >>> 0;
  exact[o] = b0;
  exact[o + 1] = b1;
  exact[o + 2] = b2;
  exact[o + 3] = b3;
  return c;
}
