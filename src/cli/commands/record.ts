/**
 * `feeder record`: runs the pipeline like `feeder run` and writes every raw frame received to capture files,
 * compressed per block, rotated by size and age, with retention and a periodic one-line progress log.
 * @module
 */
import { configNotes } from "../../config/notes.ts";
import { statSync } from "node:fs";
import { startRuntimeUnlessStopped, StoppedDuringStart, stopWithin, type Runtime } from "../../app/runtime.ts";
import { loadConfigFile, type ValidateOptions } from "../../config/load.ts";
import { monoStampUs, monoStampUsAtMonoMs, nowUs } from "../../core/clock.ts";
import { createLogger, type Logger } from "../../core/log.ts";
import { CaptureSocketHead } from "../../app/capture-sockets.ts";
import { CaptureWriter, type CaptureWriterStats } from "../../record/capture.ts";
import { COMPRESSION_NAMES, type CompressionName } from "../../record/codec.ts";
import { DirClaim, type ClaimCheck } from "../../record/dir-claim.ts";
import type { FeederConfig } from "../../config/types.ts";
import { loadForStart, startFailureExitCode, startFailureFields, UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { reloadOnHangup } from "../config-reload.ts";
import { holdRepeatedStops, STOP_DEADLINE_MS } from "../start-or-stop.ts";
import { byteSize, nonNegativeNumber, positiveNumber } from "./capture-args.ts";

const MIB = 1024 * 1024;
/** Files named in the `stopped` line (the last ones opened). */
const STOPPED_FILES_LISTED = 100;
/** The longest interval a timer holds (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often the recorder looks that its claim file is still DIR's (one stat): deleted, it is written again. */
const CLAIM_CHECK_MS = 1000;
/**
 * The shortest --max-file-minutes. Below it a file's cut comes within a few blocks (written every 200 ms): below
 * ~0.2 s every block opened a file of its own, each with its header, a name and a listing of DIR for its number.
 */
const MIN_FILE_MINUTES = 1;
/**
 * The smallest --max-file-mb: a file holds many 200 ms blocks. Until 2026-12-07 any size was taken: 0.0001 opened a
 * file (header, name, a listing of DIR) for every block. FEEDER_TEST_MIN_FILE_MB lowers it for tests only, which
 * rotate and delete files within seconds of a simulator's traffic.
 */
const MIN_FILE_MB = 1;
/**
 * The largest --max-file-mb (64 GiB, 256 times the default): 1e12 was taken and never rotated by size. A larger file
 * is one piece that --keep-bytes deletes whole (and reserves for the file open); fewer files come from
 * --max-file-minutes.
 */
const MAX_FILE_MB = 64 * 1024;
/** Recording runs in one process (workers: 1): the file is checked for that, at start and on SIGHUP. */
const RECORD_LOAD: ValidateOptions = { runWorkers: 1 };

export const recordCommand: CommandSpec = {
  name: "record",
  summary: "run the feeder and write every raw exchange frame to compressed, rotating capture files",
  help: [
    "Options:",
    "  -c, --config FILE          TOML configuration (required), as for `feeder run`",
    "  -o, --out DIR              directory for capture files (required)",
    "      --compress C           zstd (default) | gzip | none: each block compressed on its own",
    "      --max-file-mb N        rotate at this size on disk (default 256, at least 1, at most 65536; the environment",
    "                             variable FEEDER_TEST_MIN_FILE_MB, for tests only, lowers that floor)",
    "      --max-file-minutes N   rotate at every UTC multiple of N minutes (default 60: at hh:00; at least 1;",
    "                             the first file is shorter), so recorders on several hosts cut their files alike;",
    "                             the block written across a boundary is split there by receive time",
    "      --keep-hours H         delete finished captures in DIR last written more than H hours ago",
    "      --keep-bytes SIZE      delete the oldest finished captures while DIR's captures exceed SIZE",
    "                             (500M, 20G, …; at least twice --max-file-mb)",
    "      --progress-seconds N   one progress line every N seconds (default 60, at most 2147483; 0 = off)",
    "",
    "Books are published exactly as by `feeder run`. Every frame (book data, acks, pongs, errors) is stored with",
    "its receive time (ns), venue, market and connection, in MessagePack blocks with a CRC32 each, written every",
    "200 ms: a crash loses at most the last block, and a truncated file is readable up to the break. A block that",
    "cannot be written (a full disk) is lost, counted (lostRecords) and logged with the error; its file still ends",
    "at a whole block, and writing goes on in it once there is room. The open file deleted or cut short under the",
    "recorder (rm, logrotate's copytruncate) is warned about and writing goes on in a new file. Either way the next",
    "block written is preceded by a capture:lost record, where replay and book exports resync the books; with no",
    "block after the loss (the disk still full at the stop), the stop writes that record alone, or, if even that",
    "fails, leaves the last file one byte past its last whole block, which readers take as cut short there. DIR itself",
    "deleted (rm -rf) is made again with the mode it had at start, warned about each time (one made by",
    "someone else meanwhile is left as it is; gone with its filesystem, an unmounted disk, it is not made on",
    "the one below: blocks are lost with an error saying so). The REST",
    "depth snapshots books bridge to, and each connection's open and unplanned close, are stored too (replay",
    "uses them to reproduce the live run's resyncs and DISCONNECTED books), each subscribe or unsubscribe request",
    "written to a socket (ws:req: replay matches the venue's answer to it), an OKX resync's wait for its hourly",
    "request budget and its end (ws:wait, ws:waited), each closure of books the venue's listing no longer names",
    "as trading (ws:closed: replay, which asks no listing, halts them there) and each reopening of such books",
    "while their subscribe, or their closure's unsubscribe, was still out (ws:reopened: replay takes their",
    "frames from there, as live), and each connection's sockets across planned reconnects; every file after",
    "the first begins with each open connection's sockets (ws:state, or ws:overlap during a planned reconnect),",
    "each connection's books closed by their listing (ws:closedset) and each open connection's topics asked",
    "since its open (ws:asked), each OKX connection's resyncs waiting for the request budget (ws:waitset),",
    "and the books recorded unsubscribes and go-back resubscribes still hold (ws:unsubset, ws:back-heldset),",
    "so a file replayed alone starts from them.",
    "Files are DIR/feeder-<UTC start>-<n>.fcap; opening, closing (size, records, ratio) and every deletion by",
    "retention are logged. Retention counts files of earlier runs in DIR too, never the file being written.",
    "DIR is listed at start and then only when someone else changed it (its mtime moved) or hourly; the",
    "recorder keeps track of its own files, so a month of small files costs no listing per rotation.",
    "A rotation due inside an event-loop turn waits (16 blocks at most) for a block that does not begin before",
    "the file's last record, so a file never begins before the previous one ends (replay's outOfOrder).",
    "n counts on from the highest in DIR (one above 10^15 is foreign: warned about, not counted on from), so",
    "files sort by creation (retention deletes the oldest first) whatever",
    "the wall clock did. While recording, ages (the time to a file's UTC boundary, read from the wall clock as it",
    "opens; retention passes, --keep-hours) are measured on the",
    "monotonic clock: a wall clock stepped back or forward neither holds rotation and retention off nor makes",
    "them rotate or delete at once (earlier runs' files are aged by their mtime against the clock at start).",
    "A signal during start-up stops it there (no venue connection opened after it; a venue that connected",
    "already, its instruments resolved first while another venue's were still resolving, is halted and what it",
    "recorded by then is kept in the capture), exit 0. SIGINT/SIGTERM stops it as `feeder run`, the capture closed",
    "with its last block (its last records a `ws:close` per open connection, saying the recorder stopped: replay",
    "and export halt the books there, as live's stop) and `stopped` logged: exit 0 (1 when a part's stop failed, logged, or another recorder",
    "claimed DIR, below). A second SIGINT/SIGTERM during the stop (at most 1.5 s)",
    "is logged and ignored: the capture is closed with its last block (SIGKILL ends it at once, unclosed); a",
    "stop cut at 1.5 s records nothing a venue still delivers once the capture is closed.",
    "Each progress line and the summary logged on SIGINT/SIGTERM give records, frames/s, raw and written MB,",
    "the ratio and files opened and deleted. Flags are checked before the config is read (exit 2; so is a DIR",
    "that is a file).",
    "Recording runs in one process: the config's `workers` is ignored (with a warning), and what depends on it is",
    "checked for one process (its retransmission server on publish.retransmit.listen's own port, which no unicast",
    "receiver of the file may be; the symbols' share).",
    "As `run`: a venue that answers every configured symbol as not listed exits 2 (not restarted); a",
    "destination interface this host does not have (yet) exits 1 (restarted: the address may come up).",
    "It makes the start-up checks of `feeder run` (see `feeder run --help`), with DIR among the directories that",
    "must be writable (created if missing), and exits 1 before recording or publishing anything if one fails:",
    "a DIR that cannot be written (permissions, a read-only mount) is the host's state, not a bad flag, and",
    "deploy/systemd restarts the command until it is fixed.",
    "One recorder per DIR: the recorder claims DIR once the checks pass (a kernel lock, flock, on",
    "DIR/.feeder-record.lock, which holds its PID), and another recorder holding DIR (on this host, in any",
    "container) refuses the start (exit 1, naming DIR and that PID): two recorders in one DIR deleted each other's",
    "files. The lock goes with its process however it ends, so a claim file left by a recorder killed or crashed",
    "is taken over, with a warning. The claim goes when the recorder stops. The claim is looked at (a stat)",
    "before every block and retention pass and every second: deleted under the recorder, it is written again,",
    "with a warning; if another recorder claimed DIR meanwhile, this one writes, opens and deletes nothing more",
    "in DIR (its records from then on are lost), logs an error naming it and stops (exit 1). A claim whose PID",
    "cannot be written (a full disk) holds DIR by its lock all the same, with a warning, and is written at the",
    "first look that can.",
    "SIGHUP, as for `feeder run`, re-checks the config file and logs what a restart would change (another",
    "`workers`, or a change in [nats], is listed as ignored, not as a change; during the stop it is logged as",
    "ignored, the file not re-read); it stops nothing (once its code",
    "runs; one while the file is read is answered when it is loaded; one before that, while Bun loads the program,",
    "ends it, and deploy/systemd restarts it).",
  ].join("\n"),
  hangupChecksConfig: true,
  options: {
    config: { type: "string", short: "c" },
    out: { type: "string", short: "o" },
    compress: { type: "string" },
    "max-file-mb": { type: "string" },
    "max-file-minutes": { type: "string" },
    "keep-hours": { type: "string" },
    "keep-bytes": { type: "string" },
    "progress-seconds": { type: "string" },
  },
  async run(ctx) {
    const { path, out, compression, maxMb, maxMinutes, keepHours, keepBytes, progressMs } = recordSettings(ctx.values);
    notAFile(out);
    // Checked as the one process it runs (its request server on retransmit.listen's own port), not the file's workers.
    const config = loadForStart(path, (p) => loadConfigFile(p, RECORD_LOAD), ctx.log);
    if (config === undefined) return 1;
    const log = createLogger({ level: config.log.level, format: config.log.format });
    for (const note of configNotes(config)) log.warn(`configuration: ${note}`);
    if (config.workers > 1) log.warn("record runs in one process; workers setting ignored", { workers: config.workers });
    const endReload = reloadOnHangup(path, config, log, RECORD_LOAD, ctx.stopSignal);
    const endHold = holdRepeatedStops(ctx.stopSignal, log, "reload");
    try {
      return await recordWith(ctx, config, log, out, { compression, maxMb, maxMinutes, keepHours, keepBytes, progressMs });
    } finally {
      endReload();
      endHold();
    }
  },
};

/**
 * The feeder's raw taps writing to the capture (frames, connection events, REST answers). A record's time is the
 * stamp on the process's monotonic timeline (core/clock.ts monoStampUs): the published receive times follow a step of
 * the wall clock (nowUs), a capture does not, so `replay --pace recorded` and `export --every-ms` neither wait nor
 * write the step's length. detach(): nothing reaches the writer from then on; `feeder record` detaches them just
 * before it closes the capture, so no record can come after the close. Before 2026-12-06 a stop cut at its deadline left
 * the taps on a closed writer: what a venue still delivered (also while the process drained its output) was counted
 * in the writer's lateRecords after the `stopped` line had been written, so never shown.
 */
export function captureTaps(writer: () => Pick<CaptureWriter, "write" | "writeRest">) {
  let detached = false;
  return {
    onRawFrame: (venue: string, market: string, connection: string, frame: string, tsRecvUs: number) => {
      if (!detached) writer().write(monoStampUs(tsRecvUs), venue, market, connection, frame);
    },
    onRawRest: (venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number) => {
      if (!detached) writer().writeRest(monoStampUs(tsRecvUs), venue, market, connection, url, body);
    },
    detach: (): void => void (detached = true),
  };
}

/** The capture writer's ownsDir for `claim`: its check() (one stat), whose finding `checked` hears; false once lost. */
export function claimOwnsDir(claim: DirClaim, checked: (c: ClaimCheck) => void): () => boolean {
  return () => {
    const c = claim.check();
    checked(c);
    return c.state !== "lost";
  };
}

/** Starts the runtime with the capture writer and records until the stop signal. */
async function recordWith(ctx: CommandContext, config: FeederConfig, log: Logger, out: string, o: Omit<RecordSettings, "path" | "out">): Promise<number> {
  const { compression, maxMb, maxMinutes, keepHours, keepBytes, progressMs } = o;
  let writer: CaptureWriter | undefined;
  let claim: DirClaim | undefined;
  // Released at every exit: stopped, refused, or an uncaught error ending the process ('exit' runs synchronously).
  const release = () => claim?.release();
  process.on("exit", release);
  try {
    return await recordUntilStopped();
  } finally {
    release();
    process.off("exit", release);
  }

  async function recordUntilStopped(): Promise<number> {
    let runtime: Runtime;
    const taps = captureTaps(() => writer!);
    const head = new CaptureSocketHead();
    // The stop in the capture (since s-recstop), before the venues are told to stop: a `ws:close` per connection open
    // (its socket's close is planned and records nothing), which replay and export read as the stop (every book
    // HALTED / shutdown, as live publishes it), then the taps detached: live applies nothing the venues deliver from
    // the stop on, so a frame recorded after it would make a book LIVE in replay that live held halted. Before, the
    // capture ended with the books LIVE, and a next run's capture replayed after it kept them so across the time the
    // recorder was down.
    const recordStop = (): void => {
      if (writer !== undefined) {
        writer.flush(); // the head observes records as their block is written: now it knows every connection event
        const atUs = monoStampUs(nowUs());
        for (const e of head.stopCloses()) writer.writeRest(atUs, e.venue, e.market, e.connection, e.url, e.body ?? "");
      }
      taps.detach();
    };
    // The claim file deleted under the recorder is written again; if another recorder claimed DIR meanwhile, this
    // one stops (exit 1): two in one DIR delete each other's files, and the other holds the claim now.
    let claimLost: (holder: string) => void = () => {};
    const lost = new Promise<string>((resolve) => (claimLost = resolve));
    // A claim whose content could not be written (a full disk) holds DIR by its lock all the same; written each look.
    const unwritten = (error: string): void =>
      log.warn("capture directory claim file could not be written (its lock holds DIR all the same; tried again every second)", { dir: out, file: claim!.path, error });
    const checked = (c: ClaimCheck): void => {
      if (c.state === "renewed") {
        log.warn("capture directory claim file was gone; written again", { dir: out, file: claim!.path });
        if (c.unwritten !== undefined) unwritten(c.unwritten);
      } else if (c.state === "lost") claimLost(c.holder);
    };
    try {
      // Recording runs in one process; the capture directory is checked with the other start-up checks, and the
      // writer opens once they pass (before the first frame can arrive).
      runtime = await startRuntimeUnlessStopped({ ...config, workers: 1 }, log, ctx.stopSignal, STOP_DEADLINE_MS, {
        feederOptions: { onRawFrame: taps.onRawFrame, onRawRest: taps.onRawRest },
        writableDirs: [{ key: "--out", dir: out }],
        capture: () => writer?.stats(),
        beforePublishing: () => {
          // One recorder per DIR (a second one's retention deleted the first's open file): refused, exit 1.
          claim = DirClaim.take(out, (holder, why) => log.warn("capture directory claim of a recorder no longer running taken over", { dir: out, holder, why }));
          if (claim.unwritten !== undefined) unwritten(claim.unwritten);
          writer = new CaptureWriter({
            dir: out,
            prefix: "feeder",
            compression,
            maxFileBytes: maxMb * MIB,
            maxFileAgeMs: maxMinutes * 60_000,
            retention: { keepMs: keepHours === undefined ? undefined : keepHours * 3_600_000, keepBytes },
            log: log.child({ part: "capture" }),
            // Records are stamped monoStampUs, rotation is timed on monoMs: a block across a file's UTC boundary is
            // split there (before, it went to the new file whole, with up to 200 ms from before its boundary).
            recordUsAtMonoMs: monoStampUsAtMonoMs,
            // Every file after the first begins with each open connection's sockets (ws:state / ws:overlap).
            fileHead: head,
            onDirRecreated: () => claim && checked(claim.renew()),
            // The claim looked at before every block and retention pass too (one stat), not only every second: once
            // another recorder has claimed DIR (this one's claim file deleted), nothing more goes into DIR. Before,
            // blocks, new files and retention deletions went on for up to a second, and through the stop after it.
            ownsDir: claimOwnsDir(claim, checked),
          });
        },
      });
    } catch (err) {
      recordStop(); // a venue the stop during start-up left open writes nothing after the close
      writer?.close();
      if (err instanceof StoppedDuringStart) {
        log.info("stopped during start-up", { signal: await ctx.stopSignal });
        return err.stopFailed.length > 0 ? 1 : 0;
      }
      log.error("feeder could not start", startFailureFields(err, typeof ctx.values.config === "string" ? ctx.values.config : undefined));
      return startFailureExitCode(err);
    }
    log.info("recording", { dir: out, compression, keepHours, keepBytes });
    const startedMs = performance.now();
    const progress = progressMs > 0 ? startProgress(writer!, log, progressMs) : undefined;
    const claimTimer = setInterval(() => checked(claim!.check()), CLAIM_CHECK_MS);
    claimTimer.unref?.();
    const end = await Promise.race([ctx.stopSignal.then((signal) => ({ signal, holder: undefined })), lost.then((holder) => ({ signal: undefined, holder }))]);
    clearInterval(claimTimer);
    if (end.holder !== undefined) {
      log.error("another recorder claimed the capture directory after this one's claim file was deleted: stopping (one recorder per DIR)", { dir: out, holder: end.holder });
    } else log.info("stopping", { signal: end.signal });
    if (progress) clearInterval(progress);
    recordStop();
    // A part whose stop throws is logged and the others stopped all the same (exit 1): the capture is closed and
    // the `stopped` line written whatever happened (before, a throwing stop lost the last block and left the file
    // unfinished).
    const stopFailed = await stopWithin(runtime, STOP_DEADLINE_MS, log);
    // Before the close, in its turn: a stop cut at the deadline may leave a venue delivering, whose frames would come
    // after the close and after the `stopped` line (counted in the writer's lateRecords, never shown): none can now.
    taps.detach();
    writer!.close();
    log.info("stopped", stoppedFields(writer!, performance.now() - startedMs));
    return end.holder === undefined && !stopFailed ? 0 : 1;
  }
}

export interface RecordSettings {
  path: string;
  out: string;
  compression: CompressionName;
  maxMb: number;
  maxMinutes: number;
  keepHours: number | undefined;
  keepBytes: number | undefined;
  progressMs: number;
}

/**
 * FEEDER_TEST_MIN_FILE_MB: the --max-file-mb floor for tests (named in --help and docs/operations.md). It only lowers
 * MIN_FILE_MB (a larger value raised it before, refusing sizes the help says are taken), and a bad value is named as
 * the environment variable it is.
 */
function testMinFileMb(env: Record<string, string | undefined>): number {
  const v = env.FEEDER_TEST_MIN_FILE_MB;
  if (v === undefined) return MIN_FILE_MB;
  const mb = Number(v);
  if (v.trim() === "" || !Number.isFinite(mb) || !(mb > 0)) throw new UsageError(`the environment variable FEEDER_TEST_MIN_FILE_MB (tests only) must be a positive number, got ${JSON.stringify(v)}`);
  return Math.min(mb, MIN_FILE_MB);
}

/** Every flag of `feeder record`, checked (a UsageError names the first bad one); nothing is opened or read. */
export function recordSettings(values: CommandContext["values"], env: Record<string, string | undefined> = process.env): RecordSettings {
  const path = values.config;
  const out = values.out;
  if (typeof path !== "string") throw new UsageError("--config FILE is required");
  if (typeof out !== "string") throw new UsageError("--out DIR is required");
  const compression = (values.compress ?? "zstd") as CompressionName;
  if (!COMPRESSION_NAMES.includes(compression)) throw new UsageError(`--compress must be one of ${COMPRESSION_NAMES.join(", ")}, got ${JSON.stringify(values.compress)}`);
  const maxMb = positiveNumber(values["max-file-mb"], "max-file-mb", 256);
  const minMb = testMinFileMb(env);
  if (maxMb < minMb) {
    throw new UsageError(`--max-file-mb must be at least ${minMb} (a file smaller than a few blocks, written every 200 ms, is a file per block), got ${JSON.stringify(values["max-file-mb"])}`);
  }
  if (maxMb > MAX_FILE_MB) throw new UsageError(`--max-file-mb must be at most ${MAX_FILE_MB} (64 GiB), got ${JSON.stringify(values["max-file-mb"])}`);
  const maxMinutes = positiveNumber(values["max-file-minutes"], "max-file-minutes", 60);
  if (maxMinutes < MIN_FILE_MINUTES) {
    throw new UsageError(`--max-file-minutes must be at least ${MIN_FILE_MINUTES} (files are cut on UTC multiples of it; blocks are written every 200 ms), got ${JSON.stringify(values["max-file-minutes"])}`);
  }
  const keepHours = values["keep-hours"] === undefined ? undefined : positiveNumber(values["keep-hours"], "keep-hours", 0);
  const keepBytes = byteSize(values["keep-bytes"], "keep-bytes");
  if (keepBytes !== undefined && keepBytes < 2 * maxMb * MIB) {
    throw new UsageError(`--keep-bytes ${values["keep-bytes"]} is less than twice --max-file-mb ${maxMb}: every rotation would delete all earlier files`);
  }
  const progressMs = nonNegativeNumber(values["progress-seconds"], "progress-seconds", 60) * 1000;
  // An interval beyond 2^31 - 1 ms fires every 1 ms: a progress line per millisecond, not one a month.
  if (progressMs > MAX_TIMER_MS) throw new UsageError(`--progress-seconds must be at most ${Math.floor(MAX_TIMER_MS / 1000)} (24.8 days; 0 = off), got ${JSON.stringify(values["progress-seconds"])}`);
  return { path, out, compression, maxMb, maxMinutes, keepHours, keepBytes, progressMs };
}

/**
 * A DIR that is a file (or under one) is a wrong argument: a usage error (exit 2) before the config is read.
 * Whether DIR can be created and written is a start-up check (preflight, exit 1): permissions, a read-only mount
 * or a missing `ReadWritePaths=` are the host's state, fixed without touching the command line, and the
 * systemd unit's restarts then start it on their own (exit 2 is never restarted).
 */
function notAFile(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") throw new UsageError(`--out ${dir}: not a directory`);
    return; // missing (created by the start-up check) or not reachable (the start-up check names why)
  }
  if (!isDir) throw new UsageError(`--out ${dir}: not a directory`);
}

/** Logs one line every `everyMs`: totals and the frame rate over the last interval. */
function startProgress(writer: CaptureWriter, log: Logger, everyMs: number): ReturnType<typeof setInterval> {
  let lastRecords = 0;
  let lastMs = performance.now();
  const startedMs = lastMs;
  const timer = setInterval(() => {
    const stats = writer.stats();
    const nowMs = performance.now();
    const rate = Math.round(((stats.records - lastRecords) * 1000) / (nowMs - lastMs));
    lastRecords = stats.records;
    lastMs = nowMs;
    log.info("recording progress", { framesPerSec: rate, ...summary(stats, nowMs - startedMs), file: stats.file });
  }, everyMs);
  timer.unref?.();
  return timer;
}

/**
 * The `stopped` line: the totals and the last STOPPED_FILES_LISTED files opened (filesNotListed: how many before
 * them). All of them made one line grow by a name an hour for as long as the recorder ran: past journald's
 * 48 KiB LineMax after about a month, where the journal splits it and the JSON no longer parses.
 */
export function stoppedFields(writer: CaptureWriter, elapsedMs: number): Record<string, unknown> {
  const files = writer.files.slice(-STOPPED_FILES_LISTED);
  const stats = writer.stats();
  return { ...summary(stats, elapsedMs), files, filesNotListed: stats.files - files.length };
}

function summary(s: CaptureWriterStats, elapsedMs: number): Record<string, number> {
  const mb = (b: number) => Math.round((b / MIB) * 100) / 100;
  return {
    records: s.records,
    seconds: Math.round(elapsedMs / 100) / 10,
    rawMB: mb(s.rawBytes),
    writtenMB: mb(s.writtenBytes),
    ratio: s.rawBytes > 0 ? Math.round((s.writtenBytes / s.rawBytes) * 1000) / 1000 : 1,
    compressMs: Math.round(s.compressNs / 1e5) / 10,
    lostRecords: s.lostRecords,
    filesOpened: s.files,
    filesDeleted: s.deletedFiles,
    deletedMB: mb(s.deletedBytes),
  };
}
