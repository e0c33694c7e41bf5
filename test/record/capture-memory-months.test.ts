/**
 * A recorder running for months kept every file name it opened (`files`) and every retention deletion (`deleted`):
 * a name a file for as long as it ran (a month of one-minute files: 43,000), and stats() went through every
 * deletion at each progress line. Now it keeps the latest `remember` (1000 by default) of each, and counts the totals.
 */
import { expect, test } from "vitest";
import { existsSync, rmSync, statSync } from "node:fs";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { stoppedFields } from "../../src/cli/commands/record.ts";

test("files and deletions are kept to the latest few; the totals in stats() and the stopped line count all of them", () => {
  const dir = makeTempDir("feeder-capture-months-");
  // A rotation per block; retention keeps about 10 files.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepBytes: 10 * 320 }, remember: 5 });
  for (let i = 0; i < 60; i++) w.write(i, "bybit", "linear", "c", "x".repeat(300));
  w.close();
  const stats = w.stats();
  expect(stats.files).toBe(60);
  expect(w.files.length).toBeGreaterThanOrEqual(5);
  expect(w.files.length).toBeLessThan(10);
  expect(existsSync(w.files.at(-1)!)).toBe(true);
  expect(w.deleted.length).toBeLessThan(10);
  expect(stats.deletedFiles).toBeGreaterThan(45);
  expect(stats.deletedBytes).toBe(stats.deletedFiles * statSync(w.files.at(-1)!).size); // every file one block of one record
  expect(stoppedFields(w, 1000)).toMatchObject({ filesOpened: 60, filesNotListed: 60 - w.files.length, filesDeleted: stats.deletedFiles });
});

test("without --keep-hours no file's last write is kept (it is only read for that); with it, a file deleted by someone else is forgotten", () => {
  const lastWrites = (w: CaptureWriter) => (w as unknown as { lastWriteMonoMs: Map<string, number> }).lastWriteMonoMs;
  const dir = makeTempDir("feeder-capture-months-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000 });
  for (let i = 0; i < 20; i++) w.write(i, "bybit", "linear", "c", "x".repeat(300));
  w.close();
  expect(lastWrites(w).size).toBe(0);
  const dir2 = makeTempDir("feeder-capture-months-");
  const w2 = new CaptureWriter({ dir: dir2, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepMs: 3_600_000, keepBytes: 1e9 } });
  for (let i = 0; i < 5; i++) w2.write(i, "bybit", "linear", "c", "x".repeat(300));
  expect(lastWrites(w2).size).toBe(5);
  // Someone else deletes the finished files: the next retention pass lists the directory again and forgets them.
  for (const f of w2.files.slice(0, 4)) rmSync(f);
  w2.retain();
  expect([...lastWrites(w2).keys()]).toEqual([w2.files[4]]);
  w2.close();
});
