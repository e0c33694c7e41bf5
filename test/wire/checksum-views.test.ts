/**
 * The datagram checksum through the decoder's cached views (wire/exact-views.ts, PacketReader.crc32Of), against a
 * bitwise reference model: one PacketReader reused, as a subscriber does, over receive buffers at byteOffset 0, 3
 * and 8, longer than the datagram, swapped now and then; datagrams of random lengths up to 65,504 B from the packer
 * (v3, some signed, some turned into v2 with their CRC-32C), some lengthened by 1–7 bytes (not a multiple of 8: the
 * TypeScript path), some with one flipped bit. The verdict must be the reference's (bad_checksum exactly when the
 * reference sum differs from the stored one) and verify() must leave every byte as it came, checksum field included.
 */
import { describe, expect, it } from "vitest";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { DecodeErrorCode, PacketReader } from "../../src/wire/decoder.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { PKT_CHECKSUM_OFFSET, PKT_FLAGS_OFFSET, PKT_LENGTH_OFFSET, PKT_VERSION_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { datagramChecksum, makeInstrument, randInt, randomBookSides, rng, TestBook } from "./helpers.ts";

const T0 = 1_764_000_000_000_000;
const MAX = 65507;

/** Bitwise CRC over bytes [0, n) with bytes 44–47 taken as 0 (reference model, from docs/wire-protocol.md §3.2). */
function refSum(bytes: Uint8Array, n: number, poly: number): number {
  let c = 0xffffffff;
  for (let i = 0; i < n; i++) {
    c ^= i >= PKT_CHECKSUM_OFFSET && i < PKT_CHECKSUM_OFFSET + 4 ? 0 : bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Random datagrams as the packer makes them (v3, multiples of 8), at random sizes. */
function datagrams(r: () => number, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const auth = new DatagramAuth(Uint8Array.from({ length: 32 }, (_, i) => i));
  while (out.length < count) {
    const maxBytes = [256, 512, 1400, 9000, 65507][randInt(r, 0, 4)]!;
    const p = new ChannelPacker(maxBytes, 2, 0, 77, { sessionStartUs: T0, heartbeatIntervalMs: 1000, auth: r() < 0.3 ? auth : undefined });
    const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    const s = randomBookSides(r, randInt(r, 0, maxBytes > 9000 ? 2000 : 120), 300_000);
    b.load(s.bids, s.asks, 9, T0);
    packBookSnapshot(p, b, 0, false);
    if (r() < 0.2) p.appendHeartbeat(0);
    p.seal(T0 + 5);
    for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
  }
  return out;
}

describe("datagram checksum through the decoder's reused views", () => {
  it("verdicts equal the bitwise reference at byteOffset 0/3/8, v3 and v2, odd lengths, up to 65,504 B; bytes unchanged", () => {
    const r = rng(0xc5c26e);
    const reader = new PacketReader();
    let rx = new DataView(new ArrayBuffer(MAX + 8));
    const seen = { v2: 0, v3: 0, odd: 0, flipped: 0, big: 0, ok: 0 };
    for (const original of datagrams(r, 400)) {
      if (r() < 0.05) {
        // A new receive buffer (cold): the cached views must follow it.
        const offset = [0, 3, 8][randInt(r, 0, 2)]!;
        rx = new DataView(new ArrayBuffer(MAX + 16), offset, MAX + 8);
      }
      let d = original;
      if (r() < 0.3) {
        d[PKT_VERSION_OFFSET] = 2; // what a v2 publisher sends: the same bytes with version 2 and a CRC-32C
        seen.v2++;
      } else seen.v3++;
      if (r() < 0.2 && d.length + 7 <= MAX) {
        // Longer by 1–7 bytes (not a multiple of 8; structurally wrong but checksummed first).
        const longer = new Uint8Array(d.length + randInt(r, 1, 7));
        longer.set(d);
        new DataView(longer.buffer).setUint16(PKT_LENGTH_OFFSET, longer.length, true);
        d = longer;
        seen.odd++;
      }
      new DataView(d.buffer).setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(d, d.length), true);
      if (r() < 0.3) {
        const bit = randInt(r, 0, d.length * 8 - 1);
        const at = bit >> 3; // not in magic, version, flags or pktLength: checked before the checksum (§7.2)
        if (at > PKT_FLAGS_OFFSET && at !== PKT_LENGTH_OFFSET && at !== PKT_LENGTH_OFFSET + 1) {
          d[bit >> 3]! ^= 1 << (bit & 7);
          seen.flipped++;
        }
      }
      if (d.length > 9000) seen.big++;
      const rxBytes = new Uint8Array(rx.buffer, rx.byteOffset, rx.byteLength);
      rxBytes.fill(0xa5);
      rxBytes.set(d);
      const before = rxBytes.slice();
      const poly = d[PKT_VERSION_OFFSET] === 2 ? 0x82f63b78 : 0xedb88320;
      const matches = refSum(d, d.length, poly) === new DataView(d.buffer).getUint32(PKT_CHECKSUM_OFFSET, true);
      const rc = reader.wrap(rx, d.length, MAX);
      const what = `length ${d.length} v${d[PKT_VERSION_OFFSET]} offset ${rx.byteOffset} rc ${rc}`;
      expect(rc === DecodeErrorCode.BAD_CHECKSUM, what).toBe(!matches);
      if (rc === DecodeErrorCode.OK) seen.ok++;
      expect(rxBytes.every((x, i) => x === before[i])).toBe(true);
    }
    // Every case was exercised.
    expect(Math.min(seen.v2, seen.v3, seen.odd, seen.flipped, seen.big, seen.ok)).toBeGreaterThan(5);
  });
});
