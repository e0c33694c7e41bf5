/**
 * `feeder export` into an output slower than the export (a pipe whose reader is slow, a slow disk): memory holds one
 * output chunk, never the export's whole output. The export hands a chunk to its sink and waits for the sink's flush
 * (cli/commands/export.ts: a FileSink's pending writes, so the pipe's reader's pace) before it reads on; nothing is
 * written while a flush is pending. In process, with a sink whose flushes the test releases one by one.
 */
import { expect, test } from "vitest";
import { CHUNK_CHARS, exportCaptures } from "../../src/app/export.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { until } from "../support/until.ts";
import { XRP_LINES, XRP_T0_US } from "../support/xrp-capture.ts";

test("a sink that takes nothing until released: at most one chunk (plus a row) is handed over per flush, nothing while a flush is pending", { timeout: 60_000 }, async () => {
  const dir = makeTempDir("feeder-export-backpressure-");
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "zstd" });
  let t = XRP_T0_US;
  for (let k = 0; k < 20; k++) for (const f of XRP_LINES) w.write((t += 1000), "bybit", "linear", "linear-0", f); // ~1.5 MB of rows
  w.close();
  const longestRow = Math.max(...XRP_LINES.map((l) => JSON.stringify(l).length)) + 200; // the frame escaped, and the other fields

  let written = 0;
  let sinceFlush = 0;
  let pending: (() => void) | undefined;
  let writesWhilePending = 0;
  let flushes = 0;
  let mostPerFlush = 0;
  const sink = {
    write: (chunk: string) => {
      if (pending !== undefined) writesWhilePending++;
      written += chunk.length;
      sinceFlush += chunk.length;
    },
    flush: () => {
      flushes++;
      mostPerFlush = Math.max(mostPerFlush, sinceFlush);
      sinceFlush = 0;
      return new Promise<void>((resolve) => (pending = resolve));
    },
  };
  let done = false;
  const exported = exportCaptures(w.files, sink, { format: "jsonl", log: silentLogger }).then((r) => ((done = true), r));
  // Release each flush once it is asked for, as a reader taking the pipe's contents would.
  while (!done) {
    await until(() => pending !== undefined || done, "the next flush or the end", 30_000);
    const release = pending;
    pending = undefined;
    release?.();
  }
  const r = await exported;
  expect(r.rows).toBe(20 * XRP_LINES.length);
  expect(flushes).toBeGreaterThan(5); // many chunks: the bound was exercised
  expect(writesWhilePending).toBe(0);
  expect(mostPerFlush).toBeLessThanOrEqual(CHUNK_CHARS + longestRow);
  expect(written).toBeGreaterThan(5 * CHUNK_CHARS);
});
