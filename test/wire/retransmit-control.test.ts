/**
 * decodeRetxControl against a model of §11.1's integers: a control packet's seqNum, firstAvailable and nextSeq are u64
 * read as numbers, exact below 2^53 only. Forged packets (valid CRC-32C, and HMAC when keyed) with random high words
 * in those fields: refused as `unsafe_integer` exactly when one is 2^53 or more, otherwise read exactly (compared as
 * BigInt). Before 2026-12-06 every one was taken, its numbers rounded (2^64 − 1 read as 2^64).
 */
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
