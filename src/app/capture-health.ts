/**
 * `feeder record`'s capture on /metrics, /status and /readyz. Until 2026-12-07 lost records and write errors (a full
 * disk, EIO) showed only in log lines (the rate-limited block error, the progress line, `stopped`): nothing an
 * alert could read. The writer's own totals (CaptureWriter.stats(): counted anyway, read at scrape time) are appended
 * to the pipeline's metrics; /status says `capture: ok` or failing since when; /readyz names a failing capture as a
 * warning (`capture_failing`), not as a reason not to be ready: readiness is about publishing books, which a capture
 * that cannot write does not stop (restarting the recorder would not free the disk, and loses the feed too).
 * @module
 */
import type { CaptureWriterStats } from "../record/capture.ts";
import type { StatusSource } from "./http-server.ts";
import { PromWriter } from "./prometheus.ts";
import { summaryOfInput, type NotReadyReason } from "./readiness.ts";

/** What is shown of the capture writer (CaptureWriterStats' totals and state). */
export type CaptureHealth = Pick<CaptureWriterStats, "records" | "lostRecords" | "writeErrors" | "writtenBytes" | "file" | "failing">;

/** /status's `capture`: its state, and what a failing one names (null when not failing, or no file open). */
export interface CaptureStatus {
  state: "ok" | "failing";
  failingSinceMs: number | null;
  failingForMs: number | null;
  lastError: string | null;
  file: string | null;
  records: number;
  lostRecords: number;
  writeErrors: number;
  writtenBytes: number;
}

export function captureStatus(h: CaptureHealth): CaptureStatus {
  const f = h.failing;
  return {
    state: f === undefined ? "ok" : "failing",
    failingSinceMs: f?.sinceMs ?? null,
    failingForMs: f?.forMs ?? null,
    lastError: f?.lastError ?? null,
    file: h.file ?? null,
    records: h.records,
    lostRecords: h.lostRecords,
    writeErrors: h.writeErrors,
    writtenBytes: h.writtenBytes,
  };
}

/** /readyz's and /status's warnings: `capture_failing` while blocks cannot be written (none otherwise). */
export function captureWarnings(h: CaptureHealth | undefined): NotReadyReason[] {
  const f = h?.failing;
  if (h === undefined || f === undefined) return [];
  return [
    {
      check: "capture_failing",
      file: h.file ?? null,
      writeErrors: h.writeErrors,
      lostRecords: h.lostRecords,
      failingSinceMs: f.sinceMs,
      detail: `capture blocks cannot be written since ${new Date(f.sinceMs).toISOString()} (${Math.round(f.forMs / 1000)} s; ${f.lastError}): their records are lost (${h.lostRecords} since start); books are published all the same`,
    },
  ];
}

/** The capture's families (docs/operations.md § Metrics), appended to the pipeline's. */
export function captureMetricsText(h: CaptureHealth): string {
  const w = new PromWriter();
  w.family("feeder_capture_records_total", "counter", "records handed to the capture writer while open (frames, REST answers, connection events, files' head records); those of them lost are in feeder_capture_records_lost_total too")
    .sample("feeder_capture_records_total", {}, h.records);
  w.family("feeder_capture_records_lost_total", "counter", "capture records not written: their block could not be written (disk full, EIO), too large for a block, or arrived after the capture closed")
    .sample("feeder_capture_records_lost_total", {}, h.lostRecords);
  w.family("feeder_capture_write_errors_total", "counter", "capture blocks that could not be written (their records lost)").sample("feeder_capture_write_errors_total", {}, h.writeErrors);
  w.family("feeder_capture_written_bytes_total", "counter", "bytes written to capture files (headers included)").sample("feeder_capture_written_bytes_total", {}, h.writtenBytes);
  w.family("feeder_capture_failing", "gauge", "1 while capture blocks cannot be written (the last block tried was lost), else 0").sample("feeder_capture_failing", {}, h.failing === undefined ? 0 : 1);
  w.family("feeder_capture_file_info", "gauge", "always 1: the capture file being written (no series while none is open)");
  if (h.file !== undefined) w.sample("feeder_capture_file_info", { file: h.file }, 1);
  return w.text();
}

/**
 * A writer not open yet (HTTP answers from the start-up checks on; `feeder record` opens its writer after them): as a
 * writer that has written nothing, so /readyz's `warnings`, /status's `capture` and the feeder_capture_* series are
 * there from the first answer. Until 2026-12-07 they were missing until it opened (`.warnings.length` threw).
 */
const NOT_OPEN: CaptureHealth = { records: 0, lostRecords: 0, writeErrors: 0, writtenBytes: 0, file: undefined, failing: undefined };

/**
 * The pipeline's status with the capture's: its metrics appended, and `capture` in the readiness input and the
 * /readyz summary (http-server.ts shows it on /status, and warns on both). `writerHealth` is undefined before the
 * writer opens: shown as NOT_OPEN.
 */
export function captureStatusSource(base: StatusSource, writerHealth: () => CaptureHealth | undefined): StatusSource {
  const health = (): CaptureHealth => writerHealth() ?? NOT_OPEN;
  return {
    book: (venue, market, symbol, depth, maxBytes) => base.book(venue, market, symbol, depth, maxBytes),
    metricsText: async () => (await base.metricsText()) + captureMetricsText(health()),
    readiness: async (turn, signal) => ({ ...(await base.readiness(turn, signal)), capture: health() }),
    readyz: async (turn) => ({ ...(base.readyz !== undefined ? await base.readyz(turn) : summaryOfInput(await base.readiness(turn))), capture: health() }),
    ...(base.statusRows !== undefined && {
      statusRows: async (limit, chosen, turn, signal) => {
        const rows = await base.statusRows!(limit, chosen, turn, signal);
        return { ...rows, summary: { ...rows.summary, capture: health() } };
      },
    }),
    latency: () => base.latency(),
  };
}
