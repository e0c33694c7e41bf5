/**
 * Datagram integrity (issue #10): "a single flipped bit in a price or quantity gave a book marked valid and wrong".
 * Every single-bit error anywhere in a datagram is rejected (the CRC detects all of them; bursts up to 32 bits:
 * bursts.test.ts); with a key, any change whose CRC was recomputed (a forger can) is rejected as bad_auth; a v1 datagram
 * is refused as unknown_version. On wire v1 a flipped price bit decoded fine.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { crc32c, crc32cUpdate, crc32cUpdateWords, datagramCrc32c } from "../../src/wire/crc32c.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { DecodeErrorCode, PacketReader } from "../../src/wire/decoder.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { AUTH_TRAILER_BYTES, PKT_FLAG_AUTHENTICATED } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { fromHex, makeInstrument, randomBookSides, resealCrc, rng, TestBook } from "./helpers.ts";
import type { Vector } from "./vector-encode.ts";

const vectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));
const valid = vectors.filter((v) => v.expectError === undefined);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const T0 = 1_764_000_000_000_000;

/** A bitwise CRC-32C written from its definition (test reference). */
function refCrc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function codeOf(bytes: Uint8Array, auth?: DatagramAuth): string {
  const res = decodeDatagram(bytes, 65507, auth);
  return res.ok ? "ok" : res.error.codeName;
}

/** A realistic 1400-byte datagram: one 80-level snapshot chunk, signed when `auth` is given. */
function bigDatagram(auth?: DatagramAuth): Uint8Array {
  const p = new ChannelPacker(1400, 3, 0, 99, { sessionStartUs: T0, heartbeatIntervalMs: 1000, auth });
  const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const s = randomBookSides(rng(3), 40, 300_000);
  b.load(s.bids, s.asks, 9, T0);
  packBookSnapshot(p, b, 0, false);
  p.seal(T0 + 5);
  return p.bytes[0]!.slice(0, p.lengths[0]);
}

describe("CRC-32C", () => {
  it("matches the bitwise definition for every length and alignment, on both the byte and the word path", () => {
    const r = rng(1);
    const buf = new ArrayBuffer(2048);
    const bytes = new Uint8Array(buf);
    const words = new Int32Array(buf);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    for (let start = 0; start < 9; start++) {
      for (let len = 0; len < 300; len++) expect(crc32c(bytes, start, start + len)).toBe(refCrc32c(bytes.subarray(start, start + len)));
    }
    for (let w = 0; w < 120; w++) expect(~crc32cUpdateWords(-1, words, 3, 3 + w) >>> 0).toBe(refCrc32c(bytes.subarray(12, 12 + 4 * w)));
    expect(~crc32cUpdate(crc32cUpdate(-1, bytes, 0, 700), bytes, 700, 1400) >>> 0).toBe(refCrc32c(bytes.subarray(0, 1400)));
    for (const n of [48, 49, 55, 64, 1399, 1400]) {
      const zeroed = bytes.slice(0, n);
      zeroed.fill(0, 44, 48);
      expect(datagramCrc32c(bytes, n, words)).toBe(refCrc32c(zeroed));
      expect(datagramCrc32c(bytes, n)).toBe(refCrc32c(zeroed));
    }
  });
});

describe("flipped bits", () => {
  it("any single bit flipped anywhere in any vector datagram is rejected", () => {
    let flips = 0;
    for (const v of valid) {
      for (const hex of v.datagrams) {
        const good = fromHex(hex);
        expect(codeOf(good, v.authKeyHex !== undefined ? new DatagramAuth(fromHex(v.authKeyHex)) : undefined)).toBe("ok");
        for (let bit = 0; bit < good.length * 8; bit++) {
          const b = good.slice();
          b[bit >> 3]! ^= 1 << (bit & 7);
          expect(codeOf(b), `${v.name} bit ${bit}`).not.toBe("ok");
          flips++;
        }
      }
    }
    expect(flips).toBeGreaterThan(20_000);
  });

  it("any single bit of a full 1400-byte datagram, and any burst up to 32 bits, is rejected", () => {
    const good = bigDatagram();
    expect(good.length).toBe(48 + 8 + 64 + 80 * 16);
    for (let bit = 0; bit < good.length * 8; bit++) {
      const b = good.slice();
      b[bit >> 3]! ^= 1 << (bit & 7);
      expect(codeOf(b)).not.toBe("ok");
    }
    const r = rng(5);
    for (let i = 0; i < 3000; i++) {
      const b = good.slice();
      const start = Math.floor(r() * (good.length * 8 - 32));
      const len = 1 + Math.floor(r() * 32);
      for (let k = 0; k < len; k++) if (k === 0 || k === len - 1 || r() < 0.5) b[(start + k) >> 3]! ^= 1 << ((start + k) & 7);
      expect(codeOf(b)).not.toBe("ok");
    }
  });

  it("a flipped price bit is a counted bad_checksum at the subscriber, the book never sees it", () => {
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const codes: string[] = [];
    sub.on("error", (e) => codes.push((e.error as { codeName?: string }).codeName ?? "?"));
    const v = vectors.find((x) => x.name === "delta")!;
    const bytes = fromHex(v.datagrams[0]!);
    bytes[120]! ^= 0x01; // bit 0 of the first bid price
    sub.ingest(bytes);
    expect(codes).toEqual(["bad_checksum"]);
    expect(sub.counters.errors).toBe(1);
    expect(sub.counters.rejected).toMatchObject({ bad_checksum: 1 });
    expect(sub.book(0x7e2d0c1f)).toBeUndefined();
  });
});

describe("authentication", () => {
  it("with the key: any change with a recomputed CRC is bad_auth; without a key the trailer is ignored", () => {
    const auth = new DatagramAuth(KEY);
    const good = bigDatagram(auth);
    expect(good[3]! & PKT_FLAG_AUTHENTICATED).toBe(PKT_FLAG_AUTHENTICATED);
    expect(codeOf(good, auth)).toBe("ok");
    expect(codeOf(good)).toBe("ok");
    const r = rng(9);
    for (let i = 0; i < 400; i++) {
      const b = good.slice();
      // any byte after the CRC field (fields, levels or the trailer itself), then a valid CRC
      const at = 48 + Math.floor(r() * (b.length - 48));
      b[at]! ^= 1 + Math.floor(r() * 255);
      resealCrc(b);
      const code = codeOf(b, auth);
      expect(["bad_auth", "bad_message", "bad_count", "bad_value", "unsafe_integer"], `byte ${at}`).toContain(code);
      if (at >= 48 + 8 + 64) expect(code === "bad_auth" || code === "bad_value" || code === "unsafe_integer").toBe(true);
    }
  });

  it("a datagram forged with a wrong key, an unsigned one, and a stripped trailer are bad_auth for a keyed reader", () => {
    const auth = new DatagramAuth(KEY);
    const forged = bigDatagram(new DatagramAuth(Uint8Array.from(KEY, (x) => x ^ 0xff)));
    expect(codeOf(forged, auth)).toBe("bad_auth");
    const unsigned = bigDatagram();
    expect(codeOf(unsigned, auth)).toBe("bad_auth");
    // Downgrade: drop the trailer and the flag, fix pktLength and the CRC.
    const signed = bigDatagram(auth);
    const stripped = signed.slice(0, signed.length - AUTH_TRAILER_BYTES);
    stripped[3]! &= ~PKT_FLAG_AUTHENTICATED;
    new DataView(stripped.buffer).setUint16(12, stripped.length, true);
    resealCrc(stripped);
    expect(codeOf(stripped)).toBe("ok");
    expect(codeOf(stripped, auth)).toBe("bad_auth");
  });

  it("verify() leaves the datagram's bytes unchanged (it zeroes the CRC field only while hashing)", () => {
    const auth = new DatagramAuth(KEY);
    const good = bigDatagram(auth);
    const copy = good.slice();
    const r = new PacketReader(auth);
    expect(r.wrap(new DataView(good.buffer), good.length, 1400)).toBe(DecodeErrorCode.OK);
    expect(good).toEqual(copy);
  });

  it("keys shorter than 16 bytes are refused", () => {
    expect(() => new DatagramAuth(new Uint8Array(15))).toThrow(/15 bytes; at least 16/);
  });
});

describe("versions", () => {
  it("a v1 datagram is refused as unknown_version and counted by the subscriber", () => {
    const v1 = fromHex(vectors.find((x) => x.name === "reject_v1")!.datagrams[0]!);
    expect(v1.length).toBe(32);
    expect(codeOf(v1)).toBe("unknown_version");
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const codes: string[] = [];
    sub.on("error", (e) => codes.push((e.error as { codeName?: string }).codeName ?? "?"));
    sub.ingest(v1);
    expect(codes).toEqual(["unknown_version"]);
    expect(sub.counters.errors).toBe(1);
    expect(sub.counters.rejected).toMatchObject({ unknown_version: 1 });
  });

  it("BookDelta is template version 2 with a 64-byte block; the other templates stay at version 1", () => {
    const p = new ChannelPacker(1400, 1, 0, 1);
    const b = new TestBook(makeInstrument("bybit", "spot", "BTCUSDT"));
    const cs = new ChangeSet();
    cs.addBid(100, 1);
    b.apply(cs, 1, T0);
    packBookDelta(p, b, cs);
    packBookSnapshot(p, b, 0, false);
    p.seal(T0);
    const res = decodeDatagram(p.bytes[0]!.slice(0, p.lengths[0]));
    expect(res.ok && res.packet.messages.map((m) => [m.type, m.version])).toEqual([
      ["delta", 2],
      ["snapshot", 1],
    ]);
  });
});
