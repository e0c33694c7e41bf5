/**
 * `feeder replay`: feeds capture files through the same pipeline as `feeder run` (scanner, sequencing,
 * builders, publisher), as fast as possible or at the recorded pace. Every argument is checked before the
 * publisher opens; progress (frames, rate, ETA) is drawn on stderr when it is a terminal.
 * @module
 */
import { Feeder } from "../../app/feeder.ts";
import { preflight } from "../../app/preflight.ts";
import { PublishGuard } from "../../app/publish-guard.ts";
import { emptyReplayResult, formatDuration, formatReplayProgress, replayCaptures } from "../../app/replay.ts";
import { loadConfigFile, type ValidateOptions } from "../../config/load.ts";
import { createLogger, writeStderr } from "../../core/log.ts";
import { loadForStart, startFailureExitCode, startFailureFields, UsageError, type CommandContext, type CommandSpec } from "../command.ts";
import { holdRepeatedStops, startOrStop, stopBounded } from "../start-or-stop.ts";
import { instrumentCacheWritesEnded } from "./cache-writes.ts";
import { checkCaptureFiles, positiveNumber } from "./capture-args.ts";

/** One process (its request server on retransmit.listen's own port), and no HTTP server: http.listen is not bound. */
const REPLAY_LOAD: ValidateOptions = { runWorkers: 1, servesHttp: false };

/** `replay --strict`: the files were not replayed whole (distinct from 1, a failure, and 2, a usage error). */
export const STRICT_EXIT_CODE = 3;

export const replayCommand: CommandSpec = {
  name: "replay",
  summary: "feed capture files through the pipeline and publish the books as `run` would",
  help: [
    "Arguments: CAPTURE...  capture files (.fcap, compressed or not) written by `feeder record`, replayed in the",
    "                       order given",
    "",
    "Options:",
    "  -c, --config FILE   TOML configuration (required): venues, symbols and destinations; instruments come",
    "                      from the instrument cache or overrides (REST is not needed when they are cached)",
    "      --pace P        fast (default) | recorded",
    "      --speed X       only with --pace recorded: X times the recorded speed (default 1)",
    "      --strict        exit 3 instead of 0 when not every record of the files was replayed: a file ended",
    "                      early (truncated, bytes left unread), had bytes skipped (resynced), held records",
    "                      of an unknown kind (unknownRecords) or marks of records its recorder lost (lost: a",
    "                      full disk); an error line names them (cutFiles, skippedBytes (first 100),",
    "                      resyncedTotal, unknownRecords, lostRecords, lostMarks, lostAt); a file cut",
    "                      off inside its header holds no records: exit 0",
    "",
    "Every argument is checked before anything is published: a missing file, one that is not a capture, or one",
    "named twice (by any path: a link too) is an error naming it (exit 2). On a terminal, stderr shows frames, rate, progress and ETA; at the end one JSON",
    "summary goes to stdout: {frames, ingested, skipped, skippedBy, truncated, resynced, resyncedTotal, outOfOrder, unknownRecords,",
    "timeJumps, timeJumpsTotal, lost, lostTotal, lostRecords, unstopped, stoppedEarly, elapsedMs, datagrams, malformedRecords}. Files are replayed in the order given; one that begins before the",
    "previous one's last frame is named in outOfOrder and a warning, and its books resync there as after a file that",
    "ended early, below (give them in time order: feeder-<UTC start>;",
    "one recorder's files never overlap). Captures concatenated into one file (cat a.fcap b.fcap > c.fcap) are",
    "read one after another, each judged so (outOfOrder's atByte: where it begins in the file).",
    "Records are fed in file order, the live run's handling order: a frame",
    "handled after a connection event or REST answer in the same event-loop turn is stamped before it (the",
    "turn's receipt time), and --pace recorded feeds it at once.",
    "A damaged or cut-off block ends its file, as does the file cut shorter or a read failing (EIO) while it is",
    "read (truncated: {file, why, atByte, bytesLeft}: the bytes replayed and",
    "those left unread; also a warning), which is how a recorder that crashed or was killed leaves its last file:",
    "exit 0 all the same unless --strict. When another file follows, every book LIVE or STALE there goes",
    "RESYNCING / sequence_gap and resyncs from the capture's next snapshot: the records lost may hold anything.",
    "When none follows, the replay ends there: the books end as the last record read left them, as for a capture",
    "that ended at that record (what was not replayed: truncated). Unless another capture joined into the file",
    "follows the damage (cat of a crash-cut file and the next): reading resumes at its header (its first block's",
    "CRC must hold, its length in bounds), the bytes skipped named in resynced {file, atByte, bytesSkipped, why,",
    "resumedAt} (first 100; resyncedTotal counts all) and a warning; the books go RESYNCING / sequence_gap there, and the capture is judged as a file",
    "of its own (outOfOrder, unstopped).",
    "A record saying the recorder could not write blocks before it (a full disk; url capture:lost) is such a",
    "point too: the books go RESYNCING / sequence_gap there; named in lost {file, atUs, why} (first 100) and a warning;",
    "lostTotal counts all such marks, lostRecords the records they say were lost.",
    "So is a recorder run that ended without its stop records (killed: a new run's file, which begins with no file",
    "head, follows one that left a connection open): named in unstopped {file, endsUs, next, atByte?} (first 100)",
    "and a warning. Not detected in a capture whose recorder records no sockets (no ws:sockets: before 2026-12-06).",
    "A receive time more than an hour from the previous record's, either way (a damaged or forged time, a recorder",
    "that was not running), is such a point too, as in export's book rows: the books leave LIVE at the previous record",
    "(RESYNCING / sequence_gap), the stale clock and --pace recorded start again at the record (no housekeeping and",
    "no wait for the time jumped over); named in timeJumps {file, atUs, previousUs} (first 100) and a warning.",
    "A record of a kind another version wrote (or with a receive time no recorder writes: below 0, past the year",
    "2255) is skipped, counted per file",
    "(unknownRecords), and the rest of the file is still replayed; it may have been a frame, so it is such a",
    "point too (RESYNCING / sequence_gap there). Frames of",
    "venues or markets not in the configuration are skipped, counted by venue/market (skippedBy; past 1,000",
    "pairs the rest under \"(others)\") and named in a",
    "warning. A connection's record that is malformed (a file head's ws:asked, a ws:req not as live writes them:",
    "a damaged or forged capture) is ignored, counted (malformedRecords; per connection in the venue's stats and",
    "malformed_capture_records_total) and logged at most once per 5 s per venue.",
    "Periodic snapshot refresh is off during a replay, and every frame's output is sent before the next frame",
    "is read, so replaying one capture twice gives byte-identical datagrams apart from session id and send",
    "times, and the heartbeats of a channel idle for publish.heartbeat_interval_ms of wall time (they carry no",
    "message and take no sequence number; a paced replay has them where the capture is quiet).",
    "Books go stale on the capture's receive times, as live's did: one silent past its stale_after_ms goes STALE",
    "there (nothing is sent: there is no venue) and is LIVE again at the next book the capture holds that live",
    "took (docs/operations.md, Replay).",
    "",
    "A replay publishes on the configured destinations, so it makes the destination checks of `feeder run` and",
    "listens for publish.startup_listen_ms first: if another publisher (e.g. the live feed) sends on one of its",
    "streams (same group, channel and source id), it exits 1 without sending anything, as it does for a",
    "destination interface this host does not have (yet). A configuration error exits 2, one found only at start",
    "too (every symbol of a venue answered as not listed or unusable), as for `feeder run`.",
    "SIGINT/SIGTERM stops it at the next frame (exit 0, also with --strict; the summary with stoppedEarly, counting",
    "what was read of the file it stopped in: resynced, unknownRecords, to the end of the block being replayed); during",
    "start-up it stops there: no frame is fed, the summary has frames 0. The feeder's stop then takes 1.5 s",
    "at most (cut there with a warning) and the summary follows; a second SIGINT/SIGTERM/SIGHUP meanwhile is logged",
    "and ignored (SIGKILL ends it at once, without the summary).",
    "What instrument REST answered that the instrument cache lacks is merged into it before the replay exits,",
    "after its summary: while another writer holds the cache's lock it waits (at most 30 s, said on stderr after",
    "0.2 s); SIGINT/SIGTERM ends that wait (the merge left unfinished, logged).",
  ].join("\n"),
  options: {
    config: { type: "string", short: "c" },
    pace: { type: "string" },
    speed: { type: "string" },
    strict: { type: "boolean" },
  },
  allowPositionals: true,
  positionalsUsage: "CAPTURE…",
  async run(ctx) {
    // Its stops are bounded (startOrStop, stopBounded): a second SIGINT/SIGTERM/SIGHUP is logged and ignored; before 2026-12-06 it
    // killed the process there (exit 130/143), the summary line never written.
    const endHold = holdRepeatedStops(ctx.stopSignal, ctx.log, "stop");
    try {
      return await replay(ctx);
    } finally {
      endHold();
    }
  },
};

async function replay(ctx: CommandContext): Promise<number> {
  const path = ctx.values.config;
  if (typeof path !== "string") throw new UsageError("--config FILE is required");
  const pace = ctx.values.pace ?? "fast";
  if (pace !== "fast" && pace !== "recorded") throw new UsageError(`--pace must be fast or recorded, got ${JSON.stringify(pace)}`);
  if (ctx.values.speed !== undefined && pace !== "recorded") throw new UsageError("--speed needs --pace recorded (a fast replay has no pace to scale)");
  const speed = positiveNumber(ctx.values.speed, "speed", 1);
  checkCaptureFiles(ctx.positionals);
  // Checked as the one process it runs (its request server on retransmit.listen's own port), not the file's workers.
  // An address this host does not have (yet) is a failed start, exit 1, as for `run` and `record` (it was 2).
  const loaded = loadForStart(path, (p) => loadConfigFile(p, REPLAY_LOAD), ctx.log);
  if (loaded === undefined) return 1;
  const config = { ...loaded, workers: 1, publish: { ...loaded.publish, snapshotIntervalMs: 0 } };
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const feeder = new Feeder({ config, log, replay: true });
  // A replay publishes on the configured destinations like `run`: the same destination checks, and it refuses
  // to start while another publisher sends on them (and reports one that appears while it replays).
  const guard = new PublishGuard(config, log.child({ part: "publish-guard" }));
  guard.addOwnSession(feeder.publisher.sourceId, feeder.publisher.sessionId);
  // A signal during start-up (the listen for another publisher, instruments from REST) stops it there, as in
  // `feeder run`: before, the start ran to its end (or failed at a REST timeout: exit 1), then the replay fed
  // up to 511 frames before it looked at the signal.
  let stopAsked = false;
  void ctx.stopSignal.then(() => (stopAsked = true));
  const starting = (async () => {
    await preflight({ config, log, guard });
    if (stopAsked) return;
    guard.startWatching();
    await feeder.start(); // feeder.stop() during it ends it at its next step
  })();
  let outcome: "started" | "stopped";
  try {
    outcome = await startOrStop(starting, ctx.stopSignal, () => Promise.all([feeder.stop(), guard.stop()]));
  } catch (err) {
    // As `run`'s: 2 when the configuration must change (every symbol refused, a configuration error found at start).
    log.error("feeder could not start", startFailureFields(err, path));
    await feeder.stop();
    await guard.stop();
    await instrumentCacheWritesEnded(log, ctx.stopSignal); // one venue's answer merged, another's start failed
    return startFailureExitCode(err);
  }
  if (outcome === "stopped") {
    log.info("stopped during start-up", { signal: await ctx.stopSignal });
    ctx.out(JSON.stringify({ ...emptyReplayResult(), stoppedEarly: true, datagrams: feeder.publisher.counters.datagrams, malformedRecords: 0 }));
    return 0;
  }
  const tty = process.stderr.isTTY === true;
  const draw = (line: string) => writeStderr(`\r\x1b[K${line}`);
  const result = await replayCaptures(feeder, ctx.positionals, {
    pace,
    speed,
    stopSignal: ctx.stopSignal,
    onProgress: tty ? (p) => draw(formatReplayProgress(p)) : undefined,
  });
  await stopBounded(
    (async () => {
      await feeder.stop();
      await guard.stop();
    })(),
    log,
    "the feeder's sockets not closed",
  );
  const datagrams = feeder.publisher.counters.datagrams;
  if (tty) {
    const rate = result.elapsedMs > 0 ? Math.round((result.frames * 1000) / result.elapsedMs) : 0;
    draw(`replay: ${result.frames.toLocaleString("en-US")} frames in ${formatDuration(result.elapsedMs)} (${rate.toLocaleString("en-US")}/s), ${datagrams} datagrams${result.stoppedEarly ? ", stopped early" : ""}\n`);
  }
  if (result.skipped > 0) log.warn("frames skipped: no subscription of their venue and market in the configuration", { skippedBy: result.skippedBy });
  for (const o of result.outOfOrder) log.warn("capture file begins before the previous one ends: replayed in the order given, not in receive-time order", o);
  for (const t of result.truncated) log.warn("capture ends early: the rest of the file is not replayed", t);
  for (const r of result.resynced) log.warn("capture damaged: bytes skipped to the next capture joined after it (cat), replayed on from there; books resync there", r);
  for (const j of result.timeJumps) log.warn("capture receive time jumps by more than an hour: books resync there", j);
  for (const u of result.unknownRecords) log.warn("capture records of an unknown kind skipped (written by another version?)", u);
  for (const l of result.lost) log.warn("capture says its recorder lost records here (not written: a full disk?): books resync there", l);
  for (const u of result.unstopped) log.warn("capture ends without its stop records: the recorder was killed? books resync before the next run", u);
  // The venues' per-connection counts (stats, malformed_capture_records_total), summed: each counted once, there.
  let malformedRecords = 0;
  for (const s of Object.values(feeder.stats().venues)) malformedRecords += s.malformedRecords ?? 0;
  ctx.out(JSON.stringify({ ...result, elapsedMs: Math.round(result.elapsedMs), datagrams, malformedRecords }));
  // Before the exit ends it: a merge of what the instrument REST answered, waiting for another writer's lock.
  await instrumentCacheWritesEnded(log, ctx.stopSignal);
  // --strict: a script can tell a replay of whole files from one that left records out (a stop by signal is asked for).
  // A file whose header was cut off (bytesLeft 0: a recorder stopped as it opened it) lost no record: named, not exit 3.
  // A capture:lost mark is records the recorder never wrote: until 2026-12-07 it exited 0 under --strict.
  const cut = result.truncated.filter((t) => t.bytesLeft !== 0);
  if (ctx.values.strict === true && !result.stoppedEarly && (cut.length > 0 || result.resyncedTotal > 0 || result.unknownRecords.length > 0 || result.lost.length > 0)) {
    log.error("replay --strict: not every record of the captures was replayed (exit 3)", strictFailure(cut, result));
    return STRICT_EXIT_CODE;
  }
  return 0;
}

/** What --strict failed on, counted: files cut (bytes unread), records of an unknown kind, and the recorder's losses. */
function strictFailure(cut: { file: string; bytesLeft?: number }[], result: Awaited<ReturnType<typeof replayCaptures>>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (cut.length > 0) fields.cutFiles = cut.map((t) => ({ file: t.file, bytesLeft: t.bytesLeft }));
  if (result.resyncedTotal > 0) {
    // The list is the summary's, the first 100; the count is of all (as lostAt and lostMarks).
    fields.skippedBytes = result.resynced.map((r) => ({ file: r.file, atByte: r.atByte, bytesSkipped: r.bytesSkipped }));
    fields.resyncedTotal = result.resyncedTotal;
  }
  if (result.unknownRecords.length > 0) fields.unknownRecords = result.unknownRecords.reduce((n, u) => n + u.count, 0);
  if (result.lostTotal > 0) {
    fields.lostRecords = result.lostRecords;
    fields.lostMarks = result.lostTotal;
    fields.lostAt = result.lost.map((l) => ({ file: l.file, atUs: l.atUs }));
  }
  return fields;
}
