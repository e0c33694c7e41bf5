/**
 * The capture writer and a wall clock stepped (NTP stepping it back, a VM resumed), with both clocks injected. File
 * names keep the wall clock's UTC start time; everything measured is on the monotonic clock. Before, the wall clock
 * was the only clock: stepped back, a file was not rotated by age, nor retention run between rotations, for the
 * step's length, and keep-bytes deleted the newest files first (sorted by the start time in their names, the files
 * opened after the step came first); stepped forward, the open file rotated at once and keep-hours deleted every
 * finished file. A recorder restarted after a step back sorted its own new files before the earlier run's.
 */
import { describe, expect, test } from "vitest";
import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";

const FRAME = "x".repeat(1000);
const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const HOUR = 3_600_000;

/** A writer on injected clocks: `clock.wallMs` and `clock.monoMs` are the test's to move. */
function writerOn(dir: string, opts: Partial<ConstructorParameters<typeof CaptureWriter>[0]>, wallMs = T0) {
  const clock = { wallMs, monoMs: 5_000 };
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, ...opts, now: () => clock.wallMs, monoNow: () => clock.monoMs });
  return { w, clock };
}

describe("capture files and a wall clock stepped", () => {
  test("stepped back: the open file still rotates once it is maxFileAge old on the monotonic clock; the new name has the wall clock's time", () => {
    const dir = makeTempDir("feeder-clock-");
    const { w, clock } = writerOn(dir, { maxFileAgeMs: 60_000 });
    w.write(1, "bybit", "linear", "c", "before");
    clock.wallMs -= HOUR; // NTP steps the clock back an hour
    clock.monoMs += 30_000;
    clock.wallMs += 30_000;
    w.write(2, "bybit", "linear", "c", "half a minute on");
    expect(w.files.length).toBe(1);
    clock.monoMs += 31_000;
    clock.wallMs += 31_000;
    w.write(3, "bybit", "linear", "c", "a minute on");
    w.close();
    expect(w.files.map((f) => basename(f))).toEqual(["feeder-20261205T120000Z-0.fcap", "feeder-20261205T110101Z-1.fcap"]);
    expect(readCapture(w.files[1]!).records.map((r) => r.frame)).toEqual(["a minute on"]);
  });

  test("stepped forward a day: nothing rotates at once and keep-hours deletes nothing that is not old", () => {
    const dir = makeTempDir("feeder-clock-");
    // An earlier run's file last written an hour ago (real mtime), this run's clocks starting now.
    const earlier = join(dir, "feeder-20200101T000000Z-0.fcap");
    writeFileSync(earlier, "FDRCAP01");
    const realNow = Date.now();
    utimesSync(earlier, new Date(realNow - HOUR), new Date(realNow - HOUR));
    const { w, clock } = writerOn(dir, { maxFileBytes: 2_500, maxFileAgeMs: 60 * 60_000, retention: { keepMs: 2 * HOUR } }, realNow);
    for (let i = 0; i < 4; i++) w.write(i, "bybit", "linear", "c", FRAME); // rotates by size: finished files of this run
    const files = w.files.length;
    expect(files).toBeGreaterThan(1);
    clock.wallMs += 24 * HOUR;
    clock.monoMs += 1_000;
    w.write(9, "bybit", "linear", "c", "after the step");
    expect(w.files.length).toBe(files);
    expect(w.retain()).toEqual([]);
    w.close();
    expect(existsSync(earlier)).toBe(true);
    for (const f of w.files) expect(existsSync(f)).toBe(true);
  });

  test("stepped back: retention still runs every minute, and an earlier run's file is deleted once it is keep-hours old", () => {
    const dir = makeTempDir("feeder-clock-");
    const realNow = Date.now();
    const earlier = join(dir, "feeder-20200101T000000Z-0.fcap");
    writeFileSync(earlier, "FDRCAP01");
    // 30 s short of keep-hours when the writer starts.
    utimesSync(earlier, new Date(realNow - 2 * HOUR + 30_000), new Date(realNow - 2 * HOUR + 30_000));
    const { w, clock } = writerOn(dir, { retention: { keepMs: 2 * HOUR } }, realNow);
    expect(existsSync(earlier)).toBe(true);
    clock.wallMs -= 24 * HOUR;
    clock.monoMs += 61_000;
    (w as unknown as { tick(): void }).tick(); // the flush timer's round
    expect(existsSync(earlier)).toBe(false);
    expect(w.deleted.map((d) => [d.file, d.reason])).toEqual([[earlier, "keep-hours"]]);
    w.close();
  });

  test("stepped back: keep-bytes deletes the files opened first, not the ones opened after the step; no name repeats", () => {
    const dir = makeTempDir("feeder-clock-");
    const { w, clock } = writerOn(dir, { maxFileBytes: 2_500, retention: { keepBytes: 9_000 } });
    for (let i = 0; i < 6; i++) w.write(i, "bybit", "linear", "c", FRAME);
    const beforeStep = w.files.length;
    clock.wallMs -= HOUR;
    for (let i = 0; i < 12; i++) {
      clock.monoMs += 1_000;
      w.write(i, "bybit", "linear", "c", FRAME);
    }
    w.close();
    const deleted = w.deleted.map((d) => d.file);
    expect(w.files.length).toBeGreaterThan(beforeStep + 3);
    expect(deleted.length).toBeGreaterThan(beforeStep); // the files before the step all gone, then the oldest after it
    // Oldest first, by creation: exactly the first files written, in order.
    expect(deleted).toEqual(w.files.slice(0, deleted.length));
    expect(new Set(w.files.map((f) => basename(f))).size).toBe(w.files.length);
    expect(readdirSync(dir).sort()).toEqual(w.files.slice(deleted.length).map((f) => basename(f)).sort());
  });

  test("a recorder restarted after a step back numbers on from the earlier run's files, and keep-bytes deletes those first", () => {
    const dir = makeTempDir("feeder-clock-");
    // The earlier run's files, named an hour ahead of this run's wall clock.
    const earlier = [0, 1, 2].map((n) => join(dir, `feeder-20261205T130000Z-${n}.fcap`));
    for (const f of earlier) writeFileSync(f, "FDRCAP01" + "y".repeat(2_000));
    const { w } = writerOn(dir, { maxFileBytes: 2_500, retention: { keepBytes: 9_000 } });
    for (let i = 0; i < 6; i++) w.write(i, "bybit", "linear", "c", FRAME);
    w.close();
    expect(basename(w.files[0]!)).toBe("feeder-20261205T120000Z-3.fcap");
    const deleted = w.deleted.map((d) => d.file);
    expect(deleted.length).toBeGreaterThan(0);
    // Oldest first, by creation: the earlier run's files, then this run's.
    expect(deleted).toEqual([...earlier, ...w.files].slice(0, deleted.length));
    for (const f of w.files.slice(-2)) expect(existsSync(f)).toBe(true);
  });
});
