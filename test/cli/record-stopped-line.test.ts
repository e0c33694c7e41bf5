/**
 * `feeder record`'s `stopped` line after months of rotation: it names the last 100 files opened and counts the
 * earlier ones (filesNotListed), so it stays a few KiB. Before, it named every file opened since the start (one
 * an hour by default), so after about 25 days the line was beyond journald's 48 KiB LineMax: the journal split it
 * and the JSON of the pieces did not parse.
 */
import { expect, test } from "vitest";
import * as record from "../../src/cli/commands/record.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("300 files opened (12 days at one an hour): the last 100 named, 200 counted, the line under 12 KiB", () => {
  const dir = makeTempDir("feeder-record-stopped-");
  // Every block rotates: one file per record.
  const w = new CaptureWriter({ dir, prefix: "feeder", maxFileBytes: 1, flushBytes: 1 });
  for (let i = 0; i < 300; i++) w.write(i + 1, "bybit", "linear", "c", "x");
  w.close();
  expect(w.files.length).toBe(300);
  const stoppedFields = (record as { stoppedFields?: (w: CaptureWriter, ms: number) => Record<string, unknown> }).stoppedFields;
  expect(stoppedFields, "record.ts exports stoppedFields").toBeTypeOf("function");
  const fields = stoppedFields!(w, 1000);
  expect(fields).toMatchObject({ filesOpened: 300, records: 300, files: w.files.slice(-100), filesNotListed: 200 });
  let line = "";
  createLogger({ format: "json", write: (l) => (line = l) }).info("stopped", fields);
  // 300 names were ~20 KiB (~70 bytes a name here); 100 are a third of that.
  expect(line.length).toBeLessThan(12 * 1024);
});
