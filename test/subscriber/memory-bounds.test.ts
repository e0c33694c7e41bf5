/**
 * s-subcap: what grows with the input in the subscriber, and its bound (docs/wire-protocol.md §6.9).
 * - Assembly scratch kept by books between their snapshots counted against maxAssemblyLevels for good: a publisher
 *   with 10,000 books (each keeping 64 levels a side) left every book past the ~7,800th without a snapshot, never
 *   usable. Idle scratch is taken back when an assembly is over the budget.
 */
import { describe, expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

describe("assembly scratch kept between snapshots", () => {
  it("10,000 books (the default maxBooks) each take their snapshot; the scratch stays within maxAssemblyLevels", () => {
    const sub = newSubscriber();
    const p = packer();
    for (let i = 0; i < 10_000; i++) {
      const b = new TestBook({ ...inst, instrumentId: 1000 + i });
      b.load([[10, 1]], [[20, 1]], 1, T0);
      packBookSnapshot(p, b, 0, false);
      ingestAll(sub, take(p));
    }
    let valid = 0;
    for (const b of sub.books.values()) if (b.valid) valid++;
    expect(sub.counters.assemblyOverBudget).toBe(0);
    expect(valid).toBe(10_000);
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(2_000_000);
  });

  it("an assembly under way keeps its scratch: only idle books give theirs back", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 4 * 256 });
    const p = packer();
    // Book 1: a two-chunk snapshot whose second chunk has not come (its scratch is in use).
    const big = new TestBook({ ...inst, instrumentId: 1 });
    const bids: [number, number][] = [];
    for (let k = 0; k < 120; k++) bids.push([10_000 - k, 1]);
    big.load(bids, [[20_000, 1]], 1, T0);
    const p2 = packer({ channelId: 2 }); // its own channel: the other books' datagrams leave its sequence alone
    packBookSnapshot(p2, big, 0, false);
    const chunks = take(p2);
    expect(chunks.length).toBeGreaterThan(1);
    ingestAll(sub, chunks.slice(0, 1));
    const held = sub.assemblyScratchLevels;
    expect(held).toBeGreaterThan(0);
    // Books 2..: one-chunk snapshots, each kept 256 levels of scratch before; they go on being taken.
    for (let i = 2; i < 12; i++) {
      const b = new TestBook({ ...inst, instrumentId: i });
      b.load([[10, 1]], [[20, 1]], 1, T0);
      packBookSnapshot(p, b, 0, false);
      ingestAll(sub, take(p));
      expect(sub.book(i)!.valid).toBe(true);
    }
    ingestAll(sub, chunks.slice(1));
    expect(sub.book(1)!.valid).toBe(true);
    expect(sub.counters.assemblyOverBudget).toBe(0);
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(4 * 256);
  });
});
