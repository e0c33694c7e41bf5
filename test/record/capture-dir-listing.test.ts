/**
 * A capture directory over months: every rotation listed it twice (the next file's number, then retention), and
 * every minute's retention pass once more, each listing a readdir and a stat of every capture in it, so a month of
 * one-minute files was quadratic, and a directory of 100,000 files took seconds per pass. Now it is listed when the
 * writer starts and again only when someone else changed it (counted here by readdir calls of the directory).
 */
import { expect, test, vi } from "vitest";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";

/** readdirSync calls per directory; statSync calls of paths inside one (a capture's stat), per directory. */
const counts = vi.hoisted(() => new Map<string, number>());
const fileStats = vi.hoisted(() => new Map<string, number>());

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const readdirSync = ((dir: string, ...rest: unknown[]) => {
    counts.set(String(dir), (counts.get(String(dir)) ?? 0) + 1);
    return (real.readdirSync as (...a: unknown[]) => unknown)(dir, ...rest);
  }) as typeof real.readdirSync;
  const statSync = ((path: string, ...rest: unknown[]) => {
    const parent = String(path).replace(/\/[^/]*$/, "");
    fileStats.set(parent, (fileStats.get(parent) ?? 0) + 1);
    return (real.statSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof real.statSync;
  return { ...real, default: real, readdirSync, statSync };
});

const { CaptureWriter } = await import("../../src/record/capture.ts");
const { existsSync, readdirSync, writeFileSync, unlinkSync } = await import("node:fs");

const FRAME = "x".repeat(300);
/** capture-index.ts RELIST_MS: the longest the writer goes without listing the directory. */
const RELIST_MS = 3_600_000;

test("200 rotations with --keep-bytes and --keep-hours passes: the directory is not listed again after the start (404 listings before), files still deleted oldest first", () => {
  const dir = makeTempDir("feeder-capture-listing-");
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `feeder-20200101T000000Z-${i}.fcap`), "FDRCAP01");
  let monoMs = 1_000;
  let wallMs = Date.UTC(2026, 11, 6, 0, 0, 0);
  // Each block fills a file: a rotation per block.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepBytes: 20 * 320, keepMs: 30 * 86_400_000 }, now: () => wallMs, monoNow: () => monoMs });
  counts.clear();
  for (let i = 0; i < 200; i++) {
    w.write(i, "bybit", "linear", "c", FRAME);
    monoMs += 1_000;
    wallMs += 1_000;
    if (i % 60 === 0) w.retain(); // the minute's pass
  }
  expect(w.files.length).toBe(200);
  expect(counts.get(dir) ?? 0).toBe(0);
  // keep-bytes held all the same: the earlier run's files and the oldest own ones went, the newest stayed.
  const left = readdirSync(dir).sort((a, b) => Number(a.split("-")[2]!.split(".")[0]) - Number(b.split("-")[2]!.split(".")[0]));
  expect(left.length).toBeLessThanOrEqual(21);
  expect(left.at(-1)).toBe(w.files.at(-1)!.slice(dir.length + 1));
  expect(w.files.slice(0, 150).some(existsSync)).toBe(false);
  w.close();
});

test("a change by someone else (a file removed or added) is seen at the next pass: listed again then, and only then", () => {
  const dir = makeTempDir("feeder-capture-listing-");
  let monoMs = 1_000;
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepBytes: 10 * 320 }, monoNow: () => monoMs });
  for (let i = 0; i < 5; i++) w.write(i, "bybit", "linear", "c", FRAME);
  counts.clear();
  // An operator removes a finished file, another writer adds one with a higher number.
  unlinkSync(w.files[0]!);
  const foreign = join(dir, "feeder-20990101T000000Z-900.fcap");
  writeFileSync(foreign, "FDRCAP01");
  w.retain();
  expect(counts.get(dir)).toBe(1);
  w.write(5, "bybit", "linear", "c", FRAME); // the next number counts on from the other writer's
  expect(w.files.at(-1)).toMatch(/-901\.fcap$/);
  w.retain();
  expect(counts.get(dir)).toBe(1);
  // Nothing changed by anyone else for RELIST_MS: listed again all the same.
  monoMs += RELIST_MS;
  w.retain();
  expect(counts.get(dir)).toBe(2);
  w.close();
});

test("without --keep-bytes/--keep-hours the listings read names only: no stat of the 500 captures at the first rotation nor at the hourly relist (1001 before), numbers still count on", () => {
  const dir = makeTempDir("feeder-capture-listing-");
  for (let i = 0; i < 500; i++) writeFileSync(join(dir, `feeder-20200101T000000Z-${i}.fcap`), "FDRCAP01");
  let monoMs = 1_000;
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, monoNow: () => monoMs });
  counts.clear();
  fileStats.clear();
  w.write(0, "bybit", "linear", "c", FRAME); // the first file: DIR listed for the next number
  monoMs += RELIST_MS;
  w.write(1, "bybit", "linear", "c", FRAME); // an hour on: listed again
  expect(counts.get(dir)).toBe(2);
  expect(fileStats.get(dir) ?? 0).toBe(0);
  expect(w.files.map((f) => f.slice(f.lastIndexOf("-") + 1))).toEqual(["500.fcap", "501.fcap"]);
  w.close();
});
