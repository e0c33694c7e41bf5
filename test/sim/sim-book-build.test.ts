/**
 * Building a simulated book writes each level's size once: rebuild used to fill new maps and then copy them into the
 * book's, twice the start-up work of every simulator of deep books. The levels are those of a fresh book drawn from
 * the same random state.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { Rng } from "../../src/sim/rng.ts";
import { defaultSpec, SimBook } from "../../src/sim/sim-book.ts";

const LEVELS = 50;

function sides(book: SimBook): unknown {
  return [book.windowLevels(true, 2 * LEVELS), book.windowLevels(false, 2 * LEVELS), book.bidQty.size, book.askQty.size];
}

describe("SimBook build", () => {
  afterEach(() => vi.restoreAllMocks());

  test("a new book and a rebuild set each level's size once", () => {
    const sets = vi.spyOn(Map.prototype, "set");
    const book = new SimBook(defaultSpec("linear", "BTCUSDT"), new Rng(3), LEVELS);
    expect(sets).toHaveBeenCalledTimes(book.bids.length + book.asks.length);
    sets.mockClear();
    book.rebuild(book.spec.mid * 1.01);
    expect(sets).toHaveBeenCalledTimes(book.bids.length + book.asks.length);
  });

  test("a rebuild leaves the levels a fresh book draws from the same random state, and only them", () => {
    const spec = defaultSpec("linear", "BTCUSDT");
    const rng = new Rng(5);
    const book = new SimBook(spec, rng, LEVELS);
    for (let i = 0; i < 20; i++) book.mutate(5);
    const state = rng.save();
    book.rebuild(spec.mid);
    const other = new Rng(0);
    other.restore(state);
    expect(sides(book)).toEqual(sides(new SimBook(spec, other, LEVELS)));
  });
});
