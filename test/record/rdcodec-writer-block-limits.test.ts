/**
 * The writer keeps to the readers' block limits (MAX_BLOCK_BYTES, MAX_BLOCK_VALUES). Before, it wrote whatever was
 * buffered as one block: a frame of over 256 MiB (a venue's socket may take up to 1 GiB), or a flush of many tiny
 * records (1 MiB of 1-byte frames, empty connection events), made a block every reader refused (`implausible block
 * …`), and the rest of the file was lost. Now a block over either limit is written as several; a single record over
 * the byte limit is not recorded (counted in lostRecords, logged) and its connection's close (`ws:close`) is written
 * in its place, so a replay takes that connection's books out of LIVE there instead of building on without it. Small
 * limits given to writer and reader alike keep the test small.
 */
import { expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES } from "../../src/core/types.ts";
import { CaptureReader, CaptureWriter, type CaptureRecord } from "../../src/record/capture.ts";
import { captureLog } from "../support/capture-log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ACK, XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const KIB = 1024;
const dir = makeTempDir("feeder-rdcodec-limits-");

function readAll(file: string, maxBytes: number, maxValues?: number): { records: CaptureRecord[]; truncated: string | undefined } {
  const reader = new CaptureReader(readFileSync(file), maxBytes, maxValues);
  const records: CaptureRecord[] = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) records.push(...b);
  return { records, truncated: reader.truncated };
}

/** The XRP recording, 1 ms apart, its 13th frame padded (JSON whitespace) to 40,000 bytes: over the 32 KiB block limit. */
function bigFrameCapture(name: string, compression: "none" | "zstd", maxBlockBytes?: number) {
  const { log, lines } = captureLog();
  const w = new CaptureWriter({ dir: `${dir}/${name}`, prefix: "feeder", flushBytes: 3_000, compression, log, maxBlockBytes });
  w.write(XRP_T0_US - 500, "bybit", "linear", "linear-0", ACK);
  XRP_LINES.slice(0, 30).forEach((frame, i) => w.write(XRP_T0_US + i * 1000, "bybit", "linear", "linear-0", i === 12 ? frame + " ".repeat(40_000 - frame.length) : frame));
  w.close();
  return { file: w.files[0]!, writer: w, lines };
}

for (const compression of ["none", "zstd"] as const) {
  test(`${compression}: a frame over the block limit is not recorded; its connection's close is, and every block is read`, () => {
    const { file, writer, lines } = bigFrameCapture(compression, compression, 32 * KIB);
    const { records, truncated } = readAll(file, 32 * KIB);
    expect(truncated).toBeUndefined();
    expect(records).toHaveLength(31);
    expect(records[13]).toEqual({ tsRecvUs: XRP_T0_US + 12_000, venue: "bybit", market: "linear", connection: "linear-0", url: "ws:close", frame: expect.stringMatching(/^capture: a frame of 400\d\d bytes was not recorded, larger than a capture block holds \(32768 bytes\)$/) });
    expect(records.filter((r, i) => i !== 13).map((r) => r.frame)).toEqual([ACK, ...XRP_LINES.slice(0, 12), ...XRP_LINES.slice(13, 30)]);
    expect(writer.lostRecords).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: "error", msg: "capture record larger than a capture block holds; not recorded, its connection closed in the capture", fields: expect.objectContaining({ venue: "bybit", connection: "linear-0", kind: "frame" }) })]);
  });
}

test("a flush of more records than a block's values takes is written as several blocks, every one read", () => {
  const w = new CaptureWriter({ dir: `${dir}/values`, prefix: "feeder", flushBytes: 1 << 30, maxBlockValues: 1_000 });
  for (let i = 0; i < 1_000; i++) w.write(XRP_T0_US + i, "bybit", "linear", "linear-0", i % 2 === 0 ? "" : "1");
  w.close();
  const { records, truncated } = readAll(w.files[0]!, 1 << 20, 1_000);
  expect(truncated).toBeUndefined();
  expect(records.map((r) => r.tsRecvUs)).toEqual(Array.from({ length: 1_000 }, (_, i) => XRP_T0_US + i));
  expect(w.lostRecords).toBe(0);
  expect(w.blocks).toBeGreaterThan(7);
});

test("replay: the book leaves LIVE where the frame too large for a block was, and stays out of it", async () => {
  const { file } = bigFrameCapture("replay", "zstd", 32 * KIB);
  const feeder = new Feeder({ config: loadConfigFile(writeXrpConfig(dir, uniqueDestination(84))), log: silentLogger, replay: true });
  await feeder.start();
  try {
    const states: string[] = [];
    const ingest = feeder.ingest.bind(feeder);
    feeder.ingest = (venue, market, connection, frame, tsRecvUs) => {
      const ok = ingest(venue, market, connection, frame, tsRecvUs);
      states.push(BOOK_STATE_NAMES[feeder.books()[0]!.state]!);
      return ok;
    };
    const result = await replayCaptures(feeder, [file], { pace: "fast" });
    expect(result.truncated).toEqual([]);
    // The ack, then the snapshot and 11 deltas: live; after the close, never again (no snapshot follows in the capture).
    expect(states.slice(1, 13).every((s) => s === "live")).toBe(true);
    expect(states.slice(13)).toHaveLength(17);
    expect(states.slice(13).some((s) => s === "live")).toBe(false);
  } finally {
    await feeder.stop();
  }
});
