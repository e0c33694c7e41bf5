/**
 * Capture files: every raw exchange frame with its receive time, venue, market and connection.
 *
 * Layout (block headers little-endian; MessagePack's own integers big-endian, as MessagePack has them):
 *   file header   uncompressed: 8 B ASCII "FDRCAP01"
 *                 compressed:   8 B ASCII "FDRCAP02", u8 codec (1 gzip, 2 zstd), 3 B zero
 *   block*        u32 storedLength, u32 crc32(stored), stored = payload, or the payload compressed on its own
 *   payload       MessagePack array of records
 *   record        MessagePack array [tsRecvNs: int64 (0xd3, never below 0: msgpackr's BigInt), venue: string, market: string, connection: string, frame: string | bin]
 *                 (readers take any MessagePack integer there; until s-rdrec2 this said uint64, which no writer wrote)
 *                 (receive time in ns since the Unix epoch; the clock behind it has µs resolution, core/clock.ts,
 *                 and is the same for every record kind; records are in the order the pipeline handled them, which
 *                 replay keeps: a frame carries its event-loop turn's receipt time and an event or REST response the
 *                 time it was handled, so within one turn a frame handled after an event is stamped before it, by
 *                 at most the turn's processing time; a writer's next file never begins before its previous file's
 *                 last record, holdRotation),
 *                 or with a sixth element, url: string, for a REST response a book depends on (frame = its body;
 *                 e.g. a depth snapshot diffs are bridged to), which replay feeds back in file order; a connection
 *                 event has the same shape with a pseudo-URL (venues/venue.ts): url "ws:open" (frame = the WebSocket
 *                 URL), "ws:close" (frame = why) or a socket event ("ws:sockets", "ws:swap", "ws:old", "ws:retired",
 *                 "ws:back", "ws:state", "ws:overlap": a planned reconnect's sockets; "ws:req " and its JSON: a request written,
 *                 frame = ""; OKX's "ws:wait", "ws:waited": a resync's wait for the request budget, frame = the topic),
 *                 which replay hands to
 *                 the adapter (VenueAdapter.ingestConnectionEvent)
 *   file head     with a CaptureFileHead (`feeder record`), every file after the first begins with a block of such
 *                 events saying what the records before it left open (each open connection's sockets, and each
 *                 connection's books closed by their listing: "ws:closedset", frame = their topics; each open connection's
 *                 topics asked since its open: "ws:asked", frame = a JSON array of them or null; each OKX connection's
 *                 resyncs waiting for the request budget: "ws:waitset", frame = their topics; the books
 *                 a recorded unsubscribe or a go-back's held resubscribe still holds: "ws:unsubset",
 *                 "ws:back-heldset", frame = their topics), stamped with
 *                 the receive time of the file's first record
 *
 * Records are buffered and written one block at a time (every FLUSH_INTERVAL_MS or FLUSH_BYTES), so a crash of the
 * process loses at most the last unflushed block (never fsynced: a host's power loss loses what the kernel had not
 * written back, docs/operations.md, Capture format); a reader stops at the first incomplete or corrupt block and still
 * returns everything before it, unless another capture's header with a valid first block follows (files joined with
 * `cat`): it reads on there, the bytes skipped counted (CaptureReader.resyncs); a record of a kind it does not know (another version's) is skipped and counted, and
 * the next record marked (unreadBefore): it may have been a frame, so readers resync the books there.
 * A block that cannot be written (a full disk) is lost and counted, and cut off the file again, so a file always
 * ends at a whole block and writing goes on in it once there is room; the next block written is preceded by a block
 * of one record saying so (url CAPTURE_LOST_URL), where readers resync the books as at a cut file; so is the first
 * block after the open file was deleted or cut shorter under the writer (its records gone). With no block after the
 * loss, close() writes the mark alone, or, if even that fails, leaves the file a byte past its last whole block: read
 * as cut short there (markLossAtClose).
 * Files rotate by size and at every UTC multiple of the age limit (hh:00 for an hour, so recorders on several hosts
 * cut their files at the same instants; the first file is shorter): `<prefix>-<UTC start time>-<n>.fcap`; rotation
 * and retention deletions are logged.
 *
 * Clocks: the name's start time is the wall clock's (what an operator looks for). `n` counts on from the highest in
 * the directory, so it orders files by creation across runs whatever the wall clock did, and no name repeats.
 * Everything measured (the time left to a file's age rotation, read once from the wall clock when it is opened; the
 * retention check's interval; how long ago this writer last wrote a file) is on the monotonic clock, so a wall clock
 * stepped back neither holds rotation and retention off for the step's length, nor does one stepped forward rotate
 * at once or make retention delete files that are not old. Only files of earlier runs are aged by their mtime, read against the wall clock once when the writer starts.
 * @module
 */
import { chmodSync, closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
// msgpackr's pure-JS entries, not the package root: the root loads the optional native decoder (msgpackr-extract) from
// a path that `bun build --compile` fixes at build time, so the binary read the build checkout's node_modules (and
// decoded differently on every other host). Source and binary now decode alike (docs/performance.md §7).
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";
import { monoMs } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { BlockTooLargeError, CaptureCodec, codecName, codecOf, compressBlock, decompressBlock, msgpackValueCount, type CompressionName } from "./codec.ts";
import { CaptureIndex } from "./capture-index.ts";
import { applyRetention, type CaptureEntry, type Deletion, type RetentionPolicy } from "./retention.ts";

export const CAPTURE_MAGIC = "FDRCAP01";
export const CAPTURE_MAGIC_COMPRESSED = "FDRCAP02";
const COMPRESSED_HEADER_BYTES = 12;
const CODEC_OFFSET = 8;
export const CAPTURE_EXTENSION = ".fcap";
/**
 * The url of a record saying that blocks before it could not be written (a full disk, EIO), or the file they were
 * in was deleted or cut shorter under the writer, and are not in the capture (venue, market and connection empty;
 * body: how many records, and the error or the file): the writer puts it before the next block it writes, and
 * readers resync every book there (replay, export --books), as after a file cut short.
 */
export const CAPTURE_LOST_URL = "capture:lost";
const BLOCK_HEADER_BYTES = 8;
/** Bytes read at a time while looking for the next capture header after a bad block (CaptureReader.damaged). */
const RESYNC_CHUNK_BYTES = 1 << 20;
/**
 * A block larger than this, stored or decompressed, is treated as corruption: a writer's block holds what was
 * buffered below flushBytes (1 MiB for `feeder record`) plus the frame that crossed it, and uncompressed, its stored
 * bytes are that payload; a writer splits a larger flush and leaves out a single record over it (writeBlockNow). Decompression stops here (codec.ts), so a small crafted block makes at most this many
 * bytes, not terabytes. (Decoded, a block takes many times its bytes when they are many tiny values: MAX_BLOCK_VALUES.)
 */
export const MAX_BLOCK_BYTES = 256 * 1024 * 1024;
/**
 * A block of more MessagePack values than this (records and every field in them) is treated as corruption, counted
 * before it is decoded (codec.ts msgpackValueCount): decoded, each value is an object of ~60 B however few its bytes,
 * so 256 MiB of 1-byte values (a few KB of zstd) made gigabytes of objects. A writer's block holds 1 MiB of frames
 * (records of 5 or 6 values and 25 bytes or more: ~300,000 values at most) and the frame-less events of 200 ms (a
 * few per frame at most); 4 million is over ten times that, and decodes to ~250 MB of objects at most.
 */
export const MAX_BLOCK_VALUES = 4_000_000;
/**
 * The latest receive time a record may carry, ns: 2^53 - 1 µs (the year 2255). Past it a µs time is no longer exact as
 * a double, and a time step added to it can be lost (export --every-ms's grid then stood still, a row at one time for
 * good); no recorder's clock writes one, nor a time below 0. A record outside [0, this] is read as one of another
 * shape: skipped and counted (`unknownRecords`), as a forged or damaged time (before, a time below 0 passed the time-jump
 * check, where -1 stands for "no previous record").
 */
const MAX_RECV_NS = BigInt(Number.MAX_SAFE_INTEGER) * 1000n;

/** Indexes tried for a new file's name when the one picked is taken all the same (another writer in the directory). */
const MAX_NAME_TRIES = 1000;
/**
 * The largest file number `n` the writer counts on from (a file a second for 30 million years): above it a name is
 * foreign, and n stays an exact integer that prints as digits with MAX_NAME_TRIES to spare.
 */
const MAX_FILE_INDEX = 1e15;
/** Blocks at most that a due rotation waits for one that does not begin before the file's last record (holdRotation). */
const MAX_HELD_BLOCKS = 16;
/** ownsDir() said no as a rotation was about to make a file: the block is lost as after the look before it. */
class DirNotOwned extends Error {}

/** How often the writer applies age-based retention between rotations. */
const RETENTION_CHECK_MS = 60_000;
/** A run of write errors (a full disk) is logged at most this often, with the count since the last line. */
const WRITE_ERROR_LOG_MS = 10_000;

export interface CaptureRecord {
  /** Receive time, µs since the epoch (exact: the file stores ns = µs × 1000). */
  tsRecvUs: number;
  venue: string;
  market: string;
  connection: string;
  frame: string | Uint8Array;
  /** Set for a REST response (frame = the body): the URL it answered; or a connection event's "ws:open", "ws:close", "ws:swap", … */
  url?: string;
  /**
   * True when records this version cannot read (CaptureReader.unknownRecords) come right before this one: they may
   * have been frames, so readers resync the books there (replay, export --books), as at a cut file.
   */
  unreadBefore?: true;
}

/** A block ready to be written: its header (length, CRC), stored bytes, MessagePack bytes and record count. */
interface PackedBlock {
  readonly header: Uint8Array;
  readonly stored: Uint8Array;
  readonly rawBytes: number;
  readonly records: number;
}

/** A connection event as a file head holds it (`[tsRecvNs, venue, market, connection, body, url]`, body empty unless given). */
export interface CaptureHeadEvent {
  readonly venue: string;
  readonly market: string;
  readonly connection: string;
  readonly url: string;
  readonly body?: string;
}

/**
 * What every new file begins with, in a block of its own before the file's first records (`feeder record`: each open
 * connection's sockets, app/capture-sockets.ts), so a file replayed without the ones before it starts from what they
 * said. It is told of every REST or connection-event record the writer hands to a block, in order, whether the block
 * was written or lost (a full disk): a head then says what the lost block's events changed.
 */
export interface CaptureFileHead {
  /** `body`: the record's (a connection event's is text). */
  observe(venue: string, market: string, connection: string, url: string, body: string): void;
  /** The events a new file begins with (none: no head block). */
  events(): readonly CaptureHeadEvent[];
}

export interface CaptureWriterOptions {
  dir: string;
  prefix?: string;
  /** Rotate when a file reaches this size. Defaults to 256 MiB. */
  maxFileBytes?: number;
  /** Rotate at every multiple of this interval since the epoch, UTC (a file at most this old). Defaults to 1 hour. */
  maxFileAgeMs?: number;
  /** Write buffered records at least this often. Defaults to 200 ms. */
  flushIntervalMs?: number;
  /** Write a block once this many frame bytes are buffered. Defaults to 1 MiB. */
  flushBytes?: number;
  /** Block compression. Defaults to "none". */
  compression?: CompressionName;
  /** Codec level (zstd 1–22, default 3; gzip 1–9, default 6). */
  compressionLevel?: number;
  /** Delete the oldest finished files of this prefix in `dir` beyond an age or a total size. */
  retention?: RetentionPolicy;
  /** Rotation and retention are logged here (info; a failed deletion warns). */
  log?: Logger;
  /** Wall clock, ms since the epoch: file names, and the age of earlier runs' files when the writer starts. Defaults to Date.now. */
  now?: () => number;
  /** How many of the latest files opened and deletions `files` and `deleted` keep (at least; at most twice). Defaults to 1000. */
  remember?: number;
  /** Monotonic clock, ms: file age for rotation, the retention check's interval, this writer's files' age. Defaults to core/clock.ts monoMs. */
  monoNow?: () => number;
  /**
   * The receive time (tsRecvUs, as written) of a `monoNow()` instant: the records' timeline as seen from the rotation's
   * clock. Given, a block that holds records from both sides of a due age rotation's UTC boundary is split there: those
   * received before it end the old file, the rest begin the new one. Without it (records on another timeline), the
   * block goes to the new file whole, as a block flushed after the boundary always did: the new file began with up to
   * a flush interval (200 ms) or a busy turn of records from before its boundary, the old one lacked them.
   */
  recordUsAtMonoMs?: (monoMs: number) => number;
  /** What each file after the first begins with (CaptureFileHead); none without it. */
  fileHead?: CaptureFileHead;
  /** Called when the writer made the directory again (deleted under it): `feeder record` writes its claim again (dir-claim.ts). */
  onDirRecreated?: () => void;
  /**
   * Asked right before each change the writer makes in the directory (a block written, with the file it may open, and
   * a retention pass): false once another recorder holds it (`feeder record`: its claim, dir-claim.ts check()). The
   * block is then dropped (its records counted in lostRecords) and the writer changes nothing in the directory again.
   * Once per block, not per record: one stat for `feeder record`.
   */
  ownsDir?: () => boolean;
  /** The readers' block limits the writer keeps to (MAX_BLOCK_BYTES, MAX_BLOCK_VALUES unless given: tests). */
  maxBlockBytes?: number;
  maxBlockValues?: number;
}

/** Totals since the writer started. */
export interface CaptureWriterStats {
  /** Records handed to the writer, those of the heads it wrote (CaptureFileHead) and its `capture:lost` marks. */
  records: number;
  blocks: number;
  /** MessagePack bytes before compression. */
  rawBytes: number;
  /** Bytes written to disk (headers included). */
  writtenBytes: number;
  /** Time spent compressing, ns. */
  compressNs: number;
  files: number;
  /** Records lost because their block could not be written. */
  lostRecords: number;
  writeErrors: number;
  deletedFiles: number;
  deletedBytes: number;
  /** The file being written, if one is open. */
  file: string | undefined;
  /**
   * While failing (a block could not be written and none has been since, or the directory is another recorder's now:
   * ownsDir said no, every record dropped): when the first such block was lost (ms
   * since the epoch, shown), how long ago on the monotonic clock (a step of the wall clock does not change it), and
   * its error. Undefined while blocks get written.
   */
  failing: { sinceMs: number; forMs: number; lastError: string } | undefined;
}

export class CaptureWriter {
  private readonly packr = new Packr({ useRecords: false });
  private pending: unknown[] = [];
  private pendingBytes = 0;
  /** Receive times (µs) of the first and last buffered record, and of the last record written to a file. */
  private pendingFirstUs = 0;
  private pendingLastUs = 0;
  private lastWrittenUs = -Infinity;
  /** The open file has yet to get its head block (opts.fileHead): set as it opens, cleared once the head is written. */
  private headDue = false;
  /** Records too large for a block in the block being written, each with the ws:close written in its place (tooLarge). */
  private closedInstead: Map<unknown, unknown[]> | undefined;
  /** Blocks written into the open file after its rotation was due (holdRotation). */
  private heldBlocks = 0;
  private fd = -1;
  private fileBytes = 0;
  private fileRawBytes = 0;
  private fileRecords = 0;
  /** Of fileRecords, the writer's own (its head, lost marks): not among the records a deleted file took with it. */
  private fileOwnRecords = 0;
  /** monoNow() when the open file was opened. */
  private fileOpenedMonoMs = 0;
  /** monoNow() from which the open file is due to rotate by age: the next UTC multiple of maxFileAgeMs (rotate). */
  private fileDueMonoMs = 0;
  /** The next file's number, at least (the directory's highest + 1 is taken when higher). */
  private fileIndex = 0;
  /** monoNow() at the last retention pass. */
  private lastRetentionMonoMs = 0;
  /** monoNow() at the last write of each file this writer opened (for keep-hours). */
  private readonly lastWriteMonoMs = new Map<string, number>();
  /** index.listings when lastWriteMonoMs was last pruned of files a listing no longer found (forgetGone). */
  private listingsPruned = 0;
  /** Only with --keep-hours: without it, lastWriteMonoMs grew by a file a rotation and was never read. */
  private readonly agesFiles: boolean;
  /** The wall clock and the monotonic clock read together when the writer started: earlier runs' files age from there. */
  private readonly startWallMs: number;
  private readonly startMonoMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /**
   * The files this writer opened and its retention deletions, the latest `remember` of each (between that and twice
   * that): all of them grew by a name a file for as long as the writer ran (a month of one-minute files: 43,000), and
   * stats() went through every deletion at each progress line. The totals are counted (stats()).
   */
  readonly files: string[] = [];
  readonly deleted: Deletion[] = [];
  private filesOpened = 0;
  private deletedFiles = 0;
  private deletedBytes = 0;
  records = 0;
  blocks = 0;
  /** Records in blocks that could not be written (counted, logged rate-limited). */
  lostRecords = 0;
  /**
   * Of lostRecords, those written after close(): dropped and counted (before 2026-12-06, buffered and counted as recorded
   * but never written, or, past flushBytes, written into a new file opened after the close). `feeder record` detaches
   * the feeder's raw taps before it closes the capture (since 2026-12-06: a stop cut at the deadline left them writing).
   */
  lateRecords = 0;
  writeErrors = 0;
  rawBytes = 0;
  writtenBytes = 0;
  compressNs = 0;

  private readonly prefix: string;
  private readonly remember: number;
  private readonly maxFileBytes: number;
  private readonly maxFileAgeMs: number;
  private readonly flushBytes: number;
  /**
   * A block's MessagePack at most (the readers' limit less 1/64: zstd's and gzip's worst case adds well under that to
   * incompressible bytes), and its records at most (7 values each at most, and the block's array), so that every
   * block written is one a reader takes (writeBlockNow).
   */
  private readonly maxPayloadBytes: number;
  private readonly maxStoredBytes: number;
  private readonly maxBlockRecords: number;
  private readonly codec: CaptureCodec;
  private readonly now: () => number;
  private readonly monoNow: () => number;
  /** close() was called: a record written since is lost (lateRecords), no file opened for it. */
  private closed = false;
  /** ownsDir() said no: nothing more is written, opened or deleted in the directory. */
  private fenced = false;
  /** Since the last block written: records and blocks lost (reported when writing works again). */
  private failedRecords = 0;
  private failedBlocks = 0;
  /** The first receive time of those lost records: where a mark written at close() says the loss began. */
  private failedFromUs = 0;
  /** The open file was deleted or cut shorter under the writer (checkOpenFile): said so by the next block's lost mark. */
  private goneFile: string | undefined;
  /** performance.now() of the last write-error line, and the errors since it. */
  private lastWriteErrorLogMs = -Infinity;
  private unloggedWriteErrors = 0;
  /**
   * Whether the last block tried was lost, since when (wall ms, monoNow ms: the first lost since the last written) and
   * the last error: stats().failing. A flag of its own: an injected clock may well say 0 (taken for "none" before).
   */
  private failing = false;
  private failingSinceMs = 0;
  private failingSinceMonoMs = 0;
  private lastWriteError = "";
  /** Foreign names (n above MAX_FILE_INDEX) already warned about. */
  private readonly warnedForeign = new Set<string>();
  /** Every file's header, and room to read it back before each block (checkOpenFile). */
  private readonly fileHeaderBytes: Uint8Array;
  private readonly headRead: Uint8Array;
  /** The open file's header could not be read back and that was said (once per file). */
  private headReadFailed = false;
  /** The directory's captures, listed when the writer starts and again only when someone else changed it. */
  private readonly index: CaptureIndex;
  /** The directory's permission bits when the writer started: a directory deleted under it is made again with them. */
  private readonly dirMode: number;
  /** The device DIR was on when the writer started: DIR is made again only on that filesystem (recreateDir). */
  private readonly dirDev: number;

  constructor(private readonly opts: CaptureWriterOptions) {
    this.prefix = opts.prefix ?? "capture";
    this.remember = Math.max(1, opts.remember ?? 1000);
    this.agesFiles = opts.retention?.keepMs !== undefined;
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024 * 1024;
    this.maxFileAgeMs = opts.maxFileAgeMs ?? 3_600_000;
    this.flushBytes = opts.flushBytes ?? 1024 * 1024;
    this.maxStoredBytes = opts.maxBlockBytes ?? MAX_BLOCK_BYTES;
    this.maxPayloadBytes = this.maxStoredBytes - Math.ceil(this.maxStoredBytes / 64);
    this.maxBlockRecords = Math.floor(((opts.maxBlockValues ?? MAX_BLOCK_VALUES) - 1) / 7);
    this.codec = codecOf(opts.compression ?? "none");
    this.fileHeaderBytes = fileHeader(this.codec);
    this.headRead = new Uint8Array(this.fileHeaderBytes.byteLength);
    this.now = opts.now ?? Date.now;
    this.monoNow = opts.monoNow ?? monoMs;
    this.startWallMs = this.now();
    this.startMonoMs = this.monoNow();
    mkdirSync(opts.dir, { recursive: true });
    const dirStat = statSync(opts.dir);
    this.dirMode = dirStat.mode & 0o7777;
    this.dirDev = dirStat.dev;
    this.index = new CaptureIndex(opts.dir, this.prefix, this.monoNow, this.retains()); // no retention: names only
    this.retain(); // files left by earlier runs count from the start
    this.timer = setInterval(() => this.tick(), opts.flushIntervalMs ?? 200);
    this.timer.unref?.();
  }

  write(tsRecvUs: number, venue: string, market: string, connection: string, frame: string | Uint8Array): void {
    if (this.closed) return this.late();
    // ns exceed 2^53, so they travel as an int64 (BigInt); recording is off the book's hot path. Per record: two
    // BigInts and the array, 3 cells (docs/performance.md §19, "Outside our code, or left as is").
    if (this.pending.length === 0) this.pendingFirstUs = tsRecvUs;
    this.pendingLastUs = tsRecvUs;
    this.pending.push([BigInt(tsRecvUs) * 1000n, venue, market, connection, frame]);
    this.pendingBytes += typeof frame === "string" ? frame.length : frame.byteLength;
    this.records++;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  /** A REST response a book depends on (its body), so replay can feed it back where the live run read it. */
  writeRest(tsRecvUs: number, venue: string, market: string, connection: string, url: string, body: string): void {
    if (this.closed) return this.late();
    if (this.pending.length === 0) this.pendingFirstUs = tsRecvUs;
    this.pendingLastUs = tsRecvUs;
    this.pending.push([BigInt(tsRecvUs) * 1000n, venue, market, connection, body, url]);
    this.pendingBytes += body.length;
    this.records++;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  /**
   * Writes the buffered records as one block (no-op when nothing is buffered); as two when an age rotation is due and
   * its boundary falls among them (recordUsAtMonoMs): the part received before it into the old file.
   */
  flush(): void {
    if (this.pending.length === 0) return;
    let records = this.pending;
    let firstUs = this.pendingFirstUs;
    const lastUs = this.pendingLastUs;
    this.pending = [];
    this.pendingBytes = 0;
    // Decided once, before compressing: read again after it (milliseconds for a large block), a boundary crossed
    // meanwhile sent a block flushed just before it, all of the old interval's records, whole to the new file.
    const dueByAge = this.fd >= 0 && this.monoNow() >= this.fileDueMonoMs;
    const boundaryUs = dueByAge ? this.dueBoundaryUs() : undefined;
    if (boundaryUs !== undefined && firstUs < boundaryUs) {
      // In the order handled: the first record at or after the boundary begins the new file, so the old file's last
      // record is before the new file's first (a record of the same turn stamped before it goes along: holdRotation).
      const boundaryNs = BigInt(boundaryUs) * 1000n;
      const cut = records.findIndex((r) => (r as [bigint])[0] >= boundaryNs);
      const before = cut < 0 ? records : records.slice(0, cut);
      this.writeBlock(before, firstUs, cut < 0 ? lastUs : usOf(before.at(-1)), false, false);
      if (cut < 0) return; // all before it: the rotation comes with the next block
      records = records.slice(cut);
      firstUs = usOf(records[0]);
    }
    this.writeBlock(records, firstUs, lastUs, true, dueByAge);
  }

  /**
   * The open file's age boundary as a receive time (its age rotation due), when the records' timeline is known
   * (recordUsAtMonoMs); undefined otherwise, and when the file is due by size anyway.
   */
  private dueBoundaryUs(): number | undefined {
    const at = this.opts.recordUsAtMonoMs;
    if (at === undefined || this.fd < 0 || this.fileBytes >= this.maxFileBytes) return undefined;
    return at(this.fileDueMonoMs);
  }

  /**
   * `records` as one block: into the open file, or (`mayRotate`) a new one when the open one is due by size, or by age
   * (`dueByAge`, as flush found it).
   */
  private writeBlock(records: unknown[], firstUs: number, lastUs: number, mayRotate: boolean, dueByAge: boolean): void {
    try {
      this.writeBlockNow(records, firstUs, lastUs, mayRotate, dueByAge);
    } finally {
      // After the block (a head written for it says what came before it), written or lost alike: a record too large
      // as the ws:close written in its place, as readers see it (tooLarge).
      const head = this.opts.fileHead;
      const instead = this.closedInstead;
      this.closedInstead = undefined;
      if (head !== undefined) {
        for (const r of records) {
          const rec = (instead?.get(r) ?? r) as unknown[];
          if (rec.length === 6) head.observe(rec[1] as string, rec[2] as string, rec[3] as string, rec[5] as string, typeof rec[4] === "string" ? rec[4] : "");
        }
      }
    }
  }

  private writeBlockNow(records: unknown[], firstUs: number, lastUs: number, mayRotate: boolean, dueByAge: boolean): void {
    // A block no reader takes (more than MAX_BLOCK_BYTES or MAX_BLOCK_VALUES) is written as two, each checked again:
    // before, it was written whole and every reader stopped there, the rest of the file lost (a frame of 300 MB: a
    // venue's socket may take up to 1 GiB; or 1 MiB of 1-byte frames and empty connection events).
    let payload = records.length > this.maxBlockRecords ? undefined : this.packr.pack(records);
    let replaced = false; // the one record is the close said in place of a record too large (tooLarge): lost either way
    let stored = payload === undefined || payload.byteLength > this.maxPayloadBytes ? undefined : this.compressed(payload);
    if (stored === undefined || stored.byteLength > this.maxStoredBytes) {
      if (records.length > 1) {
        const half = Math.ceil(records.length / 2);
        const first = records.slice(0, half);
        const rest = records.slice(half);
        this.writeBlockNow(first, firstUs, usOf(first.at(-1)), mayRotate, dueByAge);
        this.writeBlockNow(rest, usOf(rest[0]), lastUs, false, false);
        return;
      }
      records = [this.tooLarge(records[0] as unknown[], payload?.byteLength ?? 0)];
      payload = this.packr.pack(records);
      stored = this.compressed(payload);
      replaced = true;
    }
    const rawBytes = payload!.byteLength;
    const header = new Uint8Array(BLOCK_HEADER_BYTES);
    const dv = new DataView(header.buffer);
    dv.setUint32(0, stored.byteLength, true);
    dv.setUint32(4, Bun.hash.crc32(stored), true);
    // Asked after compressing (milliseconds for a large block), so as near the write as can be.
    if (!this.ownsDirNow()) {
      this.lostRecords += records.length;
      return;
    }
    let head: PackedBlock | undefined;
    let lost: PackedBlock | undefined;
    let at: number;
    try {
      if (this.fd >= 0) this.checkOpenFile();
      const due = mayRotate && (this.fileBytes >= this.maxFileBytes || dueByAge);
      if (this.fd < 0 || (due && !this.holdRotation(firstUs))) this.rotate();
      // The head goes in with the file's first block or not at all: a block lost after it (a disk nearly full takes
      // the small head, refuses the block) is cut back with it (blockLost), and the next try's head says what the lost
      // block did. Before, the head stayed, saying what came before the lost block, and the file went on after it.
      if (this.headDue) head = this.packHead(firstUs);
      // Blocks lost since the last one written (a full disk): a mark of it goes in first, before a head (which says
      // what the lost blocks did), written with this block or not at all.
      lost = this.failedRecords > 0 || this.goneFile !== undefined ? this.packLost(firstUs) : undefined;
      // At the file's length so far (not the descriptor's offset, which a cut-back block leaves past it); a short
      // write (the disk filling) is continued, and the next write says why it stopped.
      at = this.fileBytes;
      if (lost !== undefined) {
        writeAllAt(this.fd, lost.header, at);
        writeAllAt(this.fd, lost.stored, at + BLOCK_HEADER_BYTES);
        at += BLOCK_HEADER_BYTES + lost.stored.byteLength;
      }
      if (head !== undefined) {
        writeAllAt(this.fd, head.header, at);
        writeAllAt(this.fd, head.stored, at + BLOCK_HEADER_BYTES);
        at += BLOCK_HEADER_BYTES + head.stored.byteLength;
      }
      writeAllAt(this.fd, header, at);
      writeAllAt(this.fd, stored, at + BLOCK_HEADER_BYTES);
      if (this.agesFiles) this.lastWriteMonoMs.set(this.files.at(-1)!, this.monoNow());
      this.lastWrittenUs = lastUs;
    } catch (err) {
      if (err instanceof DirNotOwned) this.lostRecords += records.length;
      else {
        if (this.failedRecords === 0) this.failedFromUs = firstUs;
        this.blockLost(records.length, err as Error);
      }
      return;
    }
    if (lost !== undefined) {
      this.counted(lost);
      this.goneFile = undefined;
    }
    if (this.headDue) {
      this.headDue = false;
      if (head !== undefined) this.counted(head);
    }
    this.fileBytes = at + BLOCK_HEADER_BYTES + stored.byteLength;
    this.writtenBytes += BLOCK_HEADER_BYTES + stored.byteLength;
    this.fileRawBytes += rawBytes;
    this.rawBytes += rawBytes;
    this.fileRecords += records.length;
    this.blocks++;
    if (replaced) this.lostRecords++;
    if (this.failedRecords > 0) {
      this.opts.log?.warn("capture blocks written again after write errors", { file: this.files.at(-1), lostRecords: this.failedRecords, writeErrors: this.failedBlocks });
      this.failedRecords = 0;
      this.failedBlocks = 0;
    }
    this.failing = false; // writing works again (stats().failing)
  }

  private compressed(payload: Uint8Array): Uint8Array {
    const t0 = Bun.nanoseconds();
    const stored = compressBlock(this.codec, payload, this.opts.compressionLevel);
    this.compressNs += Bun.nanoseconds() - t0;
    return stored;
  }

  /**
   * A record too large for any block a reader takes (a frame or REST answer of over 252 MiB): not recorded (counted in
   * lostRecords by the caller) and logged; in its place its connection's close (`ws:close`, why: the frame's size), so a replay of
   * the capture takes that connection's books out of LIVE where the record is missing, as for a live close, rather
   * than building on without it. The file head is told of that close (writeBlock), not of the record: a head says the
   * connections as the capture's records leave them (until s-rd3i it was not, and the next file's head said the
   * connection open, asked as before, where the capture had closed it).
   */
  private tooLarge(record: unknown[], payloadBytes: number): unknown[] {
    const [tsNs, venue, market, connection] = record as [bigint, string, string, string];
    const kind = record.length === 6 ? `REST answer (${String(record[5])})` : "frame";
    this.opts.log?.error("capture record larger than a capture block holds; not recorded, its connection closed in the capture", { venue, market, connection, kind, bytes: payloadBytes, maxBlockBytes: this.maxStoredBytes });
    const close = [tsNs, venue, market, connection, `capture: a ${kind} of ${payloadBytes} bytes was not recorded, larger than a capture block holds (${this.maxStoredBytes} bytes)`, "ws:close"];
    (this.closedInstead ??= new Map()).set(record, close);
    return close;
  }

  /**
   * The open file's head block (opts.fileHead), stamped with the first receive time of the block that follows it (so
   * the file still begins no earlier than the previous one ends); undefined when there is nothing to say (the first
   * file). Packed again for each try: one lost with its block says, at the next, what the lost block did.
   */
  private packHead(firstUs: number): PackedBlock | undefined {
    const events = this.opts.fileHead!.events();
    if (events.length === 0) return undefined;
    const tsNs = BigInt(firstUs) * 1000n;
    return this.packRecords(events.map((e) => [tsNs, e.venue, e.market, e.connection, e.body ?? "", e.url]));
  }

  /**
   * The mark of blocks lost since the last one written (CAPTURE_LOST_URL), stamped with the first receive time of the
   * block it goes in with: readers take their books out of LIVE there (replay, export --books), as at a cut file.
   */
  private packLost(firstUs: number): PackedBlock {
    const parts = this.failedRecords > 0 ? [`${this.failedRecords} records in ${this.failedBlocks} blocks not written: ${this.lastWriteError}`] : [];
    if (this.goneFile !== undefined) parts.push(this.goneFile);
    const why = parts.join("; ");
    return this.packRecords([[BigInt(firstUs) * 1000n, "", "", "", why, CAPTURE_LOST_URL]]);
  }

  private packRecords(records: unknown[][]): PackedBlock {
    const payload = this.packr.pack(records);
    const stored = compressBlock(this.codec, payload, this.opts.compressionLevel);
    const header = new Uint8Array(BLOCK_HEADER_BYTES);
    const dv = new DataView(header.buffer);
    dv.setUint32(0, stored.byteLength, true);
    dv.setUint32(4, Bun.hash.crc32(stored), true);
    return { header, stored, rawBytes: payload.byteLength, records: records.length };
  }

  /** A head written with its block: in the totals (fileBytes is the caller's, from where the block ended). */
  private counted(head: PackedBlock): void {
    const bytes = BLOCK_HEADER_BYTES + head.stored.byteLength;
    this.writtenBytes += bytes;
    this.fileRawBytes += head.rawBytes;
    this.rawBytes += head.rawBytes;
    this.fileRecords += head.records;
    this.fileOwnRecords += head.records;
    this.records += head.records; // the totals say what the files hold
    this.blocks++;
  }

  /**
   * Whether a due rotation waits for the next block: this one begins before the open file's last record. Records of
   * one event-loop turn are stamped out of order (frames with the turn's receipt time, core/clock.ts turnReceiptUs;
   * a connection event or REST response with the time it was handled, later), so a block flushed inside a turn
   * (flushBytes reached) can begin with a frame stamped before the event that ended the previous block. A new file
   * begun there would begin before the previous one ends, which replay reports as files given out of order
   * (ReplayResult.outOfOrder): a false report. So a writer's next file never begins before its previous file's last
   * record; the file grows by a block or a few beyond its rotation size or age (MAX_HELD_BLOCKS at most).
   */
  private holdRotation(firstUs: number): boolean {
    if (firstUs >= this.lastWrittenUs || this.heldBlocks >= MAX_HELD_BLOCKS) return false;
    this.heldBlocks++;
    return true;
  }

  /**
   * A block that could not be written (disk full, file system or directory gone): its records are lost, counted and
   * logged (rate-limited), and the pipeline goes on. What part of it reached the file is cut off, so the file ends
   * at its last whole block and the next block, once there is room, follows on in the same file (before, the part
   * stayed: readers stopped there and every later block of the file was unreadable). If it cannot be cut, or the
   * file may not grow (EFBIG), the file ends here and the next block opens a new one.
   */
  private blockLost(records: number, err: Error): void {
    this.lostRecords += records;
    this.writeErrors++;
    this.failedRecords += records;
    this.failedBlocks++;
    this.unloggedWriteErrors++;
    this.markFailing(err.message);
    const file = this.fd >= 0 ? this.files.at(-1) : this.opts.dir;
    const nowMs = performance.now();
    if (nowMs - this.lastWriteErrorLogMs >= WRITE_ERROR_LOG_MS) {
      this.opts.log?.error("capture block could not be written; its records are lost", { file, detail: err.message, count: this.unloggedWriteErrors, total: this.writeErrors });
      this.lastWriteErrorLogMs = nowMs;
      this.unloggedWriteErrors = 0;
    }
    if (this.fd < 0) return;
    try {
      ftruncateSync(this.fd, this.fileBytes);
    } catch {
      this.abandonFile();
      return;
    }
    // The file may grow no further (a file size limit, `ulimit -f`): it ends at its last block, the next opens a new one.
    if ((err as NodeJS.ErrnoException).code === "EFBIG") this.abandonFile();
  }

  /** stats().failing from now on (since the first lost block since the last written), with this error. */
  private markFailing(error: string): void {
    if (!this.failing) {
      this.failing = true;
      this.failingSinceMs = this.now();
      this.failingSinceMonoMs = this.monoNow();
    }
    this.lastWriteError = error;
  }

  /**
   * Whether the directory is still this writer's (ownsDir); once not, never again, and failing from then on (every
   * record is dropped: until 2026-12-07 /status said `ok` and /readyz warned of nothing while they were).
   */
  private ownsDirNow(): boolean {
    if (!this.fenced && this.opts.ownsDir !== undefined && !this.opts.ownsDir()) {
      this.fenced = true;
      this.markFailing("another recorder claimed the capture directory: nothing more is written there");
    }
    return !this.fenced;
  }

  /** Whether a retention policy is set (it reads the captures' sizes and mtimes). */
  private retains(): boolean {
    const policy = this.opts.retention;
    return policy !== undefined && (policy.keepMs !== undefined || policy.keepBytes !== undefined);
  }

  /** Applies the retention policy now (also done at every rotation and every minute); returns what it deleted. */
  retain(): Deletion[] {
    const policy = this.opts.retention;
    if (!policy || !this.retains() || !this.ownsDirNow()) return [];
    this.lastRetentionMonoMs = this.monoNow();
    const open = this.fd >= 0 ? this.files.at(-1) : undefined;
    let entries: CaptureEntry[];
    try {
      entries = this.index.entries();
      // Against every listing since the last pass, the rotation's too (it lists first when DIR changed: before, only a
      // listing made here pruned, so a cleaner taking each finished file left its last write behind, one a rotation).
      if (this.index.listings !== this.listingsPruned) this.forgetGone(entries);
      this.listingsPruned = this.index.listings;
      // The open file at its size now (it counts at least at its rotation size): past that by the last block, or a
      // few when its rotation waited (holdRotation), as a listing's stat would have said.
      if (open !== undefined) this.index.resized(open, this.fileBytes);
    } catch (err) {
      this.opts.log?.warn("capture retention could not list the directory", { dir: this.opts.dir, error: (err as Error).message });
      return [];
    }
    const gone: CaptureEntry[] = [];
    const done = applyRetention(entries, open, { ...policy, reserveBytes: this.maxFileBytes }, this.ageMs, gone, this.unlinkOwn);
    if (done.length > 0 || gone.length > 0) {
      this.index.removed([...done.filter((d) => !d.error).map((d) => d.file), ...gone.map((e) => e.path)]);
      for (const e of gone) this.lastWriteMonoMs.delete(e.path);
      if (gone.length > 0) this.index.invalidate(); // removed by someone else: what else changed is seen by listing again
    }
    for (const d of done) {
      this.deleted.push(d);
      trimToLatest(this.deleted, this.remember);
      if (!d.error) {
        this.deletedFiles++;
        this.deletedBytes += d.bytes;
      }
      if (!d.error) this.lastWriteMonoMs.delete(d.file);
      if (d.error) this.opts.log?.warn("capture file could not be deleted", { file: d.file, reason: d.reason, error: d.error });
      else this.opts.log?.info("capture file deleted", { file: d.file, bytes: d.bytes, reason: d.reason });
    }
    return done;
  }

  /** A retention deletion, as the writer's own change to the directory (capture-index.ts own). */
  private readonly unlinkOwn = (path: string): void => this.index.own(() => unlinkSync(path));

  /** Last writes of files no longer in the directory (deleted by someone else) are dropped: the map stays its size. */
  private forgetGone(entries: readonly CaptureEntry[]): void {
    if (this.lastWriteMonoMs.size === 0) return;
    const present = new Set(entries.map((e) => e.path));
    for (const path of this.lastWriteMonoMs.keys()) if (!present.has(path)) this.lastWriteMonoMs.delete(path);
  }

  stats(): CaptureWriterStats {
    return {
      records: this.records,
      blocks: this.blocks,
      rawBytes: this.rawBytes,
      writtenBytes: this.writtenBytes,
      compressNs: this.compressNs,
      files: this.filesOpened,
      lostRecords: this.lostRecords,
      writeErrors: this.writeErrors,
      deletedFiles: this.deletedFiles,
      deletedBytes: this.deletedBytes,
      file: this.fd >= 0 ? this.files.at(-1) : undefined,
      failing: !this.failing ? undefined : { sinceMs: this.failingSinceMs, forMs: Math.max(0, this.monoNow() - this.failingSinceMonoMs), lastError: this.lastWriteError },
    };
  }

  /** A record after close(): lost, counted (lateRecords). */
  private late(): void {
    this.lostRecords++;
    this.lateRecords++;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
    this.markLossAtClose();
    this.closeFile();
  }

  /**
   * A loss with no block after it to carry its mark (the disk still full at the stop, whose closes were in the last
   * block; the open file deleted or cut just before it): the mark is written alone, into the open file or a new one.
   * If even that cannot be written, the file is left one byte past its last whole block (a length change, which takes
   * no free space): readers take it as cut short there and resync the books before the next file. Until s-capclose
   * nothing said so, and a replay across this run and the next kept books LIVE over the loss and the downtime.
   */
  private markLossAtClose(): void {
    try {
      if (this.fd >= 0) this.checkOpenFile();
    } catch {
      // not looked at (fstat failed): the file is taken as it is
    }
    if (this.failedRecords === 0 && this.goneFile === undefined) return;
    const atUs = this.failedRecords > 0 ? this.failedFromUs : this.lastWrittenUs;
    const lost = this.packLost(Number.isFinite(atUs) ? atUs : 0);
    const lostRecords = this.failedRecords;
    // Tried once: a second close() opens no file for it.
    this.goneFile = undefined;
    this.failedRecords = 0;
    this.failedBlocks = 0;
    try {
      if (this.fd < 0) this.rotate(); // asks ownsDir; a new file for the mark of a file gone
      else if (!this.ownsDirNow()) return;
      writeAllAt(this.fd, lost.header, this.fileBytes);
      writeAllAt(this.fd, lost.stored, this.fileBytes + BLOCK_HEADER_BYTES);
    } catch (err) {
      if (!(err instanceof DirNotOwned)) this.cutShortAtClose(lostRecords, err as Error);
      return;
    }
    this.counted(lost);
    this.fileBytes += BLOCK_HEADER_BYTES + lost.stored.byteLength;
  }

  /**
   * The loss's mark could not be written: the last file is left one byte past its last whole block, read as cut short
   * there. With no file open (a rotation the full disk refused: no room for a new file's header) that is the last file
   * written, opened again if it still has the length written (not one deleted, cut or left with a part block); until
   * s-rd3g it was left whole and unmarked, and a replay across this run and the next kept the books LIVE over the loss.
   */
  private cutShortAtClose(lostRecords: number, err: Error): void {
    const file = this.files.at(-1);
    const open = this.fd >= 0;
    let fd = this.fd;
    try {
      if (!open) {
        if (file === undefined) throw new Error("no file written");
        fd = openSync(file, "r+");
        if (fstatSync(fd).size !== this.fileBytes) throw new Error(`its length is not the ${this.fileBytes} bytes written`);
      }
      ftruncateSync(fd, this.fileBytes); // a part of the mark written goes first
      ftruncateSync(fd, this.fileBytes + 1);
      this.fileBytes++;
      if (!open) this.index.resized(file!, this.fileBytes);
      this.opts.log?.warn("capture loss at the stop could not be marked; the file ends one byte past its last block, read as cut short there", { file, lostRecords, error: err.message });
    } catch (cut) {
      this.opts.log?.warn("capture loss at the stop could not be marked, nor the file cut short: a replay across this run and the next does not see it", { file, lostRecords, error: err.message, cutError: (cut as Error).message });
    } finally {
      if (!open && fd >= 0) {
        try {
          closeSync(fd);
        } catch {
          // released all the same
        }
      }
    }
  }

  /**
   * How long ago a file was last written, for keep-hours: this writer's own files by the monotonic clock; an earlier
   * run's by its mtime against the wall clock when this writer started, plus the monotonic time since. A wall clock
   * stepped while running changes neither (stepped forward, it made every finished file look old: all deleted).
   */
  private readonly ageMs = (e: CaptureEntry): number => {
    const mono = this.monoNow();
    const own = this.lastWriteMonoMs.get(e.path);
    if (own !== undefined) return mono - own;
    const age = (mtimeMs: number) => this.startWallMs - mtimeMs + (mono - this.startMonoMs);
    // Old by its mtime when listed: read again before it goes (the list is not re-read every pass; another writer in
    // the directory may have written it since). A stat per file about to be deleted, not per file.
    if (age(e.mtimeMs) > (this.opts.retention?.keepMs ?? Infinity)) {
      try {
        const st = statSync(e.path);
        e.mtimeMs = st.mtimeMs;
        e.bytes = st.size;
      } catch {
        // gone: the deletion finds that and says nothing
      }
    }
    return age(e.mtimeMs);
  };

  private tick(): void {
    this.flush();
    if (this.opts.retention && this.monoNow() - this.lastRetentionMonoMs >= RETENTION_CHECK_MS) this.retain();
  }

  /**
   * The open file deleted by someone else (`rm DIR/*.fcap` to make room, a cleanup job) or cut shorter than written
   * (logrotate's copytruncate): writing on into it would lose every block until the next rotation (a deleted file
   * also keeps its space taken; a cut one gets zeros where its header and blocks were: no reader reads it). It is
   * closed, which frees a deleted file's space, and the block goes to a new file. The header is read back too: a
   * cut between this check and the write leaves the length as written, and only the zeros at the start show it.
   */
  private checkOpenFile(): void {
    const st = fstatSync(this.fd);
    const head = st.nlink === 0 || st.size < this.fileBytes ? "intact" : this.headState();
    const why = st.nlink === 0 ? "deleted" : st.size < this.fileBytes || head === "zeros" || head === "other" ? "cut shorter" : undefined;
    if (why === undefined) return;
    // Cut between the last check and the last write: that block went after a hole of zeros where the header was, and
    // the file's length looked right. What was written past the cut goes, so the file is again what the cut left
    // (empty), which readers take; the block is lost with the file's other records.
    if (head === "zeros") {
      try {
        ftruncateSync(this.fd, 0);
      } catch {
        // left as it is: a reader refuses it by its header, naming it
      }
    }
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch {
      // released all the same; the file is given up either way (before, the error lost the block meant for the next file)
    }
    if (why === "deleted") this.lastWriteMonoMs.delete(this.files.at(-1)!);
    this.index.invalidate(); // gone or another size: listed again before retention counts it
    this.opts.log?.warn(`capture file was ${why} while being written; its records are gone, a new file is opened`, { file: this.files.at(-1), bytes: this.fileBytes, size: st.size, records: this.fileRecords - this.fileOwnRecords });
    // Some of its records may be in no file (a copy taken before the cut lacks those written after it): the next block
    // is marked, so a replay of the files in a row resyncs there.
    this.goneFile = `${basename(this.files.at(-1)!)} was ${why} while being written (${this.fileRecords - this.fileOwnRecords} records)`;
  }

  /**
   * Whether the open file still starts with the header written when it was opened. A cut (copytruncate) that came
   * after the length check and before the write leaves zeros there and the length as written: only this shows it.
   * "unread": the read failed (named once per file); the length check is all there is for that block.
   */
  private headState(): "intact" | "unread" | "zeros" | "other" {
    const head = this.headRead;
    let n: number;
    try {
      n = readSync(this.fd, head, 0, head.byteLength, 0);
    } catch (err) {
      // Not a failed write: the block is written all the same (the length check still holds). Before, the error went
      // up as the block's, before the rotation, so this block and every later one were lost and the file never
      // rotated. Said once per file.
      if (!this.headReadFailed) {
        this.headReadFailed = true;
        this.opts.log?.warn("capture file header could not be read back; a cut of the file between checks may go unseen", { file: this.files.at(-1), error: (err as Error).message });
      }
      return "unread";
    }
    if (n === head.byteLength && head.every((b, i) => b === this.fileHeaderBytes[i])) return "intact";
    return head.subarray(0, n).every((b) => b === 0) ? "zeros" : "other";
  }

  private abandonFile(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already unusable: nothing more to lose
    }
    this.fd = -1;
    this.index.invalidate(); // its size on disk is not known here
    this.opts.log?.warn("capture file ended early by a write error", { file: this.files.at(-1), bytes: this.fileBytes, records: this.fileRecords });
  }

  private closeFile(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.index.resized(this.files.at(-1)!, this.fileBytes);
    try {
      closeSync(fd);
    } catch (err) {
      // NFS reports a write it could not store at close (EIO, ENOSPC, EDQUOT). The descriptor is released all the
      // same: said, and not thrown (before, a rotation's close failing lost the block meant for the next file, and
      // the stop's threw past the `stopped` line).
      this.opts.log?.warn("capture file could not be closed; what the system had not yet stored of it may be lost", { file: this.files.at(-1), bytes: this.fileBytes, records: this.fileRecords, error: (err as Error).message });
      return;
    }
    this.opts.log?.info("capture file closed", {
      file: this.files.at(-1),
      bytes: this.fileBytes,
      records: this.fileRecords,
      ratio: this.fileRawBytes > 0 ? round3(this.fileBytes / this.fileRawBytes) : 1,
    });
  }

  /**
   * The highest file number among the directory's captures of this prefix (-1: none, or the directory unreadable).
   * A number above MAX_FILE_INDEX is no writer's (a foreign name): counted on from, n would leave the exact integers
   * (1e23 + 1 is 1e23: the same name again at every try, every block lost) or print as "1e+23" (a name retention does
   * not read); it is left out, with a warning naming it once.
   */
  private highestIndex(): number {
    let highest = -1;
    try {
      for (const e of this.index.entries()) {
        if (e.index <= MAX_FILE_INDEX) highest = Math.max(highest, e.index);
        else if (this.warnedForeign.size < 100 && !this.warnedForeign.has(e.name)) {
          this.warnedForeign.add(e.name);
          this.opts.log?.warn("capture file number too large for a writer's; not counted on from", { file: e.path, maxIndex: MAX_FILE_INDEX });
        }
      }
    } catch {
      // the directory gone or unreadable: opening the file fails next, and says why (or the directory is made again)
    }
    return highest;
  }

  /**
   * The directory was deleted under the writer (`rm -rf` by an operator or a cleaner): made again with the mode it had
   * when the writer started, and said (before, every later block was lost: ENOENT until a restart).
   */
  private recreateDir(): void {
    this.index.invalidate();
    // Only on the filesystem it was on: gone with it (a data disk unmounted under its mount point), it would be made
    // on the one below (the root filesystem, filled without anyone asking). Its parents are made too when on that one.
    let existing = dirname(this.opts.dir);
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
    if (statSync(existing).dev !== this.dirDev) {
      throw new Error(`capture directory ${this.opts.dir} is gone and ${existing} is on another filesystem than it was (unmounted?): not made again there`);
    }
    mkdirSync(dirname(this.opts.dir), { recursive: true });
    try {
      mkdirSync(this.opts.dir);
    } catch (err) {
      // Made by someone else since the open failed (the operator's own mkdir): theirs, mode and all (before, the
      // writer's recursive mkdir went through, it was chmod'ed to the start mode and said to be made by the writer).
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return;
      throw err;
    }
    chmodSync(this.opts.dir, this.dirMode); // mkdir's mode is cut by the umask
    this.opts.onDirRecreated?.();
    this.opts.log?.warn("capture directory was gone; made again", { dir: this.opts.dir, mode: `0${this.dirMode.toString(8)}` });
  }

  private rotate(): void {
    this.closeFile();
    // Read together: what follows (a listing of DIR, at most hourly, which with retention stats every capture: half a
    // second at 20,000 files) must not put the file's UTC boundary that much later on the monotonic clock.
    const wallMs = this.now();
    const wallMonoMs = this.monoNow();
    const stamp = new Date(wallMs).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "Z");
    this.fileIndex = Math.max(this.fileIndex, this.highestIndex() + 1);
    // Looked at again right before a file is made in DIR: the look before the block came before the listing above
    // (seconds at 100,000 files), long enough for another recorder to claim DIR.
    if (!this.ownsDirNow()) throw new DirNotOwned();
    let path = join(this.opts.dir, `${this.prefix}-${stamp}-${this.fileIndex++}${CAPTURE_EXTENSION}`);
    // Taken all the same (another writer in this directory): the next index.
    let recreated = false;
    for (let tries = 0; ; tries++) {
      try {
        this.fd = this.index.own(() => openSync(path, "wx+")); // read too: the header is read back before each block (checkOpenFile)
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" && !recreated) {
          recreated = true;
          this.recreateDir();
          // DIR made again (by this writer or someone else): whose it is now is looked at before a file goes in it.
          if (!this.ownsDirNow()) throw new DirNotOwned();
          continue;
        }
        if (code !== "EEXIST" || tries >= MAX_NAME_TRIES) throw err;
        path = join(this.opts.dir, `${this.prefix}-${stamp}-${this.fileIndex++}${CAPTURE_EXTENSION}`);
      }
    }
    const opened = this.fileIndex - 1;
    const header = this.fileHeaderBytes;
    try {
      writeAllAt(this.fd, header, 0);
    } catch (err) {
      // No room even for the header (a full disk): the empty file goes, or one would be left per block until there is room.
      // Its close failing too (NFS reports deferred write errors there) changes neither that nor the error reported:
      // before, the close's error went up with the descriptor still set, so the file stayed and the previous file
      // was said to have ended early.
      const fd = this.fd;
      this.fd = -1;
      try {
        closeSync(fd);
      } catch {
        // the descriptor is released all the same
      }
      // Created and deleted again, both the writer's own: no need to list the directory for it at every block.
      this.index.own(() => {
        try {
          unlinkSync(path);
        } catch {
          // gone already
        }
      });
      throw err;
    }
    this.fileBytes = header.byteLength;
    this.writtenBytes += header.byteLength;
    this.fileRawBytes = 0;
    this.fileRecords = 0;
    this.fileOwnRecords = 0;
    this.headReadFailed = false;
    this.fileOpenedMonoMs = this.monoNow();
    // Age rotation on UTC boundaries (hh:00 for an hour), so files of recorders on several hosts line up: the time
    // to the next multiple of the interval by the wall clock as read above, then counted on the monotonic clock from
    // the same moment (a wall clock stepped while the file is open neither rotates it at once nor holds it open for
    // the step's length). Counted from the opening, the cut came as much later as the open took.
    this.fileDueMonoMs = wallMonoMs + msToNextMultiple(wallMs, this.maxFileAgeMs);
    this.heldBlocks = 0;
    this.headDue = this.opts.fileHead !== undefined;
    if (this.agesFiles) this.lastWriteMonoMs.set(path, this.fileOpenedMonoMs);
    this.files.push(path);
    trimToLatest(this.files, this.remember);
    this.filesOpened++;
    this.index.added({ path, name: basename(path), bytes: header.byteLength, mtimeMs: wallMs, stamp, index: opened });
    this.opts.log?.info("capture file opened", { file: path, compression: codecName(this.codec) });
    this.retain();
  }
}

/**
 * Milliseconds from `wallMs` to the next multiple of `intervalMs` since the Unix epoch (UTC; a full interval when
 * `wallMs` is one). Every interval that divides a day has its multiples on the day's boundaries (00:00, 00:15, …).
 */
export function msToNextMultiple(wallMs: number, intervalMs: number): number {
  const into = ((wallMs % intervalMs) + intervalMs) % intervalMs;
  return intervalMs - into;
}

/** Whether a record's first field is a receive time a recorder writes: whole ns in [0, MAX_RECV_NS]. */
function isRecvNs(v: unknown): boolean {
  if (typeof v === "bigint") return v >= 0n && v <= MAX_RECV_NS;
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= Number.MAX_SAFE_INTEGER; // msgpackr gives small ones as numbers
}

/** A buffered record's receive time, µs (records hold it as ns, a bigint). */
function usOf(record: unknown): number {
  return Number((record as [bigint])[0] / 1000n);
}

/** Writes all of `bytes` at `position`, continuing a short write; throws what stopped it (ENOSPC, EIO). */
function writeAllAt(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.byteLength; ) {
    const n = writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
    if (n <= 0) throw new Error(`write returned ${n} at byte ${position + done}`);
    done += n;
  }
}

/** Drops the oldest entries once there are twice `keep` (amortized: a splice every `keep` pushes). */
function trimToLatest(list: unknown[], keep: number): void {
  if (list.length >= 2 * keep) list.splice(0, list.length - keep);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fileHeader(codec: CaptureCodec): Uint8Array {
  if (codec === CaptureCodec.NONE) return new TextEncoder().encode(CAPTURE_MAGIC);
  const h = new Uint8Array(COMPRESSED_HEADER_BYTES);
  h.set(new TextEncoder().encode(CAPTURE_MAGIC_COMPRESSED));
  h[CODEC_OFFSET] = codec;
  return h;
}

/**
 * The file's codec and where its first block starts, or a problem naming what is wrong with the header. A file that
 * ends inside a header (empty included: a recorder killed, or a disk full, as it opened the file) holds no records
 * and is no error: `cut` says so, as for a file cut inside a block.
 */
function parseHeader(bytes: Uint8Array): { codec: CaptureCodec; offset: number; cut?: string } | string {
  const magic = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.byteLength, CAPTURE_MAGIC.length)));
  if (bytes.byteLength < COMPRESSED_HEADER_BYTES && (CAPTURE_MAGIC.startsWith(magic) || CAPTURE_MAGIC_COMPRESSED.startsWith(magic)) && magic !== CAPTURE_MAGIC) {
    return { codec: CaptureCodec.NONE, offset: bytes.byteLength, cut: `capture header cut off after ${bytes.byteLength} bytes: no records (the recorder stopped as it opened the file)` };
  }
  if (magic === CAPTURE_MAGIC) return { codec: CaptureCodec.NONE, offset: CAPTURE_MAGIC.length };
  if (magic === CAPTURE_MAGIC_COMPRESSED) {
    const codec = bytes[CODEC_OFFSET]!;
    if (codec === CaptureCodec.NONE || codecName(codec) === undefined) return `unknown compression codec ${codec} in the capture header`;
    return { codec: codec as CaptureCodec, offset: COMPRESSED_HEADER_BYTES };
  }
  // A later format keeps the "FDRCAP" stem: that file is a capture this version cannot read, not a foreign file.
  if (bytes.byteLength >= CAPTURE_MAGIC.length && /^FDRCAP\d\d$/.test(magic)) {
    return `a capture in format ${magic}, which this feeder version does not read (it reads ${CAPTURE_MAGIC} and ${CAPTURE_MAGIC_COMPRESSED}): read it with the feeder version that wrote it, or a newer one`;
  }
  // A capture compressed whole for archiving (`gzip x.fcap`, `zstd x.fcap`): said so, with what to do.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return `a gzip file, not a feeder capture: decompress it first (gunzip -k), then give the capture it holds`;
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) return `a zstd file, not a feeder capture: decompress it first (zstd -d), then give the capture it holds`;
  return `not a feeder capture file (expected the header ${CAPTURE_MAGIC} or ${CAPTURE_MAGIC_COMPRESSED})`;
}

/**
 * Checks that `path` is a readable capture file by its header, without reading the rest: undefined when it is,
 * else a sentence naming the file and the problem (missing, a directory, not a capture, unknown codec).
 */
export function captureFileProblem(path: string): string | undefined {
  let fd = -1;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path}: not a file`;
    fd = openSync(path, "r");
    const head = new Uint8Array(COMPRESSED_HEADER_BYTES);
    const n = readSync(fd, head, 0, head.byteLength, 0);
    const h = parseHeader(head.subarray(0, n));
    return typeof h === "string" ? `${path}: ${h}` : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message}`;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export interface CaptureReadResult {
  records: CaptureRecord[];
  /** Why reading stopped before the end of the file, or undefined when the file was read completely. */
  truncated: string | undefined;
  /** Records of a kind this version does not read, skipped (CaptureReader.unknownRecords). */
  unknownRecords: number;
}

/** A capture that ended early: why, and (when it could be opened) where reading stopped and how much was left unread. */
export type TruncatedCapture = {
  file: string;
  why: string;
  /** Bytes of the file read and replayed: the damaged or cut-off block starts here. */
  atByte?: number;
  /** Bytes from there to the end of the file, not replayed. */
  bytesLeft?: number;
};

/** The truncation entry of a reader that stopped early, or undefined when it read its file to the end. */
export function truncationOf(file: string, reader: CaptureReader): TruncatedCapture | undefined {
  if (reader.truncated === undefined) return undefined;
  return { file, why: reader.truncated, atByte: reader.offset, bytesLeft: reader.byteLength - reader.offset };
}

/** Reads a whole capture; a truncated or corrupt tail is reported, never thrown, and everything before it is returned. */
export function readCapture(path: string): CaptureReadResult {
  const records: CaptureRecord[] = [];
  const reader = CaptureReader.open(path);
  for (let block = reader.nextBlock(); block !== undefined; block = reader.nextBlock()) for (const r of block) records.push(r);
  return { records, truncated: reader.truncated, unknownRecords: reader.unknownRecords };
}

/** Where a reader's bytes come from: a file read block by block, or bytes in memory. */
interface CaptureSource {
  readonly size: number;
  /** Up to `length` bytes from `position` (fewer only at the end of the source). */
  read(position: number, length: number): Uint8Array;
  close(): void;
}

function fileSource(path: string): CaptureSource {
  const fd = openSync(path, "r");
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    size,
    read(position, length) {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, position + got);
        if (n === 0) break;
        got += n;
      }
      return got === length ? buf : buf.subarray(0, got);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/**
 * Reads a capture one block at a time, so a caller holds one block's records rather than the whole file's: a
 * 256 MiB zstd file holds over 1 GB of frames. A reader from open() reads the file block by block (one block's
 * bytes in memory, whatever the file's size; a whole-file read fails beyond 4 GiB) and closes it at the end or on
 * close(). Throws only for a file that is not a capture.
 */
export class CaptureReader {
  /** Why reading stopped before the end of the file, once it has; undefined while reading and after a clean end. */
  truncated: string | undefined;
  /** Records of a shape this version does not read (another version's record kinds), skipped. */
  unknownRecords = 0;
  /** Where the first of them was, e.g. "record 3 of the block at byte 8". */
  firstUnknown: string | undefined;
  /**
   * Records of an unknown kind read since the last record returned: the next one is marked (unreadBefore); still
   * true at the end when they were the file's last (readers resync before the next file).
   */
  unreadAtEnd = false;
  /** Bytes of the file consumed so far (the start of the next block). */
  offset: number;
  /**
   * Captures read in this file so far: more than 1 when files were concatenated (`cat a.fcap b.fcap > c.fcap`),
   * each later one's header met where a block would begin. `captureAt` is the byte where the last one began.
   */
  captures = 1;
  captureAt = 0;
  /**
   * Damage read past (resync): a bad block followed, later in the file, by another capture's header whose first block
   * checks out (a crash-cut file joined with the next: `cat a.fcap b.fcap`). Where the bad block began, the bytes
   * skipped to that header, and why the block was bad; reading went on there (`captureAt`), its first record marked.
   */
  readonly resyncs: { atByte: number; bytesSkipped: number; why: string }[] = [];
  private codec: CaptureCodec;
  private readonly source: CaptureSource;
  private readonly unpackr = new Unpackr({ useRecords: false, int64AsType: "bigint" });
  private ended = false;
  /** The search after a bad block at `badAt`, `why`, while it goes on: `pos` is the next byte to search from. */
  private scan: { badAt: number; why: string; pos: number } | undefined;

  /**
   * `maxBlockBytes`: a block larger than this, stored or decompressed, ends the file; `maxBlockValues`: one of more
   * MessagePack values; `resyncChunkBytes`: bytes searched per step after a bad block (a test's smaller limits).
   */
  constructor(
    input: Uint8Array | CaptureSource,
    private readonly maxBlockBytes = MAX_BLOCK_BYTES,
    private readonly maxBlockValues = MAX_BLOCK_VALUES,
    private readonly resyncChunkBytes = RESYNC_CHUNK_BYTES,
  ) {
    this.source = input instanceof Uint8Array ? { size: input.byteLength, read: (p, n) => input.subarray(p, p + n), close: () => {} } : input;
    // A step steps on by its bytes less the magic's length plus one (the overlap): fewer than a magic's would not advance.
    if (!Number.isInteger(resyncChunkBytes) || resyncChunkBytes < CAPTURE_MAGIC.length) {
      this.source.close();
      throw new Error(`resyncChunkBytes ${resyncChunkBytes}: must be a whole number of at least ${CAPTURE_MAGIC.length} (a capture header's magic)`);
    }
    const header = parseHeader(this.source.read(0, Math.min(this.source.size, COMPRESSED_HEADER_BYTES)));
    if (typeof header === "string") {
      this.source.close();
      throw new Error(header);
    }
    this.codec = header.codec;
    this.offset = header.offset;
    if (header.cut !== undefined) this.end(header.cut);
  }

  static open(path: string): CaptureReader {
    return new CaptureReader(fileSource(path));
  }

  get byteLength(): number {
    return this.source.size;
  }

  /** Releases the file (done by itself at the end); further calls to nextBlock return undefined. */
  close(): void {
    this.ended = true;
    this.scan = undefined; // no longer searching: `scanning` says so
    this.source.close();
  }

  private end(why: string | undefined): undefined {
    this.truncated = why;
    this.close();
    return undefined;
  }

  /**
   * The source's bytes, or undefined once a read failed (the reader then ends, naming the error and `at`: the block's
   * byte, or where a scan after a bad block was reading).
   */
  private read(position: number, length: number, at = this.offset): Uint8Array | undefined {
    try {
      return this.source.read(position, length);
    } catch (err) {
      return this.end(`read failed at byte ${at}: ${(err as Error).message}`);
    }
  }

  /**
   * The next block's records in file order (empty when it held only unknown records, or for each step of the search
   * after a bad block: `scanning`), or undefined at the end. A damaged block with no capture header to resume at after
   * it (damaged) ends the file: `truncated` says why, and this and every later call return undefined.
   */
  nextBlock(): CaptureRecord[] | undefined {
    // A loop, not a call per concatenated header: a file of headers alone would recurse once each.
    for (;;) {
      const block = this.readBlock();
      if (block !== null) return block;
    }
  }

  /** nextBlock's one step: null when it read a concatenated capture's header (its first block comes next). */
  private readBlock(): CaptureRecord[] | undefined | null {
    const size = this.source.size;
    const off = this.offset;
    if (this.ended) return undefined;
    if (this.scan !== undefined) return this.scanStep();
    if (off >= size) return this.end(undefined);
    const stop = (why: string): undefined => this.end(why);
    if (off + BLOCK_HEADER_BYTES > size) return stop(`incomplete block header at byte ${off}`);
    // The size is the one at open: a file cut since (a recorder's cut of a half-written block, copytruncate) reads
    // short, and a read can fail (EIO). Either ends the file here, named, like a damaged block (a RangeError or the
    // error thrown out of replay/export ended them with a stack trace).
    const head = this.read(off, BLOCK_HEADER_BYTES);
    if (head === undefined) return undefined;
    if (head.byteLength < BLOCK_HEADER_BYTES) return stop(`file cut short while being read: block at byte ${off} (${head.byteLength} of its ${BLOCK_HEADER_BYTES} header bytes left)`);
    // Another capture's header where a block would begin: captures concatenated with `cat`. Read on in its codec,
    // as if its file came next (before, its "FDRC" was taken for a block length of 1.1 GB: "implausible block
    // length", the rest of the file lost). No block begins so: a length that large is refused above as implausible.
    if (head[0] === 0x46 && /^FDRCAP\d\d$/.test(new TextDecoder().decode(head))) return this.nextCapture(off) ? null : undefined;
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const length = dv.getUint32(0, true);
    const crc = dv.getUint32(4, true);
    if (length > this.maxBlockBytes) return this.damaged(off, `implausible block length ${length} at byte ${off}`);
    const start = off + BLOCK_HEADER_BYTES;
    if (start + length > size) return this.damaged(off, `incomplete block at byte ${off} (${size - start} of ${length} bytes)`);
    const stored = this.read(start, length);
    if (stored === undefined) return undefined;
    if (stored.byteLength < length) return stop(`file cut short while being read: block at byte ${off} (${stored.byteLength} of its ${length} bytes left)`);
    if (Bun.hash.crc32(stored) !== crc) return this.damaged(off, `checksum mismatch in block at byte ${off}`);
    let block: unknown;
    try {
      const payload = decompressBlock(this.codec, stored, this.maxBlockBytes);
      if (msgpackValueCount(payload, this.maxBlockValues) > this.maxBlockValues) return stop(`implausible block at byte ${off}: more than ${this.maxBlockValues} MessagePack values, the most a block holds`);
      block = this.unpackr.unpack(payload);
    } catch (err) {
      if (err instanceof BlockTooLargeError) return stop(`implausible block at byte ${off}: ${err.message}, the most a block holds`);
      return stop(`undecodable block at byte ${off}: ${(err as Error).message}`);
    }
    if (!Array.isArray(block)) return stop(`block at byte ${off} is not an array of records`);
    const records: CaptureRecord[] = [];
    for (const [i, r] of block.entries()) {
      if (!Array.isArray(r) || (r.length !== 5 && !(r.length === 6 && typeof r[5] === "string")) || !isRecvNs(r[0]) || typeof r[1] !== "string" || typeof r[2] !== "string" || typeof r[3] !== "string" || !(typeof r[4] === "string" || r[4] instanceof Uint8Array)) {
        // The block's checksum held, so this is what a writer wrote: a record kind of another (newer) version, not
        // damage. It is skipped and counted; the records after it are still read, the next one marked (unreadBefore).
        this.unknownRecords++;
        this.firstUnknown ??= `record ${i} of the block at byte ${off}`;
        this.unreadAtEnd = true;
        continue;
      }
      // msgpackr decodes bin as a Buffer view into the file; copy to a plain Uint8Array the caller owns.
      const frame = typeof r[4] === "string" ? r[4] : new Uint8Array(r[4]);
      const rec: CaptureRecord = { tsRecvUs: Number(BigInt(r[0]) / 1000n), venue: r[1], market: r[2], connection: r[3], frame };
      if (r.length === 6) rec.url = r[5] as string;
      if (this.unreadAtEnd) {
        rec.unreadBefore = true;
        this.unreadAtEnd = false;
      }
      records.push(rec);
    }
    this.offset = start + length;
    return records;
  }

  /**
   * A bad block at `off` (its checksum fails, or its length runs past the file or the bound): reading resumes at the
   * next capture header after it whose first block checks out, or ends there, `why`. Blocks carry no magic, so only a
   * capture's header is a place to resume: a length and CRC alone, searched for in up to 256 MiB of garbage, would
   * match by chance. The first record after the skip is marked (unreadBefore): books resync there. The search is done a
   * step at a time (scanStep), each an empty block to the caller, so a caller that yields per block (replay, export)
   * answers a stop signal or HTTP during a scan of gigabytes of garbage (until 2026-12-07 it ran to the file's end at once).
   */
  private damaged(off: number, why: string): [] | null | undefined {
    this.scan = { badAt: off, why, pos: off + 1 };
    return this.scanStep(); // the first step at once: a search that ends within it is seen as before, no empty block
  }

  /** Whether the reader is searching for a capture header after a bad block, and the byte it has searched up to. */
  get scanning(): boolean {
    return this.scan !== undefined;
  }

  get scanAt(): number {
    return this.scan?.pos ?? this.offset;
  }

  /**
   * One step of the search after a bad block: up to RESYNC_CHUNK_BYTES searched, ending early after a candidate whose
   * first block's CRC was computed (up to maxBlockBytes: no more per step than one block's read). [] while it goes on,
   * null once reading resumes at a capture, undefined once it ends (`truncated`: the bad block's why, or the read failure).
   */
  private scanStep(): [] | null | undefined {
    const s = this.scan!;
    const size = this.source.size;
    const stem = CAPTURE_MAGIC.length - 2; // "FDRCAP", then the format's two digits
    if (s.pos + CAPTURE_MAGIC.length > size) return this.end(s.why);
    const want = Math.min(this.resyncChunkBytes, size - s.pos);
    const chunk = this.read(s.pos, want, s.pos);
    if (chunk === undefined) return undefined;
    // A file cut since open reads short: the end, named (stepping on by a short chunk less the overlap went back and
    // forth at the cut for ever).
    if (chunk.byteLength < want) return this.end(`${s.why}; file cut short while being read: the search after it at byte ${s.pos} (${chunk.byteLength} of ${want} bytes left)`);
    for (let i = chunk.indexOf(0x46); i >= 0 && i + CAPTURE_MAGIC.length <= chunk.byteLength; i = chunk.indexOf(0x46, i + 1)) {
      let match = true;
      for (let k = 1; k < stem && match; k++) match = chunk[i + k] === CAPTURE_MAGIC.charCodeAt(k);
      if (!match) continue;
      const held = this.captureHolds(s.pos + i);
      if (held === true) {
        const at = s.pos + i;
        this.scan = undefined;
        this.resyncs.push({ atByte: s.badAt, bytesSkipped: at - s.badAt, why: s.why });
        this.unreadAtEnd = true;
        return this.nextCapture(at) ? null : undefined;
      }
      if (held === "crc") {
        s.pos += i + 1; // a block's CRC computed: the caller's turn before the next candidate
        return [];
      }
    }
    if (s.pos + chunk.byteLength >= size) return this.end(s.why);
    s.pos += chunk.byteLength - CAPTURE_MAGIC.length + 1; // a header across the chunk's end is met in the next
    return [];
  }

  /**
   * Whether a capture header this version reads begins at `at`, followed by the file's end or a block whose length is
   * in bounds and CRC holds: true, false, or "crc" when a block's CRC was computed and failed (the costly case).
   */
  private captureHolds(at: number): boolean | "crc" {
    const size = this.source.size;
    try {
      const header = parseHeader(this.source.read(at, Math.min(size - at, COMPRESSED_HEADER_BYTES)));
      if (typeof header === "string" || header.cut !== undefined) return false;
      const first = at + header.offset;
      if (first === size) return true; // a header alone: its recorder stopped before its first block
      if (first + BLOCK_HEADER_BYTES > size) return false;
      const head = this.source.read(first, BLOCK_HEADER_BYTES);
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const length = dv.getUint32(0, true);
      // The length is checked first: only a plausible one has its bytes read and checked.
      if (length > this.maxBlockBytes || first + BLOCK_HEADER_BYTES + length > size) return false;
      return Bun.hash.crc32(this.source.read(first + BLOCK_HEADER_BYTES, length)) === dv.getUint32(4, true) || "crc";
    } catch {
      return false; // a read failed: not taken; the next try (or the end) says so
    }
  }

  /**
   * A concatenated capture's header at `off`: its codec from here on and true, or false once reading ends there
   * (`truncated` says why).
   */
  private nextCapture(off: number): boolean {
    const bytes = this.read(off, Math.min(this.source.size - off, COMPRESSED_HEADER_BYTES));
    if (bytes === undefined) return false;
    const header = parseHeader(bytes);
    if (typeof header === "string") return this.end(`another capture begins at byte ${off} (files concatenated), but ${header}`) ?? false;
    // A header cut off: the concatenated file's recorder stopped as it opened it (no records), as for a whole file.
    if (header.cut !== undefined) return this.end(`another capture begins at byte ${off} (files concatenated): ${header.cut}`) ?? false;
    this.codec = header.codec;
    this.offset = off + header.offset;
    this.captures++;
    this.captureAt = off;
    return true;
  }
}
