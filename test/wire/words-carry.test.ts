/**
 * nsFromUsWords and u64Words read an integer's halves from a scratch double (v + 2^52) below 2^52 and take the old
 * Math.floor path above (src/wire/words.ts, docs/performance.md §3.5). test/wire/words.test.ts compares them with
 * core/i64.ts over random values; this one walks the places where the new arithmetic can go wrong: every carry
 * boundary of lo · 1000 / 2^32 (lo = ⌈m · 2^32 / 1000⌉ and its neighbours, m = 1 … 999, under random high halves),
 * lo's 16-bit halves at their extremes, and both sides of 2^31, 2^32 and 2^52.
 */
import { describe, expect, it } from "vitest";
import { setNsFromUs, setU64 } from "../../src/core/i64.ts";
import { nsFromUsWords, u64Words } from "../../src/wire/words.ts";
import { randInt, rng } from "./helpers.ts";

const TWO_32 = 2 ** 32;

function words(write: (w: Int32Array) => void): number[] {
  const w = new Int32Array(4);
  write(w);
  return [...w];
}

function view(write: (dv: DataView) => void): number[] {
  const buf = new ArrayBuffer(16);
  write(new DataView(buf));
  return [...new Int32Array(buf)];
}

describe("word stores: the halves and the carry", () => {
  it("nsFromUsWords at every carry boundary of lo · 1000 / 2^32 equals setNsFromUs", () => {
    const r = rng(2026);
    for (let m = 1; m < 1000; m++) {
      const edge = Math.ceil((m * TWO_32) / 1000); // the smallest lo whose lo · 1000 carries m into the high word
      for (const lo of [edge - 1, edge, edge + 1]) {
        for (const hi of [0, 1, randInt(r, 0, 2 ** 20 - 1), 2 ** 20 - 1]) {
          const us = hi * TWO_32 + lo;
          expect(words((w) => nsFromUsWords(w, 1, us)), `us ${us}`).toEqual(view((dv) => setNsFromUs(dv, 4, us)));
        }
      }
    }
  });

  it("nsFromUsWords with lo's 16-bit halves at their extremes, and around 2^52 (where the old path takes over)", () => {
    const los = [0, 1, 0xffff, 0x10000, 0xffff0000, 0xffffffff, 0x7fffffff, 0x80000000, 0x8000ffff];
    const his = [0, 1, 0x7ffff, 0x80000, 0xfffff];
    const values: number[] = [];
    for (const lo of los) for (const hi of his) values.push(hi * TWO_32 + lo);
    for (const v of [2 ** 52 - 2, 2 ** 52 - 1, 2 ** 52, 2 ** 52 + 1, 2 ** 53 - 1, 1_764_000_000_000_000]) values.push(v);
    for (const us of values) {
      expect(words((w) => nsFromUsWords(w, 1, us)), `us ${us}`).toEqual(view((dv) => setNsFromUs(dv, 4, us)));
    }
  });

  it("u64Words on both sides of 2^31, 2^32 and 2^52 equals setU64", () => {
    const r = rng(31);
    const values: number[] = [];
    for (const b of [2 ** 31, 2 ** 32, 2 ** 52]) for (let d = -3; d <= 3; d++) values.push(b + d);
    for (let i = 0; i < 1000; i++) values.push(randInt(r, 2 ** 31, 2 ** 52 - 1), Math.floor(r() * 2 ** 53));
    values.push(2 ** 53 - 1);
    for (const v of values) expect(words((w) => u64Words(w, 1, v)), `v ${v}`).toEqual(view((dv) => setU64(dv, 4, v)));
  });
});
