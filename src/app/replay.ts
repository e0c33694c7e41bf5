/**
 * Feeds capture files through a Feeder started with `replay: true`, as fast as possible or at the recorded pace,
 * reporting progress (frames, bytes of the files) as it goes.
 * @module
 */
import { statSync } from "node:fs";
import { CAPTURE_LOST_URL, CaptureReader, truncationOf, type TruncatedCapture } from "../record/capture.ts";
import { countSkipped } from "./skipped-by.ts";
import type { Feeder } from "./feeder.ts";
import { isTimeJump } from "./replay-clock.ts";
import { RunBoundaries, type UnstoppedRun } from "./run-boundary.ts";

export interface ReplayProgress {
  frames: number;
  /** Bytes of the capture files replayed so far (up to the end of the current block), and in all. */
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
  /** The file being replayed. */
  file: string;
}

export interface ReplayOptions {
  /** "fast": back to back; "recorded": the gaps between receive times, divided by `speed`. */
  pace: "fast" | "recorded";
  speed?: number;
  /** Stops early when it resolves (SIGINT). */
  stopSignal?: Promise<unknown>;
  /** Called about every `progressEveryMs` of wall time while replaying. */
  onProgress?: (p: ReplayProgress) => void;
  progressEveryMs?: number;
}

export interface ReplayResult {
  frames: number;
  ingested: number;
  /** Frames whose venue or market has no subscription in the configuration. */
  skipped: number;
  /** The same by "venue/market" as recorded (a capture of one venue replayed with another's config: all of it). */
  skippedBy: Record<string, number>;
  /** Per file, why reading stopped early (truncated or corrupt tail), if it did. */
  truncated: TruncatedCapture[];
  /**
   * Per file, damage read past (CaptureReader.resyncs): a bad block at `atByte` (a crash-cut capture joined with the
   * next, `cat a.fcap b.fcap`), `bytesSkipped` to the next capture's header, where reading resumed (`resumedAt`). The
   * records skipped are lost: the books leave LIVE there (Feeder.captureGap), and the next capture is judged as a file
   * of its own (outOfOrder, unstopped). For the file a stop came in: those read before it.
   */
  resynced: { file: string; atByte: number; bytesSkipped: number; why: string; resumedAt: number }[];
  /** All such skips: `resynced` lists the first MAX_TIME_JUMPS_LISTED. */
  resyncedTotal: number;
  /**
   * Files that begin before the previous file's last frame (given out of time order, or captures of two recorders):
   * replayed as given, in file order, so the frames are not in receive-time order there; each is a capture gap
   * (Feeder.captureGap: the books leave LIVE before its first record). `atByte`: a capture concatenated into the file
   * (`cat a.fcap b.fcap`) that begins there, judged as a file of its own.
   */
  outOfOrder: { file: string; startsUs: number; previousEndsUs: number; atByte?: number }[];
  /**
   * Per file, records of a kind this version does not read (a newer writer's), skipped: how many, the first's place.
   * For the file a stop came in: those read, to the end of the block being replayed.
   */
  unknownRecords: { file: string; count: number; first: string }[];
  /**
   * Receive times more than MAX_RECORD_STEP_US (1 h) from the previous record's, either way (a forged or damaged time,
   * a recorder that was not running), as export --books: each a damage point (the books leave LIVE at the previous
   * record, resyncing / sequence_gap; the clock and a recorded pace start again at the record). The first
   * MAX_TIME_JUMPS_LISTED; `timeJumpsTotal` counts all.
   */
  timeJumps: { file: string; atUs: number; previousUs: number }[];
  timeJumpsTotal: number;
  /**
   * Where a capture says the recorder lost blocks before it (a full disk: CAPTURE_LOST_URL), the first
   * MAX_TIME_JUMPS_LISTED: each a capture gap (Feeder.captureGap), the books leave LIVE there. `why`: the record's body.
   */
  lost: { file: string; atUs: number; why: string }[];
  /** All such marks, and the records they say were lost (a mark without a count, a file gone under it: none). */
  lostTotal: number;
  lostRecords: number;
  /**
   * Recorder runs that ended without their stop records (killed: a SIGKILL, a crash, a power loss) where a new run's
   * file follows (run-boundary.ts): each a capture gap before the new run's first record, as live's books went away
   * with the process, the first MAX_TIME_JUMPS_LISTED. A clean stop's run is closed by its stop records already: not
   * listed, no gap. Only for a recorder that records its sockets (since 2026-12-06): an older one's kill is not seen.
   */
  unstopped: UnstoppedRun[];
  stoppedEarly: boolean;
  elapsedMs: number;
}

/** Frames between yields to the event loop in fast mode, so timers and the HTTP server stay responsive. */
const YIELD_EVERY_FRAMES = 512;
/**
 * A recorded-pace wait is slept in parts of at most this (wall ms), the capture's clock moved on after each, so a
 * book that falls silent in a quiet stretch goes STALE about when it did live, not at the next record. (It also keeps
 * every timer far below 2^31 - 1 ms: one set beyond fires at once, and a quiet day at --speed 0.01 fed its frame then.)
 */
const RECORDED_TICK_MS = 250;
const MAX_TIME_JUMPS_LISTED = 100;

/** The result of a replay that fed nothing (yet). */
export function emptyReplayResult(): ReplayResult {
  return { frames: 0, ingested: 0, skipped: 0, skippedBy: {}, truncated: [], resynced: [], resyncedTotal: 0, outOfOrder: [], unknownRecords: [], timeJumps: [], timeJumpsTotal: 0, lost: [], lostTotal: 0, lostRecords: 0, unstopped: [], stoppedEarly: false, elapsedMs: 0 };
}

export async function replayCaptures(feeder: Feeder, files: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
  const result = emptyReplayResult();
  let stop = false;
  // A recorded-pace wait ends early on the stop signal: a capture can hold a quiet hour (or a clock step) between frames.
  let wake: (() => void) | undefined;
  opts.stopSignal?.then(() => {
    stop = true;
    wake?.();
  });
  // A signal that came before the replay began is seen before the first frame: its reaction, queued above, runs
  // first (before, a fast replay fed and published 511 frames before its first yield let it in).
  if (opts.stopSignal !== undefined) await null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  const speed = opts.speed ?? 1;
  const decoder = new TextDecoder();
  const startedMs = performance.now();
  // A file can go between the argument check and its turn (retention of a recorder writing the same directory):
  // it is reported under `truncated` and the others are replayed.
  const sizes = files.map((f) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  });
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  const everyMs = opts.progressEveryMs ?? 250;
  let nextProgressMs = startedMs + everyMs;
  let bytesBefore = 0;
  let firstRecUs = -1;
  /** The receive time of the last frame read, and whether the current file's first frame has been read. */
  let lastRecUs = -1;
  let lastRecFile = "";
  let fileStarted = false;
  const runs = new RunBoundaries();
  let firstWallMs = 0;
  // The file being read, until its totals are in the result: every way out of it (its end, a stop, an error) counts
  // them once (until 2026-12-07 a stop mid-file returned without its resynced and unknownRecords).
  let reading: { file: string; reader: CaptureReader } | undefined;
  try {
    for (const [fileIndex, file] of files.entries()) {
      // One block in memory at a time, read from the file as it goes: a capture file can hold gigabytes of frames.
      let reader: CaptureReader;
      try {
        reader = CaptureReader.open(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        result.truncated.push({ file, why: `could not be read: ${code ?? (err as Error).message}` });
        bytesBefore += sizes[fileIndex]!;
        // Its records are lost: the books leave LIVE before the next file (as below).
        if (fileIndex < files.length - 1) feeder.captureGap();
        runs.forget();
        continue;
      }
      reading = { file, reader };
      fileStarted = false;
      let captures = 1;
      for (let block = reader.nextBlock(); block !== undefined; block = reader.nextBlock()) {
        if (reader.scanning) {
          // A step of the search for the next capture after a bad block (≤ 1 MiB, or one block's CRC): a turn for a
          // signal and HTTP between steps, as a gigabyte of garbage is searched (until 2026-12-07 at once, unstoppable).
          if (opts.onProgress && performance.now() >= nextProgressMs) {
            nextProgressMs = performance.now() + everyMs;
            opts.onProgress({ frames: result.frames, bytesDone: bytesBefore + reader.scanAt, bytesTotal, elapsedMs: performance.now() - startedMs, file });
          }
          await new Promise((resolve) => setImmediate(resolve));
          if (stop) {
            result.stoppedEarly = true;
            return result;
          }
          continue;
        }
        // A capture concatenated into the file begins a file of its own for the order check.
        if (reader.captures !== captures) {
          captures = reader.captures;
          fileStarted = false;
        }
        for (const r of block) {
          let gapped = false; // the books just left LIVE for this record: once is enough
          if (!fileStarted) {
            fileStarted = true;
            // A new run after one killed (no stop records): live, its books went away with the process.
            const runCut = lastRecUs >= 0 && runs.cutBefore(r);
            if (runCut && result.unstopped.length < MAX_TIME_JUMPS_LISTED) result.unstopped.push(captures === 1 ? { file: lastRecFile, endsUs: lastRecUs, next: file } : { file: lastRecFile, endsUs: lastRecUs, next: file, atByte: reader.captureAt });
            const early = r.tsRecvUs < lastRecUs;
            if (early) result.outOfOrder.push(captures === 1 ? { file, startsUs: r.tsRecvUs, previousEndsUs: lastRecUs } : { file, startsUs: r.tsRecvUs, previousEndsUs: lastRecUs, atByte: reader.captureAt });
            // Not the previous file's continuation (files given out of order, or another recorder's): as after a
            // file that ended early, the books leave LIVE and what was matched by the capture's order starts over
            // (until s-rd5a only an hour or more back did so, as a time jump, below; export --books alike).
            if ((runCut || early) && !isTimeJump(lastRecUs, r.tsRecvUs)) {
              feeder.captureGap();
              runs.forget();
              gapped = true;
            }
          }
          if (stop) {
            result.stoppedEarly = true;
            return result;
          }
          // Records this version cannot read came before this one: they may have been frames (another version's kind).
          if (r.unreadBefore && !gapped) {
            feeder.captureGap();
            runs.forget();
          }
          if (isTimeJump(lastRecUs, r.tsRecvUs)) {
            if (result.timeJumps.length < MAX_TIME_JUMPS_LISTED) result.timeJumps.push({ file, atUs: r.tsRecvUs, previousUs: lastRecUs });
            result.timeJumpsTotal++;
            feeder.replayTimeJump(r.tsRecvUs);
            runs.forget();
            firstRecUs = -1; // a recorded pace starts again here: no wait for the time jumped over
          }
          lastRecUs = r.tsRecvUs;
          lastRecFile = file;
          if (opts.pace === "recorded") {
            if (firstRecUs < 0) {
              firstRecUs = r.tsRecvUs;
              firstWallMs = performance.now();
            }
            const dueMs = firstWallMs + (r.tsRecvUs - firstRecUs) / 1000 / speed;
            for (let waitMs = dueMs - performance.now(); waitMs > 1 && !stop; waitMs = dueMs - performance.now()) {
              await sleep(Math.min(waitMs, RECORDED_TICK_MS));
              if (stop) break;
              // The capture's time now, short of the record's (fed next): the housekeeping due by then runs.
              feeder.replayClockAt(Math.min(r.tsRecvUs, firstRecUs + (performance.now() - firstWallMs) * 1000 * speed));
            }
            if (stop) {
              result.stoppedEarly = true;
              return result;
            }
          } else if ((result.frames + 1) % YIELD_EVERY_FRAMES === 0) {
            await new Promise((resolve) => setImmediate(resolve));
            // The yield is where a signal gets in: the frame after it is not fed (before, it was, and published).
            if (stop) {
              result.stoppedEarly = true;
              return result;
            }
          }
          if (r.url === CAPTURE_LOST_URL) {
            // Records the recorder lost (a full disk, its file deleted) are missing here: the books leave LIVE, as at a cut file.
            const why = typeof r.frame === "string" ? r.frame : "";
            if (result.lost.length < MAX_TIME_JUMPS_LISTED) result.lost.push({ file, atUs: r.tsRecvUs, why });
            // Counted apart from the bounded list: summed from it, --strict's lostRecords stopped at the first 100 marks.
            result.lostTotal++;
            result.lostRecords += Number(/^(\d+) records in /.exec(why)?.[1] ?? 0); // the writer's "N records in M blocks not written: why"
            feeder.captureGap();
            runs.forget();
            continue;
          }
          if (r.url !== undefined) runs.observe(r);
          result.frames++;
          const frame = typeof r.frame === "string" ? r.frame : decoder.decode(r.frame);
          const ok = r.url !== undefined ? feeder.ingestRest(r.venue, r.market, r.connection, r.url, frame, r.tsRecvUs) : feeder.ingest(r.venue, r.market, r.connection, frame, r.tsRecvUs);
          if (ok) result.ingested++;
          else {
            result.skipped++;
            countSkipped(result.skippedBy, r.venue, r.market);
          }
          if (opts.onProgress && performance.now() >= nextProgressMs) {
            nextProgressMs = performance.now() + everyMs;
            opts.onProgress({ frames: result.frames, bytesDone: bytesBefore + reader.offset, bytesTotal, elapsedMs: performance.now() - startedMs, file });
          }
        }
      }
      reading = undefined;
      const cut = countFileTotals(result, file, reader);
      if (cut) {
        // The records after the damage are lost, and whatever they held (changes, a reconnect and its snapshot) the
        // next file's frames need not show: its books leave LIVE before it. A header cut off lost nothing.
        if (cut.bytesLeft! > 0) {
          if (fileIndex < files.length - 1) feeder.captureGap();
          runs.forget();
        }
      } else if (reader.unreadAtEnd) {
        if (fileIndex < files.length - 1) feeder.captureGap(); // its last records unread
        runs.forget();
      }
      bytesBefore += sizes[fileIndex]!;
    }
    return result;
  } finally {
    if (reading !== undefined) {
      reading.reader.close();
      countFileTotals(result, reading.file, reading.reader);
    }
    result.elapsedMs = performance.now() - startedMs;
  }
}

/**
 * Adds what `reader` met in `file` to the result (damage read past, a cut tail, records of an unknown kind): all of
 * the file at its end; read so far (to the end of the block being replayed) when the replay stopped in it. The cut.
 */
function countFileTotals(result: ReplayResult, file: string, reader: CaptureReader): TruncatedCapture | undefined {
  for (const s of reader.resyncs) {
    if (result.resynced.length < MAX_TIME_JUMPS_LISTED) result.resynced.push({ file, ...s, resumedAt: s.atByte + s.bytesSkipped });
    result.resyncedTotal++;
  }
  const cut = truncationOf(file, reader);
  if (cut) result.truncated.push(cut);
  if (reader.unknownRecords > 0) result.unknownRecords.push({ file, count: reader.unknownRecords, first: reader.firstUnknown! });
  return cut;
}

/** One progress line: frames, rate, share of the bytes and the time left at the rate so far. */
export function formatReplayProgress(p: ReplayProgress): string {
  const rate = p.elapsedMs > 0 ? (p.frames * 1000) / p.elapsedMs : 0;
  const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 1;
  const etaMs = share > 0 ? (p.elapsedMs * (1 - share)) / share : NaN;
  return `replay: ${p.frames.toLocaleString("en-US")} frames  ${Math.round(rate).toLocaleString("en-US")}/s  ${(share * 100).toFixed(1)}%  ETA ${formatDuration(etaMs)}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
