/**
 * The numbers `feeder listen` (table, ndjson) and `feeder export --books` print, against a BigInt reference: a wire
 * mantissa is any i64 the decoder takes ([−2^53, 2^53), prices may be negative, docs/wire-protocol.md §1) at any
 * i8 exponent (−128…127: a negative one counts tens, hundreds, …); export's books are venue-parsed (0 ≤ mantissa
 * < 2^53, exponent 0…22). Each must come out as plain decimal text, exactly: digits, one optional "-", one optional
 * ".", never "e" notation and never a rounded digit.
 */
import { describe, expect, test } from "vitest";
import { formatFixed, MAX_FIXED_EXP } from "../../src/core/fixed.ts";
import { formatDecimal } from "../../src/subscriber/format.ts";

/** mantissa × 10^−exp as text, in BigInt: `exp` decimals when exp > 0 (as the wire's precision says), else an integer. */
function reference(m: bigint, exp: number): string {
  if (exp <= 0) return (m * 10n ** BigInt(-exp)).toString();
  const negative = m < 0n;
  const digits = (negative ? -m : m).toString().padStart(exp + 1, "0");
  return (negative ? "-" : "") + digits.slice(0, -exp) + "." + digits.slice(-exp);
}

/** A small seeded generator (xorshift32), so a failure names a case that comes back. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const TWO_53 = 2n ** 53n;
const EDGES = [0n, 1n, -1n, 9n, 10n, -10n, 99n, TWO_53 - 1n, -(TWO_53 - 1n), -TWO_53, 2n ** 52n, -(2n ** 52n), 10n ** 15n, 10n ** 15n + 1n];

/** A mantissa of log-uniform size (1 to 53 bits), either sign, in [−2^53, 2^53). */
function randomMantissa(next: () => number): bigint {
  const bits = 1 + Math.floor(next() * 53);
  const hi = BigInt(Math.floor(next() * 2 ** 26));
  const lo = BigInt(Math.floor(next() * 2 ** 27));
  const m = ((hi << 27n) | lo) & ((1n << BigInt(bits)) - 1n);
  return next() < 0.5 ? -m : m;
}

describe("decimal text of wire mantissas (listen: table and ndjson)", () => {
  test("edges: ±(2^53 − 1), −2^53, 0, at every i8 exponent", () => {
    for (let exp = -128; exp <= 127; exp++) {
      for (const m of EDGES) expect(formatDecimal(Number(m), exp), `${m} at ${exp}`).toBe(reference(m, exp));
    }
  });

  test("randomized against the BigInt reference (20,000 cases, seeded)", () => {
    const next = rng(0x5eed_0e11);
    for (let i = 0; i < 20_000; i++) {
      const m = randomMantissa(next);
      const exp = Math.floor(next() * 256) - 128;
      const got = formatDecimal(Number(m), exp);
      if (got !== reference(m, exp)) expect(got, `${m} at ${exp}`).toBe(reference(m, exp));
    }
  });

  test("spot values: a spread below zero, a price in hundreds, a tiny lot (before: '-9007199254740992e-2', '1e-30')", () => {
    expect(formatDecimal(-125, 2)).toBe("-1.25");
    expect(formatDecimal(-5, -2)).toBe("-500");
    expect(formatDecimal(0, -3)).toBe("0");
    expect(formatDecimal(0, 3)).toBe("0.000");
    expect(formatDecimal(-(2 ** 53), 2)).toBe("-90071992547409.92");
    expect(formatDecimal(1, 30)).toBe("0." + "0".repeat(29) + "1");
  });
});

describe("decimal text of book mantissas (export --books)", () => {
  test("randomized against the BigInt reference: 0 ≤ mantissa < 2^53, exponent 0…22", () => {
    const next = rng(0xe4a0_7001);
    for (let i = 0; i < 20_000; i++) {
      let m = randomMantissa(next);
      if (m < 0n) m = -m;
      if (m >= TWO_53) m = TWO_53 - 1n;
      const exp = Math.floor(next() * (MAX_FIXED_EXP + 1));
      const got = formatFixed(Number(m), exp);
      if (got !== reference(m, exp)) expect(got, `${m} at ${exp}`).toBe(reference(m, exp));
    }
    for (let exp = 0; exp <= MAX_FIXED_EXP; exp++) for (const m of [0n, 1n, TWO_53 - 1n]) expect(formatFixed(Number(m), exp)).toBe(reference(m, exp));
  });
});
