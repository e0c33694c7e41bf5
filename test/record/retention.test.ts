/** Capture directories over time: --keep-hours and --keep-bytes delete the oldest finished files and log each; a write error loses one block, counted, and nothing else. */
import { describe, expect, test } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";

function logCapture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) }) };
}

const FRAME = "x".repeat(1000);

describe("capture retention and write errors", () => {
  test("--keep-bytes: the oldest finished files go first until the directory fits (counting the open file at its rotation size); the open file stays; each deletion is logged", () => {
    const dir = makeTempDir("feeder-keep-");
    // A file of an earlier run and an unrelated file: the first counts, the second is never touched.
    const earlier = join(dir, "feeder-20200101T000000Z-0.fcap");
    writeFileSync(earlier, "FDRCAP01" + "y".repeat(5000));
    writeFileSync(join(dir, "notes.txt"), "z".repeat(50_000));
    const { log, lines } = logCapture();
    let nowMs = Date.UTC(2026, 11, 4, 12, 0, 0);
    const w = new CaptureWriter({ dir, prefix: "feeder", maxFileBytes: 3_000, flushBytes: 1, retention: { keepBytes: 8_000 }, log, now: () => (nowMs += 1000) });
    for (let i = 0; i < 30; i++) w.write(i, "bybit", "linear", "c", FRAME);
    const openFile = w.stats().file!;
    const captures = () => readdirSync(dir).filter((f) => f.endsWith(".fcap"));
    const total = () => captures().reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(total()).toBeLessThanOrEqual(8_000 + 1_100); // plus at most one block (1008 B here)
    expect(existsSync(openFile)).toBe(true);
    expect(existsSync(earlier)).toBe(false);
    expect(existsSync(join(dir, "notes.txt"))).toBe(true);
    const deletions = lines.filter((l) => l.msg === "capture file deleted");
    expect(deletions[0]).toMatchObject({ file: earlier, bytes: 5008, reason: "keep-bytes" });
    // Oldest first: the deleted ones are exactly the first files written, in order.
    const deletedOwn = deletions.slice(1).map((l) => l.file);
    expect(deletedOwn).toEqual(w.files.slice(0, deletedOwn.length));
    expect(deletedOwn.length).toBeGreaterThan(3);
    expect(w.stats().deletedFiles).toBe(deletions.length);
    w.close();
  });

  test("--keep-hours: finished files last written longer ago than that are deleted and logged; newer ones stay", () => {
    const dir = makeTempDir("feeder-keep-");
    const nowMs = Date.now();
    const old = [join(dir, "feeder-20260101T000000Z-0.fcap"), join(dir, "feeder-20260101T010000Z-1.fcap")];
    const recent = join(dir, "feeder-20260101T020000Z-2.fcap");
    for (const f of [...old, recent]) writeFileSync(f, "FDRCAP01");
    for (const f of old) utimesSync(f, new Date(nowMs - 3 * 3_600_000), new Date(nowMs - 3 * 3_600_000));
    utimesSync(recent, new Date(nowMs - 3_600_000), new Date(nowMs - 3_600_000));
    const { log, lines } = logCapture();
    const w = new CaptureWriter({ dir, prefix: "feeder", retention: { keepMs: 2 * 3_600_000 }, log });
    w.write(1, "bybit", "linear", "c", FRAME);
    w.close();
    expect(old.map(existsSync)).toEqual([false, false]);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(w.files[0]!)).toBe(true);
    expect(lines.filter((l) => l.msg === "capture file deleted").map((l) => [l.file, l.reason])).toEqual(old.map((f) => [f, "keep-hours"]));
  });

  test("without a retention policy nothing is deleted", () => {
    const dir = makeTempDir("feeder-keep-");
    const w = new CaptureWriter({ dir, prefix: "feeder", maxFileBytes: 2_000, flushBytes: 1 });
    for (let i = 0; i < 10; i++) w.write(i, "bybit", "linear", "c", FRAME);
    w.close();
    expect(readdirSync(dir).length).toBe(w.files.length);
    expect(w.files.length).toBeGreaterThan(4);
  });

  test("a block that cannot be written is counted and logged, the writer goes on with a new file, nothing else is lost", () => {
    const dir = makeTempDir("feeder-write-error-");
    const nowMs = Date.UTC(2026, 11, 4, 12, 0, 0);
    // A file where the directory was when the first block is written: opening the file fails like a broken disk
    // would. (A directory deleted is made again: capture-dir-recreated.test.ts.)
    const { log, lines } = logCapture();
    const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log, now: () => nowMs });
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory");
    w.write(1, "bybit", "linear", "c", "lost");
    rmSync(dir);
    mkdirSync(dir);
    w.write(2, "bybit", "linear", "c", "kept-1");
    w.write(3, "bybit", "linear", "c", "kept-2");
    w.close();
    // records, blocks: the mark of the lost block (CAPTURE_LOST_URL) is one of each, before kept-1.
    expect(w.stats()).toMatchObject({ records: 4, lostRecords: 1, writeErrors: 1, blocks: 3 });
    expect(lines.filter((l) => l.msg === "capture block could not be written; its records are lost")).toEqual([
      expect.objectContaining({ level: "error", count: 1, total: 1, detail: expect.stringContaining("ENOTDIR") }),
    ]);
    expect(w.files).toEqual([join(dir, "feeder-20261204T120000Z-1.fcap")]);
    expect(readCapture(w.files[0]!).records.map((r) => r.url ?? r.frame)).toEqual(["capture:lost", "kept-1", "kept-2"]);
  });
});
