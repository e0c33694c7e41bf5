/**
 * A capture whose recorder crashed mid-block, joined with the next file (`cat a.fcap b.fcap > c.fcap`): until
 * 2026-12-07 the reader stopped at a's cut block (its length runs into b, its checksum fails) and every record of b
 * was reported as the cut file's lost tail. Now it resumes at the next capture header whose first block checks out
 * (magic, length bound, CRC), counting the bytes skipped (CaptureReader.resyncs); a "FDRCAP01" in the garbage
 * without a valid block after it is not taken. Replay names the skip (resynced), resyncs the books there, and sees
 * the run boundary (a's run killed: unstopped).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { CaptureSocketHead } from "../../src/app/capture-sockets.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureReader, CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { CONNECTION_OPENED_URL, SOCKETS_RECORDED_URL } from "../../src/venues/venue.ts";
import { notingFeeder } from "../support/noting-feeder.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** One killed run's file, as `feeder record` writes it: okx `conn` opened at `us`, then a block per frame. */
function killedRun(dir: string, conn: string, us: number, frames: string[]): { bytes: Buffer; blockAt: number[] } {
  const w = new CaptureWriter({ dir, prefix: conn, compression: "none", flushBytes: 1 << 20, fileHead: new CaptureSocketHead() });
  w.writeRest(us, "okx", "spot", conn, CONNECTION_OPENED_URL, "wss://venue.example/ws");
  w.writeRest(us, "okx", "spot", conn, SOCKETS_RECORDED_URL, "");
  const blockAt: number[] = [];
  for (const [i, f] of frames.entries()) {
    w.flush();
    blockAt.push(w.stats().writtenBytes);
    w.write(us + 1 + i, "okx", "spot", conn, f);
  }
  w.close();
  const bytes = readFileSync(w.files[0]!);
  return { bytes, blockAt };
}

/** a's last block cut 5 bytes into its body (a crash mid-write), then b: where a's cut block began. */
function joined(dir: string, garbage: Buffer = Buffer.alloc(0)): { file: string; cutAt: number; bAt: number } {
  const a = killedRun(dir, "spot-0", 1_000, ["a1", "a2"]);
  const b = killedRun(dir, "swap-0", 60_000_000, ["b1"]);
  const cutAt = a.blockAt[1]!;
  const file = join(dir, "joined.fcap");
  const head = Buffer.concat([a.bytes.subarray(0, cutAt + 8 + 5), garbage]);
  writeFileSync(file, Buffer.concat([head, b.bytes]));
  return { file, cutAt, bAt: head.byteLength };
}

test("reader: a crash-cut capture joined with the next: the next one's records are read, the bytes skipped counted", () => {
  const dir = makeTempDir("feeder-cat-resync-");
  const { file, cutAt, bAt } = joined(dir);
  const reader = CaptureReader.open(file);
  const records = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) records.push(...b);
  // Before: ["a1"], truncated "checksum mismatch in block at byte …", b's records lost.
  expect(records.filter((r) => r.url === undefined).map((r) => r.frame)).toEqual(["a1", "b1"]);
  expect(reader.truncated).toBeUndefined();
  expect(reader.resyncs).toEqual([{ atByte: cutAt, bytesSkipped: bAt - cutAt, why: expect.stringMatching(/at byte \d+/) }]);
  expect({ captures: reader.captures, captureAt: reader.captureAt }).toEqual({ captures: 2, captureAt: bAt });
  // The first record after the skip is marked: readers resync the books there (the skipped records may be frames).
  expect(records.find((r) => r.connection === "swap-0")!.unreadBefore).toBe(true);
});

test("reader: a capture header inside the garbage whose block fails its CRC, or exceeds the length bound, is not taken", () => {
  const dir = makeTempDir("feeder-cat-lookalike-");
  const badCrc = Buffer.concat([Buffer.from("FDRCAP01"), Buffer.from([4, 0, 0, 0, 1, 2, 3, 4]), Buffer.from("abcd")]);
  const tooLong = Buffer.concat([Buffer.from("FDRCAP01"), Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])]);
  const { file, cutAt, bAt } = joined(dir, Buffer.concat([badCrc, tooLong]));
  const reader = CaptureReader.open(file);
  const frames: unknown[] = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) frames.push(...b.filter((r) => r.url === undefined).map((r) => r.frame));
  expect(frames).toEqual(["a1", "b1"]);
  expect(reader.resyncs).toMatchObject([{ atByte: cutAt, bytesSkipped: bAt - cutAt }]);
  // With no valid capture after the damage, reading stops there as before: named, the rest left unread.
  const alone = join(dir, "alone.fcap");
  writeFileSync(alone, readFileSync(file).subarray(0, bAt));
  const r = readCapture(alone);
  expect(r.records.filter((x) => x.url === undefined).map((x) => x.frame)).toEqual(["a1"]);
  expect(r.truncated).toMatch(new RegExp(`at byte ${cutAt}`));
});

test("replay: the skip is named (resynced), the books resync once, and a's run is seen killed before b's", async () => {
  const dir = makeTempDir("feeder-cat-replay-");
  const { file, cutAt, bAt } = joined(dir);
  const { feeder, calls } = notingFeeder();
  const result = await replayCaptures(feeder, [file], { pace: "fast" });
  expect(calls).toEqual(["a1", "gap", "b1"]);
  expect(result.truncated).toEqual([]);
  expect(result.resynced).toEqual([{ file, atByte: cutAt, bytesSkipped: bAt - cutAt, why: expect.any(String), resumedAt: bAt }]);
  expect(result.unstopped).toEqual([{ file, endsUs: 1_001, next: file, atByte: bAt }]);
});

test("export: the joined capture's records are exported, the skip named (resynced)", async () => {
  const dir = makeTempDir("feeder-cat-export-");
  const { file, cutAt, bAt } = joined(dir);
  let out = "";
  const result = await exportCaptures([file], { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", log: silentLogger });
  expect(out).toContain('"b1"');
  expect(result.truncated).toEqual([]);
  expect(result.resynced).toEqual([{ file, atByte: cutAt, bytesSkipped: bAt - cutAt, why: expect.any(String), resumedAt: bAt }]);
});
