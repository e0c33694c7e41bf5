/**
 * Which burst errors the datagram checksum detects (docs/wire-protocol.md §3.2), exhaustively, by linear algebra:
 * an error pattern e goes undetected by the CRC exactly when its syndrome (the change it makes to the recomputed
 * CRC, XOR the change it makes to the stored field) is 0, and the syndrome is linear in e. So every burst within a
 * 32-bit window is detected iff the 32 single-bit syndromes of that window are linearly independent, and the
 * undetected bursts of a window are its kernel. Because the field is taken as zero where it lies (offset 44) rather
 * than appended, a window straddling an edge of the field is not covered by a cyclic code's burst guarantee; this
 * test finds that such windows exist (for CRC-32 and v2's CRC-32C alike), and that every burst that cancels there
 * also changes schemaId or the first message's msgLength, which the decoder refuses (§7.2). It also checks the
 * spec's Hamming distance claim at the default maximum datagram: no 1-, 2- or 3-bit error goes undetected.
 */
import { describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { PKT_CHECKSUM_OFFSET, PKT_VERSION_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { datagramChecksum, makeInstrument, randomBookSides, rng, TestBook } from "./helpers.ts";

const POLYS = { "CRC-32 (v3)": 0xedb88320, "CRC-32C (v2)": 0x82f63b78 } as const;
const FIELD_FIRST_BIT = PKT_CHECKSUM_OFFSET * 8;
const FIELD_END_BIT = FIELD_FIRST_BIT + 32;

function tableOf(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[b] = c >>> 0;
  }
  return t;
}

/** Syndromes of single-bit errors at every bit of a datagram of `length` bytes (reference: bitwise register). */
function syndromes(poly: number, length: number): Uint32Array {
  const t = tableOf(poly);
  const out = new Uint32Array(length * 8);
  // Register contribution of a 1 bit at bit k of the last byte, then shifted through the zero bytes after it.
  let tail = new Uint32Array(8).map((_, k) => t[(1 << k) & 0xff]!);
  for (let byte = length - 1; byte >= 0; byte--) {
    for (let k = 0; k < 8; k++) {
      out[byte * 8 + k] = byte >= PKT_CHECKSUM_OFFSET && byte < PKT_CHECKSUM_OFFSET + 4 ? (1 << ((byte - PKT_CHECKSUM_OFFSET) * 8 + k)) >>> 0 : tail[k]!;
    }
    tail = tail.map((c) => (t[c & 0xff]! ^ (c >>> 8)) >>> 0); // one more zero byte after the bit
  }
  return out;
}

/**
 * Non-zero masks (bit j = window bit j flipped) whose syndromes cancel: a basis of the window's kernel. Gaussian
 * elimination with the pivots kept by their highest set bit (a pivot is never 0, so 0 marks a free slot); two typed
 * arrays instead of a Map: called ~1 million times by the every-length test below, most of its time.
 */
const pivotV = new Uint32Array(32);
const pivotCombo = new Uint32Array(32);
/** kernelAt's masks, in the order found (the first `count` it returns). */
const kernelOut = new Uint32Array(32);
/**
 * The kernel of the window cols[from … from + 31]: its masks go to kernelOut, their count is returned. No subarray
 * or array per call: the every-length test calls it ~500,000 times per polynomial (checked against the former
 * kernel(subarray) on all of them: the same 662,366 masks in the same order).
 */
function kernelAt(cols: Uint32Array, from: number): number {
  pivotV.fill(0);
  let count = 0;
  for (let j = 0; j < 32; j++) {
    let v = cols[from + j]! >>> 0;
    let combo = (1 << j) >>> 0;
    while (v !== 0) {
      const top = 31 - Math.clz32(v);
      const pv = pivotV[top]!;
      if (pv === 0) break;
      v = (v ^ pv) >>> 0;
      combo = (combo ^ pivotCombo[top]!) >>> 0;
    }
    if (v === 0) kernelOut[count++] = combo;
    else {
      const top = 31 - Math.clz32(v);
      pivotV[top] = v;
      pivotCombo[top] = combo;
    }
  }
  return count;
}
function kernel(window32: Uint32Array): number[] {
  return Array.from(kernelOut.subarray(0, kernelAt(window32, 0)));
}

/**
 * Pairs a < b whose syndromes' XOR is another bit's syndrome (a 3-bit error that cancels): the count asking for
 * every pair gives (checked on CRC-32, CRC-32C and 8 other polynomials at 60, 200 and 1400 B, counts from 0 to
 * 697,254), without the 62.7 million pairs. Each syndrome is x^e mod the polynomial (bit-reflected) for an
 * exponent e (checked here, not assumed), so three bits cancel iff their exponents are e < e+d1 < e+d2 with
 * 1 + x^d1 + x^d2 = 0 (x is invertible: the polynomial has an x^0 term). Those (d1, d2) are found in one pass
 * over d1, then each triple of exponents present is counted; each triple is 3 pairs. Distinct, non-zero syndromes
 * assumed: the test checks that first.
 */
function pairsEqualToAThird(syn: Uint32Array, poly: number): number {
  if ((poly & 0x80000000) === 0) throw new Error(`polynomial ${poly.toString(16)} has no x^0 term`);
  const maxExponentPossible = syn.length + 31; // the datagram's first bit is x^(8·length + 31), the highest
  const power = new Uint32Array(maxExponentPossible + 1);
  const exponentOf = new Map<number, number>();
  let v = 0x80000000; // x^0, bit-reflected
  for (let e = 0; e <= maxExponentPossible; e++) {
    if (exponentOf.has(v)) throw new Error(`x^${e} = x^${exponentOf.get(v)}: the polynomial's x has order ${e - exponentOf.get(v)!}`);
    power[e] = v;
    exponentOf.set(v, e);
    v = (v & 1 ? (v >>> 1) ^ poly : v >>> 1) >>> 0;
  }
  const present = new Uint8Array(maxExponentPossible + 1);
  let maxExponent = 0;
  for (let i = 0; i < syn.length; i++) {
    const e = exponentOf.get(syn[i]!);
    if (e === undefined) throw new Error(`syndrome of bit ${i} (${syn[i]!.toString(16)}) is no x^e for e ≤ ${maxExponentPossible}`);
    present[e] = 1;
    if (e > maxExponent) maxExponent = e;
  }
  let triples = 0;
  for (let d1 = 1; d1 <= maxExponent; d1++) {
    const d2 = exponentOf.get((power[0]! ^ power[d1]!) >>> 0);
    if (d2 === undefined || d2 <= d1 || d2 > maxExponent) continue;
    for (let e = 0; e + d2 <= maxExponent; e++) if (present[e] && present[e + d1] && present[e + d2]) triples++;
  }
  return 3 * triples;
}

const straddles = (p: number) => (p < FIELD_FIRST_BIT && p + 32 > FIELD_FIRST_BIT) || (p < FIELD_END_BIT && p + 32 > FIELD_END_BIT);

/** A real 1400-byte datagram (80-level snapshot chunk) as the packer makes it, optionally as a v2 publisher's. */
function bigDatagram(v2: boolean): Uint8Array {
  const p = new ChannelPacker(1400, 3, 0, 99, { sessionStartUs: 1_764_000_000_000_000, heartbeatIntervalMs: 1000 });
  const b = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const s = randomBookSides(rng(3), 40, 300_000);
  b.load(s.bids, s.asks, 9, 1_764_000_000_000_000);
  packBookSnapshot(p, b, 0, false);
  p.seal(1_764_000_000_000_005);
  const d = p.bytes[0]!.slice(0, p.lengths[0]);
  if (v2) {
    d[PKT_VERSION_OFFSET] = 2;
    new DataView(d.buffer).setUint32(PKT_CHECKSUM_OFFSET, datagramChecksum(d, d.length), true);
  }
  return d;
}

describe("burst errors and the checksum field", () => {
  for (const [name, poly] of Object.entries(POLYS)) {
    it(`${name}: every error of 1, 2 or 3 bits in a 1400-byte datagram is detected (Hamming distance ≥ 4, field included)`, () => {
      const syn = syndromes(poly, 1400);
      const all = new Set<number>();
      // Offending bits collected and expected once each, not two expect()s per bit.
      const oneBit: number[] = [];
      const twoBits: number[] = [];
      for (let i = 0; i < syn.length; i++) {
        const x = syn[i]!;
        if (x === 0) oneBit.push(i);
        if (all.has(x)) twoBits.push(i); // two equal syndromes cancel
        all.add(x);
      }
      expect(oneBit, "bits whose flip alone goes undetected").toEqual([]);
      expect(twoBits, "bits whose syndrome equals an earlier bit's").toEqual([]);
      expect(pairsEqualToAThird(syn, poly)).toBe(0); // 3 bits
    });

    it(`${name}: every burst ≤ 32 bits not straddling an edge of the field is detected; straddling ones can cancel, and the decoder refuses those`, () => {
      const good = bigDatagram(poly === POLYS["CRC-32C (v2)"]);
      expect(decodeDatagram(good).ok).toBe(true);
      const syn = syndromes(poly, good.length);
      let straddlingUndetected = 0;
      for (let p = 0; p + 32 <= good.length * 8; p++) {
        const k = kernel(syn.subarray(p, p + 32));
        if (!straddles(p)) {
          expect(k, `window at bit ${p}`).toEqual([]);
          continue;
        }
        for (const m of k) {
          straddlingUndetected++;
          const bad = good.slice();
          for (let j = 0; j < 32; j++) if ((m >>> j) & 1) bad[(p + j) >> 3]! ^= 1 << ((p + j) & 7);
          const res = decodeDatagram(bad);
          // The CRC cancels (the model is right), and a later check of §7.2 refuses the datagram.
          expect(res.ok ? "ok" : res.error.codeName, `window at bit ${p}, mask ${m.toString(16)}`).toMatch(/^(unknown_schema|bad_message|bad_count)$/);
        }
      }
      // The exception the spec states is real: the CRC alone does not catch every such burst.
      expect(straddlingUndetected).toBeGreaterThan(0);
    });

    it(`${name}: at every datagram length (48, and multiples of 8 from 56 to 65,504 B), each straddling burst that cancels changes schemaId or the first msgLength`, () => {
      const t = tableOf(poly);
      const LO = (PKT_CHECKSUM_OFFSET - 8) * 8; // bits 288..447 (bytes 36..55) hold every straddling window
      const HI = (PKT_CHECKSUM_OFFSET + 12) * 8;
      const minLength = PKT_CHECKSUM_OFFSET + 12;
      // Syndromes of those bits at the smallest length, then one zero byte more per step (8 per length).
      const base = syndromes(poly, minLength);
      const reg = Uint32Array.from(base.subarray(LO, HI));
      const isField = (b: number) => b >= FIELD_FIRST_BIT && b < FIELD_END_BIT;
      let cancelling = 0;
      // A heartbeat (48 B) ends at the field: windows across 43|44 only.
      const hb = syndromes(poly, PKT_CHECKSUM_OFFSET + 4);
      for (let p = 0; p + 32 <= hb.length; p++) {
        for (const m of kernel(hb.subarray(p, p + 32))) {
          cancelling++;
          let touchesSchema = false;
          for (let j = 0; j < 32; j++) if ((m >>> j) & 1 && ((p + j) >> 3 === 42 || (p + j) >> 3 === 43)) touchesSchema = true;
          if (!touchesSchema) expect(touchesSchema, `48 B, window at bit ${p}, mask ${m.toString(16)}`).toBe(true);
        }
      }
      for (let length = minLength; length <= 65504; length += 8) {
        if (length > minLength) {
          for (let i = 0; i < reg.length; i++) {
            if (isField(LO + i)) continue;
            let c = reg[i]!;
            for (let z = 0; z < 8; z++) c = (t[c & 0xff]! ^ (c >>> 8)) >>> 0;
            reg[i] = c;
          }
        }
        if (length === 1400 || length === 65504) expect(Array.from(reg)).toEqual(Array.from(syndromes(poly, length).subarray(LO, HI)));
        for (let p = LO; p + 32 <= HI; p++) {
          if (!straddles(p)) continue;
          const found = kernelAt(reg, p - LO);
          for (let f = 0; f < found; f++) {
            const m = kernelOut[f]!;
            cancelling++;
            let touchesSchemaOrLength = false;
            for (let j = 0; j < 32; j++) {
              const byte = (p + j) >> 3;
              if ((m >>> j) & 1 && (byte === 42 || byte === 43 || byte === 48 || byte === 49)) touchesSchemaOrLength = true;
            }
            // Asked only when it fails: an expect() and its message for each of ~10^6 masks were much of the time.
            if (!touchesSchemaOrLength) expect(touchesSchemaOrLength, `length ${length}, window at bit ${p}, mask ${m.toString(16)}`).toBe(true);
          }
        }
      }
      expect(cancelling).toBeGreaterThan(0);
    }, 60_000); // 8,182 lengths: ~5× faster than the ~3.5 s on an idle core it took with a Map in kernel() and an expect() per mask
  }
});
