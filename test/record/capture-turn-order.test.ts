/**
 * Records of one event-loop turn are stamped out of order: frames with the turn's receipt time, a connection event or
 * REST response with the time it was handled (later). Replay feeds records in file order, which is the order the live
 * run handled them, so it does not depend on that; but a rotation inside a turn began the next file with a frame
 * stamped before the previous file's last record (the event), and replay reported the writer's own consecutive files
 * as given out of order. Now a due rotation waits for a block that does not begin before the file's last record.
 */
import { expect, test } from "vitest";
import { existsSync, statSync } from "node:fs";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import type { Feeder } from "../../src/app/feeder.ts";

test("a rotation due inside a turn (a frame after a later-stamped event): the next file begins at the next turn, and replay reports no disorder", async () => {
  const dir = makeTempDir("feeder-capture-turn-");
  // Every record is a block (flushBytes 1); the file is due to rotate after each block (maxFileBytes 1).
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 1, flushIntervalMs: 3_600_000 });
  const T = 1_765_000_000_000_000;
  w.write(T, "bybit", "linear", "c", "turn-1 frame a");
  w.writeRest(T + 700, "bybit", "linear", "c", "ws:close", "turn-1 event"); // handled 700 µs into the turn
  w.write(T, "bybit", "linear", "c", "turn-1 frame b"); // the same turn: its receipt time
  w.write(T + 900, "bybit", "linear", "c", "turn-2 frame");
  w.close();
  const fed: string[] = [];
  const feeder = {
    ingest: (_v: string, _m: string, _c: string, frame: string) => fed.push(frame) > 0,
    ingestRest: (_v: string, _m: string, _c: string, _url: string, body: string) => fed.push(body) > 0,
  } as unknown as Feeder;
  const result = await replayCaptures(feeder, w.files, { pace: "fast" });
  expect(result.outOfOrder).toEqual([]);
  expect(fed).toEqual(["turn-1 frame a", "turn-1 event", "turn-1 frame b", "turn-2 frame"]);
  const files = w.files.map((f) => readCapture(f).records.map((r) => r.frame));
  expect(files).toEqual([["turn-1 frame a"], ["turn-1 event", "turn-1 frame b"], ["turn-2 frame"]]);
});

test("the wait is bounded: a file held open past its rotation by blocks that all begin earlier still rotates after 16", () => {
  const dir = makeTempDir("feeder-capture-turn-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 1, flushIntervalMs: 3_600_000 });
  for (let i = 0; i < 40; i++) w.write(1_000_000 - i, "bybit", "linear", "c", `f${i}`);
  w.close();
  expect(w.files.map((f) => readCapture(f).records.length)).toEqual([17, 17, 6]);
});

test("--keep-bytes counts the open file at its size when a held rotation grew it past its rotation size", () => {
  const dir = makeTempDir("feeder-capture-turn-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepBytes: 1500 } });
  const frame = "x".repeat(300);
  w.write(10, "bybit", "linear", "c", frame); // file 1
  w.write(20, "bybit", "linear", "c", frame); // file 2 (file 1 is full)
  for (let ts = 19; ts >= 16; ts--) w.write(ts, "bybit", "linear", "c", frame); // each begins before the last: held in file 2
  expect(w.files.length).toBe(2);
  expect(statSync(w.files[1]!).size).toBeGreaterThan(1500 - statSync(w.files[0]!).size);
  w.retain();
  expect(existsSync(w.files[0]!)).toBe(false);
  expect(w.stats().deletedFiles).toBe(1);
  w.close();
});
