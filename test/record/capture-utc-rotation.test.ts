/**
 * Age rotation on UTC boundaries: with `maxFileAgeMs` an hour, files are cut at hh:00 (a quarter hour: :00, :15, …),
 * whenever the recorder started, so files of recorders on several hosts line up; the first file is shorter. Before, a
 * file rotated `maxFileAgeMs` after it was opened (a recorder started at 12:34:10 cut at 13:34:10, 14:34:10, …).
 * Both clocks injected: no real waiting.
 */
import { describe, expect, test } from "vitest";
import { basename } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { rng } from "../support/mulberry32.ts";
import { monoMs, monoStampUs, monoStampUsAtMonoMs, nowUs } from "../../src/core/clock.ts";

const MINUTE = 60_000;

/** A writer on injected clocks (`clock.wallMs`, `clock.monoMs`), one block per write, no size rotation. */
function writerOn(maxFileAgeMs: number, wallMs: number) {
  const clock = { wallMs, monoMs: 7_000 };
  const w = new CaptureWriter({ dir: makeTempDir("feeder-utc-rot-"), prefix: "feeder", flushBytes: 1, maxFileBytes: 1 << 30, maxFileAgeMs, now: () => clock.wallMs, monoNow: () => clock.monoMs });
  const advance = (ms: number) => {
    clock.wallMs += ms;
    clock.monoMs += ms;
  };
  return { w, clock, advance };
}

const stampOf = (wallMs: number) => new Date(wallMs).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "Z");

describe("capture rotation on UTC multiples of --max-file-minutes", () => {
  test("an hour: a recorder started at 12:34:10 cuts at 13:00:00 and 14:00:00 (the first file short), not at 13:34:10", () => {
    const { w, advance } = writerOn(60 * MINUTE, Date.UTC(2026, 11, 6, 12, 34, 10));
    w.write(1, "bybit", "linear", "c", "12:34:10");
    advance(25 * MINUTE + 49_999); // 12:59:59.999
    w.write(2, "bybit", "linear", "c", "12:59:59.999");
    advance(1); // 13:00:00.000
    w.write(3, "bybit", "linear", "c", "13:00:00");
    advance(59 * MINUTE + 59_999);
    w.write(4, "bybit", "linear", "c", "13:59:59.999");
    advance(2);
    w.write(5, "bybit", "linear", "c", "14:00:00.001");
    w.close();
    expect(w.files.map((f) => basename(f))).toEqual(["feeder-20261206T123410Z-0.fcap", "feeder-20261206T130000Z-1.fcap", "feeder-20261206T140000Z-2.fcap"]);
    expect(w.files.map((f) => readCapture(f).records.map((r) => r.frame))).toEqual([["12:34:10", "12:59:59.999"], ["13:00:00", "13:59:59.999"], ["14:00:00.001"]]);
  });

  test("the cut is at the boundary when opening the file took time (a listing of a large DIR): both clocks are read together", () => {
    // After a wall clock read (a file's name) and the monotonic read that follows it, 700 ms pass on both clocks
    // (what comes next: DIR listed, the file opened).
    const clock = { wallMs: Date.UTC(2026, 11, 6, 12, 59, 58), monoMs: 7_000 };
    const advance = (ms: number) => {
      clock.wallMs += ms;
      clock.monoMs += ms;
    };
    let slowMs = 0;
    const now = () => {
      slowMs = 700;
      return clock.wallMs;
    };
    const monoNow = () => {
      const monoMs = clock.monoMs;
      advance(slowMs);
      slowMs = 0;
      return monoMs;
    };
    const w = new CaptureWriter({ dir: makeTempDir("feeder-utc-rot-"), prefix: "feeder", flushBytes: 1, maxFileBytes: 1 << 30, maxFileAgeMs: 60 * MINUTE, now, monoNow });
    w.write(1, "bybit", "linear", "c", "12:59:58.7"); // named 12:59:58.7, open at 12:59:59.4
    advance(Date.UTC(2026, 11, 6, 13, 0, 0, 200) - clock.wallMs);
    w.write(2, "bybit", "linear", "c", "13:00:00.2");
    w.close();
    // Old: the boundary counted from the open, 700 ms late: 13:00:00.2 went into the 12:59:58 file.
    expect(w.files.map((f) => basename(f))).toEqual(["feeder-20261206T125958Z-0.fcap", "feeder-20261206T130000Z-1.fcap"]);
    expect(w.files.map((f) => readCapture(f).records.map((r) => r.frame))).toEqual([["12:59:58.7"], ["13:00:00.2"]]);
  });

  test("random start times, intervals and write times: each file holds the writes of one UTC interval (reference: floor(wall / interval))", () => {
    const intervalsMs = [0.5 * MINUTE, MINUTE, 5 * MINUTE, 7 * MINUTE, 15 * MINUTE, 60 * MINUTE, 1440 * MINUTE];
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const interval = intervalsMs[Math.floor(r() * intervalsMs.length)]!;
      const start = Date.UTC(2026, 0, 1) + Math.floor(r() * 365 * 1440 * MINUTE) + (r() < 0.2 ? 0 : Math.floor(r() * 1000));
      const { w, clock, advance } = writerOn(interval, start);
      const walls: number[] = [];
      for (let i = 0; i < 25; i++) {
        // Mostly short steps, some landing exactly on a boundary, some longer than an interval.
        const kind = r();
        if (i > 0) {
          if (kind < 0.15) advance(interval - (((clock.wallMs % interval) + interval) % interval));
          else if (kind < 0.25) advance(Math.floor(r() * 3 * interval));
          else advance(Math.floor(r() * interval * 0.4));
        }
        walls.push(clock.wallMs);
        w.write(i + 1, "bybit", "linear", "c", String(i));
      }
      w.close();
      // The reference: consecutive writes in the same interval [k·T, (k+1)·T) share a file, named by its first write.
      const groups: { stamp: string; frames: string[] }[] = [];
      let lastK = NaN;
      walls.forEach((wall, i) => {
        const k = Math.floor(wall / interval);
        if (k !== lastK) groups.push({ stamp: stampOf(wall), frames: [] });
        groups.at(-1)!.frames.push(String(i));
        lastK = k;
      });
      const got = w.files.map((f) => ({ stamp: /feeder-(\w+)-\d+\.fcap$/.exec(basename(f))![1]!, frames: readCapture(f).records.map((x) => String(x.frame)) }));
      expect(got, `seed ${seed}, interval ${interval} ms, start ${new Date(start).toISOString()}`).toEqual(groups);
    }
  });

  /**
   * A writer as `feeder record` makes it: blocks flushed by its timer, not per write, and the records' receive times on
   * the rotation's timeline (recordUsAtMonoMs). `write` stamps a record with the wall time now.
   */
  function timedWriter(maxFileAgeMs: number, wallMs: number) {
    const clock = { wallMs, monoMs: 7_000 };
    const recordUsAtMonoMs = (monoMs: number) => (wallMs + (monoMs - 7_000)) * 1000;
    const w = new CaptureWriter({ dir: makeTempDir("feeder-utc-split-"), prefix: "feeder", flushBytes: 1 << 30, flushIntervalMs: 3_600_000, maxFileBytes: 1 << 30, maxFileAgeMs, now: () => clock.wallMs, monoNow: () => clock.monoMs, recordUsAtMonoMs });
    const advance = (ms: number) => {
      clock.wallMs += ms;
      clock.monoMs += ms;
    };
    const write = (frame: string) => w.write(clock.wallMs * 1000, "bybit", "linear", "c", frame);
    return { w, clock, advance, write };
  }

  test("feeder record's timeline: a record stamped now (monoStampUs) and the rotation clock's now (monoStampUsAtMonoMs of monoMs) are the same instant", () => {
    const stampedUs = monoStampUs(nowUs());
    const atUs = monoStampUsAtMonoMs(monoMs());
    expect(Math.abs(atUs - stampedUs)).toBeLessThan(50_000); // read one after the other: µs apart; a unit slip is ×1000
  });

  test("a block flushed after the boundary goes to the files by its records' receive times: those before it end the old file (before: the new file began with up to 200 ms of them)", () => {
    const { w, advance, write } = timedWriter(60 * MINUTE, Date.UTC(2026, 11, 6, 12, 59, 59, 850));
    write("12:59:59.850"); // opens the first file (the first block: flushed at once below)
    w.flush();
    advance(50);
    write("12:59:59.900");
    advance(50);
    write("12:59:59.950");
    advance(50);
    write("13:00:00.000");
    advance(50);
    write("13:00:00.050");
    advance(50);
    w.flush(); // the timer's tick at 13:00:00.100
    w.close();
    expect(w.files.map((f) => readCapture(f).records.map((r) => r.frame))).toEqual([["12:59:59.850", "12:59:59.900", "12:59:59.950"], ["13:00:00.000", "13:00:00.050"]]);
  });

  test("a block flushed just before the boundary whose compression ends after it stays in the old file: the rotation is decided once, before compressing (before: decided again after, the block went whole to the new file)", () => {
    const { w, clock, advance, write } = timedWriter(60 * MINUTE, Date.UTC(2026, 11, 6, 12, 59, 59, 850));
    write("12:59:59.850");
    w.flush(); // the first file
    advance(100);
    write("12:59:59.950");
    advance(48); // the timer's tick at 12:59:59.998
    // Every read of the monotonic clock from here takes 3 ms (compressing a large block, the claim's stat, …).
    const realMonoNow = clock.monoMs;
    let reads = 0;
    Object.defineProperty(clock, "monoMs", {
      get: () => realMonoNow + 3 * reads++,
      set: () => undefined,
      configurable: true,
    });
    w.flush();
    Object.defineProperty(clock, "monoMs", { value: realMonoNow + 3 * reads + 100, writable: true, configurable: true });
    clock.wallMs += 3 * reads + 100; // 13:00:00.1 and some
    write("13:00:00.1");
    w.flush();
    w.close();
    expect(w.files.map((f) => readCapture(f).records.map((r) => r.frame))).toEqual([["12:59:59.850", "12:59:59.950"], ["13:00:00.1"]]);
  });

  test("random intervals, write and flush times: each file holds the records of one UTC interval by receive time (reference: floor(tsRecv / interval))", () => {
    const intervalsMs = [0.5 * MINUTE, MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE];
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const interval = intervalsMs[Math.floor(r() * intervalsMs.length)]!;
      const start = Date.UTC(2026, 0, 1) + Math.floor(r() * 365 * 1440 * MINUTE) + Math.floor(r() * 1000);
      const { w, clock, advance, write } = timedWriter(interval, start);
      const walls: number[] = [];
      let sinceFlushMs = 0;
      for (let i = 0; i < 60; i++) {
        // Steps shorter than a tenth of the interval, some landing exactly on a boundary; a flush at most every
        // 0.4 interval (a timer's tick: a block spans one boundary at most), sometimes after each write.
        const toBoundary = interval - (((clock.wallMs % interval) + interval) % interval);
        const step = toBoundary <= interval * 0.1 && r() < 0.3 ? toBoundary : Math.floor(r() * interval * 0.1);
        if (i > 0) advance(step);
        sinceFlushMs += step;
        walls.push(clock.wallMs);
        write(String(i));
        // The first block at once: the first file opens at the first flush (its records are never split).
        if (i === 0 || r() < 0.2 || sinceFlushMs >= interval * 0.3) {
          w.flush();
          sinceFlushMs = 0;
        }
      }
      w.close();
      const groups: string[][] = [];
      let lastK = NaN;
      walls.forEach((wall, i) => {
        const k = Math.floor(wall / interval);
        if (k !== lastK) groups.push([]);
        groups.at(-1)!.push(String(i));
        lastK = k;
      });
      const got = w.files.map((f) => readCapture(f).records.map((x) => String(x.frame)));
      expect(got, `seed ${seed}, interval ${interval} ms, start ${new Date(start).toISOString()}`).toEqual(groups);
    }
  });
});
