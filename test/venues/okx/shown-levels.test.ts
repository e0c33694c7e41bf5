/**
 * ShownLevels (OKX full books: the levels of the book shown, to tell the book's seqId again with other levels from its
 * copy): randomized against a plain copy of the levels, books of 0 to 9 levels a side (past its 5, so it grows) with
 * small prices and sizes, one level changed at a time (a key folding levels together collides on such books).
 */
import { expect, test } from "vitest";
import { Rng } from "../../../src/sim/rng.ts";
import { ShownLevels } from "../../../src/venues/okx/shown-levels.ts";

test("same() is true exactly for the levels kept, book by book, through growth", () => {
  const rng = new Rng(20261207);
  const n = 3;
  const levels = new ShownLevels(n);
  type Book = { bids: number[][]; asks: number[][] };
  const kept: (Book | null)[] = [null, null, null];
  const side = (count: number) => Array.from({ length: count }, () => [rng.int(1, 4), rng.int(1, 4)]);
  const arrays = (s: number[][]) => [new Float64Array(s.map((l) => l[0]!)), new Float64Array(s.map((l) => l[1]!))] as const;
  const same = (i: number, b: Book) => {
    const [bp, bq] = arrays(b.bids);
    const [ap, aq] = arrays(b.asks);
    return levels.same(i, b.bids.length, bp, bq, b.asks.length, ap, aq);
  };
  let equal = 0;
  for (let step = 0; step < 3000; step++) {
    const i = rng.int(0, n - 1);
    const k = kept[i];
    let book: Book;
    if (k !== null && rng.next() < 0.6) {
      // The kept book, maybe with one price or size changed.
      book = { bids: k.bids.map((l) => [...l]), asks: k.asks.map((l) => [...l]) };
      const s = rng.next() < 0.5 ? book.bids : book.asks;
      if (s.length > 0 && rng.next() < 0.7) s[rng.int(0, s.length - 1)]![rng.int(0, 1)] = rng.int(1, 4);
    } else {
      // Past 5 levels a side only halfway, so the books kept then are copied as it grows.
      const most = step < 1500 ? 5 : 9;
      book = { bids: side(rng.int(0, most)), asks: side(rng.int(0, most)) };
    }
    const expected = k !== null && JSON.stringify(k) === JSON.stringify(book);
    if (expected) equal++;
    expect(same(i, book), `step ${step}`).toBe(expected);
    if (rng.next() < 0.5) {
      const [bp, bq] = arrays(book.bids);
      const [ap, aq] = arrays(book.asks);
      levels.keep(i, book.bids.length, bp, bq, book.asks.length, ap, aq);
      kept[i] = book;
    }
  }
  expect(equal).toBeGreaterThan(300);
});

test("a book past 5 levels a side grows the store; the other books kept are still the same", () => {
  const levels = new ShownLevels(2);
  const f = (a: number[]) => new Float64Array(a);
  levels.keep(0, 1, f([1]), f([2]), 1, f([3]), f([4]));
  levels.keep(1, 7, f([1, 2, 3, 4, 5, 6, 7]), f([1, 1, 1, 1, 1, 1, 1]), 0, f([]), f([]));
  expect([levels.same(0, 1, f([1]), f([2]), 1, f([3]), f([4])), levels.same(0, 1, f([1]), f([2]), 1, f([3]), f([5]))]).toEqual([true, false]);
  expect(levels.same(1, 7, f([1, 2, 3, 4, 5, 6, 7]), f([1, 1, 1, 1, 1, 1, 1]), 0, f([]), f([]))).toBe(true);
});
