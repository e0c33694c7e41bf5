/**
 * A replay or export that fails in the middle of a capture (its sink's write fails: a full disk, a closed pipe; the
 * feeder throws) lets go of the file: no descriptor stays open on it. Export's reader was closed only at the file's
 * end or a stop until 2026-12-07, so each failed export left the file open (a long-lived caller ran out of fds, and a
 * deleted capture's space was held).
 */
import { readdirSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import type { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { silentLogger } from "../../src/core/log.ts";
import { captureBlock } from "../support/capture-block.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const T0_US = 1_733_011_200_000_000;

/** A capture of two blocks; the first record's frame larger than export's output chunk (CHUNK_CHARS), so it is written at once. */
function capture(): string {
  const path = join(makeTempDir("feeder-capture-closed-"), "c.fcap");
  const rec = (i: number, frame: string) => [BigInt(T0_US + i) * 1000n, "bybit", "linear", "linear-0", frame];
  writeFileSync(path, Buffer.concat([Buffer.from("FDRCAP01"), captureBlock([rec(0, `{"pad":"${"x".repeat(300_000)}"}`), rec(1, "{}")]), captureBlock([rec(2, "{}")])]));
  return realpathSync(path);
}

/** The descriptors this process holds open on `path`. */
function fdsOn(path: string): string[] {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile (the listing's own descriptor)
    }
  });
}

test("an export whose sink fails mid-file leaves the capture closed", async () => {
  const file = capture();
  const sink = {
    write: () => {
      throw new Error("ENOSPC: no space left on device");
    },
    flush: () => undefined,
  };
  await expect(exportCaptures([file], sink, { format: "jsonl", log: silentLogger })).rejects.toThrow(/ENOSPC/);
  expect(fdsOn(file)).toEqual([]);
});

test("a replay whose feeder throws mid-file leaves the capture closed", async () => {
  const file = capture();
  const fail = () => {
    throw new Error("ingest failed");
  };
  const feeder = { ingest: fail, ingestRest: fail, captureGap: () => undefined, replayTimeJump: () => undefined, replayClockAt: () => undefined } as unknown as Feeder;
  await expect(replayCaptures(feeder, [file], { pace: "fast" })).rejects.toThrow(/ingest failed/);
  expect(fdsOn(file)).toEqual([]);
});
