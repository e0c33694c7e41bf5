/**
 * The writer's bytes against the capture format as docs/operations.md (Capture format) and capture.ts's header spell
 * it, parsed here without the project's reader or msgpackr: the file header byte for byte, each block's u32 LE length
 * and u32 LE CRC-32 (zlib's), the block compressed on its own, and each record's MessagePack: an array of 5 or 6
 * whose receive time is a MessagePack int64 (0xd3, big-endian as MessagePack's integers are). Until s-rdrec2 the spec
 * said uint64 (0xcf), which no writer wrote: a reader made from the spec alone that took only 0xcf read no record.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32, zstdDecompressSync } from "node:zlib";
import { expect, test } from "vitest";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** MessagePack int64's type byte: the receive time's encoding (the spec). */
const TIME_TYPE = 0xd3;

interface Parsed {
  timeType: number;
  timeNs: bigint;
  fields: string[];
}

/** One block's records, by the MessagePack spec: fixarray of fixarrays; the time, then fixstr / str8 strings. */
function parsePayload(p: Uint8Array): Parsed[] {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let pos = 0;
  const outer = p[pos++]!;
  expect(outer & 0xf0).toBe(0x90); // fixarray: a few records
  const out: Parsed[] = [];
  for (let i = 0; i < (outer & 0x0f); i++) {
    const arr = p[pos++]!;
    expect([0x95, 0x96]).toContain(arr);
    const timeType = p[pos++]!;
    const timeNs = dv.getBigUint64(pos); // big-endian, as MessagePack's integers
    pos += 8;
    const fields: string[] = [];
    for (let f = 1; f < (arr & 0x0f); f++) {
      const t = p[pos++]!;
      let len: number;
      if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
      else if (t === 0xd9) len = p[pos++]!;
      else throw new Error(`field ${f} of record ${i}: type 0x${t.toString(16)}, not a short string`);
      fields.push(new TextDecoder().decode(p.subarray(pos, pos + len)));
      pos += len;
    }
    out.push({ timeType, timeNs, fields });
  }
  expect(pos).toBe(p.byteLength);
  return out;
}

for (const compression of ["none", "zstd"] as const) {
  test(`a ${compression} capture is the documented layout byte for byte: header, u32 LE length and CRC-32, records with an int64 receive time`, () => {
    const dir = makeTempDir("feeder-rdrec2-format-");
    const w = new CaptureWriter({ dir, prefix: "feeder", compression, flushIntervalMs: 3_600_000 });
    const t1Us = 1_765_150_000_123_456;
    w.write(t1Us, "bybit", "linear", "c0", '{"a":1}');
    w.writeRest(t1Us + 7, "binance", "spot", "c1", "https://x/depth", '{"b":2}');
    w.close();
    const [name] = readdirSync(dir).filter((n) => n.endsWith(".fcap"));
    const bytes = new Uint8Array(readFileSync(join(dir, name!)));
    const expectedHeader = compression === "none" ? [..."FDRCAP01"].map((c) => c.charCodeAt(0)) : [...[..."FDRCAP02"].map((c) => c.charCodeAt(0)), 2, 0, 0, 0];
    expect([...bytes.subarray(0, expectedHeader.length)]).toEqual(expectedHeader);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = expectedHeader.length;
    const records: Parsed[] = [];
    while (pos < bytes.byteLength) {
      const length = dv.getUint32(pos, true);
      const crc = dv.getUint32(pos + 4, true);
      const stored = bytes.subarray(pos + 8, pos + 8 + length);
      expect(stored.byteLength).toBe(length);
      expect(crc32(stored)).toBe(crc);
      records.push(...parsePayload(compression === "none" ? stored : new Uint8Array(zstdDecompressSync(stored))));
      pos += 8 + length;
    }
    expect(pos).toBe(bytes.byteLength);
    expect(records).toEqual([
      { timeType: TIME_TYPE, timeNs: BigInt(t1Us) * 1000n, fields: ["bybit", "linear", "c0", '{"a":1}'] },
      { timeType: TIME_TYPE, timeNs: BigInt(t1Us + 7) * 1000n, fields: ["binance", "spot", "c1", '{"b":2}', "https://x/depth"] },
    ]);
  });
}
