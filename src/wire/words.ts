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

/** setU64 of core/i64.ts into words k, k + 1: an unsigned integer < 2^53. */
export function u64Words(w: Int32Array, k: number, v: number): void {
  if (v >= 0 && v < 2147483648) {
    // Sequence numbers mostly: one int32 store (a double ≥ 2^31 stored into an Int32Array costs a conversion).
    w[k] = v;
    w[k + 1] = 0;
    return;
  }
  const hi = Math.floor(v * INV_TWO_32);
  w[k] = v - hi * TWO_32;
  w[k + 1] = hi;
}

/** setNsFromUs of core/i64.ts into words k, k + 1: µs (integer, ≥ 0, < 2^53) as an exact i64 of ns. */
export function nsFromUsWords(w: Int32Array, k: number, us: number): void {
  if (us === 0) {
    w[k] = 0;
    w[k + 1] = 0;
    return;
  }
  const usHi = Math.floor(us * INV_TWO_32);
  const usLo = us - usHi * TWO_32;
  const loTimes = usLo * 1000; // < 4.3e12, exact
  const carry = Math.floor(loTimes * INV_TWO_32);
  w[k] = loTimes - carry * TWO_32;
  w[k + 1] = usHi * 1000 + carry;
}
