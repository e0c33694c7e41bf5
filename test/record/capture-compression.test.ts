/** Compressed capture files (zstd, gzip): round trip, damage handling, and the header check replay runs first. */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureReader, CaptureWriter, captureFileProblem, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const lines = readFileSync(FIXTURE, "utf8").split("\n").filter((l) => l.length > 0);

function capture(compression: "none" | "gzip" | "zstd", flushBytes = 10_000): CaptureWriter {
  const w = new CaptureWriter({ dir: makeTempDir("feeder-capz-"), flushBytes, compression });
  lines.forEach((line, i) => w.write(1_733_011_200_000_000 + i, "bybit", "linear", "linear-0", line));
  w.write(7, "bybit", "spot", "spot-0", new Uint8Array([0, 1, 2, 255]));
  w.close();
  return w;
}

describe("compressed capture files", () => {
  const plain = capture("none");
  for (const codec of ["zstd", "gzip"] as const) {
    test(`${codec}: every frame comes back byte-identical with its metadata, and the file is smaller`, () => {
      const w = capture(codec);
      expect(w.blocks).toBeGreaterThan(1);
      const { records, truncated } = readCapture(w.files[0]!);
      expect(truncated).toBeUndefined();
      expect(records.map((r) => r.frame)).toEqual([...lines, new Uint8Array([0, 1, 2, 255])]);
      expect(records[5]).toMatchObject({ tsRecvUs: 1_733_011_200_000_005, venue: "bybit", market: "linear", connection: "linear-0" });
      expect(statSync(w.files[0]!).size).toBeLessThan(statSync(plain.files[0]!).size / 2);
      expect(w.stats()).toMatchObject({ records: lines.length + 1, writtenBytes: statSync(w.files[0]!).size });
      expect(w.stats().rawBytes).toBeGreaterThan(w.stats().writtenBytes);
    });

    test(`${codec}: a truncated file is read up to the break, a corrupted block stops with a checksum error`, () => {
      const w = capture(codec, 5_000);
      const full = readFileSync(w.files[0]!);
      const all = readCapture(w.files[0]!).records.length;
      const dir = makeTempDir("feeder-capz-cut-");
      for (const cut of [full.length - 1, Math.floor(full.length / 2), 13]) {
        const path = join(dir, `cut-${cut}.fcap`);
        writeFileSync(path, full.subarray(0, cut));
        const { records, truncated } = readCapture(path);
        expect(truncated).toMatch(/incomplete block/);
        expect(records.length).toBeLessThan(all);
        expect(records.map((r) => r.frame)).toEqual(lines.slice(0, records.length));
      }
      // Flip a byte inside the second block's stored bytes.
      const dv = new DataView(full.buffer, full.byteOffset, full.byteLength);
      const second = 12 + 8 + dv.getUint32(12, true);
      const bad = new Uint8Array(full);
      bad[second + 8 + Math.floor(dv.getUint32(second, true) / 2)]! ^= 0xff;
      const path = join(dir, "corrupt.fcap");
      writeFileSync(path, bad);
      const { records, truncated } = readCapture(path);
      expect(truncated).toMatch(/checksum mismatch/);
      expect(records.length).toBeGreaterThan(0);
      expect(records.map((r) => r.frame)).toEqual(lines.slice(0, records.length));
    });
  }

  test("CaptureReader hands out one block at a time, in order, with the file offset; a damaged tail ends it", () => {
    const w = capture("zstd", 5_000);
    const bytes = readFileSync(w.files[0]!);
    const reader = new CaptureReader(bytes);
    const blocks: number[] = [];
    const offsets: number[] = [];
    const all = [];
    for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) {
      blocks.push(b.length);
      offsets.push(reader.offset);
      all.push(...b);
    }
    expect(blocks).toHaveLength(w.blocks);
    expect(offsets.at(-1)).toBe(bytes.length);
    expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1]!)).toBe(true);
    expect(reader.truncated).toBeUndefined();
    expect(all).toEqual(readCapture(w.files[0]!).records);
    const cut = new CaptureReader(bytes.subarray(0, offsets[1]! + 10));
    expect(cut.nextBlock()).toHaveLength(blocks[0]!);
    expect(cut.nextBlock()).toHaveLength(blocks[1]!);
    expect(cut.nextBlock()).toBeUndefined();
    expect(cut.truncated).toMatch(/^incomplete block at byte \d+/);
    expect(cut.nextBlock()).toBeUndefined();
  });

  test("captures concatenated with cat (codecs mixed) read as one file after another; a bad header among them ends it, named", () => {
    // Before, the second capture's "FDRC" was read as a block length (1.1 GB): "implausible block length", the rest lost.
    const parts = (["zstd", "none", "gzip"] as const).map((c) => readFileSync(capture(c, 5_000).files[0]!));
    const cat = new Uint8Array(Buffer.concat(parts));
    const reader = new CaptureReader(cat);
    const frames: (string | Uint8Array)[] = [];
    for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) frames.push(...b.map((r) => r.frame));
    expect(reader.truncated).toBeUndefined();
    const one = [...lines, new Uint8Array([0, 1, 2, 255])];
    expect(frames).toEqual([...one, ...one, ...one]);
    expect(reader.captures).toBe(3);
    expect(reader.captureAt).toBe(parts[0]!.length + parts[1]!.length);
    // A later header with a codec this version does not know: what came before is kept, the place named.
    const odd = new Uint8Array(Buffer.concat([parts[0]!, parts[2]!]));
    odd[parts[0]!.length + 8] = 9;
    const r = new CaptureReader(odd);
    let n = 0;
    for (let b = r.nextBlock(); b !== undefined; b = r.nextBlock()) n += b.length;
    expect(n).toBe(one.length);
    expect(r.truncated).toBe(`another capture begins at byte ${parts[0]!.length} (files concatenated), but unknown compression codec 9 in the capture header`);
  });

  test("a capture compressed whole (gzip, zstd: archived) is refused saying so and what to do", () => {
    // Before: "not a feeder capture file", as for any foreign file.
    const bytes = readFileSync(capture("none").files[0]!);
    const dir = makeTempDir("feeder-capz-");
    for (const [name, packed, tool] of [["x.fcap.gz", Bun.gzipSync(bytes), "gunzip -k"], ["x.fcap.zst", Bun.zstdCompressSync(bytes), "zstd -d"]] as const) {
      const path = join(dir, name);
      writeFileSync(path, packed);
      const kind = name.endsWith(".gz") ? "gzip" : "zstd";
      expect(captureFileProblem(path)).toBe(`${path}: a ${kind} file, not a feeder capture: decompress it first (${tool}), then give the capture it holds`);
    }
  });

  test("an unknown codec in the header is refused, naming it", () => {
    const bytes = readFileSync(capture("zstd").files[0]!);
    bytes[8] = 9;
    const path = join(makeTempDir("feeder-capz-"), "odd.fcap");
    writeFileSync(path, bytes);
    expect(() => readCapture(path)).toThrow(/unknown compression codec 9/);
    expect(captureFileProblem(path)).toBe(`${path}: unknown compression codec 9 in the capture header`);
  });

  test("captureFileProblem names a missing file, a directory and a file that is not a capture; passes real captures", () => {
    const dir = makeTempDir("feeder-capz-");
    const missing = join(dir, "nope.fcap");
    const sub = join(dir, "sub");
    mkdirSync(sub);
    const text = join(dir, "notes.txt");
    writeFileSync(text, "hello world, not a capture");
    expect(captureFileProblem(missing)).toBe(`${missing}: no such file`);
    expect(captureFileProblem(sub)).toBe(`${sub}: not a file`);
    expect(captureFileProblem(text)).toMatch(/notes\.txt: not a feeder capture file/);
    for (const c of ["none", "gzip", "zstd"] as const) expect(captureFileProblem(capture(c).files[0]!)).toBeUndefined();
  });

  test("rotation is logged: each file opened and closed with its size, records and ratio", () => {
    const logged: Record<string, unknown>[] = [];
    const log = createLogger({ format: "json", write: (l) => logged.push(JSON.parse(l)) });
    const w = new CaptureWriter({ dir: makeTempDir("feeder-capz-"), maxFileBytes: 4_000, flushBytes: 1, compression: "zstd", log });
    lines.slice(0, 20).forEach((line, i) => w.write(i, "bybit", "linear", "c", line));
    w.close();
    expect(w.files.length).toBeGreaterThan(1);
    const opened = logged.filter((l) => l.msg === "capture file opened");
    const closed = logged.filter((l) => l.msg === "capture file closed");
    expect(opened.map((l) => l.file)).toEqual(w.files);
    expect(opened.every((l) => l.compression === "zstd")).toBe(true);
    expect(closed.map((l) => l.file)).toEqual(w.files);
    expect(closed.reduce((s, l) => s + (l.records as number), 0)).toBe(20);
    for (const l of closed) expect(l.bytes).toBe(statSync(l.file as string).size);
    for (const l of closed) expect(l.ratio as number).toBeLessThan(1);
  });
});
