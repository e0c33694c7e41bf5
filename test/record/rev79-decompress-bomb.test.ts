/**
 * A compressed block whose checksum holds but which decompresses huge (a crafted or foreign file: zstd frames of
 * zeros are ~32,000:1, so 2 KB stored make 64 MiB and a 256 MiB block, the most the reader takes stored, some
 * terabytes). Bun.zstdDecompressSync / Bun.gunzipSync take no output limit: the reader made all of it before it
 * could look, and `feeder replay` / `export` of such a file ran out of memory. Decompression now stops at the block
 * limit (256 MiB, the most a writer's block holds) and reading stops at that block, named; the blocks before it are
 * kept. The reader here is given a 4 MiB limit (the test stays small) and a block that decompresses to 5 MiB: the
 * old code made it all, then stopped at it as undecodable ("Data read, but end of buffer not reached").
 */
import { expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { Packr } from "msgpackr";
import { CaptureReader, CaptureWriter, MAX_BLOCK_BYTES, MAX_BLOCK_VALUES, type CaptureRecord } from "../../src/record/capture.ts";
import { decompressBlock, BlockTooLargeError, CaptureCodec, msgpackValueCount } from "../../src/record/codec.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const MIB = 1024 * 1024;

/** A stored block that decompresses to `copies` MiB of zeros (frames or members one after another). */
function bomb(codec: "zstd" | "gzip", copies: number): Uint8Array {
  const zeros = new Uint8Array(MIB);
  const one = codec === "zstd" ? Bun.zstdCompressSync(zeros, { level: 1 }) : Bun.gzipSync(zeros, { level: 1 });
  const out = new Uint8Array(one.byteLength * copies);
  for (let i = 0; i < copies; i++) out.set(one, i * one.byteLength);
  return out;
}

/** A writer's capture (one real block) with `stored` appended as a block whose checksum holds. */
function captureWith(codec: "zstd" | "gzip", stored: Uint8Array): { bytes: Uint8Array; firstBlockEnd: number } {
  const w = new CaptureWriter({ dir: makeTempDir("feeder-bomb-"), compression: codec });
  w.write(1_733_011_200_000_000, "bybit", "linear", "c", '{"n":0}');
  w.close();
  const good = readFileSync(w.files[0]!);
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, stored.byteLength, true);
  dv.setUint32(4, Bun.hash.crc32(stored), true);
  const bytes = new Uint8Array(good.byteLength + 8 + stored.byteLength);
  bytes.set(good, 0);
  bytes.set(head, good.byteLength);
  bytes.set(stored, good.byteLength + 8);
  return { bytes, firstBlockEnd: good.byteLength };
}

for (const codec of ["zstd", "gzip"] as const) {
  test(`${codec}: a block decompressing beyond the block limit stops reading there, named; the blocks before it are kept`, () => {
    const { bytes, firstBlockEnd } = captureWith(codec, bomb(codec, 5));
    const reader = new CaptureReader(bytes, 4 * MIB);
    const records: CaptureRecord[] = [];
    for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) records.push(...b);
    expect(records.map((r) => r.frame)).toEqual(['{"n":0}']);
    expect(reader.truncated).toBe(`implausible block at byte ${firstBlockEnd}: decompresses to more than ${4 * MIB} bytes, the most a block holds`);
  });
}

test("decompressBlock stops at its limit for both codecs, and a block of exactly the limit comes back whole", () => {
  for (const [codec, id] of [["zstd", CaptureCodec.ZSTD], ["gzip", CaptureCodec.GZIP]] as const) {
    const stored = bomb(codec, 2);
    expect(() => decompressBlock(id, stored, MIB)).toThrow(BlockTooLargeError);
    expect(() => decompressBlock(id, stored, MIB)).toThrow(`decompresses to more than ${MIB} bytes`);
    expect(decompressBlock(id, stored, 2 * MIB).byteLength).toBe(2 * MIB);
  }
});

test("a reader's block limit is 256 MiB unless given", () => {
  expect(MAX_BLOCK_BYTES).toBe(256 * MIB);
});

/**
 * A block within the byte limit whose MessagePack is many tiny values (each a byte, each an object of ~60 B once
 * decoded: 256 MiB of empty arrays, a few KB of zstd, made gigabytes of objects) is refused before it is decoded,
 * naming it; the blocks before it are kept. Here 50,000 empty arrays against a limit of 10,000 values: before, all of
 * them were decoded and skipped as unknown records.
 */
test("a block of more MessagePack values than a block holds stops reading there, before it is decoded", () => {
  const n = 50_000;
  const payload = new Uint8Array(5 + n).fill(0x90);
  payload[0] = 0xdd;
  new DataView(payload.buffer).setUint32(1, n);
  const { bytes, firstBlockEnd } = captureWith("zstd", Bun.zstdCompressSync(payload));
  const reader = new CaptureReader(bytes, 4 * MIB, 10_000);
  const records: CaptureRecord[] = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) records.push(...b);
  expect(records.map((r) => r.frame)).toEqual(['{"n":0}']);
  expect(reader.truncated).toBe(`implausible block at byte ${firstBlockEnd}: more than 10000 MessagePack values, the most a block holds`);
  expect(reader.unknownRecords).toBe(0);
  expect(MAX_BLOCK_VALUES).toBe(4_000_000);
});

test("msgpackValueCount counts what msgpackr decodes, value for value, over random nested values (reference: a walk of the decoded value)", () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const gen = (depth: number): unknown => {
    const k = Math.floor(rand() * (depth >= 2 ? 9 : 12));
    const n = Math.floor(rand() * [3, 20, 300, 70_000][Math.floor(rand() * 4)]!);
    switch (k) {
      case 0: return null;
      case 1: return rand() < 0.5;
      case 2: return Math.floor((rand() - 0.5) * 2 ** [6, 9, 17, 33, 50][Math.floor(rand() * 5)]!);
      case 3: return rand() * 1e6;
      case 4: return BigInt(Math.floor(rand() * 2 ** 52)) * 4096n;
      case 5: return "x".repeat(n);
      case 6: return new Uint8Array(n);
      case 7: return "é".repeat(n % 40);
      case 8: return new Date(1_733_011_200_000 + n);
      case 9: case 10: return Array.from({ length: n % 17 }, () => gen(depth + 1));
      default: return Object.fromEntries(Array.from({ length: n % 17 }, (_, i) => [`k${i}`, gen(depth + 1)]));
    }
  };
  const reference = (v: unknown): number =>
    Array.isArray(v) ? 1 + v.reduce((a: number, x) => a + reference(x), 0) : v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof Date) ? 1 + Object.values(v).reduce((a: number, x) => a + 1 + reference(x), 0) : 1;
  const packr = new Packr({ useRecords: false, int64AsType: "bigint" } as ConstructorParameters<typeof Packr>[0]);
  for (let i = 0; i < 300; i++) {
    const v = gen(0);
    const bytes = packr.pack(v);
    const total = reference(v);
    expect(msgpackValueCount(bytes, Infinity), `value ${i}`).toBe(total);
    if (total > 2) expect(msgpackValueCount(bytes, total - 1), `value ${i}, limit ${total - 1}`).toBe(total);
  }
});
