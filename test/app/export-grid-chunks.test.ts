/**
 * `feeder export --books --every-ms T` over a capture with a quiet stretch: the grid rows of the stretch (one per book
 * every T ms) are handed to the output chunk by chunk. Before, every row between two frames was held in memory until
 * the next frame: a quiet hour at --every-ms 10 is 360,000 rows per book in one string (two files a day apart, or
 * hundreds of books, ran the process out of memory).
 */
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile, validateConfig } from "../../src/config/load.ts";
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

test("one grid point of many deep books goes out in chunks too, not as one write of every book's row", { timeout: 60_000 }, async () => {
  // 40 books of 200 levels a side at --depth 200: ~6 KB a row, ~250 KB a grid point; 4 grid points of them. Before,
  // each grid point's rows were built all at once and handed over in one write, whatever their size (20,000 books at
  // --depth 1000 are gigabytes), where the docs promise one output chunk.
  const dir = makeTempDir("feeder-export-grid-wide-");
  const symbols = Array.from({ length: 40 }, (_, i) => `S${i}USDT`);
  const config = validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { snapshot_interval_ms: 0, destinations: [{ name: "t", ...uniqueDestination(54), interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: {
      bybit: {
        ws_url: "ws://127.0.0.1:9",
        rest_url: "http://127.0.0.1:9",
        instrument_cache: join(dir, "instruments.json"),
        linear: { depth: 200, symbols },
        overrides: Object.fromEntries(symbols.map((s) => [`linear:${s}`, { tick_size: "0.01", lot_size: "0.001" }])),
      },
    },
  });
  const levels = (from: number, step: number) => Array.from({ length: 200 }, (_, i) => `["${((from + step * i) / 100).toFixed(2)}","${(1 + i / 1000).toFixed(3)}"]`).join(",");
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
  symbols.forEach((s, i) =>
    w.write(XRP_T0_US + i, "bybit", "linear", "linear-0", `{"topic":"orderbook.200.${s}","type":"snapshot","ts":1,"data":{"s":"${s}","b":[${levels(1_000_000, -1)}],"a":[${levels(1_000_001, 1)}],"u":1,"seq":1},"cts":1}`),
  );
  w.write(XRP_T0_US + 4000, "bybit", "linear", "linear-0", `{"topic":"orderbook.200.S0USDT","type":"delta","ts":1,"data":{"s":"S0USDT","b":[],"a":[],"u":2,"seq":2},"cts":1}`);
  w.close();
  const writes: number[] = [];
  let longestRow = 0;
  let rows = 0;
  const sink = {
    write: (c: string) => {
      writes.push(c.length);
      for (const line of c.split("\n")) if (line.length > 0) (rows++, (longestRow = Math.max(longestRow, line.length)));
    },
    flush: () => undefined,
  };
  const r = await exportCaptures(w.files, sink, { format: "csv", books: { config, depth: 200, everyMs: 1 }, log: silentLogger });
  expect(r.skipped).toBe(0);
  expect(rows).toBe(1 + 4 * 40 + 1); // the header, then grid points t0 + 1 ms … t0 + 4 ms, 40 books each (t0 holds one)
  expect(longestRow).toBeGreaterThan(5000);
  expect(Math.max(...writes)).toBeLessThanOrEqual(CHUNK_CHARS + longestRow + 1);
});
