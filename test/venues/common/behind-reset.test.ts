/**
 * The behind-reset mark common to Bybit, Deribit and OKX (src/venues/common/behind-reset.ts), against a model that
 * names sockets, not generations: the mark stays on the socket that carries on after an overlap, whichever it is, and
 * ends with a closed one. The venues' own ends of the mark are pinned by their tests (reset-socket-swap,
 * replay-refusal, full-book-overlap, planned-fallback).
 */
import { describe, expect, test } from "vitest";
import { BehindResetMarks } from "../../../src/venues/common/behind-reset.ts";
import type { OverlapCarrier } from "../../../src/venues/common/planned-reconnect.ts";

/** xorshift32: a fixed seed per run, so a failure repeats. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("BehindResetMarks", () => {
  test("otherSocket: the other of an overlap's two sockets; none outside an overlap or for a third socket", () => {
    expect(BehindResetMarks.otherSocket(5, 3, 5)).toBe(3);
    expect(BehindResetMarks.otherSocket(5, 3, 3)).toBe(5);
    expect(BehindResetMarks.otherSocket(5, 3, 4)).toBe(-1);
    expect(BehindResetMarks.otherSocket(5, -1, 5)).toBe(-1);
  });

  test("carriedOn: randomized overlaps (resets on either socket, every carrier) against a model of sockets", () => {
    const random = rng(0x5eed_b1d);
    const marks = new BehindResetMarks(1);
    // Sockets by identity (the model) and the generation each has now (as planned-reconnect.ts numbers them).
    let genSeq = 1;
    let current = { gen: genSeq };
    let marked: { gen: number } | null = null;
    let kept = 0;
    for (let overlap = 0; overlap < 2000; overlap++) {
      const replacement = { gen: ++genSeq };
      const old = current;
      // A reset during the overlap (or none): taken from one socket, the other marked.
      if (random() < 0.6) {
        const from = random() < 0.5 ? old : replacement;
        const other = BehindResetMarks.otherSocket(replacement.gen, old.gen, from.gen);
        marks.socket[0] = other;
        marked = from === old ? replacement : old;
        expect(other).toBe(marked.gen);
      }
      const r = random();
      const carrier: OverlapCarrier = r < 0.45 ? "replacement" : r < 0.9 ? "old" : "none";
      const oldGen = old.gen;
      if (carrier === "replacement") current = replacement;
      else if (carrier === "old") old.gen = ++genSeq; // gone back to: the old socket goes on under a new generation
      else current = { gen: ++genSeq }; // both closed: an ordinary reconnect
      const stays = marks.carriedOn(0, carrier, carrier === "old" ? oldGen : undefined, current.gen);
      if (marked !== current) marked = null;
      expect([overlap, stays, marks.socket[0]]).toEqual([overlap, marked !== null, marked ? marked.gen : -1]);
      if (stays) kept++;
    }
    expect(kept).toBeGreaterThan(100); // both outcomes seen, carried marks included
  });

  test("carriedOn leaves a venue's own negative value (Bybit's -2) as it is", () => {
    const marks = new BehindResetMarks(1);
    marks.socket[0] = -2;
    expect(marks.carriedOn(0, "replacement", undefined, 7)).toBe(false);
    expect(marks.socket[0]).toBe(-2);
  });
});
