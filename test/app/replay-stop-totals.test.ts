/**
 * A replay stopped in the middle of a file (SIGINT/SIGTERM: the stop signal) counts what it read of that file in the
 * summary: damage read past (resynced) and records of an unknown kind (unknownRecords). Before, each stop path
 * returned without them (they were added only at a file's end), so the summary said a damaged file was whole.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures, type ReplayOptions } from "../../src/app/replay.ts";
import { captureBlock } from "../support/capture-block.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const T0_US = 1_733_011_200_000_000;
/** replayCaptures' YIELD_EVERY_FRAMES: a fast replay sees the signal at the yield before this frame. */
const YIELD_AT_FRAME = 512;
const TEN_MINUTES_US = 600_000_000;
const MAGIC = Buffer.from("FDRCAP01");

const rec = (us: number, n: number) => [BigInt(us) * 1000n, "bybit", "linear", "linear-0", `{"n":${n}}`];
/** A record as a later version might write it (a seventh field): unreadable here. */
const unknown = [...rec(T0_US, -1), "", { v: 2 }];

/** A block whose checksum fails: reading resumes at the next capture header after it (a resync). */
function damagedBlock(records: unknown[]): Buffer {
  const b = captureBlock(records);
  b[4]! ^= 0xff;
  return b;
}

/**
 * One file: a record, an unknown one, a damaged block, another capture joined after it (cat), then `tail`. The
 * resync and the unknown record come before any frame of the tail is fed.
 */
function damagedCapture(dir: string, tail: Buffer[]): string {
  const path = join(dir, "damaged.fcap");
  writeFileSync(path, Buffer.concat([MAGIC, captureBlock([rec(T0_US, 0), unknown, rec(T0_US + 1, 1)]), damagedBlock([rec(T0_US + 2, 2)]), MAGIC, ...tail]));
  return path;
}

/** A feeder that gives the stop signal as the frame numbered `signalAt` (from 1) is fed. */
function signallingFeeder(signalAt: number): { feeder: Feeder; stopSignal: Promise<string> } {
  let signal!: (s: string) => void;
  const stopSignal = new Promise<string>((resolve) => (signal = resolve));
  let fed = 0;
  const ingest = () => {
    if (++fed === signalAt) signal("SIGINT");
    return true;
  };
  const feeder = { ingest, ingestRest: ingest, captureGap: () => undefined, replayTimeJump: () => undefined, replayClockAt: () => undefined } as unknown as Feeder;
  return { feeder, stopSignal };
}

const cases: { name: string; pace: ReplayOptions["pace"]; tail: () => Buffer[]; signalAt: number }[] = [
  {
    name: "a fast replay, at the yield",
    pace: "fast",
    tail: () => [captureBlock(Array.from({ length: YIELD_AT_FRAME + 50 }, (_, i) => rec(T0_US + 3 + i, 3 + i)))],
    signalAt: YIELD_AT_FRAME - 1,
  },
  {
    name: "a recorded-pace replay, in a wait between frames",
    pace: "recorded",
    tail: () => [captureBlock([rec(T0_US + 3, 3), rec(T0_US + TEN_MINUTES_US, 4)])],
    signalAt: 3,
  },
  {
    name: "a replay searching past a second damaged block",
    pace: "fast",
    // More garbage than one search step reads (1 MiB): the stop is seen between steps.
    tail: () => [captureBlock([rec(T0_US + 3, 3)]), damagedBlock([rec(T0_US + 4, 4)]), Buffer.alloc(1_200_000)],
    signalAt: 3,
  },
];

test.each(cases)("$name: the summary counts the file's resync and unknown record read before the stop", async ({ pace, tail, signalAt }) => {
  const dir = makeTempDir("feeder-replay-stop-totals-");
  const file = damagedCapture(dir, tail());
  const { feeder, stopSignal } = signallingFeeder(signalAt);
  const result = await replayCaptures(feeder, [file], { pace, stopSignal });
  expect(result).toMatchObject({ frames: signalAt, stoppedEarly: true, resyncedTotal: 1, unknownRecords: [{ file, count: 1 }], truncated: [] });
  // Once: the stop's count is not added again.
  expect(result.resynced).toEqual([{ file, atByte: expect.any(Number), bytesSkipped: expect.any(Number), why: expect.stringMatching(/checksum mismatch/), resumedAt: expect.any(Number) }]);
});

test("a replay that reads the file to its end counts its resync and unknown record once", async () => {
  const dir = makeTempDir("feeder-replay-stop-totals-end-");
  const file = damagedCapture(dir, [captureBlock([rec(T0_US + 3, 3)])]);
  const { feeder } = signallingFeeder(0);
  const result = await replayCaptures(feeder, [file], { pace: "fast" });
  expect(result).toMatchObject({ frames: 3, stoppedEarly: false, resyncedTotal: 1, unknownRecords: [{ file, count: 1 }], truncated: [] });
  expect(result.resynced).toHaveLength(1);
});
