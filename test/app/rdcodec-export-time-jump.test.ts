/**
 * `export --books --every-ms`: a record whose receive time is far from the previous one's (here 30 days ahead, a
 * damaged or forged time in a block whose checksum holds) is a damage point: the grid rows up to the previous record
 * are written, the books leave LIVE there (resyncing / sequence_gap) and the grid starts again at the record; the
 * jump back to the capture's own times is another. Before, the grid wrote a row per book for every millisecond up to
 * the far time: 2.6 billion rows here (the sink below stops it after 100,000). Named in the result (timeJumps).
 */
import { expect, test } from "vitest";
import { exportCaptures, MAX_RECORD_STEP_US } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ACK, XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

test("a receive time 30 days ahead: books resync at the previous record, the grid goes on at it and back, bounded", async () => {
  const dir = makeTempDir("feeder-rdcodec-jump-");
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(85)));
  const FAR_US = XRP_T0_US + 30 * 86_400_000_000;
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 3_000 });
  w.write(XRP_T0_US - 500, "bybit", "linear", "linear-0", ACK);
  for (let i = 0; i < 30; i++) w.write(i === 25 ? FAR_US : XRP_T0_US + i * 1000, "bybit", "linear", "linear-0", XRP_LINES[i]!);
  w.close();
  let stopNow: () => void = () => {};
  const stopSignal = new Promise<void>((resolve) => (stopNow = resolve));
  const rows: { tsUs: number; state: string; reason: string }[] = [];
  const sink = {
    write: (c: string) => {
      for (const l of c.split("\n")) if (l.length > 0) rows.push(JSON.parse(l));
      if (rows.length > 100_000) stopNow();
    },
    flush: () => undefined,
  };
  const result = await exportCaptures([w.files[0]!], sink, { format: "jsonl", books: { config, depth: 1, everyMs: 1 }, log: silentLogger, stopSignal });
  expect(result.stoppedEarly).toBe(false);
  expect(MAX_RECORD_STEP_US).toBe(3_600_000_000);
  expect(result.timeJumps).toEqual([
    { file: w.files[0]!, atUs: FAR_US, previousUs: XRP_T0_US + 24_000 },
    { file: w.files[0]!, atUs: XRP_T0_US + 26_000, previousUs: FAR_US },
  ]);
  expect(result.timeJumpsTotal).toBe(2);
  // Live at every millisecond up to the last record before the jump; then one row at the far time, and the grid
  // again from the record after it, none live: no snapshot follows.
  expect(rows.filter((r) => r.state === "live").map((r) => r.tsUs)).toEqual(Array.from({ length: 25 }, (_, i) => XRP_T0_US + i * 1000));
  const after = rows.filter((r) => r.tsUs > XRP_T0_US + 24_000);
  expect(after.map((r) => r.tsUs)).toEqual([FAR_US, XRP_T0_US + 26_000, XRP_T0_US + 27_000, XRP_T0_US + 28_000, XRP_T0_US + 29_000]);
  expect(after.every((r) => r.state === "resyncing" && r.reason === "sequence_gap")).toBe(true);
});

/**
 * A receive time no recorder writes (a forged or damaged time in an intact block): below 0, or past 2^53 µs (the year
 * 2255), where a µs step is lost to the double's precision. Such a record is skipped and counted (unknownRecords), as
 * a record of another shape is, and the books resync there (it may have been a frame). Before, it was read: a negative time passed the time-jump check (-1 stands for "no
 * previous record"), so the grid ran from 0 to the next record, a row per book per ms for 55 years; one past 2^53 µs
 * left the grid's next row time unchanged by the step, rows at one time for good (the sink below stops both).
 */
for (const [what, forgedUs, everyMs] of [
  ["below 0", -5, 1],
  ["past 2^53 µs", 2 ** 54, 0.001],
] as const) {
  test(`a receive time ${what}: the record is skipped and counted, the books resync there, the grid stays on the capture's times`, async () => {
    const dir = makeTempDir("feeder-rdcodec-jump-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(85)));
    const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 3_000 });
    w.write(XRP_T0_US - 500, "bybit", "linear", "linear-0", ACK);
    w.write(XRP_T0_US, "bybit", "linear", "linear-0", XRP_LINES[0]!);
    w.write(forgedUs, "bybit", "linear", "linear-0", ACK);
    for (let i = 1; i < 30; i++) w.write(XRP_T0_US + i * 1000, "bybit", "linear", "linear-0", XRP_LINES[i]!);
    w.close();
    let stopNow: () => void = () => {};
    const stopSignal = new Promise<void>((resolve) => (stopNow = resolve));
    const rows: { tsUs: number; state: string }[] = [];
    const sink = {
      write: (c: string) => {
        for (const l of c.split("\n")) if (l.length > 0) rows.push(JSON.parse(l));
        if (rows.length > 100_000) stopNow();
      },
      flush: () => undefined,
    };
    const result = await exportCaptures([w.files[0]!], sink, { format: "jsonl", books: { config, depth: 1, everyMs }, log: silentLogger, stopSignal });
    expect(result.stoppedEarly).toBe(false);
    expect(result.unknownRecords).toEqual([{ file: w.files[0]!, count: 1, first: expect.stringMatching(/^record \d+ of the block at byte \d+$/) }]);
    expect(result.timeJumpsTotal).toBe(0);
    const everyUs = everyMs * 1000;
    expect(rows.length).toBe(29_000 / everyUs + 1);
    expect(rows.every((r) => r.tsUs >= XRP_T0_US && r.tsUs <= XRP_T0_US + 29_000)).toBe(true);
    // LIVE up to the record before it; after it, waiting for a snapshot none of these frames brings.
    expect(rows.every((r) => r.state === (r.tsUs <= XRP_T0_US ? "live" : "resyncing"))).toBe(true);
  });
}
