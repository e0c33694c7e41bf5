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
import { Unpackr } from "msgpackr/unpack";
import { CaptureReader, CaptureWriter, MAX_BLOCK_BYTES, MAX_BLOCK_VALUES, type CaptureRecord } from "../../src/record/capture.ts";
import { decompressBlock, BlockTooLargeError, CaptureCodec, msgpackValueCount, UncountableBlockError } from "../../src/record/codec.ts";
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
      // A record as the writer writes it (its receive time a uint64, the frame text or bytes, a REST answer's URL).
      case 8: return [BigInt(1_733_011_200_000_000 + n) * 1000n, "bybit", "linear", "c0", rand() < 0.5 ? "x".repeat(n) : new Uint8Array(n), ...(rand() < 0.3 ? ["ws:open"] : [])];
      case 9: case 10: return Array.from({ length: n % 17 }, () => gen(depth + 1));
      default: return Object.fromEntries(Array.from({ length: n % 17 }, (_, i) => [`k${i}`, gen(depth + 1)]));
    }
  };
  const reference = (v: unknown): number =>
    Array.isArray(v) ? 1 + v.reduce((a: number, x) => a + reference(x), 0) : v !== null && typeof v === "object" && !(v instanceof Uint8Array) ? 1 + Object.values(v).reduce((a: number, x) => a + 1 + reference(x), 0) : 1;
  const packr = new Packr({ useRecords: false, int64AsType: "bigint" } as ConstructorParameters<typeof Packr>[0]);
  for (let i = 0; i < 300; i++) {
    const v = gen(0);
    const bytes = packr.pack(v);
    const total = reference(v);
    expect(msgpackValueCount(bytes, Infinity), `value ${i}`).toBe(total);
    if (total > 2) expect(msgpackValueCount(bytes, total - 1), `value ${i}, limit ${total - 1}`).toBe(total);
  }
});

/**
 * msgpackr decodes more than the bytes of some types say: its Set, Error and RegExp extensions and its record
 * definitions (d4 73 00, d4 65 00, d4 78 00, d4 72 id) read the values after their own bytes, a record definition's
 * structure is then read by each later 0x40-0x7f byte, and 0xc1 decodes as a placeholder. The count took each for
 * one value: `d4 73 00` then an array of 50,000 empty arrays was counted 1 and decoded all of them (a few KB of zstd
 * over 256 MiB of them: gigabytes, the bomb the count is there to stop). No writer writes them: the count refuses
 * them. Random byte strings of such types among plain ones, against a walk of what msgpackr decodes: whatever the
 * count accepts decodes to exactly as many values (or not at all).
 */
test("msgpackValueCount refuses what msgpackr decodes beyond its bytes; whatever it counts decodes to that many values", () => {
  let seed = 11;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out: number[] = [];
  const arrayHead = (n: number) => (n < 16 && rand() < 0.7 ? out.push(0x90 + n) : out.push(0xdd, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
  const gen = (depth: number): void => {
    const k = Math.floor(rand() * (depth >= 3 ? 4 : 12));
    const n = Math.floor(rand() * (rand() < 0.2 ? 400 : 6));
    switch (k) {
      case 0: out.push(Math.floor(rand() * 0x80)); return; // fixint, 0x40-0x7f too (a record's reference once defined)
      case 1: out.push(0xc0); return;
      case 2: out.push(0xa3, 0x61, 0x62, 0x63); return;
      case 3: out.push(0xc4, 2, 1, 2); return;
      case 4: case 5: arrayHead(n); for (let i = 0; i < n; i++) gen(depth + 1); return;
      case 6: out.push(0x80 + (n & 0x0f)); for (let i = 0; i < (n & 0x0f); i++) { out.push(0xa2, 0x6b, 0x61 + i); gen(depth + 1); } return;
      case 7: out.push(0xd4, 0x73, 0); arrayHead(n); for (let i = 0; i < n; i++) gen(depth + 1); return; // Set of what follows
      case 8: out.push(0xd4, 0x65, 0, 0x93, 0xa1, 0x45, 0xa1, 0x6d); gen(depth + 1); return; // Error [name, message, cause]
      case 9: { // a record definition: its keys, then a value for each
        const keys = 1 + (n % 5);
        out.push(0xd4, 0x72, 0, 0x90 + keys);
        for (let i = 0; i < keys; i++) out.push(0xa1, 0x61 + i);
        for (let i = 0; i < keys; i++) gen(depth + 1);
        return;
      }
      case 10: out.push(0xc1); return;
      default: out.push(0xd6, 0xff, 0, 0, 0, 1); return; // a timestamp (Date)
    }
  };
  const walk = (v: unknown): number => {
    if (Array.isArray(v) || v instanceof Set) return 1 + [...v].reduce((a: number, x) => a + walk(x), 0);
    if (v instanceof Error) return 1 + walk(v.cause);
    if (v === null || typeof v !== "object" || v instanceof Uint8Array || v instanceof Date) return 1;
    return 1 + Object.values(v).reduce((a: number, x) => a + 1 + walk(x), 0);
  };
  const unpackr = new Unpackr({ useRecords: false, int64AsType: "bigint" });
  let refused = 0;
  let compared = 0;
  for (let i = 0; i < 400; i++) {
    out.length = 0;
    gen(0);
    const bytes = Uint8Array.from(out);
    let count: number;
    try {
      count = msgpackValueCount(bytes, Infinity);
    } catch (err) {
      expect(err, `value ${i}`).toBeInstanceOf(UncountableBlockError);
      refused++;
      continue;
    }
    let decoded: unknown;
    try {
      decoded = unpackr.unpack(bytes);
    } catch {
      continue; // not MessagePack msgpackr reads: nothing decoded
    }
    expect(walk(decoded), `value ${i}: ${Buffer.from(bytes.subarray(0, 40)).toString("hex")}`).toBe(count);
    compared++;
  }
  expect(refused).toBeGreaterThan(100);
  expect(compared).toBeGreaterThan(100);
  // The block of the doc above: refused by the reader before it is decoded, named.
  const n = 50_000;
  const payload = new Uint8Array(8 + n).fill(0x90);
  payload.set([0xd4, 0x73, 0x00, 0xdd], 0);
  new DataView(payload.buffer).setUint32(4, n);
  const { bytes, firstBlockEnd } = captureWith("zstd", Bun.zstdCompressSync(payload));
  const reader = new CaptureReader(bytes, 4 * MIB, 10_000);
  const records: CaptureRecord[] = [];
  for (let b = reader.nextBlock(); b !== undefined; b = reader.nextBlock()) records.push(...b);
  expect(records.map((r) => r.frame)).toEqual(['{"n":0}']);
  expect(reader.truncated).toBe(`undecodable block at byte ${firstBlockEnd}: a MessagePack extension (0xd4) at byte 0 of its MessagePack, which no capture writer writes`);
});
