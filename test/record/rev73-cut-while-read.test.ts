/**
 * A capture cut short or failing while a reader reads it (a recorder's own cut of a half-written block after a full
 * disk, logrotate's copytruncate, a disk error): the reader took the file's size once at open, so a header read then
 * came back short and DataView threw a RangeError out of nextBlock, ending `feeder replay` / `export` with a stack
 * trace and no summary; a read error (EIO) was thrown the same way. Now reading stops there like at any damaged
 * block: `truncated` names the byte, the records before it are kept, and the caller goes on with the next file.
 */
import { expect, test } from "vitest";
import { readFileSync, truncateSync } from "node:fs";
import { CaptureReader, CaptureWriter, type CaptureRecord } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

function writeBlocks(blocks: number): { file: string; bytes: Uint8Array } {
  const w = new CaptureWriter({ dir: makeTempDir("feeder-cut-read-"), compression: "none", flushBytes: 1 });
  for (let i = 0; i < blocks; i++) w.write(1_733_011_200_000_000 + i, "bybit", "linear", "c", `{"n":${i}}`);
  w.close();
  return { file: w.files[0]!, bytes: readFileSync(w.files[0]!) };
}

function drain(reader: CaptureReader): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) out.push(...b);
  return out;
}

test("a file cut inside a block header after it was opened: reading stops at that block, named, nothing thrown", () => {
  const { file } = writeBlocks(3);
  const reader = CaptureReader.open(file);
  const first = reader.nextBlock()!;
  expect(first).toHaveLength(1);
  const at = reader.offset;
  truncateSync(file, at + 4); // half of the next block's header is left
  expect(drain(reader)).toEqual([]);
  expect(reader.truncated).toBe(`file cut short while being read: block at byte ${at} (4 of its 8 header bytes left)`);
  expect(reader.offset).toBe(at);
});

test("a file cut inside a block's data after it was opened: said so (not a checksum mismatch)", () => {
  const { file } = writeBlocks(3);
  const reader = CaptureReader.open(file);
  reader.nextBlock();
  const at = reader.offset;
  truncateSync(file, at + 10);
  expect(drain(reader)).toEqual([]);
  expect(reader.truncated).toMatch(new RegExp(`^file cut short while being read: block at byte ${at} \\(2 of its \\d+ bytes left\\)$`));
});

test("a read error (EIO) in the middle ends the file at that block, naming the error; the blocks before are kept", () => {
  const { bytes } = writeBlocks(3);
  let reads = 0;
  const source = {
    size: bytes.byteLength,
    read(position: number, length: number): Uint8Array {
      // header, then block 1's header and data; the next read fails
      if (++reads > 3) throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
      return bytes.subarray(position, position + length);
    },
    close() {},
  };
  const reader = new CaptureReader(source);
  expect(drain(reader).map((r) => r.frame)).toEqual(['{"n":0}']);
  expect(reader.truncated).toBe(`read failed at byte ${reader.offset}: EIO: i/o error, read`);
});
