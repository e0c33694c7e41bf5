/**
 * CRC-32 (wire v3's checksum, docs/wire-protocol.md §3.2) against a bitwise reference written from its definition,
 * over random lengths 0–65536 at every alignment mod 8: the TypeScript path (slicing-by-8, what a runtime without
 * node:zlib's crc32 runs), the native path, and the datagram checksum with its field taken as 0, native through
 * exact-length views and TypeScript over spans.
 */
import { describe, expect, it } from "vitest";
import { crc32, crc32Update, datagramCrc32, datagramCrc32Ts, datagramCrc32Zeroed, NATIVE_CRC32 } from "../../src/wire/crc32.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { ExactViews } from "../../src/wire/exact-views.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { rng } from "./helpers.ts";

/** A bitwise CRC-32 written from its definition (test reference): reflected 0xEDB88320, init and xorout 0xFFFFFFFF. */
function refCrc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const MAX = 65536;
const r = rng(0x32);
const all = new Uint8Array(MAX + 64);
for (let i = 0; i < all.length; i++) all[i] = Math.floor(r() * 256);

function lengths(count: number): number[] {
  const out = [0, 1, 7, 8, 9, 43, 44, 47, 48, 49, 56, 1399, 1400, MAX - 1, MAX];
  for (let i = 0; i < count; i++) out.push(r() < 0.5 ? Math.floor(r() * 2048) : Math.floor(r() * (MAX + 1)));
  return out;
}

describe("CRC-32, randomized against the bitwise reference", () => {
  it("check value and the runtime's native crc32 (Bun has it)", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(NATIVE_CRC32).toBeTypeOf("function");
  });

  it("TypeScript path: random lengths at every alignment, and a register continued over a split", () => {
    for (const len of lengths(50)) {
      const start = Math.floor(r() * 8) + 8 * Math.floor(r() * 4);
      const want = refCrc32(all, start, start + len);
      expect(~crc32Update(-1, all, start, start + len) >>> 0, `start ${start} length ${len}`).toBe(want);
      const cut = start + Math.floor(r() * (len + 1));
      expect(~crc32Update(crc32Update(-1, all, start, cut), all, cut, start + len) >>> 0).toBe(want);
    }
  });

  it("native path over whole views equals the TypeScript path and the reference", () => {
    for (const len of lengths(30)) {
      const start = Math.floor(r() * 8);
      const view = all.subarray(start, start + len);
      const want = refCrc32(all, start, start + len);
      expect(crc32(view), `length ${len}`).toBe(want); // whole view: native
      expect(crc32(all, start, start + len)).toBe(want); // a span: TypeScript
    }
  });

  it("datagram checksum: the field at 44 taken as 0, native (exact views, the field restored) and TypeScript agree", () => {
    const buf = new Uint8Array(65507 + 16);
    const views = new ExactViews(buf);
    for (const len of lengths(40)) {
      if (len > 65507) continue;
      buf.set(all.subarray(0, len));
      const zeroed = buf.slice(0, len);
      zeroed.fill(0, 44, 48);
      const want = refCrc32(zeroed, 0, len);
      expect(datagramCrc32Ts(buf, len), `length ${len}`).toBe(want);
      const field = buf.slice(44, 48);
      const exact = (len & 7) === 0 ? views.of(len) : buf.subarray(0, len);
      expect(exact.length).toBe(len);
      expect(datagramCrc32(exact), `length ${len}`).toBe(want);
      expect(Array.from(buf.subarray(44, 48))).toEqual(Array.from(field)); // left as it was
      if (len >= 48) {
        buf.fill(0, 44, 48); // as the packer leaves it before sealing
        expect(datagramCrc32Zeroed(exact), `zeroed, length ${len}`).toBe(want);
      }
    }
  });

  it("exact views are reused per length (no allocation once a length was seen) and never stale", () => {
    const buf = new Uint8Array(1400);
    const views = new ExactViews(buf);
    const a = views.of(160);
    expect(views.of(160)).toBe(a);
    expect(a.length).toBe(160);
    expect(a.buffer).toBe(buf.buffer);
    const b = views.of(161); // not a multiple of 8: same slot as 160, a view of its own length
    expect(b.length).toBe(161);
    expect(views.of(160).length).toBe(160);
  });
});

describe("ChannelPacker.seal and the v3 checksum", () => {
  it("a datagram sealed twice (a second stamp before the send) still verifies: the old checksum is not summed in", () => {
    const p = new ChannelPacker(1400, 1, 0, 7, { sessionStartUs: 1_764_000_000_000_000 });
    p.appendHeartbeat(0);
    p.seal(1_764_000_000_000_100);
    p.seal(1_764_000_000_000_200);
    const res = decodeDatagram(p.bytes[0]!.slice(0, p.lengths[0]));
    expect(res.ok).toBe(true);
    expect(res.ok && res.packet.sendTimeUs).toBe(1_764_000_000_000_200);
  });
});
