/**
 * Exact i64 access for numbers below 2^53 without BigInt (a BigInt per field costs 10–20×,
 * docs/runtime-costs.md §3). Every access is little-endian.
 * HOT PATH: no allocation.
 * @module
 */

const TWO_32 = 4294967296;

/** Writes a signed integer |v| < 2^53 as a little-endian i64. */
export function setI64(view: DataView, offset: number, v: number): void {
  const lo = v >>> 0; // low 32 bits in two's complement, also for negatives
  const hi = Math.floor(v / TWO_32); // floor keeps two's complement for negatives
  view.setUint32(offset, lo, true);
  view.setInt32(offset + 4, hi, true);
}

/** Reads a little-endian i64; exact when |value| < 2^53 (check with isSafeI64 when the source is untrusted). */
export function getI64(view: DataView, offset: number): number {
  return view.getInt32(offset + 4, true) * TWO_32 + view.getUint32(offset, true);
}

/**
 * True when the i64 at offset is in [−2^53, 2^53), where getI64 is exact: ±(2^53 − 1) and also −2^53, which a double
 * holds exactly though it is not a safe integer (test/book/extremes-values.test.ts).
 */
export function isSafeI64(view: DataView, offset: number): boolean {
  const hi = view.getInt32(offset + 4, true);
  return hi >= -2097152 && hi < 2097152; // 2^21 × 2^32 = 2^53
}

/** Writes µs (integer, ≥ 0, < 2^53) as an exact i64 of ns (µs × 1000) without leaving exact integer range. */
export function setNsFromUs(view: DataView, offset: number, us: number): void {
  const usHi = Math.floor(us / TWO_32);
  const usLo = us - usHi * TWO_32;
  const loTimes = usLo * 1000; // < 4.3e12, exact
  const carry = Math.floor(loTimes / TWO_32);
  view.setUint32(offset, loTimes - carry * TWO_32, true);
  view.setUint32(offset + 4, usHi * 1000 + carry, true);
}

/** Reads an i64 of ns (≥ 0) and returns whole µs (floor), exact below 2^53 µs. */
export function getUsFromNs(view: DataView, offset: number): number {
  const hi = view.getUint32(offset + 4, true);
  const lo = view.getUint32(offset, true);
  const hiQuot = Math.floor(hi / 1000);
  const rest = (hi - hiQuot * 1000) * TWO_32 + lo; // < 1000 × 2^32, exact
  return hiQuot * TWO_32 + Math.floor(rest / 1000);
}

/** Writes an unsigned integer < 2^53 as a little-endian u64. */
export function setU64(view: DataView, offset: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  view.setUint32(offset, v - hi * TWO_32, true);
  view.setUint32(offset + 4, hi, true);
}

/** Reads a little-endian u64; exact below 2^53. */
export function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * TWO_32 + view.getUint32(offset, true);
}
