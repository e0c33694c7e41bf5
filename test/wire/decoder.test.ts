/** The decoder rejects truncated, oversized, garbled and unknown-version datagrams with a typed code, never a throw. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { DecodeErrorCode, PacketReader, WireDecodeError } from "../../src/wire/decoder.ts";
import { fromHex, resealCrc, rng } from "./helpers.ts";
import type { Vector } from "./vector-encode.ts";

const vectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));
const all = vectors.filter((v) => v.expectError === undefined).flatMap((v) => v.datagrams.map((h) => ({ name: v.name, bytes: fromHex(h) })));

function codeOf(bytes: Uint8Array, maxBytes = 1400): DecodeErrorCode {
  const r = new PacketReader();
  return r.wrap(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, maxBytes);
}

describe("decoder rejects bad datagrams", () => {
  it("every truncation of every vector is rejected, never thrown", () => {
    for (const { bytes } of all) {
      for (let n = 0; n < bytes.byteLength; n++) {
        const rc = codeOf(bytes.subarray(0, n));
        expect(rc === DecodeErrorCode.TRUNCATED || rc === DecodeErrorCode.BAD_MAGIC || rc === DecodeErrorCode.UNKNOWN_VERSION).toBe(true);
        if (n >= 3) expect(rc).toBe(DecodeErrorCode.TRUNCATED);
      }
    }
  });

  it("trailing bytes beyond pktLength and datagrams above the maximum are OVERSIZED", () => {
    const bytes = all.find((x) => x.name === "delta")!.bytes;
    const longer = new Uint8Array(bytes.byteLength + 8);
    longer.set(bytes);
    expect(codeOf(longer)).toBe(DecodeErrorCode.OVERSIZED);
    expect(codeOf(bytes, bytes.byteLength - 8)).toBe(DecodeErrorCode.OVERSIZED);
    expect(codeOf(bytes, bytes.byteLength)).toBe(DecodeErrorCode.OK);
  });

  it("foreign magic and unknown versions are rejected", () => {
    const bytes = all.find((x) => x.name === "delta")!.bytes.slice();
    bytes[0] = 0x00;
    expect(codeOf(bytes)).toBe(DecodeErrorCode.BAD_MAGIC);
    for (const version of [0, 1, 4, 255]) {
      const other = all.find((x) => x.name === "delta")!.bytes.slice();
      other[2] = version;
      expect(codeOf(resealCrc(other)), `version ${version}`).toBe(DecodeErrorCode.UNKNOWN_VERSION);
    }
    const v4 = all.find((x) => x.name === "delta")!.bytes.slice();
    v4[2] = 4;
    const res = decodeDatagram(v4);
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error).toBeInstanceOf(WireDecodeError);
      expect(res.error.code).toBe(DecodeErrorCode.UNKNOWN_VERSION);
      expect(res.error.codeName).toBe("unknown_version");
    }
  });

  it("inconsistent message headers and counts are rejected", () => {
    const base = all.find((x) => x.name === "packed_turn")!.bytes;
    const cases: [string, (b: Uint8Array) => void, DecodeErrorCode][] = [
      ["msgLength not a multiple of 8", (b) => (b[48] = 0x29), DecodeErrorCode.BAD_MESSAGE],
      ["msgLength beyond the packet", (b) => (b[49] = 0x10), DecodeErrorCode.BAD_MESSAGE],
      ["blockLength larger than the body", (b) => (b[52] = 0xff), DecodeErrorCode.BAD_MESSAGE],
      ["msgCount too large", (b) => (b[6] = 4), DecodeErrorCode.BAD_COUNT],
      ["msgCount too small", (b) => (b[6] = 2), DecodeErrorCode.BAD_COUNT],
      ["level count beyond the message", (b) => (b[88 + 8 + 48] = 9), DecodeErrorCode.BAD_MESSAGE],
      ["negative channel seq", (b) => (b[23] = 0x80), DecodeErrorCode.UNSAFE_INTEGER],
      ["negative session start", (b) => (b[39] = 0x80), DecodeErrorCode.UNSAFE_INTEGER],
      ["sessionId 0", (b) => b.fill(0, 8, 12), DecodeErrorCode.BAD_HEADER],
      ["AUTHENTICATED but no trailer: the last message overlaps it", (b) => (b[3] |= 0x08), DecodeErrorCode.BAD_MESSAGE],
    ];
    for (const [what, mutate, want] of cases) {
      const b = base.slice();
      mutate(b);
      expect(codeOf(b), what + " (CRC left stale)").toBe(DecodeErrorCode.BAD_CHECKSUM);
      expect(codeOf(resealCrc(b)), what).toBe(want);
    }
  });

  it("an unknown template is skipped, not rejected (forward compatibility)", () => {
    const b = all.find((x) => x.name === "status")!.bytes.slice();
    b[50] = 99; // templateId 3 → 99
    const res = decodeDatagram(resealCrc(b));
    expect(res.ok).toBe(true);
    expect(res.ok && res.packet.messages[0]).toMatchObject({ type: "unknown", templateId: 99, msgLength: 56 });
  });

  it("random garbage and random bit flips never throw", () => {
    const r = rng(7);
    let rejected = 0;
    for (let i = 0; i < 20000; i++) {
      const src = all[i % all.length]!.bytes;
      const b = src.slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      const res = decodeDatagram(i % 5 === 0 ? b.subarray(0, Math.floor(r() * b.length)) : b);
      if (!res.ok) rejected++;
    }
    for (let i = 0; i < 2000; i++) {
      const b = new Uint8Array(Math.floor(r() * 1500));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(r() * 256);
      if (r() < 0.5 && b.length >= 4) {
        b[0] = 0x46;
        b[1] = 0x44;
        b[2] = 2;
      }
      expect(() => decodeDatagram(b)).not.toThrow();
    }
    expect(rejected).toBeGreaterThan(0);
  });
});
