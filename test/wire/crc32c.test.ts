/**
 * CRC-32C against a bitwise reference written from its definition (docs/wire-protocol.md §3.2), over random
 * lengths 0–65536 at every alignment mod 8, on every path: bytes (slicing-by-8), words (slicing-by-16) and the
 * datagram checksum with its crc32c field taken as 0.
 */
import { describe, expect, it } from "vitest";
import { crc32c, crc32cUpdate, crc32cUpdateWords, datagramCrc32c } from "../../src/wire/crc32c.ts";
import { rng } from "./helpers.ts";

/** A bitwise CRC-32C written from its definition (test reference). */
function refCrc32c(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const MAX = 65536;
const r = rng(0xc4c);
const buf = new ArrayBuffer(MAX + 64);
const all = new Uint8Array(buf);
for (let i = 0; i < all.length; i++) all[i] = Math.floor(r() * 256);

/** Random lengths, biased to short ones (the datagrams) and to the bounds, plus the edges. */
function lengths(count: number): number[] {
  const out = [0, 1, 3, 4, 7, 8, 15, 16, 17, 47, 48, 49, 63, 64, 65, 1399, 1400, MAX - 1, MAX];
  for (let i = 0; i < count; i++) out.push(r() < 0.5 ? Math.floor(r() * 2048) : Math.floor(r() * (MAX + 1)));
  return out;
}

describe("CRC-32C, randomized against the bitwise reference", () => {
  it("byte path: random lengths 0–65536 at every alignment", () => {
    for (const len of lengths(60)) {
      const start = Math.floor(r() * 8) + 8 * Math.floor(r() * 4);
      expect(crc32c(all, start, start + len), `start ${start} length ${len}`).toBe(refCrc32c(all, start, start + len));
    }
  });

  it("continuing the register over a split gives the same CRC", () => {
    for (const len of lengths(20)) {
      const cut = Math.floor(r() * (len + 1));
      expect(~crc32cUpdate(crc32cUpdate(-1, all, 3, 3 + cut), all, 3 + cut, 3 + len) >>> 0).toBe(refCrc32c(all, 3, 3 + len));
    }
  });

  it("word path: random word spans", () => {
    const words = new Int32Array(buf);
    for (const len of lengths(40)) {
      const k = Math.floor(r() * 8);
      const n = len >> 2;
      expect(~crc32cUpdateWords(-1, words, k, k + n) >>> 0, `word ${k} count ${n}`).toBe(refCrc32c(all, 4 * k, 4 * (k + n)));
    }
  });

  it("datagram checksum: the field at 44 taken as 0, with and without the words view, at any alignment", () => {
    for (const len of lengths(40)) {
      if (len < 48 || len > 65507) continue; // a datagram: a whole header, at most 65507 B
      const start = 8 * Math.floor(r() * 4) + (r() < 0.5 ? 0 : 1 + Math.floor(r() * 7));
      const bytes = all.subarray(start, start + len);
      const field = bytes.slice(44, 48);
      const zeroed = bytes.slice();
      zeroed.fill(0, 44, 48);
      const want = refCrc32c(zeroed, 0, len);
      expect(datagramCrc32c(bytes, len), `start ${start} length ${len}`).toBe(want);
      if ((start & 3) === 0) expect(datagramCrc32c(bytes, len, new Int32Array(buf, start, len >> 2))).toBe(want);
      expect(Array.from(bytes.subarray(44, 48))).toEqual(Array.from(field)); // the field is left as it was
    }
  });
});
