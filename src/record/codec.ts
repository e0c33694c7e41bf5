/**
 * Block compression for capture files. Each block is compressed on its own, so a reader still stops at the
 * first damaged block and keeps everything before it (a stream compressor would lose the tail of a crashed
 * file, and a stock `zstd -d` of a truncated stream drops the last frame without saying so).
 * Levels: zstd 3 and gzip 6 are the libraries' defaults; bench/capture.bench.ts measured ratio and cost.
 * @module
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";

export const CaptureCodec = { NONE: 0, GZIP: 1, ZSTD: 2 } as const;
export type CaptureCodec = (typeof CaptureCodec)[keyof typeof CaptureCodec];
export type CompressionName = "none" | "gzip" | "zstd";

export const COMPRESSION_NAMES: readonly CompressionName[] = ["none", "gzip", "zstd"];
const CODEC_BY_NAME: Record<CompressionName, CaptureCodec> = { none: CaptureCodec.NONE, gzip: CaptureCodec.GZIP, zstd: CaptureCodec.ZSTD };

export function codecOf(name: CompressionName): CaptureCodec {
  return CODEC_BY_NAME[name];
}

export function codecName(codec: number): CompressionName | undefined {
  return COMPRESSION_NAMES.find((n) => CODEC_BY_NAME[n] === codec);
}

/** Compresses one block payload (cold path: once per flushed block, every 200 ms or 1 MiB). */
export function compressBlock(codec: CaptureCodec, payload: Uint8Array, level?: number): Uint8Array {
  switch (codec) {
    case CaptureCodec.NONE:
      return payload;
    case CaptureCodec.GZIP:
      return Bun.gzipSync(payload as Uint8Array<ArrayBuffer>, { level: (level ?? 6) as 6 });
    case CaptureCodec.ZSTD:
      return Bun.zstdCompressSync(payload, { level: level ?? 3 });
  }
}

/** A stored block decompresses to more than the reader takes (a block no writer wrote: a crafted or foreign file). */
export class BlockTooLargeError extends Error {}

/**
 * Inverse of compressBlock; throws on data the codec cannot decode, and BlockTooLargeError once the output would
 * exceed `maxBytes`. node:zlib's, not Bun.zstdDecompressSync / Bun.gunzipSync: those take no output limit, so a
 * few KB stored (a valid checksum over zstd frames of zeros, ~32,000:1) made gigabytes before anything could look
 * at them. node:zlib stops at maxOutputLength, having made at most that.
 */
export function decompressBlock(codec: CaptureCodec, stored: Uint8Array, maxBytes: number): Uint8Array {
  try {
    switch (codec) {
      case CaptureCodec.NONE:
        return stored;
      case CaptureCodec.GZIP:
        return gunzipSync(stored, { maxOutputLength: maxBytes });
      case CaptureCodec.ZSTD:
        return zstdDecompressSync(stored, { maxOutputLength: maxBytes });
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new BlockTooLargeError(`decompresses to more than ${maxBytes} bytes`);
    throw err;
  }
}

/**
 * How many MessagePack values the one value at the start of `bytes` holds (itself, and every element, key and value
 * inside it), counted without decoding; `limit + 1` as soon as it passes `limit`. A block is decoded into an object
 * per value, and a few bytes each make one (an empty array is 1 byte, ~60 B of objects): 256 MiB of them, a few KB
 * of zstd, made gigabytes of objects before a record could be looked at. Counting first bounds that. Data that ends
 * early ends the count there: decoding then reports it (msgpackr checks every length against the bytes left).
 *
 * Throws UncountableBlockError for what no writer writes and msgpackr decodes into more than the count can see: an
 * extension (msgpackr's record definitions, Set, Error, RegExp, structured-clone and bundled-string extensions read
 * values after their own bytes: `d4 73 00` then an array of a million values counted 1) and the byte 0xc1 (decoded
 * as a placeholder, not an error: the count stopped there while decoding went on). A writer's block is arrays,
 * strings, integers and bytes only (CaptureWriter: `[tsRecvNs, venue, market, connection, frame, url?]`).
 */
export function msgpackValueCount(bytes: Uint8Array, limit: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  let pos = 0;
  let pending = 1; // values still to read: the outer one, then each container's contents
  let count = 0;
  while (pending > 0 && pos < end) {
    if (++count > limit) return count;
    pending--;
    const b = bytes[pos++]!;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) skip = 0; // fixint, nil, booleans
    else if (b <= 0x8f) pending += 2 * (b & 0x0f); // fixmap
    else if (b <= 0x9f) pending += b & 0x0f; // fixarray
    else if (b <= 0xbf) skip = b & 0x1f; // fixstr
    else if (b === 0xc1 || (b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) throw new UncountableBlockError(`${b === 0xc1 ? "the never-used byte 0xc1" : `a MessagePack extension (0x${b.toString(16)})`} at byte ${pos - 1} of its MessagePack, which no capture writer writes`);
    else if (pos + 4 > end) return count; // too short for any length field that follows: decoding says so
    else
      switch (b) {
        case 0xc4: case 0xd9: skip = 1 + bytes[pos]!; break; // bin8, str8
        case 0xc5: case 0xda: skip = 2 + dv.getUint16(pos); break; // bin16, str16
        case 0xc6: case 0xdb: skip = 4 + dv.getUint32(pos); break; // bin32, str32
        case 0xca: case 0xce: case 0xd2: skip = 4; break; // float32, uint32, int32
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break; // float64, uint64, int64
        case 0xcc: case 0xd0: skip = 1; break; // uint8, int8
        case 0xcd: case 0xd1: skip = 2; break; // uint16, int16
        case 0xdc: pending += dv.getUint16(pos); skip = 2; break; // array16
        case 0xdd: pending += dv.getUint32(pos); skip = 4; break; // array32
        case 0xde: pending += 2 * dv.getUint16(pos); skip = 2; break; // map16
        case 0xdf: pending += 2 * dv.getUint32(pos); skip = 4; break; // map32
      }
    pos += skip;
  }
  return count;
}

/** A block holding a MessagePack type no capture writer writes, whose decoded size msgpackValueCount cannot bound. */
export class UncountableBlockError extends Error {}
