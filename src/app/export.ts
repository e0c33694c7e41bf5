/**
 * `feeder export`: capture files → JSON lines or CSV for research tools. Raw frames as captured (receive time,
 * venue, market, connection, topic, the frame text byte for byte), or with `books` the reconstructed top-N
 * books over time (export-books.ts), after every change or on a grid of recorded time.
 * @module
 */
import { redactUrl } from "../core/redact-url.ts";
import { jsonForTerminal } from "../core/terminal-text.ts";
import { CONNECTION_OPENED_URL, SOCKET_REQUEST_URL_PREFIX } from "../venues/venue.ts";
import { venueSpec } from "../venues/registry.ts";
import { TOPIC_FIELD } from "../venues/common/raw-topic.ts";
import type { Logger } from "../core/log.ts";
import type { FeederConfig } from "../config/types.ts";
import { CAPTURE_LOST_URL, CaptureReader, truncationOf, type TruncatedCapture } from "../record/capture.ts";
import { countSkipped } from "./skipped-by.ts";
import { BookReconstructor, type ExportFormat } from "./export-books.ts";
import { csvField } from "./csv-field.ts";
import { isTimeJump, MAX_RECORD_STEP_US } from "./replay-clock.ts";
import { RunBoundaries, type UnstoppedRun } from "./run-boundary.ts";

export interface ExportSink {
  write(chunk: string): unknown;
  /** Resolves when the written chunks have been handed on (back-pressure). */
  flush(): unknown;
}

export interface ExportOptions {
  format: ExportFormat;
  /** Reconstructed books instead of raw frames. */
  books?: {
    config: FeederConfig;
    /** Levels per side. */
    depth: number;
    /** 0: a row after every change of a book; else one row per book every `everyMs` of recorded time. */
    everyMs: number;
  };
  log: Logger;
  /** Stops after the current block when it resolves (SIGINT): the output so far is written and flushed. */
  stopSignal?: Promise<unknown>;
}

export interface ExportResult {
  frames: number;
  rows: number;
  /** Frames no configured venue/market takes (books only). */
  skipped: number;
  /** The same by "venue/market" as recorded. */
  skippedBy: Record<string, number>;
  truncated: TruncatedCapture[];
  /** Per file, damage read past to the next capture concatenated after it, as in replay (ReplayResult.resynced). */
  resynced: { file: string; atByte: number; bytesSkipped: number; why: string; resumedAt: number }[];
  /** All such skips: `resynced` lists the first MAX_TIME_JUMPS_LISTED. */
  resyncedTotal: number;
  /** Per file, records of a kind this version does not read (a newer writer's), skipped. */
  unknownRecords: { file: string; count: number; first: string }[];
  /**
   * Books only: receive times more than MAX_RECORD_STEP_US from the previous record's (a forged or damaged time, or
   * a recorder that was not running), each a damage point (the first MAX_TIME_JUMPS_LISTED; `timeJumpsTotal` counts all).
   */
  timeJumps: { file: string; atUs: number; previousUs: number }[];
  timeJumpsTotal: number;
  /**
   * Books only: files (or captures concatenated into one, `atByte` where it begins) that begin before the previous
   * record (given out of time order, or two recorders' captures), each a damage point as in replay (ReplayResult.outOfOrder).
   */
  outOfOrder: { file: string; startsUs: number; previousEndsUs: number; atByte?: number }[];
  /** With --books: where a capture says the recorder lost blocks before it (ReplayResult.lost), the books resync there. */
  lost: { file: string; atUs: number; why: string }[];
  /**
   * With --books: recorder runs that ended without their stop records (killed) where a new run's file follows, each a
   * damage point at the run's last record, as in replay (ReplayResult.unstopped: the first MAX_TIME_JUMPS_LISTED).
   */
  unstopped: UnstoppedRun[];
  stoppedEarly: boolean;
}

/** Damage points by receive time (replay-clock.ts; re-exported here where export's callers and tests read it). */
export { MAX_RECORD_STEP_US };
const MAX_TIME_JUMPS_LISTED = 100;

/** Chunks handed to the sink at about this size, so the output is not one write per row. */
export const CHUNK_CHARS = 256 * 1024;

export const RAW_CSV_HEADER = "ts_recv_us,venue,market,connection,topic,encoding,frame";

/**
 * A raw frame's topic: what its venue's descriptor reads from the frame's first 400 characters (VenueSpec.rawTopic), a
 * `"topic"` field for a venue this feeder does not know. Until 2026-12-07 every venue's was read from a `"topic"`
 * field: null for all but Bybit.
 */
function topicOf(venue: string, frame: string): string | null {
  return (venueSpec(venue)?.rawTopic ?? TOPIC_FIELD)(frame.length > 400 ? frame.slice(0, 400) : frame);
}

export async function exportCaptures(files: readonly string[], sink: ExportSink, opts: ExportOptions): Promise<ExportResult> {
  const result: ExportResult = { frames: 0, rows: 0, skipped: 0, skippedBy: {}, truncated: [], resynced: [], resyncedTotal: 0, unknownRecords: [], timeJumps: [], timeJumpsTotal: 0, outOfOrder: [], lost: [], unstopped: [], stoppedEarly: false };
  let stop = false;
  opts.stopSignal?.then(() => (stop = true));
  let buf: string[] = [];
  let bufChars = 0;
  const emit = (row: string) => {
    buf.push(row);
    bufChars += row.length + 1;
    result.rows++;
  };
  const drain = async (force: boolean) => {
    if (bufChars === 0 || (!force && bufChars < CHUNK_CHARS)) return;
    sink.write(buf.join("\n") + "\n");
    buf = [];
    bufChars = 0;
    await sink.flush();
  };

  /** A grid point's rows, handed on chunk by chunk as they are made (one grid point of many deep books is a lot). */
  const emitRowsAt = async (books: BookReconstructor, tsUs: number) => {
    for (const row of books.rowsAt(tsUs)) {
      emit(row);
      if (bufChars >= CHUNK_CHARS) await drain(false);
    }
  };
  const b = opts.books;
  // Whole µs (the command takes only those): 1.001 ms * 1000 is 1000.9999999999999, and a grid on that step put
  // rows at 1733011200700779.8 µs, none of them on a multiple of 1,001.
  const everyUs = b ? Math.round(b.everyMs * 1000) : 0;
  const books = b ? new BookReconstructor(b.config, b.depth, opts.format, everyUs > 0 ? null : emit, opts.log) : undefined;
  let nextSampleUs = -1;
  let lastUs = -1;
  let lastFile = "";
  const runs = new RunBoundaries();
  const decoder = new TextDecoder();
  /**
   * Records lost before the next file (one that ended early, or could not be read): the books leave LIVE at the last
   * record read, as in replay. Grid rows up to then are written first: they show the books before the loss.
   */
  const gap = async (fileIndex: number) => {
    if (!books || fileIndex === files.length - 1 || lastUs < 0) return;
    await damageAt(books);
  };
  const damageAt = async (books: BookReconstructor) => {
    for (; everyUs > 0 && nextSampleUs >= 0 && nextSampleUs <= lastUs && !stop; nextSampleUs += everyUs) {
      await emitRowsAt(books, nextSampleUs);
    }
    books.captureGap(lastUs);
    runs.forget(); // what was open is learnt again from the next records
  };
  // The file being read: closed on every way out, an error too (a failing sink left it open until 2026-12-07).
  let reading: CaptureReader | undefined;
  try {
    // A stop while a venue's instrument REST is asked ends the request at once: nothing read, nothing written. Its
    // adapters (and those of a start that failed) are stopped below.
    if (books && !(await books.start(opts.stopSignal))) {
      result.stoppedEarly = true;
      return result;
    }
    if (opts.format === "csv") sink.write((books ? books.header() : RAW_CSV_HEADER) + "\n");
    for (const [fileIndex, file] of files.entries()) {
      // One block in memory at a time, read from the file as it goes: a capture file can hold gigabytes of frames.
      // A file gone or changed since the argument check (a recorder's retention in that directory) is named under
      // `truncated` and the others are exported, as replay does (it threw: "export failed", the files after it unread).
      let reader: CaptureReader;
      try {
        reader = CaptureReader.open(file);
      } catch (err) {
        result.truncated.push({ file, why: `could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
        await gap(fileIndex);
        continue;
      }
      reading = reader;
      let fileStarted = false;
      let captures = 1;
      for (let block = reader.nextBlock(); block !== undefined; block = reader.nextBlock()) {
        // One event-loop turn per block (≤ 1 MiB of frames), so a signal can stop a long export.
        await new Promise((resolve) => setImmediate(resolve));
        if (stop) break;
        // A capture concatenated into the file begins a file of its own for the order check (as replay's).
        if (reader.captures !== captures) {
          captures = reader.captures;
          fileStarted = false;
        }
        for (const r of block) {
          if (r.url !== CAPTURE_LOST_URL) result.frames++; // a mark is no frame (as in replay); raw, it is a row
          if (!books) {
            emit(rawRow(opts.format, r.tsRecvUs, r.venue, r.market, r.connection, r.frame, r.url));
          } else {
            let gapped = false; // the books just left LIVE for this record: once is enough
            if (!fileStarted) {
              fileStarted = true;
              // Not the previous file's continuation: a damage point, as in replay (replay.ts; until s-rd5a neither
              // took one here unless an hour or more back, a time jump, below).
              const early = r.tsRecvUs < lastUs;
              if (early) result.outOfOrder.push(captures === 1 ? { file, startsUs: r.tsRecvUs, previousEndsUs: lastUs } : { file, startsUs: r.tsRecvUs, previousEndsUs: lastUs, atByte: reader.captureAt });
              // A new run after one killed (no stop records): live, its books went away with the process (replay.ts).
              const runCut = lastUs >= 0 && runs.cutBefore(r);
              if (runCut && result.unstopped.length < MAX_TIME_JUMPS_LISTED) result.unstopped.push(captures === 1 ? { file: lastFile, endsUs: lastUs, next: file } : { file: lastFile, endsUs: lastUs, next: file, atByte: reader.captureAt });
              if ((early || runCut) && !isTimeJump(lastUs, r.tsRecvUs)) {
                await damageAt(books);
                if (stop) break;
                gapped = true;
              }
            }
            // Records this version cannot read came before this one (another version's kind: they may have been
            // frames): the books leave LIVE at the previous record, as in replay.
            if (r.unreadBefore && lastUs >= 0 && !gapped) {
              await damageAt(books);
              if (stop) break;
            }
            // A receive time more than an hour away from the previous one: the books leave LIVE at the previous record
            // (grid rows up to it first), the grid and the adapters' clock start again at this one (MAX_RECORD_STEP_US:
            // no stale rounds for the time jumped over).
            if (isTimeJump(lastUs, r.tsRecvUs)) {
              if (result.timeJumps.length < MAX_TIME_JUMPS_LISTED) result.timeJumps.push({ file, atUs: r.tsRecvUs, previousUs: lastUs });
              result.timeJumpsTotal++;
              await damageAt(books);
              if (stop) break;
              books.rebaseClock(r.tsRecvUs);
              nextSampleUs = -1;
            }
            if (r.url === CAPTURE_LOST_URL) {
              // Records the recorder lost (a full disk, its file deleted) are missing before this one: as in replay, the books
              // leave LIVE at the last record read (grid rows up to it first), as at a file cut short.
              if (result.lost.length < MAX_TIME_JUMPS_LISTED) result.lost.push({ file, atUs: r.tsRecvUs, why: typeof r.frame === "string" ? r.frame : "" });
              if (lastUs >= 0) await damageAt(books);
              if (stop) break;
              // Its time is the next record's: the time-jump check above is not made again for that record.
              lastUs = r.tsRecvUs;
              lastFile = file;
              continue;
            }
            if (everyUs > 0) {
              // The first multiple of the step at or after the first frame, in integers (exact below 2^53).
              if (nextSampleUs < 0) nextSampleUs = r.tsRecvUs + ((everyUs - (r.tsRecvUs % everyUs)) % everyUs);
              // The book at grid time t is the one after every frame received at or before t. A quiet hour (or the
              // time between two files) is many grid rows: handed on chunk by chunk, not held until the next frame.
              for (; nextSampleUs < r.tsRecvUs && !stop; nextSampleUs += everyUs) {
                await emitRowsAt(books, nextSampleUs);
              }
            }
            const frame = typeof r.frame === "string" ? r.frame : decoder.decode(r.frame);
            // REST answers (depth snapshots) go to the adapter's bridge, as in replay.
            const ok = r.url !== undefined ? books.ingestRest(r.venue, r.market, r.connection, r.url, frame, r.tsRecvUs) : books.ingest(r.venue, r.market, r.connection, frame, r.tsRecvUs);
            if (!ok) {
              result.skipped++;
              countSkipped(result.skippedBy, r.venue, r.market);
            }
            if (r.url !== undefined) runs.observe(r);
            lastUs = r.tsRecvUs;
            lastFile = file;
          }
          if (bufChars >= CHUNK_CHARS) await drain(false);
        }
      }
      for (const s of reader.resyncs) {
        if (result.resynced.length < MAX_TIME_JUMPS_LISTED) result.resynced.push({ file, ...s, resumedAt: s.atByte + s.bytesSkipped });
        result.resyncedTotal++;
      }
      const cut = truncationOf(file, reader);
      if (cut) {
        result.truncated.push(cut);
        if (cut.bytesLeft! > 0 && !stop) await gap(fileIndex);
      } else if (reader.unreadAtEnd && !stop) await gap(fileIndex); // its last records unread
      if (reader.unknownRecords > 0) result.unknownRecords.push({ file, count: reader.unknownRecords, first: reader.firstUnknown! });
      if (stop) {
        result.stoppedEarly = true;
        break;
      }
    }
    if (books && everyUs > 0 && lastUs >= 0 && !result.stoppedEarly) {
      for (; nextSampleUs <= lastUs; nextSampleUs += everyUs) {
        await emitRowsAt(books, nextSampleUs);
      }
    }
    await drain(true);
  } finally {
    reading?.close();
    await books?.stop();
  }
  return result;
}

/**
 * One raw row. A REST answer a book depends on (`url` set: a depth snapshot) is not a WebSocket frame: jsonl gives
 * it `url` and no topic; csv marks it encoding `rest` with the URL in the topic column.
 */
function rawRow(format: ExportFormat, tsRecvUs: number, venue: string, market: string, connection: string, recordedFrame: string | Uint8Array, recordedUrl?: string): string {
  // A capture recorded before 2026-12-06 holds a rest_url's credentials in a REST record's URL and a ws_url's in the
  // ws:open record's body (the URL opened): exported without them, as the recorder now writes them.
  const url = recordedUrl === undefined || recordedUrl.startsWith(SOCKET_REQUEST_URL_PREFIX) ? recordedUrl : redactUrl(recordedUrl); // a request's record is no URL
  const frame = recordedUrl === CONNECTION_OPENED_URL && typeof recordedFrame === "string" ? redactUrl(recordedFrame) : recordedFrame;
  const text = typeof frame === "string";
  const rest = url !== undefined;
  const topic = text && !rest ? topicOf(venue, frame) : null;
  const body = text ? frame : Buffer.from(frame).toString("base64");
  if (format === "jsonl") {
    // U+2028/U+2029 (and C1, format characters) that JSON.stringify leaves raw end a line for Python's splitlines and
    // many editors: written as \u escapes, the line stays one and `frame` parses back to the same text, byte for byte.
    if (rest) return jsonForTerminal(JSON.stringify({ tsRecvUs, venue, market, connection, topic, url, ...(text ? { frame: body } : { frameBase64: body }) }));
    return jsonForTerminal(JSON.stringify(text ? { tsRecvUs, venue, market, connection, topic, frame: body } : { tsRecvUs, venue, market, connection, topic, frameBase64: body }));
  }
  const encoding = rest ? "rest" : text ? "text" : "base64";
  return [tsRecvUs, csvField(venue), csvField(market), csvField(connection), csvField(rest ? url : (topic ?? "")), encoding, csvField(body)].join(",");
}
