import { describe, expect, it } from "vitest";
import { FixedPointError } from "../../src/core/errors.ts";
import { exponentOf, formatFixed, MAX_MANTISSA, parseFixed, parseFixedCodes } from "../../src/core/fixed.ts";

/** Independent exact reference: BigInt arithmetic on the string. Returns null where parseFixed must throw. */
function refParse(s: string, exp: number): bigint | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (m === null) return null;
  const frac = m[2] ?? "";
  if (/[1-9]/.test(frac.slice(exp))) return null;
  const v = BigInt(m[1]! + frac.slice(0, exp).padEnd(exp, "0"));
  return v > BigInt(MAX_MANTISSA) ? null : v;
}

function reasonOf(s: string, exp: number): string {
  try {
    parseFixed(s, exp);
    return "ok";
  } catch (e) {
    expect(e).toBeInstanceOf(FixedPointError);
    return (e as FixedPointError).reason;
  }
}

describe("parseFixed", () => {
  it.each([
    // TC0: Bybit prices and sizes
    ["1.9531", 4, 19531],
    ["6203", 0, 6203],
    ["16493.50", 1, 164935], // trailing zero beyond the exponent is accepted
    ["16493.5000000", 1, 164935],
    ["0.001", 3, 1],
    ["0", 0, 0],
    ["0.000", 2, 0],
    ["007.10", 2, 710],
    ["5", 3, 5000],
    ["9007199254740991", 0, MAX_MANTISSA],
    ["90071992547.40991", 5, MAX_MANTISSA],
    ["0.000000000000000000001", 22, 10],
  ] as const)("%s at exp %i → %i", (s, exp, want) => {
    expect(parseFixed(s, exp)).toBe(want);
    expect(parseFixedCodes(`xx${s}yy`, 2, 2 + s.length, exp)).toBe(want);
  });

  it.each([
    ["", 2, "malformed"],
    [".", 2, "malformed"],
    [".5", 2, "malformed"],
    ["5.", 2, "malformed"],
    ["1.2.3", 2, "malformed"],
    ["+1", 2, "malformed"],
    [" 1", 2, "malformed"],
    ["1 ", 2, "malformed"],
    ["1e5", 2, "malformed"],
    ["0x10", 2, "malformed"],
    ["NaN", 2, "malformed"],
    ["Infinity", 2, "malformed"],
    ["1,5", 2, "malformed"],
    ["-1", 2, "out_of_range"],
    ["-0.5", 2, "out_of_range"],
    ["-", 2, "malformed"],
    ["1.005", 2, "too_many_decimals"],
    ["0.0000001", 6, "too_many_decimals"],
    ["16493.51", 1, "too_many_decimals"],
    ["9007199254740992", 0, "out_of_range"], // 2^53
    ["9007199254740991", 1, "out_of_range"],
    ["99999999999999999999999", 0, "out_of_range"],
    ["90071992547.40992", 5, "out_of_range"],
    ["1", -1, "bad_exponent"],
    ["1", 1.5, "bad_exponent"],
    ["1", 23, "bad_exponent"],
    ["1", NaN, "bad_exponent"],
  ] as const)("rejects %j at exp %s: %s", (s, exp, reason) => {
    expect(reasonOf(s, exp)).toBe(reason);
    expect(parseFixedCodes(s, 0, s.length, exp)).toBe(-1);
  });

  it("the error names the input", () => {
    expect(() => parseFixed("1.005", 2)).toThrow(/"1\.005"/);
  });

  it("parseFixedCodes: empty range is an error; a range inside a larger string ignores the rest", () => {
    expect(parseFixedCodes("123", 1, 1, 0)).toBe(-1);
    expect(parseFixedCodes('["1.9531","6203"]', 2, 8, 4)).toBe(19531);
    expect(parseFixedCodes('["1.9531","6203"]', 11, 15, 0)).toBe(6203);
  });

  it("agrees with a BigInt reference on 200k random strings near every boundary", () => {
    let state = 12345;
    const rnd = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    const alphabet = "0123456789.-e ";
    let accepted = 0;
    const mismatches: string[] = [];
    for (let t = 0; t < 200_000; t++) {
      const exp = rnd(12);
      let s: string;
      const kind = rnd(4);
      if (kind === 0) {
        // arbitrary short garbage
        s = "";
        for (let k = rnd(6); k >= 0; k--) s += alphabet[rnd(alphabet.length)];
      } else {
        // well-formed decimal with up to 17 integer digits and up to exp+3 decimals
        let int = String(1 + rnd(9));
        for (let k = rnd(17); k > 0; k--) int += String(rnd(10));
        if (rnd(3) === 0) int = "0";
        let frac = "";
        for (let k = rnd(exp + 4); k > 0; k--) frac += kind === 1 ? "0" : String(rnd(10));
        s = frac ? `${int}.${frac}` : int;
      }
      const want = refParse(s, exp);
      const got = parseFixedCodes(s, 0, s.length, exp);
      // expect() per case would dominate the runtime: collect mismatches instead.
      if (want === null) {
        let threw = false;
        try {
          parseFixed(s, exp);
        } catch (e) {
          threw = e instanceof FixedPointError;
        }
        if (got !== -1 || !threw) mismatches.push(`${s} @${exp}: got ${got}, want an error`);
      } else {
        accepted++;
        if (got !== Number(want) || BigInt(got) !== want) mismatches.push(`${s} @${exp}: got ${got}, want ${want}`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(accepted).toBeGreaterThan(20_000); // the generator really exercises the success path
  });
});

describe("formatFixed", () => {
  it.each([
    [19531, 4, "1.9531"],
    [164935, 1, "16493.5"],
    [100, 2, "1.00"],
    [5, 3, "0.005"],
    [0, 2, "0.00"],
    [0, 0, "0"],
    [MAX_MANTISSA, 0, "9007199254740991"],
    [MAX_MANTISSA, 8, "90071992.54740991"],
    [-5, 3, "-0.005"],
  ] as const)("(%i, %i) → %s", (m, exp, want) => {
    expect(formatFixed(m, exp)).toBe(want);
  });

  it("round-trips with parseFixed", () => {
    for (let exp = 0; exp <= 12; exp++) {
      for (const m of [0, 1, 9, 10, 12345, 999999999, 2 ** 52 + 1, MAX_MANTISSA]) {
        expect(parseFixed(formatFixed(m, exp), exp)).toBe(m);
      }
    }
  });

  it("rejects unsafe or fractional mantissas", () => {
    expect(() => formatFixed(1.5, 2)).toThrow(RangeError);
    expect(() => formatFixed(2 ** 53, 2)).toThrow(RangeError);
    expect(() => formatFixed(NaN, 2)).toThrow(RangeError);
  });
});

describe("exponentOf", () => {
  it.each([
    ["0.10", 1],
    ["0.0001", 4],
    ["5", 0],
    ["0.5", 1],
    ["10", 0],
    ["0.01000", 2],
    ["1e-8", 8],
    ["2.5e-3", 4],
    ["1E2", 0],
    ["0.00000100", 6],
    // The integer part's trailing zeros behind the point: "10e-1" is 1 (was 1 decimal), "100e-24" is 1e-22 (was
    // refused as needing 24), "50e-10" is 5e-9 (was 10).
    ["10e-1", 0],
    ["100e-24", 22],
    ["50e-10", 9],
    ["1200e-2", 0],
    ["1200e-3", 1],
    ["10.5e-1", 2],
  ] as const)("%s → %i", (step, want) => {
    expect(exponentOf(step)).toBe(want);
  });

  it.each(["", "0", "0.000", "-0.1", "abc", "0.1.2", ".1"])("rejects %j", (step) => {
    expect(() => exponentOf(step)).toThrow(FixedPointError);
  });
});
