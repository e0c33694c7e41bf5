/**
 * The capture directory deleted under the recorder (`rm -rf` by an operator or a cleaner): every later block was
 * lost (ENOENT opening the next file) until a restart. Now the directory is made again with the mode it had, said
 * once per time it was made, and writing goes on.
 */
import { expect, test } from "vitest";
import { chmodSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";
import { CLAIM_FILE, DirClaim, DirClaimedError } from "../../src/record/dir-claim.ts";

const GONE = "capture directory was gone; made again";

test("the directory deleted with its files: made again with its mode, said once, and no later block is lost", () => {
  const parent = makeTempDir("feeder-capture-dir-gone-");
  const dir = join(parent, "captures");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, flushIntervalMs: 3_600_000, retention: { keepBytes: 1e9 }, log });
  chmodSync(dir, 0o750);
  // The mode is read when the writer starts: this one is what it had then.
  const w2 = new CaptureWriter({ dir, prefix: "other", flushBytes: 1, flushIntervalMs: 3_600_000, log });
  w.write(1, "bybit", "linear", "c", "before");
  rmSync(dir, { recursive: true });
  w.write(2, "bybit", "linear", "c", "after-1");
  w.write(3, "bybit", "linear", "c", "after-2");
  w.retain();
  w.close();
  expect(statSync(dir).mode & 0o777).toBe(0o777 & ~process.umask());
  // records: the new file's mark that the deleted one's records are gone (capture:lost) is one.
  expect(w.stats()).toMatchObject({ records: 4, lostRecords: 0, writeErrors: 0 });
  expect(readCapture(w.files.at(-1)!).records.map((r) => r.url ?? r.frame)).toEqual(["capture:lost", "after-1", "after-2"]);
  // w2 made it 0750 again (its mode when it started), once, and went on too.
  rmSync(dir, { recursive: true });
  w2.write(4, "bybit", "linear", "c", "other");
  w2.close();
  expect(statSync(dir).mode & 0o777).toBe(0o750);
  expect(readCapture(w2.files.at(-1)!).records.map((r) => r.frame)).toEqual(["other"]);
  expect(lines.filter((l) => l.msg === GONE)).toEqual([expect.objectContaining({ level: "warn", dir }), expect.objectContaining({ level: "warn", dir, mode: "0750" })]);
  expect(lines.filter((l) => l.msg === "capture block could not be written; its records are lost")).toEqual([]);
});

test("the directory made again: the recorder's claim on it is written again (onDirRecreated, dir-claim.ts), so a second recorder is still refused", () => {
  const dir = join(makeTempDir("feeder-capture-dir-gone-"), "captures");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, flushIntervalMs: 3_600_000, onDirRecreated: () => claim.renew() });
  const claim = DirClaim.take(dir);
  w.write(1, "bybit", "linear", "c", "before");
  rmSync(dir, { recursive: true });
  w.write(2, "bybit", "linear", "c", "after");
  w.close();
  expect(statSync(join(dir, CLAIM_FILE)).isFile()).toBe(true);
  expect(() => DirClaim.take(dir)).toThrow(DirClaimedError);
  claim.release();
});
