/**
 * A recorder restarted within the same second as an earlier run (systemd restarting it at once). It counted its files
 * from index 0 again, so its first file's name was taken, and the open failed with EEXIST: the first block (the
 * snapshots every book starts from) was lost and counted, and the error logged. The writer now counts on from the
 * highest index in the directory (review-capture-clocks.test.ts), and would still take the next free one.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

describe("capture file names taken by an earlier run", () => {
  test("the writer opens the next free index; nothing is lost", () => {
    const dir = makeTempDir("feeder-review-names-");
    const now = () => Date.UTC(2026, 11, 5, 15, 0, 0, 250);
    writeFileSync(join(dir, "feeder-20261205T150000Z-0.fcap"), "FDRCAP01");
    writeFileSync(join(dir, "feeder-20261205T150000Z-1.fcap"), "FDRCAP01");
    const w = new CaptureWriter({ dir, prefix: "feeder", now });
    w.write(1, "bybit", "linear", "linear-0", "first");
    w.flush();
    w.write(2, "bybit", "linear", "linear-0", "second");
    w.close();
    expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0, records: 2 });
    expect(w.files).toEqual([join(dir, "feeder-20261205T150000Z-2.fcap")]);
    expect(readCapture(w.files[0]!).records.map((r) => r.frame)).toEqual(["first", "second"]);
    expect(readdirSync(dir).sort()).toEqual(["feeder-20261205T150000Z-0.fcap", "feeder-20261205T150000Z-1.fcap", "feeder-20261205T150000Z-2.fcap"]);
  });

  test("a name taken although the directory's listing did not show it (another writer in DIR): the next index", () => {
    const dir = makeTempDir("feeder-review-names-");
    const now = () => Date.UTC(2026, 11, 5, 15, 0, 0);
    // Not a capture file, so not counted; opening a file of that name fails with EEXIST all the same.
    mkdirSync(join(dir, "feeder-20261205T150000Z-0.fcap"));
    const w = new CaptureWriter({ dir, prefix: "feeder", now });
    w.write(1, "bybit", "linear", "linear-0", "first");
    w.close();
    expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0 });
    expect(w.files).toEqual([join(dir, "feeder-20261205T150000Z-1.fcap")]);
  });
});
