// HOT PATH: no allocation
/**
 * Field stores through a datagram's Int32Array (little-endian hosts, 4-aligned offsets): the packer and the encoder
 * write the packet header, message headers and book root blocks as whole words instead of one DataView store per
 * field. The bytes are the ones the DataView stores of core/i64.ts and layout.ts give (test/wire/words.test.ts
 * compares them; the golden vectors in test/wire/vectors.json did not change). Measured on small deltas (1–3 levels):
 * packBookDelta + clear ~75 → ~56 ns (docs/performance.md §10).
 * @module
 */

/** True on little-endian hosts (x86-64, arm64): only then do Int32Array stores give the wire's byte order. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const TWO_32 = 4294967296;
const INV_TWO_32 = 1 / TWO_32; // exact: multiplying by it is dividing by 2^32

/**
 * Scratch for reading an integer's 32-bit halves without a double → int conversion: for an integer 0 ≤ v < 2^52 the
 * double v + 2^52 is exact, its low word is v's low 32 bits and the low 20 bits of its high word are v's high bits.
 * A store and two loads (forwarded from the store) replace Math.floor and the int32 checks JSC puts around it: the
 * send time and the three timestamps of every book message went through such chains (docs/performance.md §3.5).
 * Little-endian hosts only, like every store in this file (SCRATCH_I32[0] is the low word).
 */
const SCRATCH_F64 = new Float64Array(1);
const SCRATCH_I32 = new Int32Array(SCRATCH_F64.buffer);
const TWO_52 = 4503599627370496;

/** setU64 of core/i64.ts into words k, k + 1: an unsigned integer < 2^53. */
export function u64Words(w: Int32Array, k: number, v: number): void {
  if (v >= 0 && v < 2147483648) {
    // Sequence numbers mostly: one int32 store (a double ≥ 2^31 stored into an Int32Array costs a conversion).
    w[k] = v;
    w[k + 1] = 0;
    return;
  }
  if (v >= 0 && v < TWO_52) {
    // Venue sequence numbers past 2^31 (Binance's, Bybit's): the halves from the scratch double.
    SCRATCH_F64[0] = v + TWO_52;
    w[k] = SCRATCH_I32[0]!;
    w[k + 1] = SCRATCH_I32[1]! & 0xfffff;
    return;
  }
  const hi = Math.floor(v * INV_TWO_32);
  w[k] = v - hi * TWO_32;
  w[k + 1] = hi;
}

/**
 * setNsFromUs of core/i64.ts into words k, k + 1: µs (integer, ≥ 0, < 2^53) as an exact i64 of ns. Below 2^52 µs
 * (year 2112): with us = hi · 2^32 + lo, ns = hi · 1000 · 2^32 + lo · 1000, so the low word is lo · 1000 mod 2^32
 * (Math.imul) and the high word hi · 1000 plus the carry ⌊lo · 1000 / 2^32⌋, computed from lo's 16-bit halves in
 * int32 arithmetic. Measured: 9 ns per conversion in a dependent chain against 26 ns with Math.floor.
 */
export function nsFromUsWords(w: Int32Array, k: number, us: number): void {
  if (us >= 0 && us < TWO_52) {
    SCRATCH_F64[0] = us + TWO_52;
    const lo = SCRATCH_I32[0]!;
    w[k] = Math.imul(lo, 1000);
    w[k + 1] = (SCRATCH_I32[1]! & 0xfffff) * 1000 + ((((lo >>> 16) * 1000) + (((lo & 0xffff) * 1000) >>> 16)) >>> 16);
    return;
  }
  const usHi = Math.floor(us * INV_TWO_32);
  const usLo = us - usHi * TWO_32;
  const loTimes = usLo * 1000; // < 4.3e12, exact
  const carry = Math.floor(loTimes * INV_TWO_32);
  w[k] = loTimes - carry * TWO_32;
  w[k + 1] = usHi * 1000 + carry;
}
