/**
 * Losses at the recorder's stop: blocks lost to a disk still full at close(), or the open file deleted just before
 * it with nothing left to flush. Until s-capclose no mark was written then (the mark went in with the next block,
 * and there was none): a replay or export --books across that run and the next kept a book LIVE over the lost part
 * (the stop's closes among it) and the downtime. Now close() writes the mark alone; when even that cannot be written,
 * the file is left one byte past its last whole block, which readers take as cut short there (a capture gap before
 * the next file). The write faults are injected into node:fs.
 */
import { statSync, truncateSync, unlinkSync } from "node:fs";
import { basename } from "node:path";
import { beforeEach, expect, test, vi } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { captureLog } from "../support/capture-log.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";
import { notingFeeder } from "../support/noting-feeder.ts";

/**
 * Writes past a file's header: `full` fails every one; `next` fails the next n (ENOSPC, nothing written); `headers`
 * fails a new file's header too (no room for a new file).
 */
const faults = vi.hoisted(() => ({ full: false, next: 0, headers: false }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    default: real,
    writeSync: (fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
      if ((faults.full || faults.next > 0) && (pos > 0 || faults.headers)) {
        if (faults.next > 0) faults.next--;
        const e = new Error("ENOSPC: injected") as NodeJS.ErrnoException;
        e.code = "ENOSPC";
        throw e;
      }
      return real.writeSync(fd, buf, off, len, pos);
    },
  };
});

beforeEach(() => {
  faults.full = false;
  faults.next = 0;
  faults.headers = false;
});

const { CAPTURE_LOST_URL, CaptureWriter, readCapture } = await import("../../src/record/capture.ts");
const { replayCaptures } = await import("../../src/app/replay.ts");
const { exportCaptures } = await import("../../src/app/export.ts");
const { loadConfigFile } = await import("../../src/config/load.ts");
const { silentLogger } = await import("../../src/core/log.ts");
const { checksumOfStrings } = await import("../../src/venues/okx/checksum.ts");

/** A replay's feeder that notes the frames fed and the capture gaps. */
async function replayed(files: string[]): Promise<{ calls: string[]; truncated: unknown[] }> {
  const { feeder, calls } = notingFeeder({ rests: true });
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  return { calls, truncated: result.truncated };
}

/** A run whose first block ("written") is on disk and whose last ("stop-close") meets the disk full at close(). */
function closedOnFullDisk(dir: string): InstanceType<typeof CaptureWriter> {
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none" });
  w.write(1, "okx", "spot", "c", "written");
  w.flush();
  w.write(2, "okx", "spot", "c", "stop-close");
  faults.full = true;
  w.close();
  return w;
}

/** The next run's file in the same directory: one frame. */
function nextRun(dir: string): string {
  faults.full = false;
  faults.next = 0;
  faults.headers = false;
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none" });
  w.write(100, "okx", "spot", "c", "next-run");
  w.close();
  return w.files[0]!;
}

test("the disk still full at close: the file ends a byte past its last block, and replay resyncs before the next run", async () => {
  const dir = makeTempDir("feeder-capture-close-full-");
  const w = closedOnFullDisk(dir);
  expect(w.stats()).toMatchObject({ lostRecords: 1 });
  const file = w.files[0]!;
  const read = readCapture(file);
  expect(read.records.map((r) => r.frame)).toEqual(["written"]);
  expect(read.truncated).toMatch(/^incomplete block header/);
  const next = nextRun(dir);
  // Before: ["written", "next-run"], the books LIVE from the first run's last frame into the next run.
  expect((await replayed([file, next])).calls).toEqual(["written", "gap", "next-run"]);
});

test("the disk full from a rotation to the stop (no file open): the last file written ends a byte past its last block", async () => {
  const dir = makeTempDir("feeder-capture-close-rotated-");
  // Every block rotates (maxFileBytes 1): the stop's block needs a new file, which the full disk refuses.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none", maxFileBytes: 1 });
  w.write(1, "okx", "spot", "c", "written");
  w.flush();
  const file = w.files[0]!;
  const whole = statSync(file).size;
  w.write(2, "okx", "spot", "c", "stop-close");
  faults.full = true;
  faults.headers = true;
  w.close();
  expect(w.stats()).toMatchObject({ lostRecords: 1 });
  expect(w.files).toEqual([file]);
  expect(statSync(file).size).toBe(whole + 1);
  expect(readCapture(file).truncated).toMatch(/^incomplete block header/);
  // Before: ["written", "next-run"], the books LIVE over the stop's lost block and the downtime.
  expect((await replayed([file, nextRun(dir)])).calls).toEqual(["written", "gap", "next-run"]);
});

test("no file open at the stop and the last file cut shorter meanwhile: it is left as it was cut, the warning says why", async () => {
  const dir = makeTempDir("feeder-capture-close-rotated-cut-");
  const { log, lines } = captureLog();
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none", maxFileBytes: 1, log });
  w.write(1, "okx", "spot", "c", "written");
  w.flush();
  const file = w.files[0]!;
  truncateSync(file, 0); // copytruncate: the writer sees it at its next block and gives the file up
  w.write(2, "okx", "spot", "c", "stop-close");
  faults.full = true;
  faults.headers = true;
  w.close();
  expect(w.files).toEqual([file]);
  // Not grown back to the length written (zeros where the blocks were, a file no reader takes): left empty.
  expect(statSync(file).size).toBe(0);
  expect(lines).toContainEqual(expect.objectContaining({ msg: "capture loss at the stop could not be marked, nor the file cut short: a replay across this run and the next does not see it", fields: expect.objectContaining({ file, cutError: expect.stringMatching(/^its length is not the \d+ bytes written$/) }) }));
});

test("room at close for the mark alone: the last block lost, its mark written, and replay resyncs there", async () => {
  const dir = makeTempDir("feeder-capture-close-mark-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none" });
  w.write(1, "okx", "spot", "c", "written");
  w.flush();
  w.write(2, "okx", "spot", "c", "stop-close");
  faults.next = 1;
  w.close();
  const file = w.files[0]!;
  const read = readCapture(file);
  expect(read.truncated).toBeUndefined();
  expect(read.records.map((r) => [r.url, r.tsRecvUs])).toEqual([
    [undefined, 1],
    [CAPTURE_LOST_URL, 2],
  ]);
  expect(read.records[1]!.frame).toMatch(/^1 records in 1 blocks not written: ENOSPC/);
  expect((await replayed([file, nextRun(dir)])).calls).toEqual(["written", "gap", "next-run"]);
});

test("the open file deleted just before close, nothing left to flush: the mark goes in a file of its own", async () => {
  const dir = makeTempDir("feeder-capture-close-deleted-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, compression: "none" });
  w.write(1, "okx", "spot", "c", "kept");
  w.write(2, "okx", "spot", "c", "rotated");
  // A file before the deleted one (an earlier rotation of the run): its books LIVE at its end.
  w.flush();
  const first = w.files[0]!;
  unlinkSync(first);
  w.close();
  expect(w.files.length).toBe(2);
  const read = readCapture(w.files[1]!);
  expect(read.records.map((r) => [r.url, r.frame, r.tsRecvUs])).toEqual([[CAPTURE_LOST_URL, `${basename(first)} was deleted while being written (2 records)`, 2]]);
  expect((await replayed([w.files[1]!, nextRun(dir)])).calls).toEqual(["gap", "next-run"]);
});

test("a deleted file's mark counts the records written to it, not its head or an earlier mark", () => {
  const dir = makeTempDir("feeder-capture-close-count-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, compression: "none" });
  w.write(1, "okx", "spot", "c", "a");
  faults.next = 1;
  w.write(2, "okx", "spot", "c", "lost");
  w.write(3, "okx", "spot", "c", "b"); // after the mark of the lost one
  const first = w.files[0]!;
  unlinkSync(first);
  w.write(4, "okx", "spot", "c", "c");
  w.close();
  // Before: "(3 records)", the mark among them.
  expect(readCapture(w.files[1]!).records[0]!.frame).toBe(`${basename(first)} was deleted while being written (2 records)`);
  expect(statSync(w.files[1]!).size).toBeGreaterThan(0);
});

test("a second close() tries the mark no more: no file opened for it", () => {
  const dir = makeTempDir("feeder-capture-close-twice-");
  const w = closedOnFullDisk(dir);
  faults.full = false;
  w.close();
  expect(w.files.length).toBe(1);
  expect(readCapture(w.files[0]!).truncated).toMatch(/^incomplete block header/);
});

const T0_US = 1_733_011_200_000_000;

function okxSnapshot(instId: string, bids: string[][], asks: string[][], seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000), checksum: checksumOfStrings(bids, asks), prevSeqId: -1, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action: "snapshot", data: [data] });
}

test("export --books across a run whose last block was lost at close and the next run: the book leaves LIVE before the next run", async () => {
  const dir = makeTempDir("feeder-capture-close-export-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none" });
  w.write(T0_US, "okx", "spot", "spot-0", okxSnapshot("SOL-USDT", [["240.01", "3", "0", "1"]], [["240.02", "4", "0", "1"]], 30));
  w.flush();
  w.write(T0_US + 1, "okx", "spot", "spot-0", okxSnapshot("SOL-USDT", [["241.01", "3", "0", "1"]], [["241.02", "4", "0", "1"]], 40));
  faults.full = true;
  w.close();
  faults.full = false;
  const next = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none" });
  next.write(T0_US + 60_000_000, "okx", "spot", "spot-0", okxSnapshot("ETH-USDT", [["3600.01", "1.5", "0", "1"]], [["3600.02", "2", "0", "1"]], 10));
  next.close();
  const config = writeOfflineOkxConfig(dir, { group: "239.255.61.3", port: 46103 }, { "ETH-USDT": "0.01", "SOL-USDT": "0.01" });
  let out = "";
  const result = await exportCaptures([w.files[0]!, next.files[0]!], { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(config), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; reason: string; tsUs: number });
  // Before: SOL's one row, live, carried over the lost snapshot and into the next run.
  expect(rows.filter((r) => r.symbol === "SOL-USDT").map((r) => [r.state, r.reason, r.tsUs])).toEqual([
    ["live", "snapshot_applied", T0_US],
    ["resyncing", "sequence_gap", T0_US],
  ]);
  expect(result.truncated).toMatchObject([{ file: w.files[0], bytesLeft: 1 }]);
});
