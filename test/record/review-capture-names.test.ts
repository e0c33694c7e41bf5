/**
 * A recorder restarted within the same second as an earlier run (systemd restarting it at once). It counted its files
 * from index 0 again, so its first file's name was taken, and the open failed with EEXIST: the first block (the
 * snapshots every book starts from) was lost and counted, and the error logged. The writer now counts on from the
 * highest index in the directory (review-capture-clocks.test.ts), and would still take the next free one.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { listCaptures } from "../../src/record/retention.ts";
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

describe("a file of this prefix whose number no writer reaches (a foreign name)", () => {
  test("is not counted on from: the writer's names stay numbers, rotation within one second works, retention sees them", () => {
    const dir = makeTempDir("feeder-review-names-");
    const now = () => Date.UTC(2026, 11, 5, 15, 0, 0, 250);
    const foreign = "feeder-20261205T150000Z-99999999999999999999999.fcap";
    writeFileSync(join(dir, foreign), "FDRCAP01");
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
    // Every block rotates (16-byte files), all in the same second. Old: n became 1e+23 + 1 = "1e+23" (not a number
    // retention reads), and the second file's name was the first's again however many indexes it tried: that block
    // and every later one were lost.
    const w = new CaptureWriter({ dir, prefix: "feeder", now, maxFileBytes: 16, log });
    for (let i = 0; i < 3; i++) {
      w.write(i, "bybit", "linear", "linear-0", `frame ${i}`);
      w.flush();
    }
    w.close();
    expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0, records: 3 });
    expect(w.files.map((f) => f.slice(dir.length + 1))).toEqual([0, 1, 2].map((n) => `feeder-20261205T150000Z-${n}.fcap`));
    expect(listCaptures(dir, "feeder").map((e) => e.name)).toEqual([...w.files.map((f) => f.slice(dir.length + 1)), foreign]);
    expect(warnings.some((m) => m.includes("not counted on from"))).toBe(true);
  });
});
