/**
 * `feeder export --books --every-ms T` over a capture with a quiet stretch: the grid rows of the stretch (one per book
 * every T ms) are handed to the output chunk by chunk. Before, every row between two frames was held in memory until
 * the next frame: a quiet hour at --every-ms 10 is 360,000 rows per book in one string (two files a day apart, or
 * hundreds of books, ran the process out of memory).
 */
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

/** The export's chunk size (app/export.ts CHUNK_CHARS); a chunk is at most that plus one row. */
const CHUNK_CHARS = 256 * 1024;
const QUIET_S = 1000;
const EVERY_MS = 10;

test("a quiet stretch's grid rows go out in chunks of the usual size, all of them, in time order", { timeout: 120_000 }, async () => {
  const dir = makeTempDir("feeder-export-grid-");
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(52)));
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
  // The first 10 frames, then the rest after QUIET_S seconds of nothing.
  XRP_LINES.forEach((f, i) => w.write(XRP_T0_US + i * 1000 + (i >= 10 ? QUIET_S * 1e6 : 0), "bybit", "linear", "linear-0", f));
  w.close();

  let maxChunk = 0;
  let rows = 0;
  let lastTs = 0;
  let ordered = true;
  const sink = {
    write: (c: string) => {
      maxChunk = Math.max(maxChunk, c.length);
      for (const line of c.split("\n")) {
        if (line.length === 0) continue;
        rows++;
        const ts = JSON.parse(line).tsUs as number;
        if (ts <= lastTs) ordered = false;
        lastTs = ts;
      }
    },
    flush: () => undefined,
  };
  const r = await exportCaptures([w.files[0]!], sink, { format: "jsonl", books: { config, depth: 1, everyMs: EVERY_MS }, log: silentLogger });
  expect(r.rows).toBe(rows);
  expect(rows).toBeGreaterThan((QUIET_S * 1000) / EVERY_MS); // the quiet stretch's rows are all there
  expect(ordered).toBe(true);
  expect(maxChunk).toBeLessThan(2 * CHUNK_CHARS);
});

test("a stop signal ends the export inside a quiet stretch's grid rows, not after all of them", { timeout: 60_000 }, async () => {
  const dir = makeTempDir("feeder-export-grid-stop-");
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(53)));
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
  // 50 minutes of nothing at a 1 ms grid: 3 million rows; the stop comes after the first chunk (~2,000 rows). (Over
  // an hour is a damage point, where the grid starts again: export.ts MAX_RECORD_STEP_US.)
  XRP_LINES.forEach((f, i) => w.write(XRP_T0_US + i * 1000 + (i >= 10 ? 3_000 * 1e6 : 0), "bybit", "linear", "linear-0", f));
  w.close();
  let stopNow: (why: string) => void = () => {};
  const stopSignal = new Promise<string>((resolve) => (stopNow = resolve));
  let chunks = 0;
  const sink = { write: () => void (++chunks === 1 && stopNow("SIGINT")), flush: () => undefined };
  const r = await exportCaptures([w.files[0]!], sink, { format: "jsonl", books: { config, depth: 1, everyMs: 1 }, log: silentLogger, stopSignal });
  expect(r.stoppedEarly).toBe(true);
  expect(r.rows).toBeLessThan(100_000);
});
