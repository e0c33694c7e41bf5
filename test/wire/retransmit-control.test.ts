/**
 * decodeRetxControl against a model of §11.1's integers: a control packet's seqNum, firstAvailable and nextSeq are u64
 * read as numbers, exact below 2^53 only. Forged packets (valid CRC-32C, and HMAC when keyed) with random high words
 * in those fields: refused as `unsafe_integer` exactly when one is 2^53 or more, otherwise read exactly (compared as
 * BigInt). Before 2026-12-06 every one was taken, its numbers rounded (2^64 − 1 read as 2^64).
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeRetxControl, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { forgedControl, rng } from "./helpers.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x30 + i);
const TWO_53 = 2n ** 53n;

describe("decodeRetxControl: the u64 fields", () => {
  it("a seqNum, firstAvailable or nextSeq of 2^53 or more is refused as unsafe_integer; below, read exactly (random, against a model)", () => {
    const r = rng(53);
    const auth = new DatagramAuth(KEY);
    // High words: mostly around 2^21 (the bound), some anywhere up to 2^32 − 1.
    const high = (): bigint => BigInt(r() < 0.7 ? 0x200000 - 2 + Math.floor(r() * 4) : Math.floor(r() * 0x100000000));
    const low = (): bigint => BigInt([0, 1, 0xffffffff][Math.floor(r() * 4)] ?? Math.floor(r() * 0x100000000));
    let refused = 0;
    let read = 0;
    for (let i = 0; i < 600; i++) {
      const values = [0, 1, 2].map(() => (r() < 0.5 ? BigInt(Math.floor(r() * 1e6)) : (high() << 32n) | low()));
      const keyed = r() < 0.3;
      const kind = r() < 0.5 ? RETX_KIND_REQUEST : RETX_KIND_OUT_OF_RANGE;
      const got = decodeRetxControl(forgedControl(kind, values, keyed ? auth : undefined), keyed ? auth : undefined);
      const exact = values.every((v) => v < TWO_53);
      if (!exact) {
        expect(got, `values ${values.join(", ")}`).toBe("unsafe_integer");
        refused++;
        continue;
      }
      if (typeof got === "string") throw new Error(`values ${values.join(", ")}: refused as ${got}`);
      expect([BigInt(got.seqNum), BigInt(got.firstAvailable), BigInt(got.nextSeq)]).toEqual(values);
      read++;
    }
    expect(refused).toBeGreaterThan(100);
    expect(read).toBeGreaterThan(100);
  });

  it("2^53 − 1 is read; 2^53 and 2^64 − 1 in each field are refused", () => {
    const max = TWO_53 - 1n;
    const got = decodeRetxControl(forgedControl(RETX_KIND_REQUEST, [max, max, max]));
    expect(typeof got === "object" && [got.seqNum, got.firstAvailable, got.nextSeq]).toEqual([2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1]);
    for (let f = 0; f < 3; f++) {
      for (const bad of [TWO_53, 2n ** 64n - 1n]) {
        const values = [5n, 5n, 5n];
        values[f] = bad;
        expect(decodeRetxControl(forgedControl(RETX_KIND_REQUEST, values)), `field ${f} = ${bad}`).toBe("unsafe_integer");
      }
    }
  });
});

/** Bitwise CRC-32C (§3.2) over b with bytes 28–31 (the control packet's crc32c field) taken as 0. */
function specCrc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    c ^= i >= 28 && i < 32 ? 0 : b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** §3.3's trailer of a control packet: HMAC-SHA256 over [0, length − 16) with the crc32c field 0, first 16 bytes. */
function specTrailer(b: Uint8Array, key: Uint8Array): Uint8Array {
  const copy = b.slice(0, b.length - 16);
  copy.fill(0, 28, 32);
  return createHmac("sha256", key).update(copy).digest().subarray(0, 16);
}

/**
 * docs/wire-protocol.md §11.2's verdict on control packet b, from its tables alone (literal offsets, BigInt): the data
 * datagrams' order and names (§7.2) for the same faults: magic → version → length → checksum → HMAC → kind → u64s.
 */
function specVerdict(b: Uint8Array, key: Uint8Array | undefined): string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length;
  if (n < 3) return "truncated";
  if (dv.getUint16(0, true) !== 0x5246) return "bad_magic";
  if (b[2] !== 1) return "unknown_version";
  if (n < 48) return "truncated";
  const pktLength = dv.getUint16(14, true);
  if (pktLength < 48 || pktLength > n) return "truncated";
  if (n > pktLength) return "oversized";
  const authenticated = (dv.getUint16(12, true) & 0x08) !== 0;
  if (authenticated && pktLength < 64) return "truncated";
  if (pktLength > (authenticated ? 64 : 48)) return "oversized";
  if (specCrc32c(b) !== dv.getUint32(28, true)) return "bad_checksum";
  if (key !== undefined && (!authenticated || Buffer.compare(specTrailer(b, key), b.subarray(n - 16)) !== 0)) return "bad_auth";
  if (b[3]! < 1 || b[3]! > 3) return "bad_kind";
  for (const off of [16, 32, 40]) if (dv.getBigUint64(off, true) >= TWO_53) return "unsafe_integer";
  return "ok";
}

describe("decodeRetxControl: refusals named as the data decoder's (§7.2) for the same faults", () => {
  it("each refusal, one packet each", () => {
    const auth = new DatagramAuth(KEY);
    const plain = forgedControl(RETX_KIND_REQUEST, [1n, 0n, 0n]);
    const signed = forgedControl(RETX_KIND_REQUEST, [1n, 0n, 0n], auth);
    const reseal = (b: Uint8Array): Uint8Array => {
      new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(28, specCrc32c(b), true);
      return b;
    };
    const edit = (from: Uint8Array, f: (b: Uint8Array, dv: DataView) => void): Uint8Array => {
      const b = from.slice();
      f(b, new DataView(b.buffer));
      return reseal(b);
    };
    const cases: [string, Uint8Array, DatagramAuth | undefined, string][] = [
      ["2 bytes", plain.subarray(0, 2), undefined, "truncated"],
      ["a data datagram's magic FD", edit(plain, (b) => (b[1] = 0x44)), undefined, "bad_magic"],
      ["version 2", edit(plain, (b) => (b[2] = 2)), undefined, "unknown_version"],
      ["47 bytes", plain.subarray(0, 47), undefined, "truncated"],
      ["pktLength 56 in a 48-byte packet", edit(plain, (_, dv) => dv.setUint16(14, 56, true)), undefined, "truncated"],
      ["8 bytes after pktLength 48", edit(Uint8Array.from([...plain, 0, 0, 0, 0, 0, 0, 0, 0]), () => {}), undefined, "oversized"],
      ["AUTHENTICATED in 48 bytes", edit(plain, (b) => (b[12] = 0x08)), undefined, "truncated"],
      ["64 bytes without AUTHENTICATED", edit(signed, (b) => (b[12] = 0)), undefined, "oversized"],
      // Both truncated and oversized: the first of §11.2's steps 4a–4d that fails names it.
      ["40 bytes whose pktLength 32 leaves bytes after it (4a before 4b)", edit(plain.slice(0, 40), (_, dv) => dv.setUint16(14, 32, true)), undefined, "truncated"],
      ["pktLength 72 beyond 64 bytes without AUTHENTICATED (4a before 4d)", edit(signed, (b, dv) => ((b[12] = 0), dv.setUint16(14, 72, true))), undefined, "truncated"],
      ["AUTHENTICATED, pktLength 56, 8 bytes after it (4b before 4c)", edit(signed, (_, dv) => dv.setUint16(14, 56, true)), undefined, "oversized"],
      ["a damaged byte", plain.map((x, i) => (i === 20 ? x ^ 1 : x)), undefined, "bad_checksum"],
      ["unsigned where a key is set", plain, auth, "bad_auth"],
      ["kind 4", edit(plain, (b) => (b[3] = 4)), undefined, "bad_kind"],
      ["seqNum 2^53", forgedControl(RETX_KIND_REQUEST, [TWO_53, 0n, 0n]), undefined, "unsafe_integer"],
    ];
    for (const [what, b, a, want] of cases) {
      expect(specVerdict(b, a === undefined ? undefined : KEY), `${what}: the model`).toBe(want);
      expect(decodeRetxControl(b, a), what).toBe(want);
    }
  });

  it("forged packets (random bytes changed, lengths cut or grown, CRC and HMAC remade) get §11.2's refusal (random, against a model)", () => {
    const r = rng(11);
    const auth = new DatagramAuth(KEY);
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const keyed = r() < 0.3;
      let b = forgedControl(1 + Math.floor(r() * 3), [BigInt(Math.floor(r() * 1e6)), 0n, 0n], r() < 0.5 ? auth : undefined);
      for (let k = Math.floor(r() * 3); k > 0; k--) {
        // Mostly the framing fields (magic, version, kind, flags, pktLength) and the u64s' high bytes.
        const at = r() < 0.6 ? [0, 1, 2, 3, 12, 14, 15, 23, 39, 47][Math.floor(r() * 10)]! : Math.floor(r() * b.length);
        b[at] = r() < 0.5 ? Math.floor(r() * 256) : b[at]! ^ (1 << Math.floor(r() * 8));
      }
      const cut = r();
      if (cut < 0.1) b = b.slice(0, Math.floor(r() * b.length));
      else if (cut < 0.2) b = Uint8Array.from([...b, ...new Uint8Array(8 * (1 + Math.floor(r() * 3)))]);
      if (r() < 0.3 && b.length >= 16) new DataView(b.buffer).setUint16(14, b.length, true); // pktLength follows
      if (r() < 0.9 && b.length >= 64 && r() < 0.5) b.set(specTrailer(b, KEY), b.length - 16);
      if (r() < 0.9 && b.length >= 32) new DataView(b.buffer).setUint32(28, specCrc32c(b), true);
      const want = specVerdict(b, keyed ? KEY : undefined);
      const got = decodeRetxControl(b, keyed ? auth : undefined);
      if ((typeof got === "string" ? got : "ok") !== want) expect.fail(`packet ${Buffer.from(b).toString("hex")} (keyed ${keyed}): decoder ${String(got)}, §11.2 ${want}`);
      seen.set(want, (seen.get(want) ?? 0) + 1);
    }
    for (const code of ["ok", "truncated", "oversized", "bad_magic", "unknown_version", "bad_checksum", "bad_auth", "bad_kind", "unsafe_integer"]) {
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(20);
    }
  });
});

describe("decodeRetxControl: flag bits other than AUTHENTICATED", () => {
  it("are reserved (§11.2: written 0, ignored by readers, as §1's reserved fields): a packet with all of them set is read as one without", () => {
    const auth = new DatagramAuth(KEY);
    // Every flag bit set; the CRC (and the HMAC, keyed) made over them, as a peer of a later revision would.
    const withFlags = (a: DatagramAuth | undefined, flags: number): Uint8Array => {
      const b = forgedControl(RETX_KIND_OUT_OF_RANGE, [7n, 3n, 9n], a);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      dv.setUint16(12, flags, true);
      dv.setUint32(28, 0, true);
      if (a !== undefined) a.sign(b, b.length);
      dv.setUint32(28, specCrc32c(b), true);
      return b;
    };
    for (const [a, flags] of [[undefined, 0xfff7], [auth, 0xffff]] as const) {
      const got = decodeRetxControl(withFlags(a, flags), a);
      expect(got, `flags 0x${flags.toString(16)}`).toEqual(decodeRetxControl(forgedControl(RETX_KIND_OUT_OF_RANGE, [7n, 3n, 9n], a), a));
      expect(typeof got).toBe("object");
    }
  });
});
