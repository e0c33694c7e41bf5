/**
 * A write after close(): `feeder record` closes the capture when its stop is cut off at the deadline while
 * Feeder.stop() may still be going, so a raw tap can still write. Before, the record was buffered and counted as
 * recorded (records) but never written (the flush timer was gone), or, once 1 MiB was buffered (flushBytes), written
 * into a new capture file opened after the close (and after the recorder let DIR's claim go). Now it is counted as
 * lost (lostRecords, lateRecords), nothing opened or written, no throw. (Since s-sm9 `feeder record` detaches its
 * taps before the close, test/cli/record-second-signal.test.ts: this is the writer's own guard.)
 */
import { readdirSync } from "node:fs";
import { expect, test } from "vitest";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("records written after close() are counted as lost, not recorded, and open no file", () => {
  const dir = makeTempDir("feeder-capture-late-");
  const w = new CaptureWriter({ dir, flushBytes: 1000 });
  w.write(1, "bybit", "linear", "c", "before");
  w.close();
  const files = readdirSync(dir).sort();
  expect(() => {
    w.write(2, "bybit", "linear", "c", "x".repeat(2000)); // past flushBytes: flushed at once before
    w.writeRest(3, "bybit", "linear", "c", "https://x/depth", "{}");
    w.write(4, "bybit", "linear", "c", "small");
  }).not.toThrow();
  w.close(); // closing twice changes nothing
  expect(readdirSync(dir).sort()).toEqual(files);
  expect(w.stats()).toMatchObject({ records: 1, lostRecords: 3, files: 1 });
  expect(w.lateRecords).toBe(3);
  expect(readCapture(w.files[0]!).records.map((r) => r.frame)).toEqual(["before"]);
});
