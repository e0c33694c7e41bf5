import { describe, expect, test } from "vitest";
import { readFileSync, writeFileSync, statSync } from "node:fs";
import { makeTempDir } from "../support/temp-dirs.ts";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const lines = readFileSync(FIXTURE, "utf8").split("\n").filter((l) => l.length > 0);

function tempDir(): string {
  return makeTempDir("feeder-capture-");
}

describe("capture files", () => {
  test("every frame of the genuine recording comes back byte-identical, in order, with its metadata", () => {
    const dir = tempDir();
    const w = new CaptureWriter({ dir, flushBytes: 30_000 });
    lines.forEach((line, i) => w.write(1_733_011_200_000_000 + i, "bybit", "linear", "linear-0", line));
    w.write(1, "bybit", "spot", "spot-0", new Uint8Array([0, 1, 2, 255]));
    w.close();
    expect(w.files).toHaveLength(1);
    expect(w.blocks).toBeGreaterThan(1);
    const { records, truncated } = readCapture(w.files[0]!);
    expect(truncated).toBeUndefined();
    expect(records.map((r) => r.frame)).toEqual([...lines, new Uint8Array([0, 1, 2, 255])]);
    expect(records[3]).toMatchObject({ tsRecvUs: 1_733_011_200_000_003, venue: "bybit", market: "linear", connection: "linear-0" });
  });

  test("a truncated file is read up to the break, and the break is reported", () => {
    const dir = tempDir();
    const w = new CaptureWriter({ dir, flushBytes: 10_000 });
    lines.forEach((line, i) => w.write(i, "bybit", "linear", "c", line));
    w.close();
    const full = readFileSync(w.files[0]!);
    const all = readCapture(w.files[0]!).records.length;
    for (const cut of [full.length - 1, full.length - 20, Math.floor(full.length / 2), 12]) {
      const path = join(dir, `cut-${cut}.fcap`);
      writeFileSync(path, full.subarray(0, cut));
      const { records, truncated } = readCapture(path);
      expect(truncated).toMatch(/incomplete block/);
      expect(records.length).toBeLessThan(all);
      expect(records.map((r) => r.frame)).toEqual(lines.slice(0, records.length));
    }
  });

  test("a corrupted block stops reading with a checksum error", () => {
    const dir = tempDir();
    const w = new CaptureWriter({ dir, flushBytes: 10_000 });
    lines.forEach((line, i) => w.write(i, "bybit", "linear", "c", line));
    w.close();
    const bytes = readFileSync(w.files[0]!);
    bytes[bytes.length - 100] ^= 0xff;
    const path = join(dir, "corrupt.fcap");
    writeFileSync(path, bytes);
    const { records, truncated } = readCapture(path);
    expect(truncated).toMatch(/checksum mismatch/);
    expect(records.map((r) => r.frame)).toEqual(lines.slice(0, records.length));
  });

  test("files rotate by size and by age", () => {
    const dir = tempDir();
    const nowMs = Date.UTC(2026, 10, 26, 8, 0, 0);
    // Age is on the monotonic clock (a wall-clock step moves no file's age: review-capture-clocks.test.ts).
    let monoNowMs = 1000;
    const w = new CaptureWriter({ dir, maxFileBytes: 25_000, maxFileAgeMs: 60_000, flushBytes: 1, now: () => nowMs, monoNow: () => monoNowMs });
    lines.slice(0, 10).forEach((line, i) => w.write(i, "bybit", "linear", "c", line));
    const bySize = w.files.length;
    expect(bySize).toBeGreaterThan(1);
    monoNowMs += 61_000;
    w.write(99, "bybit", "linear", "c", "late");
    w.close();
    expect(w.files.length).toBe(bySize + 1);
    for (const f of w.files.slice(0, -1)) expect(statSync(f).size).toBeLessThan(25_000 + 30_000);
    const frames = w.files.flatMap((f) => readCapture(f).records.map((r) => r.frame));
    expect(frames).toEqual([...lines.slice(0, 10), "late"]);
  });

  test("a file that is not a capture is refused clearly", () => {
    const path = join(tempDir(), "x.fcap");
    writeFileSync(path, "hello world");
    expect(() => readCapture(path)).toThrow(/not a feeder capture file/);
  });
});
