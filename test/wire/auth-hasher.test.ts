/**
 * DatagramAuth with a reused SHA-256 (the publisher's Bun.CryptoHasher, wire/auth.ts) writes the same trailers as
 * node:crypto's createHmac: RFC 4231's HMAC-SHA256 vectors (keys of at least 16 bytes: cases 1, 3, 4, 6, 7; the
 * trailer is the first 16 bytes), then random keys and lengths against createHmac, signed by one and verified by the
 * other, and a changed byte refused. Then the edges (keys around the 64-byte block, messages around SHA-256's padding
 * boundaries and over 64 KiB), and failures: a length that holds no trailer is refused as createHmac's path refuses
 * it, and a throw mid-MAC (a detached buffer, a failing hasher) leaves the hasher fit for the next datagram.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DatagramAuth, type ReusableSha256 } from "../../src/wire/auth.ts";
import { rng } from "./helpers.ts";

/** Bun.CryptoHasher("sha256") that counts its updates (the hasher must be the one computing). */
function countingHasher(): ReusableSha256 & { updates: number } {
  const h = new Bun.CryptoHasher("sha256");
  return {
    updates: 0,
    update(data: Uint8Array) {
      this.updates++;
      h.update(data);
    },
    digest(into: Uint8Array) {
      return h.digest(into);
    },
  };
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, "latin1"));

// RFC 4231 §4: key, data, HMAC-SHA256 (cases 2 and 5: a 4-byte key, refused as shorter than 16 bytes; case 5 is a truncation).
const RFC4231 = [
  { name: "1", key: hex("0b".repeat(20)), data: ascii("Hi There"), mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
  { name: "3", key: hex("aa".repeat(20)), data: hex("dd".repeat(50)), mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
  {
    name: "4",
    key: hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
    data: hex("cd".repeat(50)),
    mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  },
  { name: "6", key: hex("aa".repeat(131)), data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"), mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
  {
    name: "7",
    key: hex("aa".repeat(131)),
    data: ascii("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."),
    mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0734a8d65c0e7f2c1a0d66",
  },
];

describe("DatagramAuth with a reused SHA-256", () => {
  it("RFC 4231 vectors: the trailer is the first 16 bytes of the HMAC, and it verifies", () => {
    const h = countingHasher();
    for (const v of RFC4231) {
      const auth = new DatagramAuth(v.key, h);
      const bytes = new Uint8Array(v.data.length + 16 + 5).fill(0xee); // room after the trailer stays untouched
      bytes.set(v.data);
      auth.sign(bytes, v.data.length + 16);
      expect(Buffer.from(bytes.subarray(v.data.length, v.data.length + 16)).toString("hex"), `case ${v.name}`).toBe(v.mac.slice(0, 32));
      expect(bytes.subarray(v.data.length + 16).every((b) => b === 0xee)).toBe(true);
      expect(auth.verifyTrailer(bytes, v.data.length + 16)).toBe(true);
    }
    expect(h.updates).toBeGreaterThan(0); // before: the hasher was not used
  });

  it("random keys and lengths: same trailers as createHmac, each side verifies the other's, a changed byte is refused", () => {
    const r = rng(4231);
    const h = countingHasher();
    const buf = new Uint8Array(1600); // one reused buffer, as the packer's
    for (let trial = 0; trial < 300; trial++) {
      const key = Uint8Array.from({ length: 16 + Math.floor(r() * 140) }, () => Math.floor(r() * 256));
      const fast = new DatagramAuth(key, h);
      const plain = new DatagramAuth(key);
      const length = 64 + Math.floor(r() * (buf.length - 64));
      for (let i = 0; i < length; i++) buf[i] = Math.floor(r() * 256);
      buf.fill(0, 44, 48); // the checksum field: 0 while signing (the CRC comes after)
      fast.sign(buf, length);
      const want = createHmac("sha256", key).update(buf.subarray(0, length - 16)).digest().subarray(0, 16);
      expect(Buffer.from(buf.subarray(length - 16, length)).equals(want), `trial ${trial}, ${key.length} B key, ${length} B`).toBe(true);
      expect(plain.verify(buf, length)).toBe(true);
      expect(fast.verify(buf, length)).toBe(true);
      plain.sign(buf, length);
      expect(Buffer.from(buf.subarray(length - 16, length)).equals(want)).toBe(true);
      const at = Math.floor(r() * length);
      buf[at]! ^= 1 + Math.floor(r() * 255);
      // a byte of the checksum field is taken as 0 by verify(): changing it does not change the MAC
      const inCrc = at >= 44 && at < 48;
      expect(fast.verify(buf, length), `byte ${at}`).toBe(inCrc);
      expect(fast.verifyTrailer(buf, length)).toBe(plain.verifyTrailer(buf, length));
    }
    expect(h.updates).toBeGreaterThan(0);
  });
});

/** The first 16 bytes of createHmac over bytes[0, length − 16): the reference trailer. */
function reference(key: Uint8Array, bytes: Uint8Array, length: number): Buffer {
  return createHmac("sha256", key).update(bytes.subarray(0, length - 16)).digest().subarray(0, 16);
}

describe("DatagramAuth with a reused SHA-256: edges and failures", () => {
  it("keys of 16, 63, 64 (not hashed), 65 and 1000 bytes (hashed first) × messages of 0–65 bytes, 119–129 and 70,000: createHmac's trailers", () => {
    const r = rng(64);
    const h = countingHasher();
    const buf = Uint8Array.from({ length: 70_000 + 16 }, () => Math.floor(r() * 256));
    const lengths = [...Array.from({ length: 66 }, (_, i) => i), 119, 120, 127, 128, 129, 70_000];
    for (const keyBytes of [16, 63, 64, 65, 1000]) {
      const key = Uint8Array.from({ length: keyBytes }, () => Math.floor(r() * 256));
      const auth = new DatagramAuth(key, h);
      for (const messageBytes of lengths) {
        const length = messageBytes + 16;
        auth.sign(buf, length);
        expect(Buffer.from(buf.subarray(messageBytes, length)).equals(reference(key, buf, length)), `${keyBytes} B key, ${messageBytes} B`).toBe(true);
        expect(auth.verifyTrailer(buf, length)).toBe(true);
      }
    }
  });

  it("sign refuses a length that holds no trailer within the buffer, as createHmac's path does, and the hasher stays sound", () => {
    const key = new Uint8Array(32).fill(7);
    const fast = new DatagramAuth(key, new Bun.CryptoHasher("sha256"));
    const plain = new DatagramAuth(key);
    for (const auth of [fast, plain]) {
      for (const length of [15, 0, -1, 101, 20.5, Number.NaN]) {
        const bytes = new Uint8Array(100).fill(0xab);
        expect(() => auth.sign(bytes, length), `${length}`).toThrow(RangeError);
        expect(bytes.every((b) => b === 0xab)).toBe(true); // before: the hasher path wrote what fell in the buffer
      }
    }
    const bytes = new Uint8Array(100).fill(3);
    fast.sign(bytes, 100);
    expect(Buffer.from(bytes.subarray(84)).equals(reference(key, bytes, 100))).toBe(true);
  });

  it("a detached buffer: sign throws, and the next datagram is signed right (the hasher was left half-fed)", () => {
    const key = new Uint8Array(32).fill(9);
    const auth = new DatagramAuth(key, new Bun.CryptoHasher("sha256"));
    const old = new Uint8Array(200).fill(1);
    auth.sign(old, 200); // its views are cached
    old.buffer.transfer(); // detached: its views too
    expect(() => auth.sign(old, 200)).toThrow();
    expect(auth.verify(old, 200)).toBe(false);
    const bytes = new Uint8Array(200).fill(2).fill(0, 44, 48); // the checksum field 0, as when signed
    auth.sign(bytes, 200);
    expect(Buffer.from(bytes.subarray(184)).equals(reference(key, bytes, 200))).toBe(true);
    expect(auth.verify(bytes, 200)).toBe(true);
  });

  it("a hasher that throws mid-MAC does not poison the next signature or verification", () => {
    const key = new Uint8Array(40).fill(5);
    const inner = new Bun.CryptoHasher("sha256");
    let failAt = -1; // the update (counted from 0) that throws once
    let updates = 0;
    const flaky: ReusableSha256 = {
      update(data: Uint8Array) {
        if (updates++ === failAt) throw new Error("hasher failed");
        inner.update(data);
      },
      digest(into: Uint8Array) {
        return inner.digest(into);
      },
    };
    const auth = new DatagramAuth(key, flaky);
    // updates of one MAC: ipad, message, opad, inner digest; a failure at each, then a sign and a verify
    for (let k = 0; k < 4; k++) {
      const bytes = new Uint8Array(120).fill(10 + k).fill(0, 44, 48);
      updates = 0;
      failAt = k;
      expect(() => auth.sign(bytes, 120)).toThrow("hasher failed");
      auth.sign(bytes, 120);
      expect(Buffer.from(bytes.subarray(104)).equals(reference(key, bytes, 120)), `failed at update ${k}`).toBe(true);
      updates = 0;
      failAt = k;
      expect(() => auth.verify(bytes, 120)).toThrow("hasher failed");
      expect(auth.verify(bytes, 120), `verify after a failure at update ${k}`).toBe(true);
    }
  });
});
