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
});
