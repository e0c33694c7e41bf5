/**
 * Capture files: every raw exchange frame with its receive time, venue, market and connection.
 *
 * Layout (little-endian):
 *   file header   8 B  ASCII "FDRCAP01"
 *   block*        u32 payloadLength, u32 crc32(payload), payload = MessagePack array of records
 *   record        MessagePack array [tsRecvNs: uint64, venue: string, market: string, connection: string, frame: string | bin]
 *                 (receive time in ns since the Unix epoch; the clock behind it has µs resolution, core/clock.ts),
 *                 or with a sixth element, url: string, for a REST response a book depends on (frame = its body;
 *                 e.g. a depth snapshot diffs are bridged to), which replay feeds back in file order
 *
 * Records are buffered and written one block at a time (every FLUSH_INTERVAL_MS or FLUSH_BYTES), so a crash
 * loses at most the last unflushed block; a reader stops at the first incomplete or corrupt block and still
 * returns everything before it. Files rotate by size and age: `<prefix>-<UTC start time>-<n>.fcap`.
 * @module
 */
import { closeSync, openSync, readFileSync, writeSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Packr, Unpackr } from "msgpackr";

export const CAPTURE_MAGIC = "FDRCAP01";
export const CAPTURE_EXTENSION = ".fcap";
const BLOCK_HEADER_BYTES = 8;
/** A block larger than this is treated as corruption (a real block is ≤ FLUSH_BYTES plus one frame). */
const MAX_BLOCK_BYTES = 256 * 1024 * 1024;

export interface CaptureRecord {
  /** Receive time, µs since the epoch (exact: the file stores ns = µs × 1000). */
  tsRecvUs: number;
  venue: string;
  market: string;
  connection: string;
  frame: string | Uint8Array;
  /** Set for a REST response (frame = the body): the URL it answered. */
  url?: string;
}

export interface CaptureWriterOptions {
  dir: string;
  prefix?: string;
  /** Rotate when a file reaches this size. Defaults to 256 MiB. */
  maxFileBytes?: number;
  /** Rotate when a file is this old. Defaults to 1 hour. */
  maxFileAgeMs?: number;
  /** Write buffered records at least this often. Defaults to 200 ms. */
  flushIntervalMs?: number;
  /** Write a block once this many frame bytes are buffered. Defaults to 1 MiB. */
  flushBytes?: number;
  now?: () => number;
}

export class CaptureWriter {
  private readonly packr = new Packr({ useRecords: false });
  private pending: unknown[] = [];
  private pendingBytes = 0;
  private fd = -1;
  private fileBytes = 0;
  private fileOpenedMs = 0;
  private fileIndex = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly files: string[] = [];
  records = 0;
  blocks = 0;

  private readonly prefix: string;
  private readonly maxFileBytes: number;
  private readonly maxFileAgeMs: number;
  private readonly flushBytes: number;
  private readonly now: () => number;

  constructor(private readonly opts: CaptureWriterOptions) {
    this.prefix = opts.prefix ?? "capture";
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024 * 1024;
    this.maxFileAgeMs = opts.maxFileAgeMs ?? 3_600_000;
    this.flushBytes = opts.flushBytes ?? 1024 * 1024;
    this.now = opts.now ?? Date.now;
    mkdirSync(opts.dir, { recursive: true });
    this.timer = setInterval(() => this.flush(), opts.flushIntervalMs ?? 200);
    this.timer.unref?.();
  }

  write(tsRecvUs: number, venue: string, market: string, connection: string, frame: string | Uint8Array): void {
    // ns exceed 2^53, so they travel as a uint64 (BigInt); recording is off the book's hot path.
    this.pending.push([BigInt(tsRecvUs) * 1000n, venue, market, connection, frame]);
    this.pendingBytes += typeof frame === "string" ? frame.length : frame.byteLength;
    this.records++;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  /** A REST response a book depends on (its body), so replay can feed it back where the live run read it. */
  writeRest(tsRecvUs: number, venue: string, market: string, connection: string, url: string, body: string): void {
    this.pending.push([BigInt(tsRecvUs) * 1000n, venue, market, connection, body, url]);
    this.pendingBytes += body.length;
    this.records++;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  /** Writes the buffered records as one block (no-op when nothing is buffered). */
  flush(): void {
    if (this.pending.length === 0) return;
    const payload = this.packr.pack(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.fd < 0 || this.fileBytes >= this.maxFileBytes || this.now() - this.fileOpenedMs >= this.maxFileAgeMs) this.rotate();
    const header = new Uint8Array(BLOCK_HEADER_BYTES);
    const dv = new DataView(header.buffer);
    dv.setUint32(0, payload.byteLength, true);
    dv.setUint32(4, Bun.hash.crc32(payload), true);
    writeSync(this.fd, header);
    writeSync(this.fd, payload);
    this.fileBytes += BLOCK_HEADER_BYTES + payload.byteLength;
    this.blocks++;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private rotate(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const stamp = new Date(this.now()).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "Z");
    const path = join(this.opts.dir, `${this.prefix}-${stamp}-${this.fileIndex++}${CAPTURE_EXTENSION}`);
    this.fd = openSync(path, "wx");
    writeSync(this.fd, new TextEncoder().encode(CAPTURE_MAGIC));
    this.fileBytes = CAPTURE_MAGIC.length;
    this.fileOpenedMs = this.now();
    this.files.push(path);
  }
}

export interface CaptureReadResult {
  records: CaptureRecord[];
  /** Why reading stopped before the end of the file, or undefined when the file was read completely. */
  truncated: string | undefined;
}

/** Reads a whole capture; a truncated or corrupt tail is reported, never thrown, and everything before it is returned. */
export function readCapture(path: string): CaptureReadResult {
  const records: CaptureRecord[] = [];
  const truncated = scanCapture(readFileSync(path), (r) => records.push(r));
  return { records, truncated };
}

/** Calls `onRecord` for each record in file order; returns why it stopped early, or undefined. Throws only for a file that is not a capture. */
export function scanCapture(bytes: Uint8Array, onRecord: (r: CaptureRecord) => void): string | undefined {
  if (bytes.byteLength < CAPTURE_MAGIC.length || new TextDecoder().decode(bytes.subarray(0, CAPTURE_MAGIC.length)) !== CAPTURE_MAGIC) {
    throw new Error(`not a feeder capture file (expected the header ${CAPTURE_MAGIC})`);
  }
  const unpackr = new Unpackr({ useRecords: false, int64AsType: "bigint" });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = CAPTURE_MAGIC.length;
  while (off < bytes.byteLength) {
    if (off + BLOCK_HEADER_BYTES > bytes.byteLength) return `incomplete block header at byte ${off}`;
    const length = dv.getUint32(off, true);
    const crc = dv.getUint32(off + 4, true);
    if (length > MAX_BLOCK_BYTES) return `implausible block length ${length} at byte ${off}`;
    const start = off + BLOCK_HEADER_BYTES;
    if (start + length > bytes.byteLength) return `incomplete block at byte ${off} (${bytes.byteLength - start} of ${length} bytes)`;
    const payload = bytes.subarray(start, start + length);
    if (Bun.hash.crc32(payload) !== crc) return `checksum mismatch in block at byte ${off}`;
    let block: unknown;
    try {
      block = unpackr.unpack(payload);
    } catch (err) {
      return `undecodable block at byte ${off}: ${(err as Error).message}`;
    }
    if (!Array.isArray(block)) return `block at byte ${off} is not an array of records`;
    for (const r of block) {
      if (!Array.isArray(r) || (r.length !== 5 && !(r.length === 6 && typeof r[5] === "string")) || (typeof r[0] !== "bigint" && typeof r[0] !== "number") || typeof r[1] !== "string" || typeof r[2] !== "string" || typeof r[3] !== "string" || !(typeof r[4] === "string" || r[4] instanceof Uint8Array)) {
        return `malformed record in block at byte ${off}`;
      }
      // msgpackr decodes bin as a Buffer view into the file; copy to a plain Uint8Array the caller owns.
      const frame = typeof r[4] === "string" ? r[4] : new Uint8Array(r[4]);
      const rec: CaptureRecord = { tsRecvUs: Number(BigInt(r[0]) / 1000n), venue: r[1], market: r[2], connection: r[3], frame };
      if (r.length === 6) rec.url = r[5] as string;
      onRecord(rec);
    }
    off = start + length;
  }
  return undefined;
}
