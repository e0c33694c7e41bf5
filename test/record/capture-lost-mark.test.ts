/**
 * A block the recorder could not write (a full disk) is lost and the file goes on after it: the next block written is
 * preceded by a `capture:lost` record, and replay and `export --books` resync every book there, as at a file cut short.
 * Before, nothing in the file said so: a book whose update was in the lost block and that had no frame after it stayed
 * LIVE in replay and export at levels live had already moved on from. The write fault is injected into node:fs.
 */
import { expect, test, vi } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";
import { notingFeeder, okxInstId } from "../support/noting-feeder.ts";

/** The next write past a file's header fails with ENOSPC, nothing written (one block lost). */
const faults = vi.hoisted(() => ({ nextWrite: false }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    default: real,
    writeSync: (fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
      if (faults.nextWrite && pos > 0) {
        faults.nextWrite = false;
        const e = new Error("ENOSPC: injected") as NodeJS.ErrnoException;
        e.code = "ENOSPC";
        throw e;
      }
      return real.writeSync(fd, buf, off, len, pos);
    },
  };
});

const { CAPTURE_LOST_URL, CaptureWriter, readCapture } = await import("../../src/record/capture.ts");
const { exportCaptures } = await import("../../src/app/export.ts");
const { replayCaptures } = await import("../../src/app/replay.ts");
const { loadConfigFile } = await import("../../src/config/load.ts");
const { silentLogger } = await import("../../src/core/log.ts");
const { checksumOfStrings } = await import("../../src/venues/okx/checksum.ts");

const T0_US = 1_733_011_200_000_000;

function okxFrame(action: "snapshot" | "update", instId: string, bids: string[][], asks: string[][], prevSeqId: number, seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000), checksum: checksumOfStrings(bids, asks), prevSeqId, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action, data: [data] });
}

const solBids = [["240.01", "3", "0", "1"]];
const solAsks = [["240.02", "4", "0", "1"]];
const ethBids = [["3600.01", "1.5", "0", "1"]];
const ethAsks = [["3600.02", "2", "0", "1"]];

/** SOL's snapshot; its update lost with its block (the disk full); then ETH's snapshot, in the same file. */
function capture(dir: string): string[] {
  const w = new CaptureWriter({ dir, prefix: "okx", flushBytes: 1, compression: "none" });
  w.write(T0_US, "okx", "spot", "spot-0", okxFrame("snapshot", "SOL-USDT", solBids, solAsks, -1, 30));
  faults.nextWrite = true;
  w.write(T0_US + 1, "okx", "spot", "spot-0", okxFrame("update", "SOL-USDT", [["240.01", "0", "0", "0"]], [], 30, 31));
  w.write(T0_US + 2, "okx", "spot", "spot-0", okxFrame("snapshot", "ETH-USDT", ethBids, ethAsks, -1, 10));
  w.close();
  expect(w.stats()).toMatchObject({ lostRecords: 1, writeErrors: 1 });
  return w.files;
}

test("the writer marks where blocks were lost, before the next block it writes, with how many records and why", () => {
  const files = capture(makeTempDir("feeder-capture-lost-mark-"));
  expect(files.length).toBe(1);
  const read = readCapture(files[0]!);
  expect(read.truncated).toBeUndefined();
  expect(read.records.map((r) => r.url)).toEqual([undefined, CAPTURE_LOST_URL, undefined]);
  expect(read.records[1]).toMatchObject({ tsRecvUs: T0_US + 2, venue: "", market: "", connection: "", frame: expect.stringMatching(/^1 records in 1 blocks not written: ENOSPC/) });
});

test("replay resyncs the books at the mark (a capture gap), and names it under lost; the mark is not fed as a frame", async () => {
  const files = capture(makeTempDir("feeder-capture-lost-replay-"));
  const { feeder, calls } = notingFeeder({ frameLabel: (frame) => `frame ${okxInstId(frame)}`, rests: true });
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  expect(calls).toEqual(["frame SOL-USDT", "gap", "frame ETH-USDT"]);
  expect(result).toMatchObject({ frames: 2, ingested: 2, skipped: 0, lost: [{ file: files[0], atUs: T0_US + 2, why: expect.stringMatching(/ENOSPC/) }] });
});

/** An OKX config of the two books, in dir. */
function okxConfig(dir: string): string {
  return writeOfflineOkxConfig(dir, { group: "239.255.61.2", port: 46102 }, { "ETH-USDT": "0.01", "SOL-USDT": "0.01" });
}

test("export --books: the book whose update was lost leaves LIVE at the mark (resyncing / sequence_gap), as in replay", async () => {
  const dir = makeTempDir("feeder-capture-lost-export-");
  const files = capture(dir);
  const config = okxConfig(dir);
  let out = "";
  const result = await exportCaptures(files, { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(config), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  expect(result).toMatchObject({ skipped: 0, lost: [{ file: files[0], atUs: T0_US + 2 }] });
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; reason: string; tsUs: number });
  const sol = rows.filter((r) => r.symbol === "SOL-USDT");
  // Before: one row, live, and none after it (its levels from before the lost update).
  expect(sol.map((r) => [r.state, r.reason, r.tsUs])).toEqual([
    ["live", "snapshot_applied", T0_US],
    ["resyncing", "sequence_gap", T0_US],
  ]);
  expect(rows.filter((r) => r.symbol === "ETH-USDT").map((r) => r.state)).toEqual(["live"]);
});

test("a mark after a loss of over an hour: one time jump and frames without the mark, in export --books as in replay", async () => {
  const dir = makeTempDir("feeder-capture-lost-jump-");
  const w = new CaptureWriter({ dir, prefix: "okx", flushBytes: 1, compression: "none" });
  w.write(T0_US, "okx", "spot", "spot-0", okxFrame("snapshot", "SOL-USDT", solBids, solAsks, -1, 30));
  faults.nextWrite = true;
  w.write(T0_US + 1, "okx", "spot", "spot-0", okxFrame("update", "SOL-USDT", [["240.01", "0", "0", "0"]], [], 30, 31));
  const laterUs = T0_US + 2 * 3_600_000_000; // the disk full for two hours
  w.write(laterUs, "okx", "spot", "spot-0", okxFrame("snapshot", "ETH-USDT", ethBids, ethAsks, -1, 10));
  w.close();
  const files = w.files;
  expect(readCapture(files[0]!).records.map((r) => r.url)).toEqual([undefined, CAPTURE_LOST_URL, undefined]);
  const { feeder } = notingFeeder();
  const replayed = await replayCaptures(feeder, files, { pace: "fast" });
  expect(replayed).toMatchObject({ frames: 2, timeJumpsTotal: 1, lost: [{ atUs: laterUs }] });
  const exported = await exportCaptures(files, { write: () => undefined, flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(okxConfig(dir)), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  // Before: the record after the mark was taken for a second jump (timeJumpsTotal 2), and frames counted the mark (3).
  expect(exported).toMatchObject({ frames: 2, timeJumpsTotal: 1, timeJumps: [{ atUs: laterUs, previousUs: T0_US }], lost: [{ atUs: laterUs }] });
});
