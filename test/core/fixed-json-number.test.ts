/**
 * parseJsonNumberCodes against a BigInt oracle: random JSON numbers in plain and exponent form, at random
 * exponents, must give exactly the oracle's mantissa or -1 where the oracle says the value is not an integer
 * multiple of 10^-exp, is above 2^53 − 1, or the text is not a JSON number.
 */
import { describe, expect, test } from "vitest";
import { MAX_MANTISSA, parseFixedCodes, parseJsonNumberCodes } from "../../src/core/fixed.ts";
import { Rng } from "../../src/sim/rng.ts";

const JSON_NUMBER = /^(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** The oracle: exact rational arithmetic with BigInt; -1 where parseJsonNumberCodes must refuse. */
function oracle(text: string, exp: number): number {
  const m = JSON_NUMBER.exec(text);
  if (!m) return -1;
  const digits = BigInt(m[1]! + (m[2] ?? ""));
  const e = (m[3] === undefined ? 0 : Number(m[3])) - (m[2] ?? "").length + exp;
  if (Math.abs(Number(m[3] ?? 0)) >= 10_000) return -1;
  let v: bigint;
  if (e >= 0) v = digits * 10n ** BigInt(e);
  else {
    const d = 10n ** BigInt(-e);
    if (digits % d !== 0n) return -1;
    v = digits / d;
  }
  return v > BigInt(MAX_MANTISSA) ? -1 : Number(v);
}

function at(text: string, exp: number): number {
  // Embedded in a longer string: the function must read only [start, end).
  const s = `[${text},`;
  return parseJsonNumberCodes(s, 1, 1 + text.length, exp);
}

describe("parseJsonNumberCodes (exact JSON numbers, exponent form included)", () => {
  test.each([
    ["4714.0", 1, 47140],
    ["4714.0", 0, 4714],
    ["0.0005", 4, 5],
    ["1e-4", 4, 1],
    ["1E-4", 5, 10],
    ["2.571E-5", 8, 2571],
    ["1.16539E8", 0, 116539000],
    ["1.16539e+8", 2, 11653900000],
    ["1e-05", 5, 1],
    ["0", 3, 0],
    ["0.0", 0, 0],
    ["0e10", 0, 0],
    ["63324.5", 1, 633245],
    ["372280", 0, 372280],
    ["9007199254740991", 0, MAX_MANTISSA],
  ])("%s at exp %d → %d", (text, exp, want) => {
    expect(at(text, exp)).toBe(want);
  });

  test.each([
    ["0.00015", 4, "a digit beyond the exponent"],
    ["1e-5", 4, "a digit beyond the exponent"],
    ["9007199254740992", 0, "2^53"],
    ["1e16", 0, "above 2^53"],
    ["01", 0, "a leading zero"],
    ["-1", 0, "negative"],
    ["1.", 0, "no digit after the dot"],
    [".5", 1, "no integer part"],
    ["1e", 0, "no exponent digits"],
    ["1e+", 0, "no exponent digits"],
    ["1x", 0, "garbage"],
    ["1.2.3", 2, "two dots"],
    ["NaN", 0, "not a number"],
    ["1e99999", 0, "a huge exponent"],
  ])("%s at exp %d is refused (%s)", (text, exp) => {
    expect(at(text, exp)).toBe(-1);
  });

  test("200k random numbers equal the BigInt oracle; plain ones equal parseFixedCodes", () => {
    const rng = new Rng(20261204);
    let accepted = 0;
    let exponentForm = 0;
    for (let n = 0; n < 200_000; n++) {
      const intDigits = rng.next() < 0.3 ? "0" : String(rng.int(1, 9)) + Array.from({ length: rng.int(0, 12) }, () => rng.int(0, 9)).join("");
      const frac = rng.next() < 0.6 ? "." + Array.from({ length: rng.int(1, 10) }, () => (rng.next() < 0.3 ? 0 : rng.int(0, 9))).join("") : "";
      let expPart = "";
      if (rng.next() < 0.4) {
        exponentForm++;
        expPart = (rng.next() < 0.5 ? "e" : "E") + ["", "+", "-"][rng.int(0, 2)] + String(rng.int(0, 20)).padStart(rng.int(1, 3), "0");
      }
      let text = intDigits + frac + expPart;
      if (rng.next() < 0.02) text = text.slice(0, rng.int(0, text.length)) + "x" + text.slice(rng.int(0, text.length));
      const exp = rng.int(0, 12);
      const want = oracle(text, exp);
      const got = at(text, exp);
      if (got !== want) throw new Error(`${text} at exp ${exp}: got ${got}, oracle ${want}`);
      if (want >= 0) accepted++;
      if (expPart === "" && /^\d+(\.\d+)?$/.test(text) && !/^0\d/.test(text)) expect(parseFixedCodes(text, 0, text.length, exp)).toBe(want);
    }
    expect(accepted).toBeGreaterThan(40_000);
    expect(exponentForm).toBeGreaterThan(60_000);
  });
});
