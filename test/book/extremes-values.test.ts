/**
 * Extreme fixed-point values end to end through the book, against exact bigints: decimal strings at every
 * exponent up to the limit (MAX_FIXED_EXP = 22) with mantissas at 1, near 2^53 − 1 and random, parsed by
 * parseFixed and parseJsonNumber, applied to a BookBuilder (snapshots, deltas, repeats, crossed books), read back
 * by rank and in bulk, and written to and read from an i64 (core/i64.ts) as the wire does; the values one past
 * the limits (2^53, exponent 23, a sign) refused, naming what was wrong; a level at price 0 refused by the builder.
 * Seeded: a failure names the seed, exponent and step.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder, BookInputError } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { FixedPointError } from "../../src/core/errors.ts";
import { exponentOf, formatFixed, MAX_FIXED_EXP, MAX_MANTISSA, parseFixed, parseJsonNumber } from "../../src/core/fixed.ts";
import { getI64, isSafeI64, setI64 } from "../../src/core/i64.ts";
import { BookState } from "../../src/core/types.ts";
import { BigBook, type BigLevel, diffSide } from "./bigint-book.ts";
import { testInstrument } from "./reference-book.ts";
import { Rng } from "./rng.ts";

const MAX = BigInt(MAX_MANTISSA);

/** m × 10^-exp as a decimal string, from the bigint alone (not formatFixed), sometimes padded with zeros. */
function decimal(m: bigint, exp: number, r: Rng): string {
  let s = m.toString();
  if (exp > 0) {
    s = s.padStart(exp + 1, "0");
    s = `${s.slice(0, s.length - exp)}.${s.slice(s.length - exp)}`;
    if (r.chance(0.2)) s += "0".repeat(r.int(1, 5)); // venues pad to display precision
  } else if (r.chance(0.1)) s += ".000";
  return s;
}

/** A mantissa in [1, MAX]: at either end, near 2^52 / 2^53, or log-uniform. */
function mantissa(r: Rng): bigint {
  const k = r.float();
  if (k < 0.15) return BigInt(r.int(1, 50));
  if (k < 0.35) return MAX - BigInt(r.int(0, 50));
  if (k < 0.45) return 2n ** 52n + BigInt(r.int(-50, 50));
  return BigInt(r.logInt(MAX_MANTISSA));
}

/** Both parsers, which must agree: the string reader (parseFixed) and the JSON-number one. */
function parseBoth(s: string, exp: number): number {
  const a = parseFixed(s, exp);
  const b = parseJsonNumber(s, exp);
  if (a !== b) throw new Error(`${s} at ${exp}: parseFixed ${a} != parseJsonNumber ${b}`);
  return a;
}

/** One price exponent, one qty exponent: snapshots and deltas built from decimal strings. */
function run(seed: number, priceExp: number, qtyExp: number, steps: number): number {
  const r = new Rng(seed * 31 + priceExp * 7 + qtyExp);
  const b = new BookBuilder(testInstrument(priceExp, qtyExp));
  const ref = new BigBook();
  const u = new BookUpdate();
  const dv = new DataView(new ArrayBuffer(16));
  let checked = 0;
  for (let step = 0; step < steps; step++) {
    const at = `seed ${seed}, exponents ${priceExp}/${qtyExp}, step ${step}`;
    const snapshot = b.state !== BookState.LIVE || r.chance(0.05);
    // Levels as strings, then as the parsers read them, then into the update: the mantissas the reference holds.
    const bids: BigLevel[] = [];
    const asks: BigLevel[] = [];
    const mid = r.chance(0.5) ? MAX - BigInt(r.int(0, 200)) : mantissa(r);
    for (let i = r.int(snapshot ? 0 : 1, 30); i > 0; i--) {
      const isBid = r.chance(0.5);
      let p = snapshot ? mid + BigInt(r.int(1, 100)) * (isBid ? -1n : 1n) : (isBid ? ref.bids.at(0) : ref.asks.at(0)) ?? mid;
      if (!snapshot && r.chance(0.5)) p += BigInt(r.int(-3, 3)) * (isBid ? -1n : 1n) - (isBid ? 1n : -1n);
      if (p < 1n || p > MAX) continue;
      if (snapshot && (isBid ? bids : asks).some(([x]) => x === p)) continue; // each price once: a repeat is refused
      const q = snapshot || r.chance(0.7) ? mantissa(r) : 0n;
      (isBid ? bids : asks).push([p, q]);
      if (!snapshot && r.chance(0.1)) (isBid ? bids : asks).push([p, r.chance(0.5) ? 0n : mantissa(r)]); // twice
    }
    if (snapshot) {
      bids.sort((x, y) => (x[0] > y[0] ? -1 : x[0] < y[0] ? 1 : 0));
      asks.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    }
    u.reset();
    u.isSnapshot = snapshot;
    for (const [p, q] of bids) u.pushBid(parseBoth(decimal(p, priceExp, r), priceExp), parseBoth(decimal(q, qtyExp, r), qtyExp));
    for (const [p, q] of asks) u.pushAsk(parseBoth(decimal(p, priceExp, r), priceExp), parseBoth(decimal(q, qtyExp, r), qtyExp));
    let res: ApplyResult;
    if (snapshot) {
      res = b.applySnapshot(u);
      ref.load(bids, asks);
    } else {
      res = b.applyDelta(u);
      ref.apply(bids, asks);
    }
    const want = ref.crossed() ? ApplyResult.CROSSED : ApplyResult.APPLIED;
    if (res !== want) throw new Error(`${at}: result ${res} != ${want}`);
    const d = diffSide(b, ref.bids, undefined, [r.int(0, 40)]) ?? diffSide(b, ref.asks, undefined, [r.int(0, 40)]);
    if (d !== null) throw new Error(`${at}: ${d}`);
    // The wire's i64 of every level's price and qty, read back exactly (and as a signed 64-bit integer).
    for (const [side, isBid] of [[ref.bids, true], [ref.asks, false]] as const) {
      for (let i = 0; i < side.count; i++) {
        const px = isBid ? b.bidPriceAt(i) : b.askPriceAt(i);
        const q = isBid ? b.bidQtyAt(i) : b.askQtyAt(i);
        setI64(dv, 0, px);
        setI64(dv, 8, q);
        if (dv.getBigInt64(0, true) !== side.at(i) || dv.getBigInt64(8, true) !== side.get(side.at(i))) throw new Error(`${at}: i64 of rank ${i}`);
        if (getI64(dv, 0) !== px || getI64(dv, 8) !== q || !isSafeI64(dv, 0)) throw new Error(`${at}: getI64 of rank ${i}`);
        checked++;
      }
    }
  }
  return checked;
}

describe("extreme fixed-point values through the book", () => {
  for (const [priceExp, qtyExp] of [[0, 0], [8, 22], [15, 8], [22, 0], [22, 22]] as const) {
    it(`exponents ${priceExp}/${qtyExp}: mantissas from 1 to 2^53 − 1 parse exactly, book and i64 equal the bigints`, () => {
      expect(run(5, priceExp, qtyExp, 300)).toBeGreaterThan(3000);
    });
  }

  it("one past each limit is refused, naming what was wrong", () => {
    const reason = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return e instanceof FixedPointError ? `${e.reason}: ${e.message}` : `other: ${String(e)}`;
      }
      return "accepted";
    };
    // 2^53 − 1 is the largest mantissa, at exponent 0 and at 22.
    expect(parseFixed("9007199254740991", 0)).toBe(MAX_MANTISSA);
    expect(parseFixed("0.0000009007199254740991", 22)).toBe(MAX_MANTISSA);
    expect(parseFixed("0.0000000000000000000001", 22)).toBe(1);
    for (const s of ["9007199254740992", "9007199254740993", "18446744073709551615"]) {
      expect(reason(() => parseFixed(s, 0))).toMatch(/^out_of_range: .*exceeds 2\^53/);
      expect(reason(() => parseJsonNumber(s, 0))).toMatch(/^out_of_range/);
    }
    expect(reason(() => parseFixed("0.0000009007199254740992", 22))).toMatch(/^out_of_range/);
    // A 23rd decimal: not rounded, refused; an exponent of 23: refused as an exponent.
    expect(reason(() => parseFixed("0.00000000000000000000001", 22))).toMatch(/^too_many_decimals/);
    expect(reason(() => parseFixed("1", MAX_FIXED_EXP + 1))).toMatch(/^bad_exponent: .*0\.\.22/);
    expect(exponentOf("1e-22")).toBe(22);
    expect(reason(() => exponentOf("1e-23"))).toMatch(/^bad_exponent: .*needs 23 decimals/);
    expect(reason(() => exponentOf("0.00000000000000000000001"))).toMatch(/^bad_exponent/);
    // A sign, tiny or not, zero included: refused by name.
    for (const s of ["-1", "-0.00000001", "-0", "-9007199254740991"]) {
      expect(reason(() => parseFixed(s, 8))).toMatch(/^out_of_range: .*negative values are not allowed/);
      expect(reason(() => parseJsonNumber(s, 8))).toMatch(/^out_of_range: .*negative values are not allowed/);
    }
    // The smallest tick at exponent 22 is a price; a price of 0 is not, at any exponent (options' tiny prices
    // included): the builder names the side and the level.
    const b = new BookBuilder(testInstrument(22, 0));
    const u = new BookUpdate();
    u.isSnapshot = true;
    u.pushBid(parseFixed("0.0000000000000000000001", 22), 1);
    u.pushAsk(parseFixed("0.0000000000000000000002", 22), 1);
    expect(b.applySnapshot(u)).toBe(ApplyResult.APPLIED);
    u.reset();
    u.pushBid(1, 0);
    u.pushBid(parseFixed("0.0000000000000000000000", 22), 5);
    expect(() => b.applyDelta(u)).toThrow(BookInputError);
    expect(() => b.applyDelta(u)).toThrow(/bid price 0 at level 1 of the message: a price must be > 0/);
  });

  it("i64: exact at ±(2^53 − 1), ±2^52 and −2^53; isSafeI64 true exactly on [−2^53, 2^53)", () => {
    const dv = new DataView(new ArrayBuffer(8));
    const r = new Rng(9);
    const values: bigint[] = [0n, 1n, -1n, MAX, -MAX, MAX - 1n, -MAX + 1n, 2n ** 52n, -(2n ** 52n), -(2n ** 53n), 2n ** 32n - 1n, -(2n ** 32n)];
    for (let i = 0; i < 2000; i++) values.push(BigInt(r.logInt(MAX_MANTISSA)) * (r.chance(0.5) ? -1n : 1n));
    for (const v of values) {
      setI64(dv, 0, Number(v));
      expect(dv.getBigInt64(0, true)).toBe(v);
      expect(BigInt(getI64(dv, 0))).toBe(v);
      expect(isSafeI64(dv, 0)).toBe(true);
    }
    for (const v of [2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      dv.setBigInt64(0, v, true);
      expect(isSafeI64(dv, 0)).toBe(false);
    }
  });
});
