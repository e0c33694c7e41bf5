/**
 * `feeder export`: capture files → JSON lines or CSV (raw frames, or reconstructed top-N books) for research
 * tools, on stdout or into a file.
 * @module
 */
import type { FileSink } from "bun";
import { exportCaptures, type ExportSink } from "../../app/export.ts";
import { chmodSync, closeSync, fstatSync, lstatSync, realpathSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { loadConfigFile } from "../../config/load.ts";
import { errorText } from "../../core/error-text.ts";
import type { Logger } from "../../core/log.ts";
import { whenPipeReaderGone } from "../../core/pipe-reader.ts";
import { renameDurablySync } from "../../core/durable-rename.ts";
import { createLockedFile, isTempTag, newTempTags, removeStaleTemps } from "../../core/stale-temps.ts";
import { signalExitCode, STOP_SIGNALS, UsageError, type CommandSpec } from "../command.ts";
import { instrumentCacheWritesEnded } from "./cache-writes.ts";
import { checkCaptureFiles, nonNegativeNumber, positiveInteger } from "./capture-args.ts";

const MAX_DEPTH = 1000;
/** The widest --every-ms: one week of recorded time. */
const MAX_EVERY_MS = 7 * 24 * 3600 * 1000;

export const exportCommand: CommandSpec = {
  name: "export",
  summary: "write capture files as JSON lines or CSV: raw frames, or reconstructed top-N books over time",
  help: [
    "Arguments: CAPTURE...  capture files (.fcap, compressed or not), read in the order given",
    "",
    "Options:",
    "      --format F      jsonl (default) | csv",
    "  -o, --out FILE      write here instead of stdout (- is stdout); written as FILE.tmp-<pid>-<random><check>",
    "                      beside it, stored on disk (fsync) and renamed over FILE once whole, the rename stored too",
    "                      (the directory's fsync: on Linux a power loss leaves the old or the new FILE, never an",
    "                      empty one; one that fails is warned about): a failed or interrupted export, or one whose",
    "                      file cannot be stored (exit 1), leaves FILE as it",
    "                      was; a FILE with another name (a hard link) exits 2. Such a file a killed export left",
    "                      (nobody holds its lock, unmodified for a minute) is removed by the next export to FILE;",
    "                      no other file is (its check, of FILE's name and the pid, would be wrong)",
    "      --books         reconstructed books instead of raw frames (needs --config)",
    "  -c, --config FILE   with --books: the venues, symbols and instruments (cache or overrides), as for replay;",
    "                      what only a publisher on this host needs is not checked (destinations' interfaces,",
    "                      publish.auth_key_file, retransmit.listen, workers, shard): the recorder's file does, on any host",
    "      --depth N       with --books: levels per side (default 10, at most 1000)",
    "      --every-ms T    with --books: one row per book every T ms of recorded time instead of one per change",
    "                      (whole microseconds: 0.001 at least, 604800000 = 7 days at most)",
    "",
    "Raw frames, one per row, in capture order:",
    "  jsonl {tsRecvUs, venue, market, connection, topic, frame}  (binary frames: frameBase64 instead of frame)",
    "  csv   ts_recv_us,venue,market,connection,topic,encoding,frame  (encoding text|base64|rest; RFC 4180 quoting)",
    "  topic is the book the frame names, as the venue's adapter names it (Bybit topic, Binance stream, OKX",
    "  channel:instId, also in its subscribe acks, Deribit channel, Coinbase product_id: the first event's in a",
    "  frame of several, Upbit/Bithumb code), null (empty) for a frame naming none (other venues' acks, pongs,",
    "  heartbeats); frame is the text as received.",
    "  A recorded REST answer a book depends on (a Binance or OKX depth snapshot) is a row too: jsonl adds its url",
    "  (topic null), csv has encoding rest and the url in the topic column; frame is its body. So is a recorded",
    "  connection event, its url ws:open (frame: the WebSocket URL), ws:close (frame: why) or a socket event",
    "  (ws:state, ws:overlap, ws:req [id, op, topics], …; frame empty).",
    "Books: every frame goes through the venue parser and sequencing of `feeder replay` into the book engine;",
    "a row is written after every message that changed a book or its state (ts_us = that frame's receive time;",
    "a book gone stale by its silence: the time it went so, its last message + stale_after_ms, not the next frame's;",
    "Upbit/Bithumb ask a quiet code again first: min(5 s, stale_after_ms / 2) later),",
    "or with --every-ms for every book that has had a snapshot at each multiple of T (the book after every record",
    "read before the first one stamped after ts_us, in file order: a frame handled after a connection event or",
    "REST answer in the same event-loop turn is stamped before it and lands in the next row; a book silent past its",
    "stale time by ts_us is stale there, as live's was). Prices and quantities are exact decimal strings.",
    "  csv   ts_us,ts_exchange_us,ts_event_us,venue,market,symbol,state,reason,venue_seq,",
    "        bid_px_1,bid_qty_1,…,bid_px_N,bid_qty_N,ask_px_1,ask_qty_1,…  (empty cells past the book's depth)",
    "  jsonl {tsUs, tsExchangeUs, tsEventUs, venue, market, symbol, state, reason, venueSeq, bids: [[px, qty]…], asks}",
    "  state is live, resyncing, stale, halted or awaiting_snapshot: rows of a book that is not live say so, carry",
    "  no levels (empty cells, [] in jsonl: the levels it kept are not known to be the venue's), and",
    "  reason says why, by the wire's status reason (sequence_gap, checksum_mismatch, disconnected, …; startup",
    "  before the first snapshot, snapshot_applied while live). ts_exchange_us and ts_event_us are the venue's",
    "  times of the last applied message (the wire's tsExchangeNs, tsEventNs); one the venue did not send (0 on",
    "  the wire: e.g. OKX's matching-engine time, a Binance spot REST snapshot's) is empty in csv, null in jsonl.",
    "A summary {frames, rows, skipped, skippedBy, truncated, resynced, resyncedTotal, unknownRecords, timeJumps, timeJumpsTotal, outOfOrder,",
    "lost, unstopped, stoppedEarly}",
    "is logged on stderr at",
    "the end (skippedBy: frames no configured venue/market takes, by venue/market, also a warning; records of a kind",
    "another version wrote are skipped and counted per file, with --books its books going resyncing /",
    "sequence_gap there (they may have been frames); a file that ends early, or is gone or no longer a",
    "capture when its turn comes, is named under truncated, and the other files are exported; with --books its",
    "live books go resyncing / sequence_gap there when another file follows: the records lost may hold anything).",
    "A bad block followed by another capture joined into the file (cat of a crash-cut file and the next) is read past",
    "to that capture's header (its first block's CRC must hold): named under resynced {file, atByte, bytesSkipped,",
    "why, resumedAt} (first 100; resyncedTotal counts all; also a warning); with --books the books go resyncing / sequence_gap there.",
    "With --books, a receive time more than an hour from the previous record's (either way: a damaged time, or a",
    "recorder that was not running) is such a point too, named under timeJumps (also a warning): the books go",
    "resyncing / sequence_gap at the previous record, and the --every-ms grid and the books' stale clock start",
    "again at the new time (no stale rounds for the time jumped over). So is, with --books, a file (or a capture",
    "concatenated into one) that begins before the previous record, as in replay: named under outOfOrder",
    "{file, startsUs, previousEndsUs, atByte?} (also a warning; files given out of time order, or two recorders').",
    "So is, with --books, a record saying the recorder could not write blocks before it (a full disk; url",
    "capture:lost, a raw row otherwise, venue empty): named under lost {file, atUs, why} (also a warning).",
    "So is, with --books, a recorder run that ended without its stop records (killed: a new run's file follows one",
    "that left a connection open), at its last record: named under unstopped {file, endsUs, next, atByte?} (first 100;",
    "a warning). Not detected in a capture whose recorder records no sockets (no ws:sockets: before 2026-12-06).",
    "SIGINT (SIGTERM,",
    "SIGHUP) stops it after the current block and exits 130 (143, 129: 128 + the signal's number): an --out FILE",
    "gets nothing (its temporary file removed, an existing FILE left as it was); standard output (and a FIFO or a",
    "device) keeps what was written so far, flushed: partial. A --books export still asking a venue's instrument REST",
    "ends that request at once. The same signal again, before it has ended, ends it at once, temporary file removed.",
    "Output closed by its reader (`| head`): the export stops there, quietly, exit 0, at once (an instrument cache",
    "write still waiting for another writer's lock is left unfinished). A capture that is missing, not a capture,",
    "or named twice (by any path: a link too; its rows were exported twice) exits 2 naming it. An --out that cannot be",
    "opened (no such directory, a directory) or that is one of the captures (also standard output: >> capture)",
    "exits 2 naming it, before anything is written; an output that fails while written (a full disk) is logged",
    "as \"export failed\" with the error, exit 1, its temporary file removed. A FILE that is a symlink to a",
    "file has the file replaced (the link kept); a FIFO or a",
    "device (/dev/null) is written in place (a FIFO no process reads exits 2 naming it). -c FILE may be a FIFO",
    "(-c <(render-config)): one no process opens to write within 1 s exits 2 naming it; SIGINT (SIGTERM, SIGHUP)",
    "while it is read, also from a slow writer, ends the export at once, 130 (143, 129).",
    "A --books export whose instrument REST answered what the instrument cache lacks merges it into the cache",
    "before it exits: while another writer holds the cache's lock it waits (at most 30 s, said on stderr after",
    "0.2 s); a stop signal ends that wait (the merge left unfinished, logged; the exit code as above).",
  ].join("\n"),
  options: {
    format: { type: "string" },
    out: { type: "string", short: "o" },
    books: { type: "boolean" },
    config: { type: "string", short: "c" },
    depth: { type: "string" },
    "every-ms": { type: "string" },
  },
  allowPositionals: true,
  positionalsUsage: "CAPTURE…",
  exitsBySignal: true,
  async run(ctx) {
    const format = ctx.values.format ?? "jsonl";
    if (format !== "jsonl" && format !== "csv") throw new UsageError(`--format must be jsonl or csv, got ${JSON.stringify(format)}`);
    const books = ctx.values.books === true;
    if (!books) {
      for (const flag of ["config", "depth", "every-ms"]) if (ctx.values[flag] !== undefined) throw new UsageError(`--${flag} only applies with --books`);
    }
    const configPath = ctx.values.config;
    if (books && typeof configPath !== "string") throw new UsageError("--books needs --config FILE (venues, symbols and instruments)");
    const depth = positiveInteger(ctx.values.depth, "depth", 10);
    if (depth > MAX_DEPTH) throw new UsageError(`--depth must be at most ${MAX_DEPTH}, got ${depth}`);
    const everyMs = nonNegativeNumber(ctx.values["every-ms"], "every-ms", 0);
    // Receive times are whole µs: a finer step (0.0001 ms) added to one (~1.7e15) leaves it as it was, and the
    // grid repeated one instant forever.
    if (everyMs > 0 && (everyMs < 0.001 || Math.abs(everyMs * 1000 - Math.round(everyMs * 1000)) > 1e-6)) {
      throw new UsageError(`--every-ms must be a whole number of microseconds (0.001 at least, 0 = off), got ${JSON.stringify(ctx.values["every-ms"])}`);
    }
    // A weekly grid is the widest a capture set asks for; 1e20 put the first point, in µs, past every record (and
    // beyond exact integers): no row at all, exit 0.
    if (everyMs > MAX_EVERY_MS) throw new UsageError(`--every-ms must be at most ${MAX_EVERY_MS} (7 days), got ${JSON.stringify(ctx.values["every-ms"])}`);
    checkCaptureFiles(ctx.positionals);
    // "-" is standard output, as for most tools that take an output file (until 2026-12-06: a file named "-").
    const out = ctx.values.out === "-" ? undefined : ctx.values.out;
    refuseOutOverInput(out, ctx.positionals);
    // Read for its venues, symbols and instruments: nothing is published from it here (the recorder's file, exported on
    // another host, named that host's interface; its workers record ignores).
    const config = books ? loadConfigFile(configPath as string, { publishesHere: false }) : undefined;
    // The summary is for the person running the export: the config's log level (set for the feeder) does not hide it.
    const log = ctx.log;
    let output: Output;
    try {
      output = openOutput(typeof out === "string" ? out : undefined, log);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      // A FIFO is opened without waiting for its reader (Bun's writer): none there is ENXIO, which says nothing to most.
      if ((err as NodeJS.ErrnoException).code === "ENXIO") throw new UsageError(`--out ${out}: a FIFO no process has open for reading (ENXIO): start its reader first`);
      throw new UsageError(`--out ${out}: cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const sink = checkedSink(output.writer);
    let stoppedBy: string | undefined;
    let finished = false;
    void ctx.stopSignal.then((sig) => {
      stoppedBy = sig;
      // Said at once, with what a second signal does: ends the process there (with --out's temporary file removed),
      // should the stop not have come through by then.
      if (!finished && sig.startsWith("SIG")) log.info("export stopping on a signal: after the current block; the same signal again ends it at once", { signal: sig, out: out ?? "stdout" });
    });
    let result;
    try {
      result = await exportCaptures(ctx.positionals, sink, { format, books: config && { config, depth, everyMs }, log, stopSignal: ctx.stopSignal });
      await sink.end();
      // Stopped before the end: the temporary file is dropped, an existing FILE left as it was (before, the partial
      // output was renamed over it: a good earlier export lost to a Ctrl-C). Stdout, a FIFO, a device keep what they got.
      if (result.stoppedEarly) output.discard();
      else output.commit();
    } catch (err) {
      output.discard();
      finished = true;
      // `feeder export … | head`: the reader is gone, which is how a pipeline ends, not a failure. It ends now: an
      // instrument cache merge waiting for another writer's lock is left to the exit (until 2026-12-06 the closed
      // pipeline waited for it, up to 30 s).
      if ((err as NodeJS.ErrnoException).code === "EPIPE") {
        await instrumentCacheWritesEnded(log, Promise.resolve(), () => "the output's reader is gone");
        return 0;
      }
      await instrumentCacheWritesEnded(log, ctx.stopSignal);
      // E.g. instruments that resolve from neither overrides, cache nor REST (the message names them), or a full disk.
      log.error("export failed", { error: errorText(err), out: out ?? "stdout" });
      return 1;
    }
    finished = true;
    // Written whole to standard output, a pipe (or a parent's socketpair) whose reader then went (`| head` read what it
    // wanted): nobody is left to wait for, so a cache merge waiting for another writer's lock is left to the exit.
    const readerGone = out === undefined ? whenPipeReaderGone(1) : undefined;
    let gone = false;
    const stopWait = readerGone === undefined ? ctx.stopSignal : Promise.race([ctx.stopSignal, readerGone.gone.then(() => (gone = true))]);
    await instrumentCacheWritesEnded(log, stopWait, () => (gone ? "the output's reader is gone" : "stopped by a signal")).finally(() => readerGone?.stop());
    if (result.skipped > 0) log.warn("frames skipped: no subscription of their venue and market in the configuration", { skippedBy: result.skippedBy });
    for (const t of result.truncated) log.warn("capture ends early", t);
    for (const r of result.resynced) log.warn("capture damaged: bytes skipped to the next capture joined after it (cat), read on there; books resync there", r);
    for (const u of result.unknownRecords) log.warn("capture records of an unknown kind skipped (written by another version?)", u);
    for (const j of result.timeJumps) log.warn("capture receive time jumps by more than an hour: books resync there, the grid starts again", j);
    for (const o of result.outOfOrder) log.warn("capture file begins before the previous one ends: exported in the order given, books resync there", o);
    for (const l of result.lost) log.warn("capture says its recorder lost records here (not written: a full disk?): books resync there", l);
    for (const u of result.unstopped) log.warn("capture ends without its stop records: the recorder was killed? books resync before the next run", u);
    if (result.stoppedEarly) {
      if (output.replaces) log.warn("export stopped early by a signal: nothing written, --out left as it was", { ...result, signal: stoppedBy, out });
      else log.warn("export stopped early by a signal: the output holds only the frames read before it", { ...result, signal: stoppedBy, out: out ?? "stdout" });
      return signalExitCode(stoppedBy);
    }
    log.info("export finished", { ...result, out: out ?? "stdout" });
    return 0;
  },
};

/** Where the export writes: `commit` puts a file output in place once written whole, `discard` drops it. */
interface Output {
  readonly writer: FileSink;
  /** Written to a temporary file renamed over FILE by `commit` (discard: FILE as it was); else written in place. */
  readonly replaces: boolean;
  commit(): void;
  discard(): void;
}

/**
 * `--out FILE` that is a regular file, a symlink to one, or not yet there: written to a temporary file beside it (its
 * permission bits), renamed over FILE at the end. In place, Bun's FileSink (1.4) does not truncate: a longer FILE
 * kept its old tail after the new rows; and a failed export (instruments resolved nowhere) must not cost the old
 * output. Standard output (absent, `-`), a FIFO or a device (`-o /dev/full`, a directory: refused) are written as
 * they are. A symlink is kept: its target is replaced.
 */
function openOutput(out: string | undefined, log: Logger): Output {
  const none = () => undefined;
  if (out === undefined) return { writer: Bun.stdout.writer(), replaces: false, commit: none, discard: none };
  let target: string | undefined = out; // the file renamed over; undefined: written in place
  let mode: number | undefined;
  try {
    const link = lstatSync(out);
    const st = link.isSymbolicLink() ? statSync(out) : link;
    if (st.isFile()) {
      target = link.isSymbolicLink() ? realpathSync(out) : out;
      mode = st.mode & 0o7777;
      // Renamed over, FILE's other names would keep the old rows while this one got the new: one file, two contents.
      // Written in place it would not be crash-safe (a failed export would leave it half old, half new). Refused.
      if (st.nlink > 1) {
        throw new UsageError(`--out ${out}: the file has ${st.nlink} names (hard links): the export replaces it by a rename, which would leave the other names with the old content; remove the other links or export to another name`);
      }
    } else target = undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw err;
    // Not there; or a dangling symlink: written in place, creating its target, as before.
    if (lstatExists(out)) target = undefined;
  }
  if (target === undefined) return { writer: Bun.file(out).writer(), replaces: false, commit: none, discard: none };
  const file = target;
  const { path: tmp, fd: lockFd } = createTemp(out, file);
  removeStaleExportTemps(file, tmp, lockFd, log);
  let done = false;
  let unguard = () => {};
  const release = () => {
    try {
      closeSync(lockFd); // the lock goes with it
    } catch {
      // released all the same
    }
  };
  const discard = () => {
    if (done) return;
    done = true;
    unguard();
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    release();
  };
  try {
    if (mode !== undefined) chmodSync(tmp, mode);
    unguard = discardOnRepeatedStop(discard);
    return {
      writer: Bun.file(tmp).writer(),
      replaces: true,
      commit() {
        // Stored before the rename, the rename stored after it: a power loss never leaves FILE empty or cut short.
        const unstored = renameDurablySync(lockFd, tmp, file);
        done = true;
        unguard();
        release();
        if (unstored !== undefined) log.warn("export written, but its rename may not survive a power loss", { out, problem: unstored });
      },
      discard,
    };
  } catch (err) {
    discard();
    throw err;
  }
}

/**
 * While the temporary file is there: a stop signal that comes again (a second Ctrl-C while the export stops, by
 * someone who will not wait for it) calls `discard`, then
 * ends the process by that signal as before. Main listens once per signal (ctx.stopSignal), so the repeat met the
 * signal's default action and the process died with its FILE.tmp-<tag> left beside FILE for good. A signal main
 * still listens for is its first: the stop itself. Returns the function that stops listening.
 */
function discardOnRepeatedStop(discard: () => void): () => void {
  const firstAwaited = new Set<string>(STOP_SIGNALS.filter((sig) => process.listenerCount(sig) > 0));
  const onStop = (sig: NodeJS.Signals) => {
    if (firstAwaited.delete(sig)) return;
    discard();
    stop();
    process.kill(process.pid, sig); // no listener left: its default action, as without this
  };
  const stop = () => STOP_SIGNALS.forEach((sig) => process.off(sig, onStop));
  STOP_SIGNALS.forEach((sig) => process.on(sig, onStop));
  return stop;
}

/**
 * FILE.tmp-<pid>-<random><check> (core/stale-temps.ts newTempTags), created exclusively beside `file` (never onto what
 * another process made there), and held with an exclusive flock(2) on the returned descriptor until the export
 * commits or discards it: the lock says the file's writer is alive (the kernel drops it when the process ends, SIGKILL
 * included), which removeStaleTemps reads. Where no lock can be taken it is FILE.tmp-<pid>-<random>, which no sweep
 * takes. The pid alone was not unique: a container's process is often PID 1 at every run, and one export killed there
 * left a FILE.tmp-1 that refused every later export to FILE (EEXIST, exit 2) until removed by hand; two containers
 * sharing the volume collided the same way. A name taken is passed over, left to whoever made it.
 */
function createTemp(out: string, file: string): { path: string; fd: number } {
  for (let attempt = 0; ; attempt++) {
    const { tag, unlockedTag } = newTempTags(basename(file), "-");
    try {
      return createLockedFile(`${file}.tmp-${tag}`, `${file}.tmp-${unlockedTag}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && attempt < 8) continue;
      if (code === "ENOENT" || code === "ENOTDIR") throw err; // no such directory: named as any --out is
      // The directory named: FILE itself may be writable where its directory takes no new file (read-only).
      throw new UsageError(`--out ${out}: cannot be written (${code ?? (err as Error).message} in its directory ${dirname(file)}: the export is written to a new file there, then renamed over ${basename(file)})`);
    }
  }
}

/**
 * Removes temporary files of earlier exports to `file` whose writer is gone (core/stale-temps.ts):
 * `<file>.tmp-<pid>-<random><check>` regular files beside it, the check right for `file`'s name (so no user's
 * `out.csv.tmp-2024-dec` is taken: until 2026-12-06 any `-<digits>-<letters>` was), that nobody holds the flock of (createTemp) and nobody modified
 * for STALE_TEMP_MIN_AGE_MS, measured on the filesystem's clock where it is behind the host's: `ownTempFd` is this
 * export's own, just made (before, against the host's clock alone: one ahead of an NFS server's by a minute took a
 * temporary file just made, between its writer's create and lock, or an unlocked older feeder's, for an old one).
 * Before that, an export killed with SIGKILL (the OOM killer, a container stopped) left its temporary file for good,
 * a copy of the output's size beside it at every kill.
 */
function removeStaleExportTemps(file: string, ownTemp: string, ownTempFd: number, log: Logger): void {
  const prefix = `${basename(file)}.tmp-`;
  let fsNowMs: number | undefined;
  try {
    fsNowMs = fstatSync(ownTempFd).mtimeMs;
  } catch {
    // the host's clock alone
  }
  const own = basename(ownTemp);
  const owner = basename(file);
  removeStaleTemps(dirname(file), (name) => name !== own && name.startsWith(prefix) && isTempTag(owner, "-", name.slice(prefix.length)), {
    fsNowMs,
    onRemoved: (path, bytes) => log.info("removed a temporary file an earlier export to the same --out left (its process is gone)", { file: path, bytes }),
  });
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The export's sink over Bun's FileSink, whose failures otherwise reach no one: once the output would block (a pipe,
 * a slow disk) write() returns a promise that rejects on EPIPE or ENOSPC, and flush() may throw. Each pending write is
 * awaited at the next flush (also the back-pressure) and its error rethrown there: unawaited, `| head` printed a stack
 * trace per chunk while the export read on to the end, and a full disk ended in "export finished", exit 0.
 */
function checkedSink(writer: FileSink): ExportSink & { end(): Promise<void> } {
  let failed: unknown;
  const pending: Promise<unknown>[] = [];
  const settle = async () => {
    await Promise.all(pending.splice(0));
    if (failed !== undefined) throw failed;
  };
  return {
    write(chunk) {
      if (failed !== undefined) throw failed;
      const r = writer.write(chunk);
      if (r instanceof Promise) pending.push(r.catch((err: unknown) => void (failed ??= err)));
    },
    async flush() {
      await settle();
      await writer.flush();
      await settle();
    },
    async end() {
      await this.flush();
      await writer.end();
    },
  };
}

/**
 * `-o` naming one of the captures (a glob that takes in the output too) would replace it while it is read; standard
 * output opened onto one (`>> capture`) would have the JSON appended to it. The same file by any name: device, inode.
 */
function refuseOutOverInput(out: unknown, captures: readonly string[]): void {
  let o;
  try {
    o = typeof out === "string" ? statSync(out) : fstatSync(1);
  } catch {
    return; // no such file yet (or no standard output): it cannot be a capture
  }
  if (!o.isFile()) return;
  for (const c of captures) {
    const s = statSync(c);
    if (s.dev !== o.dev || s.ino !== o.ino) continue;
    if (typeof out === "string") throw new UsageError(`--out ${out} is the capture ${c}: it would be overwritten while it is read`);
    throw new UsageError(`standard output is the capture ${c}: the export would be written into it while it is read`);
  }
}
