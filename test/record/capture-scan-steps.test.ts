/**
 * The search for the next capture header after a bad block (CaptureReader.scanStep) goes a step at a time: until
 * 2026-12-07 it ran to the file's end in one synchronous call, so a replay over gigabytes of garbage could not be
 * stopped (nor HTTP answered) until it was done. A read failing during the search is named at the byte the search
 * was reading, not the bad block's; and `resynced` lists the first 100 skips, `resyncedTotal` counting all.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureReader, CaptureWriter } from "../../src/record/capture.ts";
import { notingFeeder } from "../support/noting-feeder.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** One capture of `frames`, a block each: its bytes and where its last block begins. */
function capture(dir: string, prefix: string, us: number, frames: string[]): { bytes: Buffer; lastBlockAt: number } {
  const w = new CaptureWriter({ dir, prefix, compression: "none", flushBytes: 1 << 20 });
  let lastBlockAt = 0;
  for (const [i, f] of frames.entries()) {
    w.flush();
    lastBlockAt = w.stats().writtenBytes;
    w.write(us + i, "okx", "spot", "spot-0", f);
  }
  w.close();
  return { bytes: readFileSync(w.files[0]!), lastBlockAt };
}

/** a's last block cut 5 bytes into its body, `garbage` zeros, then b: where a's cut block began. */
function cutThenGarbage(dir: string, garbageBytes: number): { bytes: Buffer; cutAt: number } {
  const a = capture(dir, "a", 1_000, ["a1", "a2"]);
  const b = capture(dir, "b", 2_000, ["b1"]);
  const cutAt = a.lastBlockAt;
  return { bytes: Buffer.concat([a.bytes.subarray(0, cutAt + 8 + 5), Buffer.alloc(garbageBytes), b.bytes]), cutAt };
}

test("replay: a stop while the garbage after a bad block is searched ends the replay there, with its summary", async () => {
  const dir = makeTempDir("feeder-scan-stop-");
  const { bytes, cutAt } = cutThenGarbage(dir, 4 << 20);
  const file = join(dir, "joined.fcap");
  writeFileSync(file, bytes);
  const { feeder, calls } = notingFeeder();
  let stopNow!: () => void;
  const stopSignal = new Promise<void>((resolve) => (stopNow = resolve));
  // The search has begun once progress is reported past the bad block: the stop is sent then.
  const onProgress = (p: { bytesDone: number }) => {
    if (p.bytesDone > cutAt) stopNow();
  };
  const result = await replayCaptures(feeder, [file], { pace: "fast", stopSignal, onProgress, progressEveryMs: 0 });
  // Before: the search ran on to b at once and b1 was fed (the stop seen only at the next yield, 512 frames on).
  expect(calls).toEqual(["a1"]);
  expect(result).toMatchObject({ stoppedEarly: true, frames: 1, resynced: [], resyncedTotal: 0 });
});

test("reader: the search is handed back a step at a time (empty blocks while scanning), then reads on at the capture found", () => {
  const dir = makeTempDir("feeder-scan-steps-");
  const { bytes, cutAt } = cutThenGarbage(dir, 64 << 10);
  const reader = new CaptureReader(bytes, undefined, undefined, 4096);
  const seen: string[] = [];
  let steps = 0;
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) {
    if (reader.scanning) {
      expect(b).toEqual([]);
      steps++;
    }
    for (const r of b) seen.push(r.frame as string);
  }
  expect(seen).toEqual(["a1", "b1"]);
  expect(steps).toBeGreaterThanOrEqual(16); // 64 KiB searched 4 KiB a step
  expect(reader.resyncs).toEqual([{ atByte: cutAt, bytesSkipped: bytes.byteLength - capture(dir, "b", 2_000, ["b1"]).bytes.byteLength - cutAt, why: expect.any(String) }]);
});

test("reader: a read failing during the search is named at the byte the search was reading", () => {
  const dir = makeTempDir("feeder-scan-eio-");
  const { bytes, cutAt } = cutThenGarbage(dir, 2 << 20);
  // Reads up to just past the bad block work (its head and body, the search's first MiB); the search's second read fails.
  const failFrom = cutAt + 100;
  const source = {
    size: bytes.byteLength,
    read: (p: number, n: number) => {
      if (p >= failFrom) throw new Error("EIO: i/o error");
      return bytes.subarray(p, p + n);
    },
    close: () => {},
  };
  const reader = new CaptureReader(source);
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock());
  const secondReadAt = cutAt + 1 + (1 << 20) - 8 + 1; // chunks overlap by a magic's length less one
  // Before: "read failed at byte <cutAt>", the bad block's, where nothing failed.
  expect(reader.truncated).toBe(`read failed at byte ${secondReadAt}: EIO: i/o error`);
});

test("replay and export: resynced lists the first 100 skips, resyncedTotal counts all", async () => {
  const dir = makeTempDir("feeder-scan-cap-");
  const good = capture(dir, "g", 1_000, ["f"]).bytes;
  const junk = Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]); // a block length past the bound: a bad block
  const parts: Buffer[] = [good];
  for (let i = 0; i < 101; i++) parts.push(junk, good);
  const file = join(dir, "many.fcap");
  writeFileSync(file, Buffer.concat(parts));
  const { feeder } = notingFeeder();
  const replayed = await replayCaptures(feeder, [file], { pace: "fast" });
  expect({ listed: replayed.resynced.length, total: replayed.resyncedTotal, frames: replayed.frames }).toEqual({ listed: 100, total: 101, frames: 102 });
  const exported = await exportCaptures([file], { write: () => undefined, flush: () => undefined }, { format: "jsonl", log: silentLogger });
  expect({ listed: exported.resynced.length, total: exported.resyncedTotal, frames: exported.frames }).toEqual({ listed: 100, total: 101, frames: 102 });
});

test("reader: a file cut short while the search reads it ends the search, named (no endless search)", () => {
  const dir = makeTempDir("feeder-scan-cut-");
  const { bytes, cutAt } = cutThenGarbage(dir, 64 << 10);
  // The file as a recorder's cut or copytruncate leaves it after open: the size is the one at open, reads past the
  // cut come back short.
  const cutTo = cutAt + 8 + 5 + 8192 + 3;
  const source = { size: bytes.byteLength, read: (p: number, n: number) => bytes.subarray(p, Math.min(p + n, cutTo)), close: () => {} };
  const reader = new CaptureReader(source, undefined, undefined, 4096);
  let calls = 0;
  // Before: the search stepped back by the chunks' overlap on each short read and never ended (a bound, not a hang).
  for (let b = reader.nextBlock(); b !== undefined && calls < 1000; b = reader.nextBlock()) calls++;
  expect(calls).toBeLessThan(1000);
  expect(reader.scanning).toBe(false);
  expect(reader.truncated).toMatch(new RegExp(`^checksum mismatch in block at byte ${cutAt}; file cut short while being read: the search after it at byte \\d+ \\(\\d+ of \\d+ bytes left\\)$`));
});

test("reader: a search step of fewer bytes than a capture header is refused, named (it could not advance)", () => {
  const bytes = capture(makeTempDir("feeder-scan-chunk-"), "a", 1_000, ["a1"]).bytes;
  // Before: taken, and a search stepped on by chunk - 7 bytes: 0 at 7 (for ever), back at less.
  for (const chunk of [7, 0, 8.5, Number.NaN]) {
    expect(() => new CaptureReader(bytes, undefined, undefined, chunk)).toThrow(`resyncChunkBytes ${chunk}: must be a whole number of at least 8 (a capture header's magic)`);
  }
  expect(() => new CaptureReader(bytes, undefined, undefined, 8)).not.toThrow();
});

test("reader: random garbage and search steps between two captures: the second is always read, the search always ends", () => {
  const dir = makeTempDir("feeder-scan-random-");
  const a = capture(dir, "a", 1_000, ["a1", "a2"]);
  const b = capture(dir, "b", 2_000, ["b1", "b2"]).bytes;
  let seed = 12345; // a fixed seed: a failure reproduces
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const magic = Buffer.from("FDRCAP01");
  for (let run = 0; run < 400; run++) {
    const cut = rand(2) === 0; // a's last block cut 5 bytes into its body, or a whole
    const head = cut ? a.bytes.subarray(0, a.lastBlockAt + 8 + 5) : a.bytes;
    // Garbage of random bytes and pieces of the magic (a header's start that is no header), often 0..20 bytes long.
    const garbage: number[] = [];
    const garbageBytes = rand(4) === 0 ? rand(200) : rand(21);
    while (garbage.length < garbageBytes) {
      if (rand(3) === 0) garbage.push(...magic.subarray(0, 1 + rand(7)));
      else garbage.push(rand(256));
    }
    garbage.length = garbageBytes;
    const bytes = Buffer.concat([head, Buffer.from(garbage), b]);
    const bAt = head.byteLength + garbageBytes;
    const chunk = 8 + rand(57);
    const reader = new CaptureReader(bytes, undefined, undefined, chunk);
    const seen: string[] = [];
    let calls = 0;
    for (let blk = reader.nextBlock(); blk !== undefined && calls < 10_000; blk = reader.nextBlock()) {
      calls++;
      for (const r of blk) seen.push(r.frame as string);
    }
    const context = { run, cut, garbage: Buffer.from(garbage).toString("hex"), chunk };
    expect({ ...context, ended: calls < 10_000, seen, truncated: reader.truncated }).toEqual({ ...context, ended: true, seen: cut ? ["a1", "b1", "b2"] : ["a1", "a2", "b1", "b2"], truncated: undefined });
    // The search resumed at b's header, not one past it: no real header skipped, none counted twice.
    const last = reader.resyncs.at(-1);
    if (last !== undefined) expect({ ...context, resumedAt: last.atByte + last.bytesSkipped }).toEqual({ ...context, resumedAt: bAt });
    expect(reader.resyncs.length).toBeLessThanOrEqual(1);
  }
});
