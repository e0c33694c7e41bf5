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
