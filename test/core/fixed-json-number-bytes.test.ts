/** parseJsonNumberBytes (JSON numbers with exponents, read exactly) against an independent BigInt oracle. */
import { describe, expect, it } from "vitest";
import { MAX_MANTISSA, parseJsonNumber, parseJsonNumberBytes } from "../../src/core/fixed.ts";

const enc = new TextEncoder();

/** Oracle: BigInt on the JSON number's parts; null where the parser must refuse. */
function oracle(s: string, exp: number): bigint | null {
  const m = /^(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (m === null) return null;
  const digits = m[1]! + (m[2] ?? "");
  const shift = exp + Number(m[3] ?? "0") - (m[2] ?? "").length;
  let v: bigint;
  if (shift >= 0) v = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const d = BigInt(digits);
    const p = 10n ** BigInt(-shift);
    if (d % p !== 0n) return null;
    v = d / p;
  }
  return v > BigInt(MAX_MANTISSA) ? null : v;
}

function parse(s: string, exp: number): number {
  const b = enc.encode(` ${s} `); // a slice inside a larger buffer
  return parseJsonNumberBytes(b, 1, 1 + s.length, exp);
}

describe("parseJsonNumberBytes", () => {
  it.each([
    ["1.16539E8", 0, 116539000],
    ["2.571E-5", 8, 2571],
    ["9.9E-7", 8, 99],
    ["127.0", 0, 127],
    ["0.00000129", 8, 129],
    ["280460.37885666", 8, 28046037885666],
    ["0", 8, 0],
    ["0.0", 0, 0],
    ["0E5", 3, 0],
    ["1e0", 0, 1],
    ["1E+2", 0, 100],
    ["89890000", 0, 89890000],
    ["1.5e-1", 2, 15],
  ] as const)("%s at exp %i → %i", (s, exp, want) => {
    expect(parse(s, exp)).toBe(want);
    expect(parseJsonNumber(s, exp)).toBe(want);
  });

  it.each([
    ["", 0], ["-1", 0], ["01", 0], ["1.", 0], [".5", 0], ["1e", 0], ["1e+", 0], ["1.5", 0], ["2.571E-5", 7],
    ["1E300", 0], ["9007199254740992", 0], ["1x", 0], ["+1", 0], ["1.2.3", 1], ["0x10", 0], ["NaN", 0], ["1e5", 18],
  ] as const)("refuses %j at exp %i", (s, exp) => {
    expect(parse(s, exp)).toBe(-1);
    expect(() => parseJsonNumber(s, exp)).toThrow();
  });

  it("an exponent of 7 digits is read whole: a long fraction cannot offset a cut exponent into an accepted value", () => {
    // 10^-100,001 × 10^1,000,010 = 10^900,009 and 10^100,001 × 10^-1,000,010: both refused. The exponent's digits
    // were read only up to 100,000 (e10 = 100,001 here), which the 100,001 fraction (integer) digits offset to 10^0.
    const longFraction = `0.${"0".repeat(100_000)}1e1000010`;
    const longInteger = `1${"0".repeat(100_001)}e-1000010`;
    for (const s of [longFraction, longInteger]) {
      expect(parse(s, 0)).toBe(-1); // was 1
      expect(() => parseJsonNumber(s, 0)).toThrow();
      expect(oracle(s, 0)).toBeNull();
    }
    // Zero stays zero at any exponent; a value the long digits do bring back into range is read.
    expect(parse(`0.${"0".repeat(100_000)}e1000010`, 0)).toBe(0);
    expect(parse(`0.${"0".repeat(100_000)}5e100001`, 0)).toBe(5);
    expect(oracle(`0.${"0".repeat(100_000)}5e100001`, 0)).toBe(5n);
  });

  it("agrees with the BigInt oracle on random JSON numbers", () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const digits = (n: number) => Array.from({ length: n }, () => String(rnd(10))).join("");
    for (let i = 0; i < 20_000; i++) {
      let int = String(rnd(10) === 0 ? 0 : rnd(9) + 1) + digits(rnd(8));
      if (int.length > 1 && int[0] === "0") int = int.slice(1);
      const frac = rnd(2) === 0 ? "" : "." + digits(1 + rnd(10));
      const e = rnd(3) === 0 ? "" : (rnd(2) ? "e" : "E") + ["", "+", "-"][rnd(3)] + String(rnd(12));
      const s = int + frac + e;
      const exp = rnd(12);
      const want = oracle(s, exp);
      const got = parse(s, exp);
      expect(got === -1 ? null : BigInt(got), `${s} at ${exp}`).toEqual(want);
    }
  });
});
